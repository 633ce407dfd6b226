// Package snpsim simulates an AMD SEV-SNP platform: a PKI shaped like AMD's
// (ARK, ASK, a VCEK per TCB with KDS's extensions, a CRL) and
// ATTESTATION_REPORTs with a chosen measurement, policy, TCB and report
// data, signed by the VCEK. Its output verifies with package snp (and so
// with go-sev-guest) when the platform's root is trusted.
//
// Nothing here is AMD's: the ARK and ASK carry the serial-number attribute
// "avow simulated platform (not AMD)"; never trust them outside tests and
// demos. The RSA keys are 2048-bit (AMD's are 4096) so that creating a
// platform takes a moment, not seconds.
package snpsim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"

	"github.com/avowhq/avow/snp"
)

// Marker is the serial-number attribute of the simulated ARK and ASK.
const Marker = "avow simulated platform (not AMD)"

// Product is the default simulated product line (stepping B1); NewFor
// makes a Genoa platform too.
const Product = "Milan"

// cpuModels are the CPUID family and model of the simulated products
// (stepping 1), as version-3 reports carry them.
var cpuModels = map[string][2]byte{"Milan": {0x19, 0x01}, "Genoa": {0x19, 0x11}}

// Validity of the simulated certificates.
var (
	NotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	NotAfter  = time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)
)

// DefaultTCB is the TCB of a new platform.
var DefaultTCB = snp.TCB{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115}

// Platform is one simulated SNP machine with its PKI; safe for concurrent use.
type Platform struct {
	arkKey, askKey *rsa.PrivateKey
	vcekKey        *ecdsa.PrivateKey
	product        string
	ark, ask       *x509.Certificate
	asvk           *x509.Certificate // the ASK's key under the ASVK's name
	chipID         [64]byte
	tcb            snp.TCB

	mu    sync.Mutex
	vceks map[uint64]*x509.Certificate
	vleks map[uint64]*x509.Certificate
}

// New creates an in-memory Milan platform with fresh keys.
func New() (*Platform, error) { return NewFor(Product) }

// NewFor creates an in-memory platform of a product line (Milan or Genoa).
func NewFor(product string) (*Platform, error) {
	if _, ok := cpuModels[product]; !ok {
		return nil, fmt.Errorf("snpsim: product %q is not simulated (Milan, Genoa)", product)
	}
	ark, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ask, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	vcek, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, err
	}
	var chip [64]byte
	if _, err := rand.Read(chip[:]); err != nil {
		return nil, err
	}
	return build(product, ark, ask, vcek, chip, DefaultTCB)
}

func build(product string, arkKey, askKey *rsa.PrivateKey, vcekKey *ecdsa.PrivateKey, chip [64]byte, tcb snp.TCB) (*Platform, error) {
	p := &Platform{product: product, arkKey: arkKey, askKey: askKey, vcekKey: vcekKey, chipID: chip, tcb: tcb}
	arkName := amdName("ARK-"+product, Marker)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: arkName, Issuer: arkName, NotBefore: NotBefore, NotAfter: NotAfter,
		SignatureAlgorithm: x509.SHA384WithRSAPSS, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		CRLDistributionPoints: []string{kds.CrlLinkByKey(product, abi.VcekReportSigner)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &arkKey.PublicKey, arkKey)
	if err != nil {
		return nil, err
	}
	if p.ark, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	tmpl = &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: amdName("SEV-"+product, Marker), NotBefore: NotBefore, NotAfter: NotAfter,
		SignatureAlgorithm: x509.SHA384WithRSAPSS, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		CRLDistributionPoints: []string{kds.CrlLinkByKey(product, abi.VcekReportSigner)},
	}
	if der, err = x509.CreateCertificate(rand.Reader, tmpl, p.ark, &askKey.PublicKey, arkKey); err != nil {
		return nil, err
	}
	if p.ask, err = x509.ParseCertificate(der); err != nil {
		return nil, err
	}
	if err := p.makeASVK(); err != nil {
		return nil, err
	}
	return p, nil
}

// makeASVK certifies the ASK's key as the ASVK ("SEV-VLEK-Milan"), the
// intermediate of VLEKs; a simulator needs no third RSA key.
func (p *Platform) makeASVK() error {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: amdName("SEV-VLEK-"+p.product, Marker), NotBefore: NotBefore, NotAfter: NotAfter,
		SignatureAlgorithm: x509.SHA384WithRSAPSS, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
		CRLDistributionPoints: []string{kds.CrlLinkByKey(p.product, abi.VlekReportSigner)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ark, &p.askKey.PublicKey, p.arkKey)
	if err != nil {
		return err
	}
	p.asvk, err = x509.ParseCertificate(der)
	return err
}

func amdName(cn, serial string) pkix.Name {
	return pkix.Name{
		Country: []string{"US"}, Locality: []string{"Santa Clara"}, Province: []string{"CA"},
		Organization: []string{"Advanced Micro Devices"}, OrganizationalUnit: []string{"Engineering"},
		SerialNumber: serial, CommonName: cn,
	}
}

// Root is the platform's root as package snp trusts it.
func (p *Platform) Root() *snp.Root {
	r, err := snp.NewRoot(p.product, p.ark, p.ask, p.asvk)
	if err != nil {
		panic(err) // the product is fixed
	}
	return r
}

// RootBundlePEM is the ASK, the ASVK and the ARK, PEM (KDS's two
// cert_chain answers in one).
func (p *Platform) RootBundlePEM() []byte {
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: p.ask.Raw})
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: p.asvk.Raw})
	_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: p.ark.Raw})
	return b.Bytes()
}

// ProductLine is the platform's product line.
func (p *Platform) ProductLine() string { return p.product }

// ChipID is the platform's CHIP_ID.
func (p *Platform) ChipID() []byte { return bytes.Clone(p.chipID[:]) }

// TCB is the platform's default reported TCB.
func (p *Platform) TCB() snp.TCB { return p.tcb }

// ComposeTCB is the TCB_VERSION of t (Milan layout).
func ComposeTCB(t snp.TCB) uint64 {
	var b [8]byte
	b[0], b[1], b[6], b[7] = t.Bootloader, t.TEE, t.SNP, t.Microcode
	return binary.LittleEndian.Uint64(b[:])
}

// VCEK returns the platform's VCEK certificate (DER) for a TCB, as KDS
// issues one per chip and TCB.
func (p *Platform) VCEK(t snp.TCB) ([]byte, error) {
	tcb := ComposeTCB(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.vceks[tcb]; c != nil {
		return c.Raw, nil
	}
	if p.vceks == nil {
		p.vceks = map[uint64]*x509.Certificate{}
	}
	u8 := func(v uint8) []byte { b, _ := asn1.Marshal(int(v)); return b }
	name, _ := asn1.MarshalWithParams(p.product+"-B1", "ia5")
	hwid, _ := asn1.Marshal(p.chipID[:])
	zero, _ := asn1.Marshal(0)
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Add(new(big.Int).SetUint64(tcb), big.NewInt(1)), Subject: amdName("SEV-VCEK", "0"), NotBefore: NotBefore, NotAfter: NotAfter,
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
		ExtraExtensions: []pkix.Extension{
			{Id: kds.OidStructVersion, Value: zero}, {Id: kds.OidProductName1, Value: name},
			{Id: kds.OidBlSpl, Value: u8(t.Bootloader)}, {Id: kds.OidTeeSpl, Value: u8(t.TEE)},
			{Id: kds.OidSnpSpl, Value: u8(t.SNP)}, {Id: kds.OidSpl4, Value: u8(0)}, {Id: kds.OidSpl5, Value: u8(0)},
			{Id: kds.OidSpl6, Value: u8(0)}, {Id: kds.OidSpl7, Value: u8(0)}, {Id: kds.OidUcodeSpl, Value: u8(t.Microcode)},
			{Id: kds.OidHwid, Value: hwid},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ask, &p.vcekKey.PublicKey, p.askKey)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p.vceks[tcb] = c
	return der, nil
}

// CSPID is the cloud provider id in the simulated VLEKs.
const CSPID = "avow-simulated-csp"

// VLEK returns the platform's VLEK certificate (DER) for a TCB: the
// VCEK's key certified by the ASVK with KDS's VLEK extensions (product
// line without stepping, CSP id instead of HWID).
func (p *Platform) VLEK(t snp.TCB) ([]byte, error) {
	tcb := ComposeTCB(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.vleks[tcb]; c != nil {
		return c.Raw, nil
	}
	if p.vleks == nil {
		p.vleks = map[uint64]*x509.Certificate{}
	}
	u8 := func(v uint8) []byte { b, _ := asn1.Marshal(int(v)); return b }
	name, _ := asn1.MarshalWithParams(p.product, "ia5")
	csp, _ := asn1.MarshalWithParams(CSPID, "ia5")
	zero, _ := asn1.Marshal(0)
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Add(new(big.Int).SetUint64(tcb), big.NewInt(2)), Subject: amdName("SEV-VLEK", "0"), NotBefore: NotBefore, NotAfter: NotAfter,
		SignatureAlgorithm: x509.SHA384WithRSAPSS,
		ExtraExtensions: []pkix.Extension{
			{Id: kds.OidStructVersion, Value: zero}, {Id: kds.OidProductName1, Value: name},
			{Id: kds.OidBlSpl, Value: u8(t.Bootloader)}, {Id: kds.OidTeeSpl, Value: u8(t.TEE)},
			{Id: kds.OidSnpSpl, Value: u8(t.SNP)}, {Id: kds.OidSpl4, Value: u8(0)}, {Id: kds.OidSpl5, Value: u8(0)},
			{Id: kds.OidSpl6, Value: u8(0)}, {Id: kds.OidSpl7, Value: u8(0)}, {Id: kds.OidUcodeSpl, Value: u8(t.Microcode)},
			{Id: kds.OidCspID, Value: csp},
		},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.asvk, &p.vcekKey.PublicKey, p.askKey)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p.vleks[tcb] = c
	return der, nil
}

// CRL returns the platform's CRL (DER, signed by the ARK) revoking the
// certificates with the given serial numbers, valid from thisUpdate for a
// week.
func (p *Platform) CRL(thisUpdate time.Time, revoked ...*big.Int) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(thisUpdate.Unix()), ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(7 * 24 * time.Hour),
		SignatureAlgorithm: x509.SHA384WithRSAPSS, RevokedCertificateEntries: entries,
	}, p.ark, p.arkKey)
}

// ReportOptions choose a report's contents; zero values are defaults.
type ReportOptions struct {
	Version     uint32   // 2 or 3 (default 3: CPUID family/model/stepping)
	Measurement []byte   // 48 bytes
	Policy      uint64   // default 0x30000: SMT allowed, no debug, no migration agent
	ReportData  []byte   // up to 64 bytes
	HostData    []byte   // 32 bytes
	TCB         *snp.TCB // REPORTED (and CURRENT, COMMITTED, LAUNCH) TCB; default the platform's
	GuestSVN    uint32
	VMPL        uint32
	VLEK        bool   // signed by the VLEK (SIGNER_INFO 1) instead of the VCEK
	FamilyID    []byte // 16 bytes
	ImageID     []byte // 16 bytes
}

// DefaultPolicy is a guest policy with SMT allowed (bit 16) and the
// reserved bit 17 set, without debug or migration agent.
const DefaultPolicy = 0x30000

// PolicyDebug is the guest policy's DEBUG bit.
const PolicyDebug = 1 << 19

// Report makes a signed ATTESTATION_REPORT and returns it with the DER
// VCEK (or VLEK) that signs it.
func (p *Platform) Report(o ReportOptions) (report, vcek []byte, err error) {
	t := p.tcb
	if o.TCB != nil {
		t = *o.TCB
	}
	tcb := ComposeTCB(t)
	if o.VLEK {
		vcek, err = p.VLEK(t)
	} else {
		vcek, err = p.VCEK(t)
	}
	if err != nil {
		return nil, nil, err
	}
	fixed := func(b []byte, n int) []byte {
		out := make([]byte, n)
		copy(out, b)
		return out
	}
	policy := o.Policy
	if policy == 0 {
		policy = DefaultPolicy
	}
	version := o.Version
	if version == 0 {
		version = 3
	}
	r := &spb.Report{
		Version: version, GuestSvn: o.GuestSVN, Policy: policy, FamilyId: fixed(o.FamilyID, 16), ImageId: fixed(o.ImageID, 16),
		Vmpl: o.VMPL, SignatureAlgo: abi.SignEcdsaP384Sha384, CurrentTcb: tcb, PlatformInfo: 1,
		ReportData: fixed(o.ReportData, 64), Measurement: fixed(o.Measurement, 48), HostData: fixed(o.HostData, 32),
		IdKeyDigest: make([]byte, 48), AuthorKeyDigest: make([]byte, 48), ReportId: fixed([]byte("avow-snpsim"), 32),
		ReportIdMa: bytes.Repeat([]byte{0xff}, 32), ReportedTcb: tcb, ChipId: p.ChipID(), CommittedTcb: tcb, LaunchTcb: tcb,
		CurrentMajor: 1, CurrentMinor: 55, CurrentBuild: 21, CommittedMajor: 1, CommittedMinor: 55, CommittedBuild: 21,
		Signature: make([]byte, abi.SignatureSize),
	}
	if version >= 3 {
		m := cpuModels[p.product]
		r.Cpuid1EaxFms = abi.FmsToCpuid1Eax(m[0], m[1], 0x01)
	}
	if o.VLEK {
		r.SignerInfo = abi.ComposeSignerInfo(abi.SignerInfo{SigningKey: abi.VlekReportSigner})
	}
	raw, err := abi.ReportToAbiBytes(r)
	if err != nil {
		return nil, nil, fmt.Errorf("snpsim: %w", err)
	}
	h := sha512.Sum384(abi.SignedComponent(raw))
	rr, ss, err := ecdsa.Sign(rand.Reader, p.vcekKey, h[:])
	if err != nil {
		return nil, nil, err
	}
	if err := abi.SetSignature(rr, ss, raw); err != nil {
		return nil, nil, err
	}
	return raw, vcek, nil
}

func snpTCB(t tcbJSON) snp.TCB {
	return snp.TCB{Bootloader: t.Bootloader, TEE: t.TEE, SNP: t.SNP, Microcode: t.Microcode}
}

// Package nvgpusim is a simulated NVIDIA confidential GPU for tests, the
// quickstart and `avow sim gpu`: its own device root and chain (with an
// FWID), SPDM GET_MEASUREMENTS reports signed like a real GPU's, its own
// RIM root, signed driver and VBIOS RIMs and OCSP answers. Nothing it makes
// chains to NVIDIA's roots: a verifier trusts it only when given its roots
// (avow serve --dev).
package nvgpusim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/avowhq/avow/nvgpu"
)

// The simulated GPU's identity.
const (
	DriverVersion = "999.10.01"
	VBIOSVersion  = "96.00.99.00.01" // as NVIDIA prints it
	Project       = "9999"
	ProjectSKU    = "0001"
	ChipSKU       = "999"
)

var vbiosBytes = []byte{0x00, 0x99, 0x00, 0x96, 0x01, 0, 0, 0}

// driverIndices are the RIM indices the driver RIM owns (as a real
// Hopper's: 7, 21–40); the VBIOS RIM owns 0–12 but 7.
var driverIndices = map[int]bool{7: true}

func init() {
	for i := 21; i <= 40; i++ {
		driverIndices[i] = true
	}
}

// GPU is a simulated GPU with its NVIDIA-like PKI.
type GPU struct {
	deviceRoot, brom, ica, leaf *x509.Certificate
	rootKey, bromKey, icaKey    *ecdsa.PrivateKey
	leafKey                     *ecdsa.PrivateKey
	rimRoot, rimCA, rimSigner   *x509.Certificate
	rimRootKey, rimCAKey        *ecdsa.PrivateKey
	rimSignerKey                *ecdsa.PrivateKey
	fwid                        []byte
	measurements                [64][]byte // SPDM blocks 1..64
}

// New makes a simulated GPU whose certificates are valid from notBefore
// for twenty years (the RIM signer for two, as NVIDIA's).
func New(notBefore time.Time) (*GPU, error) {
	g := &GPU{}
	var err error
	keys := []**ecdsa.PrivateKey{&g.rootKey, &g.bromKey, &g.icaKey, &g.leafKey, &g.rimRootKey, &g.rimCAKey, &g.rimSignerKey}
	for _, k := range keys {
		if *k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			return nil, err
		}
	}
	g.fwid = random(48)
	for i := range g.measurements {
		g.measurements[i] = random(48)
	}
	long := notBefore.AddDate(20, 0, 0)
	if g.deviceRoot, err = cert("avow simulated GPU Device Identity CA", nil, g.rootKey, g.rootKey, notBefore, long, true, nil); err != nil {
		return nil, err
	}
	if g.ica, err = cert("avow simulated GPU Provisioner ICA", g.deviceRoot, g.rootKey, g.icaKey, notBefore, long, true, nil); err != nil {
		return nil, err
	}
	if g.brom, err = cert("SIM100 A01 GSP BROM", g.ica, g.icaKey, g.bromKey, notBefore, long, true, nil); err != nil {
		return nil, err
	}
	fw, err := fwidExtension(g.fwid)
	if err != nil {
		return nil, err
	}
	if g.leaf, err = cert("SIM100 A01 GSP FMC LF", g.brom, g.bromKey, g.leafKey, notBefore, long, false, []pkix.Extension{fw}); err != nil {
		return nil, err
	}
	if g.rimRoot, err = cert("avow simulated GPU RIM Root CA", nil, g.rimRootKey, g.rimRootKey, notBefore, long, true, nil); err != nil {
		return nil, err
	}
	if g.rimCA, err = cert("avow simulated GPU Reference Value CA", g.rimRoot, g.rimRootKey, g.rimCAKey, notBefore, long, true, nil); err != nil {
		return nil, err
	}
	if g.rimSigner, err = cert("avow simulated GPU RIM Signer", g.rimCA, g.rimCAKey, g.rimSignerKey, notBefore, notBefore.AddDate(2, 0, 0), false, nil); err != nil {
		return nil, err
	}
	return g, nil
}

func random(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func fwidExtension(fwid []byte) (pkix.Extension, error) {
	type fw struct {
		Alg    asn1.ObjectIdentifier
		Digest []byte
	}
	v, err := asn1.Marshal(struct {
		Version int
		FWID    fw
	}{1, fw{asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}, fwid}})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 23, 133, 5, 4, 1}, Value: v}, nil
}

func cert(cn string, parent *x509.Certificate, parentKey, key *ecdsa.PrivateKey, nb, na time.Time, ca bool, ext []pkix.Extension) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial.Add(serial, big.NewInt(1)), Subject: pkix.Name{CommonName: cn, Organization: []string{"avow simulation"}},
		NotBefore: nb, NotAfter: na, BasicConstraintsValid: true, IsCA: ca, ExtraExtensions: ext,
		KeyUsage: x509.KeyUsageDigitalSignature, SignatureAlgorithm: x509.ECDSAWithSHA384,
	}
	if ca {
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// DeviceRoot and RIMRoot are the simulated trust anchors.
func (g *GPU) DeviceRoot() *x509.Certificate { return g.deviceRoot }
func (g *GPU) RIMRoot() *x509.Certificate    { return g.rimRoot }

// Chain is the device chain in PEM, leaf first, as a GPU's driver returns it.
func (g *GPU) Chain() []byte {
	var b bytes.Buffer
	for _, c := range []*x509.Certificate{g.leaf, g.brom, g.ica, g.deviceRoot} {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// ReportOptions vary a report.
type ReportOptions struct {
	// Versioned writes the opaque data in the NVDAOD format (with an FSP
	// microcode SVN); otherwise the legacy TLV list.
	Versioned bool
	FSPSVN    uint16
	// Measurements replaces SPDM blocks by index (1-based): a GPU running
	// firmware its RIMs do not describe.
	Measurements map[int][]byte
}

// Report returns an SPDM GET_MEASUREMENTS transcript for nonce, signed
// by the simulated GPU's alias key.
func (g *GPU) Report(nonce []byte, o ReportOptions) ([]byte, error) {
	if len(nonce) != nvgpu.NonceLen {
		return nil, fmt.Errorf("nvgpusim: nonce of %d bytes, want %d", len(nonce), nvgpu.NonceLen)
	}
	b := []byte{0x11, 0xE0, 0x01, 0xFF}
	b = append(b, nonce...)
	b = append(b, 0) // slot 0
	b = append(b, 0x11, 0x60, 0, 0, 64)
	var rec []byte
	for i := 1; i <= 64; i++ {
		v := g.measurements[i-1]
		if m, ok := o.Measurements[i]; ok {
			v = m
		}
		rec = append(rec, byte(i), 1)
		rec = binary.LittleEndian.AppendUint16(rec, uint16(3+len(v)))
		rec = append(rec, 1)
		rec = binary.LittleEndian.AppendUint16(rec, uint16(len(v)))
		rec = append(rec, v...)
	}
	b = append(b, byte(len(rec)), byte(len(rec)>>8), byte(len(rec)>>16))
	b = append(b, rec...)
	b = append(b, random(32)...)
	op := g.opaque(o)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(op)))
	b = append(b, op...)
	h := sha512.Sum384(b)
	r, s, err := ecdsa.Sign(rand.Reader, g.leafKey, h[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return append(b, sig...), nil
}

func (g *GPU) opaque(o ReportOptions) []byte {
	fields := []struct {
		t uint16
		v []byte
	}{
		{nvgpu.FieldVBIOSVersion, vbiosBytes},
		{nvgpu.FieldBoardID, []byte{0xb1, 0x03, 0, 0}},
		{nvgpu.FieldChipSKU, []byte(ChipSKU + "\x00")},
		{nvgpu.FieldChipSKUMod, []byte("0\x00")},
		{nvgpu.FieldProject, []byte(Project + "\x00")},
		{nvgpu.FieldProjectSKU, []byte(ProjectSKU + "\x00")},
		{nvgpu.FieldProjectSKUMod, []byte{0, 0}},
		{nvgpu.FieldDriverVersion, []byte(DriverVersion + "\x00")},
		{nvgpu.FieldNVDEC0Status, []byte{0x55}},
		{nvgpu.FieldFWID, g.fwid},
		{nvgpu.FieldProtectedPCIeStatus, []byte{0x55}},
	}
	var b []byte
	if o.Versioned {
		b = append([]byte("NVDAOD"), 0, 0, 2, 0, 0, 0)
		fields = append(fields, struct {
			t uint16
			v []byte
		}{nvgpu.FieldFSPUcodeSVN, binary.LittleEndian.AppendUint16(nil, o.FSPSVN)})
	} else {
		fields = append(fields, struct {
			t uint16
			v []byte
		}{nvgpu.FieldOpaqueDataVersion, []byte{1, 0}})
	}
	for _, f := range fields {
		b = binary.LittleEndian.AppendUint16(b, f.t)
		if o.Versioned {
			b = binary.LittleEndian.AppendUint16(b, 0)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(f.v)))
		b = append(b, f.v...)
	}
	return b
}

// Item is the GPU's evidence for nonce in the shape NVIDIA's clients send.
func (g *GPU) Item(nonce []byte, o ReportOptions) (nvgpu.Item, error) {
	rep, err := g.Report(nonce, o)
	if err != nil {
		return nvgpu.Item{}, err
	}
	enc := func(b []byte) string { return b64(b) }
	return nvgpu.Item{Arch: string(nvgpu.Hopper), Certificate: enc(g.Chain()), Evidence: enc(rep)}, nil
}

// RIMIDs are the ids of the simulated GPU's driver and VBIOS RIMs.
func RIMIDs() (driver, vbios string) {
	return "NV_GPU_DRIVER_GH100_" + DriverVersion, "NV_GPU_VBIOS_" + Project + "_" + ProjectSKU + "_" + ChipSKU + "_" + strings.ToUpper(strings.ReplaceAll(VBIOSVersion, ".", ""))
}

// RIMs returns the signed driver and VBIOS RIMs.
func (g *GPU) RIMs() (driver, vbios []byte, err error) {
	chain := []*x509.Certificate{g.rimSigner, g.rimCA, g.rimRoot}
	mk := func(version string, owns func(int) bool) ([]byte, error) {
		var b strings.Builder
		fmt.Fprintf(&b, `<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" xmlns:ns0="http://standards.iso.org/iso/19770/-2/2015/schema.xsd" xmlns:ns2="http://www.w3.org/2001/04/xmlenc#sha384" corpus="false" name="SIM100" patch="false" supplemental="false" tagId="%x" version="1.0" tagVersion="0">`, random(48))
		fmt.Fprintf(&b, "\n    <ns0:Entity name=\"avow simulation\" role=\"softwareCreator tagCreator\"/>\n")
		fmt.Fprintf(&b, `    <ns0:Meta xmlns:ns1="https://trustedcomputinggroup.org/resource/tcg-reference-integrity-manifest-rim-information-model/" colloquialVersion="%s" edition="GPU" product="SIM100" revision="r1" PayloadType="direct" ns1:PlatformManufacturerId="5703" ns1:PlatformManufacturerStr="avow simulation" ns1:PlatformModel="SIM100"/>`+"\n", version)
		b.WriteString("    <ns0:Payload>\n")
		for i := 0; i < 64; i++ {
			active := "False"
			if owns(i) {
				active = "True"
			}
			fmt.Fprintf(&b, `        <ns0:Resource type="Measurement" index="%d" active="%s" alternatives="1" ns2:Hash0="%x" name="Measurement_%d" size="48"/>`+"\n", i, active, g.measurements[i], i)
		}
		b.WriteString("    </ns0:Payload>\n</SoftwareIdentity>")
		return nvgpu.SignRIM([]byte(b.String()), g.rimSignerKey, chain)
	}
	if driver, err = mk(DriverVersion, func(i int) bool { return driverIndices[i] }); err != nil {
		return nil, nil, err
	}
	vbios, err = mk(strings.ToUpper(VBIOSVersion), func(i int) bool { return i <= 12 && !driverIndices[i] })
	return driver, vbios, err
}

// OCSP returns good OCSP answers, produced at thisUpdate and valid for a
// day, for the device chain's intermediates and the RIM chain (all but the
// roots), signed by each certificate's issuer with SHA-384 CertIDs.
func (g *GPU) OCSP(thisUpdate time.Time) ([][]byte, error) {
	pairs := []struct {
		c, issuer *x509.Certificate
		key       *ecdsa.PrivateKey
	}{
		{g.brom, g.ica, g.icaKey}, {g.ica, g.deviceRoot, g.rootKey},
		{g.rimSigner, g.rimCA, g.rimCAKey}, {g.rimCA, g.rimRoot, g.rimRootKey},
	}
	var out [][]byte
	for _, p := range pairs {
		der, err := ocsp.CreateResponse(p.issuer, p.issuer, ocsp.Response{
			Status: ocsp.Good, SerialNumber: p.c.SerialNumber, ThisUpdate: thisUpdate, NextUpdate: thisUpdate.Add(24 * time.Hour),
			IssuerHash: crypto.SHA384,
		}, p.key)
		if err != nil {
			return nil, err
		}
		out = append(out, der)
	}
	return out, nil
}

// Collateral returns a store with the RIMs and OCSP answers produced at
// thisUpdate.
func (g *GPU) Collateral(thisUpdate time.Time) (*nvgpu.Store, error) {
	s := nvgpu.NewStore()
	drv, vb, err := g.RIMs()
	if err != nil {
		return nil, err
	}
	d, v := RIMIDs()
	if _, err := s.AddRIM(d, drv); err != nil {
		return nil, err
	}
	if _, err := s.AddRIM(v, vb); err != nil {
		return nil, err
	}
	answers, err := g.OCSP(thisUpdate)
	if err != nil {
		return nil, err
	}
	for _, a := range answers {
		if _, err := s.AddOCSP(a); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ErrNoGPU is Open on a folder without a simulated GPU.
var ErrNoGPU = errors.New("nvgpusim: no simulated GPU in the folder")

// stored is a GPU on disk: keys and certificates as DER, measurements.
type stored struct {
	Certs        [][]byte   `json:"certs"` // deviceRoot, ica, brom, leaf, rimRoot, rimCA, rimSigner
	Keys         [][]byte   `json:"keys"`  // rootKey, icaKey, bromKey, leafKey, rimRootKey, rimCAKey, rimSignerKey (PKCS#8)
	FWID         []byte     `json:"fwid"`
	Measurements [64][]byte `json:"measurements"`
}

const fileName = "gpu.json"

// Save writes the GPU to dir/gpu.json (private keys: 0600).
func (g *GPU) Save(dir string) error {
	st := stored{FWID: g.fwid, Measurements: g.measurements}
	for _, c := range []*x509.Certificate{g.deviceRoot, g.ica, g.brom, g.leaf, g.rimRoot, g.rimCA, g.rimSigner} {
		st.Certs = append(st.Certs, c.Raw)
	}
	for _, k := range []*ecdsa.PrivateKey{g.rootKey, g.icaKey, g.bromKey, g.leafKey, g.rimRootKey, g.rimCAKey, g.rimSignerKey} {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return err
		}
		st.Keys = append(st.Keys, der)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp := filepath.Join(dir, fileName+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, fileName))
}

// Load reads a GPU Save wrote.
func Load(dir string) (*GPU, error) {
	b, err := os.ReadFile(filepath.Join(dir, fileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoGPU
	}
	if err != nil {
		return nil, err
	}
	var st stored
	if err := json.Unmarshal(b, &st); err != nil || len(st.Certs) != 7 || len(st.Keys) != 7 {
		return nil, fmt.Errorf("nvgpusim: %s is not a simulated GPU", filepath.Join(dir, fileName))
	}
	g := &GPU{fwid: st.FWID, measurements: st.Measurements}
	certs := []**x509.Certificate{&g.deviceRoot, &g.ica, &g.brom, &g.leaf, &g.rimRoot, &g.rimCA, &g.rimSigner}
	for i, p := range certs {
		if *p, err = x509.ParseCertificate(st.Certs[i]); err != nil {
			return nil, err
		}
	}
	keys := []**ecdsa.PrivateKey{&g.rootKey, &g.icaKey, &g.bromKey, &g.leafKey, &g.rimRootKey, &g.rimCAKey, &g.rimSignerKey}
	for i, p := range keys {
		k, err := x509.ParsePKCS8PrivateKey(st.Keys[i])
		if err != nil {
			return nil, err
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("nvgpusim: key %d is not ECDSA", i)
		}
		*p = ek
	}
	return g, nil
}

// Open loads the GPU in dir, making and saving one (certificates valid
// from now) when there is none.
func Open(dir string, now time.Time) (*GPU, error) {
	g, err := Load(dir)
	if !errors.Is(err, ErrNoGPU) {
		return g, err
	}
	if g, err = New(now.Add(-24 * time.Hour)); err != nil {
		return nil, err
	}
	return g, g.Save(dir)
}

// Source is a live collateral source for the simulated GPU: its RIMs, and
// OCSP answers produced an hour before now() each time they are asked for
// (a dev server runs for longer than an answer is valid).
func (g *GPU) Source(now func() time.Time) (nvgpu.Collateral, error) {
	drv, vb, err := g.RIMs()
	if err != nil {
		return nil, err
	}
	return &source{g: g, now: now, drv: drv, vb: vb}, nil
}

type source struct {
	g       *GPU
	now     func() time.Time
	drv, vb []byte
}

func (s *source) RIMs(_ context.Context, id string) ([][]byte, error) {
	d, v := RIMIDs()
	switch id {
	case d:
		return [][]byte{s.drv}, nil
	case v:
		return [][]byte{s.vb}, nil
	}
	return nil, nil
}

func (s *source) OCSP(_ context.Context, cert, _ *x509.Certificate) ([][]byte, error) {
	answers, err := s.g.OCSP(s.now().Add(-time.Hour))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, a := range answers {
		keys, err := nvgpu.ResponseKeys(a)
		if err == nil && len(keys) == 1 && keys[0].Serial == strings.ToUpper(cert.SerialNumber.Text(16)) {
			out = append(out, a)
		}
	}
	return out, nil
}

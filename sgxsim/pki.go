package sgxsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"time"
)

// Names and fixed values of the simulated PKI. The CNs contain the
// substrings QVL uses to recognise certificates ("SGX Root CA", "CA",
// "SGX PCK Certificate", "SGX TCB Signing").
const (
	RootCN       = "avow Simulated SGX Root CA"
	PlatformCACN = "avow Simulated SGX PCK Platform CA"
	PCKCN        = "avow Simulated SGX PCK Certificate"
	TCBSigningCN = "avow Simulated SGX TCB Signing"
	Organization = "avow simulated platform (not Intel)"

	// CRL distribution points; the .invalid TLD guarantees nothing is fetched.
	RootCRLURL = "https://sim.avow.invalid/sgx/certification/v4/rootcacrl"
	PCKCRLURL  = "https://sim.avow.invalid/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
)

// Certificate validity of every simulated certificate: fixed and long, so a
// pinned verification time between 2020 and 2049 always works. notAfter
// stays below 2050 so it is encoded as UTCTime, as in Intel's root.
var (
	CertNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	CertNotAfter  = time.Date(2049, 12, 31, 23, 59, 59, 0, time.UTC)
)

// OIDs of the Intel SGX PCK certificate extension (dcap.md §3.3).
var (
	OIDSGXExtension = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

	oidCN       = asn1.ObjectIdentifier{2, 5, 4, 3}
	oidO        = asn1.ObjectIdentifier{2, 5, 4, 10}
	oidL        = asn1.ObjectIdentifier{2, 5, 4, 7}
	oidST       = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidC        = asn1.ObjectIdentifier{2, 5, 4, 6}
	utf8String  = 12
	printString = 19
)

// derive returns n pseudo-random bytes determined by seed and label.
func derive(seed []byte, label string, n int) []byte {
	var out []byte
	for ctr := uint32(0); len(out) < n; ctr++ {
		m := hmac.New(sha256.New, seed)
		m.Write([]byte(label))
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], ctr)
		m.Write(c[:])
		out = m.Sum(out)
	}
	return out[:n]
}

// deriveKey returns the P-256 key determined by seed and label.
func deriveKey(seed []byte, label string) *ecdsa.PrivateKey {
	for i := 0; ; i++ {
		d := derive(seed, label+"/"+string(rune('a'+i)), 32)
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d); err == nil {
			return k
		}
	}
}

// deriveSerial returns a positive 20-byte certificate serial number.
func deriveSerial(seed []byte, label string) *big.Int {
	b := derive(seed, "serial/"+label, 20)
	b[0] = b[0]&0x3f | 0x40
	return new(big.Int).SetBytes(b)
}

// name builds a DN in Intel's attribute order (CN, O, L, ST, C), strings as
// UTF8String and the country as PrintableString, like Intel's certificates.
func name(cn string) []byte {
	utf8 := func(s string) asn1.RawValue {
		return asn1.RawValue{Tag: utf8String, Bytes: []byte(s)}
	}
	seq := pkix.RDNSequence{
		{{Type: oidCN, Value: utf8(cn)}},
		{{Type: oidO, Value: utf8(Organization)}},
		{{Type: oidL, Value: utf8("Simulated")}},
		{{Type: oidST, Value: utf8("Simulated")}},
		{{Type: oidC, Value: asn1.RawValue{Tag: printString, Bytes: []byte("XX")}}},
	}
	b, err := asn1.Marshal(seq)
	if err != nil {
		panic(err)
	}
	return b
}

// ski is the subject key identifier: SHA-1 of the public key bit string
// (RFC 5280 method 1), as Intel's certificates use.
func ski(pub *ecdsa.PublicKey) []byte {
	b, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	h := sha1.Sum(b)
	return h[:]
}

// certKind selects the profile of a simulated certificate.
type certKind int

const (
	kindRoot certKind = iota
	kindPlatformCA
	kindTCBSigning
	kindPCK
)

// issue creates a certificate of the given kind for pub, signed by
// issuerKey under issuer (nil for the self-signed root). Every profile
// carries AKI, CRL DP, SKI, Key Usage and Basic Constraints, which QVL's
// certificate parser requires.
func issue(kind certKind, serial *big.Int, pub *ecdsa.PublicKey, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey, extra []pkix.Extension) (*x509.Certificate, error) {
	t := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             CertNotBefore,
		NotAfter:              CertNotAfter,
		SubjectKeyId:          ski(pub),
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
		ExtraExtensions:       extra,
	}
	switch kind {
	case kindRoot:
		t.RawSubject = name(RootCN)
		t.IsCA, t.MaxPathLen = true, 1
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		t.AuthorityKeyId = t.SubjectKeyId
		t.CRLDistributionPoints = []string{RootCRLURL}
	case kindPlatformCA:
		t.RawSubject = name(PlatformCACN)
		t.IsCA, t.MaxPathLen, t.MaxPathLenZero = true, 0, true
		t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		t.CRLDistributionPoints = []string{RootCRLURL}
	case kindTCBSigning:
		t.RawSubject = name(TCBSigningCN)
		t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		t.CRLDistributionPoints = []string{RootCRLURL}
	case kindPCK:
		t.RawSubject = name(PCKCN)
		t.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		t.CRLDistributionPoints = []string{PCKCRLURL}
	}
	parent := issuer
	if parent == nil {
		parent = t
	}
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, issuerKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Identity is the fixed identity of a simulated platform, written into its
// PCK certificates and quotes.
type Identity struct {
	PPID               [16]byte
	FMSPC              [6]byte
	PCEID              [2]byte
	PlatformInstanceID [16]byte
	QEID               [16]byte // the QE-ID the QE writes into the quote header's user data
}

// DefaultFMSPC is the FMSPC of every simulated platform (an FMSPC Intel
// does not use).
var DefaultFMSPC = [6]byte{0x00, 0xFE, 0xED, 0x00, 0x00, 0x00}

func deriveIdentity(seed []byte) Identity {
	var id Identity
	copy(id.PPID[:], derive(seed, "ppid", 16))
	id.FMSPC = DefaultFMSPC
	copy(id.PlatformInstanceID[:], derive(seed, "platform-instance-id", 16))
	copy(id.QEID[:], derive(seed, "qe-id", 16))
	return id
}

// pckExtension encodes the SGX extension (OID 1.2.840.113741.1.13.1) of a
// Platform-CA PCK certificate: 7 entries (dcap.md §3.3).
func pckExtension(id Identity, tcb TCB) []byte {
	sub := func(arcs ...int) asn1.ObjectIdentifier {
		return append(append(asn1.ObjectIdentifier{}, OIDSGXExtension...), arcs...)
	}
	der := func(v any) []byte {
		b, err := asn1.Marshal(v)
		if err != nil {
			panic(err)
		}
		return b
	}
	pair := func(oid asn1.ObjectIdentifier, value []byte) asn1.RawValue {
		return asn1.RawValue{FullBytes: der(struct {
			OID   asn1.ObjectIdentifier
			Value asn1.RawValue
		}{oid, asn1.RawValue{FullBytes: value}})}
	}
	var tcbSeq []asn1.RawValue
	for i, c := range tcb.Components {
		tcbSeq = append(tcbSeq, pair(sub(2, i+1), der(int(c))))
	}
	cpusvn := tcb.CPUSVN()
	tcbSeq = append(tcbSeq,
		pair(sub(2, 17), der(int(tcb.PCESVN))),
		pair(sub(2, 18), der(cpusvn[:])))
	config := []asn1.RawValue{
		pair(sub(7, 1), der(false)), // dynamicPlatform
		pair(sub(7, 2), der(true)),  // cachedKeys
		pair(sub(7, 3), der(true)),  // SMTEnabled
	}
	top := []asn1.RawValue{
		pair(sub(1), der(id.PPID[:])),
		pair(sub(2), der(tcbSeq)),
		pair(sub(3), der(id.PCEID[:])),
		pair(sub(4), der(id.FMSPC[:])),
		pair(sub(5), der(asn1.Enumerated(1))), // Scalable, as Platform-CA platforms are
		pair(sub(6), der(id.PlatformInstanceID[:])),
		pair(sub(7), der(config)),
	}
	return der(top)
}

// createCRL issues an X.509 v2 CRL (CRL Number and Authority Key Identifier
// extensions) by issuer, revoking serials.
func createCRL(issuer *x509.Certificate, key *ecdsa.PrivateKey, serials []*big.Int, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	t := &x509.RevocationList{
		SignatureAlgorithm: x509.ECDSAWithSHA256,
		Number:             big.NewInt(1),
		ThisUpdate:         thisUpdate,
		NextUpdate:         nextUpdate,
	}
	for _, s := range serials {
		t.RevokedCertificateEntries = append(t.RevokedCertificateEntries,
			x509.RevocationListEntry{SerialNumber: s, RevocationTime: thisUpdate})
	}
	return x509.CreateRevocationList(rand.Reader, t, issuer, key)
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// corrupt returns a copy of b with its last byte flipped. The last byte of
// a certificate or CRL is the last byte of the signature's s value, so the
// result still parses but its signature no longer verifies.
func corrupt(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[len(c)-1] ^= 0x01
	return c
}

// Package sgxsim simulates an Intel SGX / TDX platform with DCAP
// attestation: a PKI shaped like Intel's (root CA, PCK Platform CA, PCK
// certificates, TCB signing certificate), a quoting enclave with an
// attestation key, quotes (SGX v3/v4/v5, TDX v4/v5) and the collateral to
// verify them (TCB info, QE identity, CRLs, issuer chains). Its output
// verifies under the QVL rules of ../shared/spec/dcap.md when the
// platform's root is the trust anchor, and it can inject one defect at a
// time to produce each verification failure (see Defect).
//
// Nothing here is secret or Intel's: the certificates say
// "avow simulated platform (not Intel)" and must never be trusted outside
// tests and demos.
package sgxsim

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"math/big"
	"sync"

	"github.com/avowhq/avow/errs"
)

// Errors of this package.
var (
	ErrInvalidOptions = errs.New("invalid_options", "invalid simulator options")
	ErrPlatformDir    = errs.New("sim_platform_invalid", "the simulated platform directory cannot be used")
)

// Platform is one simulated SGX/TDX machine with its PKI. A Platform is
// safe for concurrent use.
type Platform struct {
	// aux derives what is made after construction (PCK serials, the
	// untrusted-root PKI). It is derived from the seed but reveals no key,
	// so it can be stored in the clear in platform.json.
	aux []byte
	id  Identity

	rootKey, platformCAKey, tcbSigningKey *ecdsa.PrivateKey
	pckKey, attestationKey                *ecdsa.PrivateKey
	root, platformCA, tcbSigning          *x509.Certificate
	rootPEM, platformCAPEM, tcbSigningPEM []byte

	mu        sync.Mutex
	leaves    map[leafKey]*leaf
	untrusted *untrustedPKI
	qeReports map[qeReportKey]*signedQEReport
}

type leafKey struct {
	tcb       TCB
	untrusted bool
}

// leaf is a PCK certificate and the type-5 certification data built on it.
type leaf struct {
	cert  *x509.Certificate
	chain []byte // PEM PCK ‖ Platform CA ‖ root, NUL-terminated
}

// untrustedPKI is a second root and Platform CA with the same names as the
// platform's, for the UntrustedRoot defect.
type untrustedPKI struct {
	root, platformCA *x509.Certificate
	platformCAKey    *ecdsa.PrivateKey
}

// New creates an in-memory platform. The keys, serial numbers and platform
// identity are derived from seed, so the same seed gives the same keys
// (certificate signatures still differ between calls: ECDSA signing is
// randomised). A nil or empty seed picks a random one.
func New(seed []byte) (*Platform, error) {
	if len(seed) == 0 {
		var err error
		if seed, err = randomSeed(); err != nil {
			return nil, err
		}
	}
	seed = append([]byte(nil), seed...)
	p := &Platform{
		aux:            derive(seed, "aux", 32),
		id:             deriveIdentity(seed),
		rootKey:        deriveKey(seed, "root-ca"),
		platformCAKey:  deriveKey(seed, "platform-ca"),
		tcbSigningKey:  deriveKey(seed, "tcb-signing"),
		pckKey:         deriveKey(seed, "pck"),
		attestationKey: deriveKey(seed, "attestation-key"),
	}
	var err error
	if p.root, err = issue(kindRoot, deriveSerial(seed, "root-ca"), &p.rootKey.PublicKey, nil, p.rootKey, nil); err != nil {
		return nil, fmt.Errorf("sgxsim: root CA: %w", err)
	}
	if p.platformCA, err = issue(kindPlatformCA, deriveSerial(seed, "platform-ca"), &p.platformCAKey.PublicKey, p.root, p.rootKey, nil); err != nil {
		return nil, fmt.Errorf("sgxsim: platform CA: %w", err)
	}
	if p.tcbSigning, err = issue(kindTCBSigning, deriveSerial(seed, "tcb-signing"), &p.tcbSigningKey.PublicKey, p.root, p.rootKey, nil); err != nil {
		return nil, fmt.Errorf("sgxsim: TCB signing certificate: %w", err)
	}
	p.init()
	return p, nil
}

func (p *Platform) init() {
	p.rootPEM = certPEM(p.root)
	p.platformCAPEM = certPEM(p.platformCA)
	p.tcbSigningPEM = certPEM(p.tcbSigning)
	p.leaves = map[leafKey]*leaf{}
	p.qeReports = map[qeReportKey]*signedQEReport{}
}

// DefaultSeed is the seed of Default().
const DefaultSeed = "avow sgxsim default platform"

var (
	defaultOnce     sync.Once
	defaultPlatform *Platform
)

// Default returns a process-wide platform derived from DefaultSeed, created
// on first use: tests that need "a platform" share it instead of paying for
// key generation each time. Its keys are the same in every process.
func Default() *Platform {
	defaultOnce.Do(func() {
		p, err := New([]byte(DefaultSeed))
		if err != nil {
			panic(err)
		}
		defaultPlatform = p
	})
	return defaultPlatform
}

// Root returns the simulated root CA certificate: the trust anchor for
// everything this platform produces.
func (p *Platform) Root() *x509.Certificate { return p.root }

// RootPEM returns the root CA certificate as PEM.
func (p *Platform) RootPEM() []byte { return append([]byte(nil), p.rootPEM...) }

// PlatformCA returns the PCK Platform CA certificate (the intermediate).
func (p *Platform) PlatformCA() *x509.Certificate { return p.platformCA }

// TCBSigning returns the TCB signing certificate that signs TCB info and
// QE identity documents.
func (p *Platform) TCBSigning() *x509.Certificate { return p.tcbSigning }

// TrustedRoots returns a pool holding only the platform's root.
func (p *Platform) TrustedRoots() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.root)
	return pool
}

// Identity returns the platform identity (PPID, FMSPC, PCE ID, ...).
func (p *Platform) Identity() Identity { return p.id }

// FMSPC returns the platform's FMSPC as uppercase hex, as TCB info writes it.
func (p *Platform) FMSPC() string { return fmt.Sprintf("%X", p.id.FMSPC[:]) }

// AttestationPublicKey returns the QE attestation public key.
func (p *Platform) AttestationPublicKey() *ecdsa.PublicKey { return &p.attestationKey.PublicKey }

// PCKPublicKey returns the public key of every PCK certificate of the
// platform (one PCK key, one certificate per TCB).
func (p *Platform) PCKPublicKey() *ecdsa.PublicKey { return &p.pckKey.PublicKey }

// PCKCertificate returns the PCK certificate for the given TCB (issued on
// first use and kept in memory). Its serial number depends only on the
// platform seed and the TCB, so it is the same in every process.
func (p *Platform) PCKCertificate(tcb TCB) (*x509.Certificate, error) {
	l, err := p.leaf(tcb, false)
	if err != nil {
		return nil, err
	}
	return l.cert, nil
}

// PCKSerial returns the serial number the PCK certificate for tcb has (or
// will have), without issuing it.
func (p *Platform) PCKSerial(tcb TCB) *big.Int { return p.pckSerial(tcb, false) }

func (p *Platform) pckSerial(tcb TCB, untrusted bool) *big.Int {
	label := "pck/" + hex.EncodeToString(tcb.Components[:]) + fmt.Sprintf("/%d", tcb.PCESVN)
	if untrusted {
		label += "/untrusted"
	}
	return deriveSerial(p.aux, label)
}

func (p *Platform) leaf(tcb TCB, untrusted bool) (*leaf, error) {
	k := leafKey{tcb, untrusted}
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.leaves[k]; ok {
		return l, nil
	}
	issuer, issuerKey, root := p.platformCA, p.platformCAKey, p.root
	if untrusted {
		u, err := p.untrustedPKILocked()
		if err != nil {
			return nil, err
		}
		issuer, issuerKey, root = u.platformCA, u.platformCAKey, u.root
	}
	ext := []pkix.Extension{{Id: OIDSGXExtension, Value: pckExtension(p.id, tcb)}}
	cert, err := issue(kindPCK, p.pckSerial(tcb, untrusted), &p.pckKey.PublicKey, issuer, issuerKey, ext)
	if err != nil {
		return nil, fmt.Errorf("sgxsim: PCK certificate: %w", err)
	}
	l := &leaf{cert: cert, chain: pemChain(cert.Raw, issuer, root)}
	p.leaves[k] = l
	return l, nil
}

// pemChain is the type-5 certification data: PEM of PCK, intermediate and
// root, NUL-terminated as Intel's QE writes it.
func pemChain(pckDER []byte, intermediate, root *x509.Certificate) []byte {
	var b []byte
	b = append(b, certPEM(&x509.Certificate{Raw: pckDER})...)
	b = append(b, certPEM(intermediate)...)
	b = append(b, certPEM(root)...)
	return append(b, 0)
}

func (p *Platform) untrustedPKILocked() (*untrustedPKI, error) {
	if p.untrusted != nil {
		return p.untrusted, nil
	}
	rootKey := deriveKey(p.aux, "untrusted/root-ca")
	caKey := deriveKey(p.aux, "untrusted/platform-ca")
	root, err := issue(kindRoot, deriveSerial(p.aux, "untrusted/root-ca"), &rootKey.PublicKey, nil, rootKey, nil)
	if err != nil {
		return nil, err
	}
	ca, err := issue(kindPlatformCA, deriveSerial(p.aux, "untrusted/platform-ca"), &caKey.PublicKey, root, rootKey, nil)
	if err != nil {
		return nil, err
	}
	p.untrusted = &untrustedPKI{root: root, platformCA: ca, platformCAKey: caKey}
	return p.untrusted, nil
}

// qeMRSigner is the MRSIGNER of the simulated QE (SGX) or TD QE (TDX).
func qeMRSigner(tee TEE) [32]byte {
	return sha256.Sum256([]byte("avow simulated quoting enclave signer/" + string(tee)))
}

// QEMRSigner returns the MRSIGNER of the simulated quoting enclave for tee,
// as published in the QE identity.
func QEMRSigner(tee TEE) [32]byte { return qeMRSigner(tee) }

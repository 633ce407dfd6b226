// Package aesim is a simulated SQL Server enclave for Always Encrypted with
// secure enclaves under the AAS protocol, built on the simulated SGX
// platform (sgxsim): the server side of what package alwaysencrypted checks.
// It exists for tests and demos; nothing it makes is SQL Server's.
//
// For each session it reads the client's attestation parameters, folds the
// client's nonce into its RSA-4096 identity key blob (XOR), makes an SGX
// quote whose report data starts with SHA-256 of those bytes, has it
// attested by the attestation URL's provider with the bytes as Binary
// runtime data (so the token's aas-ehd carries them), signs a fresh P-384
// ECDH key with its RSA key and returns the attestation info blob, as SQL
// Server returns it from sp_describe_parameter_encryption.
package aesim

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/url"
	"strings"

	"github.com/avowhq/avow/alwaysencrypted"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/sgxsim"
)

// SQL Server's enclave identity: the values that Microsoft's recommended
// attestation policy for Always Encrypted requires.
const (
	SQLServerMRSignerHex        = "e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5"
	SQLServerProductID   uint16 = 4639
	SQLServerSVN         uint16 = 2
)

// RecommendedPolicy is Microsoft's recommended attestation policy for
// Always Encrypted with SGX enclaves: not debuggable, product id 4639, SVN
// at least 2, SQL Server's MRSIGNER.
const RecommendedPolicy = `version= 1.0;
authorizationrules
{
       [ type=="x-ms-sgx-is-debuggable", value==false ]
        && [ type=="x-ms-sgx-product-id", value==4639 ]
        && [ type=="x-ms-sgx-svn", value>= 2 ]
        && [ type=="x-ms-sgx-mrsigner", value=="e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5"]
    => permit();
};
`

// IdentityKeyBits is the size of the enclave's RSA identity key: 4096 bits
// with exponent 65537 give the 539-byte RSA1 blob SqlClient expects.
const IdentityKeyBits = 4096

// Errors.
var (
	// ErrOptions: an identity key that is not RSA-4096 with exponent 65537,
	// or a MRSIGNER that is not 32 bytes.
	ErrOptions = errs.New("ae_enclave_options_invalid", "the simulated enclave's options are invalid")
	// ErrAttestationFailed: the attestation service did not attest the
	// enclave (refused by policy, unreachable...). The cause is the client
	// error (a *client.Error when the service answered). SQL Server then
	// returns no attestation info and the driver never sees a token.
	ErrAttestationFailed = errs.New("ae_enclave_attestation_failed", "the attestation service did not attest the enclave")
)

// Identity is what the enclave's SGX report says about it.
type Identity struct {
	MRSigner  [32]byte
	MREnclave [32]byte // zero: sgxsim.DefaultMREnclave
	ProductID uint16
	SVN       uint16
	Debug     bool
}

// SQLServerIdentity returns SQL Server's enclave identity: its MRSIGNER,
// product id 4639, SVN 2, not debuggable. It satisfies RecommendedPolicy.
func SQLServerIdentity() Identity {
	id := Identity{ProductID: SQLServerProductID, SVN: SQLServerSVN}
	hex.Decode(id.MRSigner[:], []byte(SQLServerMRSignerHex))
	return id
}

// Options configure an Enclave.
type Options struct {
	// Platform makes the quotes; nil is sgxsim.Default(). The attestation
	// service must trust its root (avow serve --dev with the same sim
	// folder).
	Platform *sgxsim.Platform
	// Client sends the attestation requests (its TLS trust, timeouts); nil
	// is a client with the system roots.
	Client *client.Client
	// Identity is the enclave's SGX identity; nil is SQLServerIdentity().
	Identity *Identity
	// Key is the RSA identity key; nil generates a new RSA-4096 key. It
	// must be 4096 bits with exponent 65537.
	Key *rsa.PrivateKey
}

// Enclave is a simulated SQL Server enclave. It is safe for concurrent use.
type Enclave struct {
	platform *sgxsim.Platform
	client   *client.Client
	id       Identity
	key      *rsa.PrivateKey
	blob     []byte // RSA1 blob of the public key, 539 bytes
}

// New returns an enclave.
func New(o Options) (*Enclave, error) {
	e := &Enclave{platform: o.Platform, client: o.Client, key: o.Key, id: SQLServerIdentity()}
	if e.platform == nil {
		e.platform = sgxsim.Default()
	}
	if e.client == nil {
		c, err := client.New("")
		if err != nil {
			return nil, err
		}
		e.client = c
	}
	if o.Identity != nil {
		e.id = *o.Identity
	}
	if e.key == nil {
		k, err := rsa.GenerateKey(rand.Reader, IdentityKeyBits)
		if err != nil {
			return nil, ErrOptions.Wrapf("generating the identity key: %v", err)
		}
		e.key = k
	}
	if e.key.N.BitLen() != IdentityKeyBits || e.key.E != 65537 {
		return nil, ErrOptions.Wrapf("the identity key is %d bits with exponent %d; SQL Server's is %d bits with 65537", e.key.N.BitLen(), e.key.E, IdentityKeyBits)
	}
	e.blob = alwaysencrypted.MarshalRSAKeyBlob(&e.key.PublicKey)
	return e, nil
}

// PublicKeyBlob returns the enclave's RSA1 public key blob (539 bytes),
// before any nonce is folded in.
func (e *Enclave) PublicKeyBlob() []byte { return append([]byte(nil), e.blob...) }

// Session is one enclave session made for a client's parameters.
type Session struct {
	ID int64
	// Info is the attestation info blob for the client.
	Info []byte
	// Token is the attestation token the service returned.
	Token string
	// Key is the 32-byte session key, as the client derives it.
	Key []byte
	// AttestURI is where the quote was attested.
	AttestURI string
}

// AttestURI returns where SQL Server sends the quote for an attestation
// URL: the URL without query and fragment, and without a final
// "/attest/SgxEnclave" (older documentation has drivers configured with
// it, newer with the provider's attest URI itself).
func AttestURI(attestationURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(attestationURL))
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", alwaysencrypted.ErrAttestationURLInvalid.Wrapf("%q", attestationURL)
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	p := strings.TrimRight(u.Path, "/")
	if i := len(p) - len("/attest/SgxEnclave"); i >= 0 && strings.EqualFold(p[i:], "/attest/SgxEnclave") {
		p = p[:i]
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// Attest makes a session for the client's attestation parameters (the
// bytes of alwaysencrypted.Params.Marshal). When the attestation service
// refuses the enclave the error is ErrAttestationFailed and there is no
// attestation info.
func (e *Enclave) Attest(ctx context.Context, params []byte) (*Session, error) {
	p, err := alwaysencrypted.ParseParams(params)
	if err != nil {
		return nil, err
	}
	uri, err := AttestURI(p.URL)
	if err != nil {
		return nil, err
	}
	masked := alwaysencrypted.MaskIdentity(e.blob, p.Nonce)
	rd := sha256.Sum256(masked)
	var mrenclave []byte
	if e.id.MREnclave != [32]byte{} {
		mrenclave = e.id.MREnclave[:]
	}
	quote, err := e.platform.Quote(sgxsim.QuoteOptions{
		ReportData: rd[:], MRSigner: e.id.MRSigner[:], MREnclave: mrenclave,
		ISVProdID: e.id.ProductID, ISVSVN: e.id.SVN, Debug: e.id.Debug,
	})
	if err != nil {
		return nil, err
	}
	tok, err := e.client.AttestSGX(ctx, uri, quote, client.AttestOptions{RuntimeData: masked})
	if err != nil {
		return nil, ErrAttestationFailed.Wrap(err)
	}
	dh, err := ecdh.P384().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	dhBlob := alwaysencrypted.MarshalECDHKey(dh.PublicKey())
	digest := sha256.Sum256(dhBlob)
	sig, err := rsa.SignPKCS1v15(nil, e.key, crypto.SHA256, digest[:])
	if err != nil {
		return nil, err
	}
	var sid [8]byte
	if _, err := rand.Read(sid[:]); err != nil {
		return nil, err
	}
	z, err := dh.ECDH(p.PublicKey)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(z)
	s := &Session{ID: int64(binary.LittleEndian.Uint64(sid[:]) >> 1), Token: tok, Key: key[:], AttestURI: uri}
	info := alwaysencrypted.Info{
		EnclaveType: alwaysencrypted.EnclaveSGX, Identity: masked, Token: tok,
		SessionID: s.ID, DHKey: dhBlob, DHSignature: sig,
	}
	s.Info = info.Marshal()
	return s, nil
}

package alwaysencrypted

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
)

// EnclaveType is the enclave type of an attestation info blob.
type EnclaveType uint32

// Enclave types (A.2).
const (
	EnclaveVBS EnclaveType = 1
	EnclaveSGX EnclaveType = 2
)

func (t EnclaveType) String() string {
	switch t {
	case EnclaveVBS:
		return "vbs"
	case EnclaveSGX:
		return "sgx"
	}
	return fmt.Sprintf("enclave type %d", uint32(t))
}

// Bounds of ParseInfo, checked before anything is taken from the blob.
const (
	MaxInfoSize      = 2 << 20  // the whole blob
	MaxIdentitySize  = 16 << 10 // the enclave RSA key blob
	MaxTokenSize     = 1 << 20  // the JWT text
	MaxSignatureSize = 16 << 10 // the RSA signature over the DH key
)

// sessionInfoFixed is the session id, the DH key size and the signature
// size that the session info size counts besides the key and signature.
const sessionInfoFixed = 8 + 4 + 4

// Info is the attestation info blob SQL Server returns for the AAS protocol
// (A.4), in the third result set of sp_describe_parameter_encryption.
type Info struct {
	EnclaveType EnclaveType
	// Identity is the enclave's RSA public key blob exactly as received:
	// for SGX XOR-ed with the client's nonce (see UnmaskIdentity).
	Identity []byte
	// Token is the attestation token text, trimmed of white space and of
	// one pair of surrounding double quotes, as both drivers read it.
	Token     string
	SessionID int64
	// DHKey is the enclave's 104-byte ECK3 public key blob, DHSignature the
	// RSA signature over it.
	DHKey       []byte
	DHSignature []byte
}

// Marshal returns the blob (A.4), integers little-endian:
//
//	u32 total size (of the whole blob), u32 I, u32 T, u32 enclave type,
//	identity (I), token (T),
//	u32 session info size (8 + 4 + 4 + D + S), i64 session id, u32 D, u32 S,
//	DH key (D), signature (S)
func (i *Info) Marshal() []byte {
	n := 16 + len(i.Identity) + len(i.Token) + 4 + sessionInfoFixed + len(i.DHKey) + len(i.DHSignature)
	b := make([]byte, 0, n)
	b = le.AppendUint32(b, uint32(n))
	b = le.AppendUint32(b, uint32(len(i.Identity)))
	b = le.AppendUint32(b, uint32(len(i.Token)))
	b = le.AppendUint32(b, uint32(i.EnclaveType))
	b = append(b, i.Identity...)
	b = append(b, i.Token...)
	b = le.AppendUint32(b, uint32(sessionInfoFixed+len(i.DHKey)+len(i.DHSignature)))
	b = le.AppendUint64(b, uint64(i.SessionID))
	b = le.AppendUint32(b, uint32(len(i.DHKey)))
	b = le.AppendUint32(b, uint32(len(i.DHSignature)))
	b = append(b, i.DHKey...)
	return append(b, i.DHSignature...)
}

// ParseInfo reads an attestation info blob with the union of the drivers'
// rules and bounds:
//
//   - the blob is at most MaxInfoSize; the total size field is read and not
//     checked (neither driver checks it);
//   - the enclave type is 1 (VBS) or 2 (SGX) (ErrEnclaveTypeUnsupported);
//   - every size is checked against its bound and against the bytes that
//     remain before anything is taken; the identity and the token are not
//     empty;
//   - the token is trimmed of white space and one pair of surrounding
//     quotes (both drivers);
//   - the session info size equals the bytes that follow it (8 + 4 + 4 +
//     D + S);
//   - D is 104 and the DH key starts with 45 43 4B 33 30 00 00 00 (JDBC;
//     ErrDHKeyMalformed); the signature is not empty;
//   - nothing follows the signature (JDBC's R_EnclaveResponseLengthError;
//     SqlClient only asserts it in debug builds).
//
// Other failures are ErrInfoInvalid. The result does not alias b.
func ParseInfo(b []byte) (*Info, error) {
	info, err := parseInfo(b)
	if err != nil {
		if typed(err) {
			return nil, err
		}
		return nil, ErrInfoInvalid.Wrap(err)
	}
	return info, nil
}

func parseInfo(b []byte) (*Info, error) {
	if len(b) > MaxInfoSize {
		return nil, fmt.Errorf("%d bytes, more than the %d allowed", len(b), MaxInfoSize)
	}
	r := &reader{b: b}
	if _, err := r.u32("total size"); err != nil {
		return nil, err
	}
	idSize, err := r.u32("identity size")
	if err != nil {
		return nil, err
	}
	tokSize, err := r.u32("token size")
	if err != nil {
		return nil, err
	}
	typ, err := r.u32("enclave type")
	if err != nil {
		return nil, err
	}
	info := &Info{EnclaveType: EnclaveType(typ)}
	if info.EnclaveType != EnclaveVBS && info.EnclaveType != EnclaveSGX {
		return nil, ErrEnclaveTypeUnsupported.Wrapf("enclave type %d; 1 (VBS) and 2 (SGX) are supported", typ)
	}
	if idSize == 0 || idSize > MaxIdentitySize {
		return nil, fmt.Errorf("identity size %d: must be 1 to %d", idSize, MaxIdentitySize)
	}
	if tokSize == 0 || tokSize > MaxTokenSize {
		return nil, fmt.Errorf("token size %d: must be 1 to %d", tokSize, MaxTokenSize)
	}
	id, err := r.bytes(idSize, "identity")
	if err != nil {
		return nil, err
	}
	tok, err := r.bytes(tokSize, "token")
	if err != nil {
		return nil, err
	}
	info.Identity = bytes.Clone(id)
	info.Token = trimToken(string(tok))
	if info.Token == "" {
		return nil, fmt.Errorf("the token is empty after trimming white space and quotes")
	}
	sessionInfo, err := r.u32("session info size")
	if err != nil {
		return nil, err
	}
	if uint64(sessionInfo) != uint64(r.remaining()) {
		return nil, fmt.Errorf("session info size %d, but %d bytes follow it", sessionInfo, r.remaining())
	}
	sid, err := r.bytes(8, "session id")
	if err != nil {
		return nil, err
	}
	info.SessionID = int64(le.Uint64(sid))
	dhSize, err := r.u32("DH key size")
	if err != nil {
		return nil, err
	}
	sigSize, err := r.u32("DH signature size")
	if err != nil {
		return nil, err
	}
	if dhSize != ECDHKeySize {
		return nil, ErrDHKeyMalformed.Wrapf("the DH key size is %d, want %d", dhSize, ECDHKeySize)
	}
	if sigSize == 0 || sigSize > MaxSignatureSize {
		return nil, fmt.Errorf("DH signature size %d: must be 1 to %d", sigSize, MaxSignatureSize)
	}
	dh, err := r.bytes(dhSize, "DH key")
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(dh[:8], eck3Header) {
		return nil, ErrDHKeyMalformed.Wrapf("DH key header % x, want % x (ECK3, key size 48)", dh[:8], eck3Header)
	}
	sig, err := r.bytes(sigSize, "DH signature")
	if err != nil {
		return nil, err
	}
	if r.remaining() != 0 {
		return nil, fmt.Errorf("%d bytes after the DH signature: more bytes were received than expected", r.remaining())
	}
	info.DHKey, info.DHSignature = bytes.Clone(dh), bytes.Clone(sig)
	return info, nil
}

// trimToken trims white space (Java's trim: every character up to U+0020;
// .NET's Trim: Unicode white space) and then one pair of surrounding
// double quotes, as JDBC does.
func trimToken(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return r <= ' ' || unicode.IsSpace(r) })
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return s
}

// UnmaskIdentity returns the enclave's RSA key blob from an SGX identity:
// identity[i] XOR nonce[i mod len(nonce)]. SQL Server folds the client's
// nonce into an SGX enclave's key because the SGX token carries no nonce.
// The drivers apply it after the aas-ehd check, which compares the masked
// bytes.
func UnmaskIdentity(identity, nonce []byte) []byte {
	out := make([]byte, len(identity))
	for i := range identity {
		out[i] = identity[i] ^ nonce[i%len(nonce)]
	}
	return out
}

// MaskIdentity is UnmaskIdentity seen from the enclave (XOR is its own
// inverse).
func MaskIdentity(key, nonce []byte) []byte { return UnmaskIdentity(key, nonce) }

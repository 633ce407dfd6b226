package alwaysencrypted

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"unicode/utf16"
)

// Wire constants of A.2 and A.3.
const (
	// ProtocolAAS is the attestation protocol id of Azure Attestation.
	ProtocolAAS uint32 = 1
	// NonceSize is the size of the client's nonce.
	NonceSize = 256
	// ECDHKeySize is the size of an ECK3 public key blob: 8-byte header,
	// X and Y of 48 bytes each.
	ECDHKeySize = 104
	// MaxURLBytes bounds the UTF-16LE attestation URL a parser accepts.
	MaxURLBytes = 16 << 10
)

// eck3Header is BCRYPT_ECDH_PUBLIC_P384_MAGIC ("ECK3") and the key size 48,
// little-endian.
var eck3Header = []byte{0x45, 0x43, 0x4b, 0x33, 0x30, 0x00, 0x00, 0x00}

var le = binary.LittleEndian

// Params are the attestation parameters a driver sends to SQL Server as
// sp_describe_parameter_encryption's @attestationParameters (A.3), for the
// AAS protocol: the attestation URL, a fresh 256-byte nonce and the public
// half of a fresh ephemeral P-384 key. SqlClient and mssql-jdbc produce the
// same bytes.
type Params struct {
	URL       string
	Nonce     []byte          // NonceSize bytes
	PublicKey *ecdh.PublicKey // P-384
}

// NewParams makes the parameters of one attestation attempt: 256 random
// bytes of nonce and a new P-384 key pair, whose private half the caller
// keeps to derive the session key (Validator.Verify).
func NewParams(url string) (*Params, *ecdh.PrivateKey, error) {
	key, err := ecdh.P384().GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, ErrParamsInvalid.Wrapf("generating the P-384 key: %v", err)
	}
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, ErrParamsInvalid.Wrapf("reading the nonce: %v", err)
	}
	p, err := NewParamsWith(url, nonce, key)
	if err != nil {
		return nil, nil, err
	}
	return p, key, nil
}

// NewParamsWith builds parameters from a given nonce and key (tests and
// golden files; drivers always use fresh ones, see NewParams).
func NewParamsWith(url string, nonce []byte, key *ecdh.PrivateKey) (*Params, error) {
	if url == "" {
		return nil, ErrParamsInvalid.Wrapf("no attestation URL")
	}
	if len(nonce) != NonceSize {
		return nil, ErrParamsInvalid.Wrapf("the nonce has %d bytes, not %d", len(nonce), NonceSize)
	}
	if key == nil || key.Curve() != ecdh.P384() {
		return nil, ErrParamsInvalid.Wrapf("the client key is not a P-384 key")
	}
	if 2*(len(utf16.Encode([]rune(url)))+1) > MaxURLBytes {
		return nil, ErrParamsInvalid.Wrapf("the attestation URL is longer than %d bytes in UTF-16", MaxURLBytes)
	}
	return &Params{URL: url, Nonce: bytes.Clone(nonce), PublicKey: key.PublicKey()}, nil
}

// Marshal returns the parameters' bytes (A.3), all integers little-endian:
//
//	u32 protocol id (1, AAS)
//	u32 N = length of the protocol input:
//	    u32 byte length of the URL, the URL in UTF-16LE with a U+0000 terminator,
//	    u32 256, the 256-byte nonce
//	u32 104, the client's ECK3 public key blob
func (p *Params) Marshal() []byte {
	units := append(utf16.Encode([]rune(p.URL)), 0)
	urlLen := 2 * len(units)
	n := 4 + urlLen + 4 + len(p.Nonce)
	b := make([]byte, 0, 8+n+4+ECDHKeySize)
	b = le.AppendUint32(b, ProtocolAAS)
	b = le.AppendUint32(b, uint32(n))
	b = le.AppendUint32(b, uint32(urlLen))
	for _, u := range units {
		b = le.AppendUint16(b, u)
	}
	b = le.AppendUint32(b, uint32(len(p.Nonce)))
	b = append(b, p.Nonce...)
	b = le.AppendUint32(b, ECDHKeySize)
	return append(b, MarshalECDHKey(p.PublicKey)...)
}

// reader reads a blob front to back; every read checks the remaining bytes.
type reader struct {
	b   []byte
	off int
}

func (r *reader) remaining() int { return len(r.b) - r.off }

func (r *reader) u32(what string) (uint32, error) {
	if r.remaining() < 4 {
		return 0, fmt.Errorf("%s at offset %d: %d bytes left, need 4", what, r.off, r.remaining())
	}
	v := le.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

// bytes returns the next n bytes (a sub-slice, not a copy); n is checked
// against the remaining bytes before anything is taken.
func (r *reader) bytes(n uint32, what string) ([]byte, error) {
	if uint64(n) > uint64(r.remaining()) {
		return nil, fmt.Errorf("%s at offset %d: size %d but only %d bytes left", what, r.off, n, r.remaining())
	}
	v := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return v, nil
}

// ParseParams reads attestation parameters strictly: protocol AAS, N equal
// to the protocol input's size, an even URL length of at most MaxURLBytes
// ending in one U+0000 (no other NUL, valid UTF-16), nonce length 256,
// key length 104 with a valid ECK3 P-384 key, and nothing after it. The
// result does not alias b.
func ParseParams(b []byte) (*Params, error) {
	p, err := parseParams(b)
	if err != nil {
		return nil, ErrParamsInvalid.Wrap(err)
	}
	return p, nil
}

func parseParams(b []byte) (*Params, error) {
	r := &reader{b: b}
	proto, err := r.u32("protocol id")
	if err != nil {
		return nil, err
	}
	if proto != ProtocolAAS {
		return nil, fmt.Errorf("protocol id %d; only AAS (1) is supported", proto)
	}
	n, err := r.u32("protocol input length")
	if err != nil {
		return nil, err
	}
	input, err := r.bytes(n, "protocol input")
	if err != nil {
		return nil, err
	}
	in := &reader{b: input}
	urlLen, err := in.u32("URL length")
	if err != nil {
		return nil, err
	}
	if urlLen < 2 || urlLen%2 != 0 || urlLen > MaxURLBytes {
		return nil, fmt.Errorf("URL length %d: must be even, at least 2 and at most %d", urlLen, MaxURLBytes)
	}
	raw, err := in.bytes(urlLen, "URL")
	if err != nil {
		return nil, err
	}
	url, err := decodeUTF16URL(raw)
	if err != nil {
		return nil, err
	}
	nonceLen, err := in.u32("nonce length")
	if err != nil {
		return nil, err
	}
	if nonceLen != NonceSize {
		return nil, fmt.Errorf("nonce length %d, want %d", nonceLen, NonceSize)
	}
	nonce, err := in.bytes(nonceLen, "nonce")
	if err != nil {
		return nil, err
	}
	if in.remaining() != 0 {
		return nil, fmt.Errorf("%d bytes after the nonce inside the protocol input", in.remaining())
	}
	keyLen, err := r.u32("ECDH key length")
	if err != nil {
		return nil, err
	}
	if keyLen != ECDHKeySize {
		return nil, fmt.Errorf("ECDH key length %d, want %d", keyLen, ECDHKeySize)
	}
	blob, err := r.bytes(keyLen, "ECDH key")
	if err != nil {
		return nil, err
	}
	pub, err := ParseECDHKey(blob)
	if err != nil {
		return nil, err
	}
	if r.remaining() != 0 {
		return nil, fmt.Errorf("%d bytes after the ECDH key", r.remaining())
	}
	return &Params{URL: url, Nonce: bytes.Clone(nonce), PublicKey: pub}, nil
}

func decodeUTF16URL(raw []byte) (string, error) {
	units := make([]uint16, len(raw)/2)
	for i := range units {
		units[i] = le.Uint16(raw[2*i:])
	}
	if units[len(units)-1] != 0 {
		return "", fmt.Errorf("the URL does not end with U+0000")
	}
	units = units[:len(units)-1]
	if len(units) == 0 {
		return "", fmt.Errorf("the URL is empty")
	}
	for i, u := range units {
		if u == 0 {
			return "", fmt.Errorf("the URL has U+0000 at character %d", i)
		}
	}
	runes := utf16.Decode(units)
	if back := utf16.Encode(runes); len(back) != len(units) || !equalUnits(back, units) {
		return "", fmt.Errorf("the URL is not valid UTF-16 (unpaired surrogate)")
	}
	return string(runes), nil
}

func equalUnits(a, b []uint16) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// MarshalECDHKey returns the 104-byte ECK3 blob of a P-384 public key
// (BCRYPT_ECCKEY_BLOB): "ECK3", u32 48, X and Y big-endian.
func MarshalECDHKey(pub *ecdh.PublicKey) []byte {
	point := pub.Bytes() // 0x04 || X || Y
	b := make([]byte, 0, ECDHKeySize)
	b = append(b, eck3Header...)
	return append(b, point[1:]...)
}

// ParseECDHKey reads a 104-byte ECK3 blob: the header must be exactly
// 45 43 4B 33 30 00 00 00 (JDBC checks these 8 bytes) and X, Y a point on
// P-384.
func ParseECDHKey(b []byte) (*ecdh.PublicKey, error) {
	if len(b) != ECDHKeySize {
		return nil, ErrDHKeyMalformed.Wrapf("%d bytes, want %d", len(b), ECDHKeySize)
	}
	if !bytes.Equal(b[:8], eck3Header) {
		return nil, ErrDHKeyMalformed.Wrapf("header % x, want % x (ECK3, key size 48)", b[:8], eck3Header)
	}
	point := make([]byte, 1+96)
	point[0] = 4
	copy(point[1:], b[8:])
	pub, err := ecdh.P384().NewPublicKey(point)
	if err != nil {
		return nil, ErrDHKeyMalformed.Wrapf("X, Y are not a point on P-384")
	}
	return pub, nil
}

// MarshalClientKey returns the client's private key as PKCS #8 PEM
// ("PRIVATE KEY"), for `avow ae params --key-out`.
func MarshalClientKey(key *ecdh.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, ErrClientKeyInvalid.Wrap(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseClientKey reads a PKCS #8 PEM P-384 private key (MarshalClientKey).
func ParseClientKey(data []byte) (*ecdh.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, ErrClientKeyInvalid.Wrapf("no PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, ErrClientKeyInvalid.Wrap(err)
	}
	var key *ecdh.PrivateKey
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if key, err = k.ECDH(); err != nil {
			return nil, ErrClientKeyInvalid.Wrap(err)
		}
	case *ecdh.PrivateKey:
		key = k
	default:
		return nil, ErrClientKeyInvalid.Wrapf("a %T key", k)
	}
	if key.Curve() != ecdh.P384() {
		return nil, ErrClientKeyInvalid.Wrapf("the key is not on P-384")
	}
	return key, nil
}

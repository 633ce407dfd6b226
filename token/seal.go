package token

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KEKSize is the size of a key-encryption key: AES-256.
const KEKSize = 32

// Sealed key format, version 1:
//
//	"AVSK" | 0x01 | nonce (12 bytes) | AES-256-GCM(PKCS#8 DER of the key) with its 16-byte tag
//
// The GCM additional data is the 5-byte prefix ("AVSK" 0x01) followed by
// the caller's aad (KeyAAD(provider, kid) for provider signing keys), so a
// sealed key only opens for the provider and kid it was sealed for.
const (
	sealMagic    = "AVSK"
	sealVersion1 = 0x01
	sealPrefix   = len(sealMagic) + 1
	gcmNonceSize = 12
	gcmTagSize   = 16
)

// KeyAAD returns the additional authenticated data that binds a sealed
// signing key to its provider and kid: "avow signing key" 0x00, then the
// provider name and the kid, each preceded by its length as a big-endian
// uint32.
func KeyAAD(provider, kid string) []byte {
	const label = "avow signing key\x00"
	b := make([]byte, 0, len(label)+8+len(provider)+len(kid))
	b = append(b, label...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(provider)))
	b = append(b, provider...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(kid)))
	b = append(b, kid...)
	return b
}

func newGCM(kek []byte) (cipher.AEAD, error) {
	if len(kek) != KEKSize {
		return nil, ErrKEKInvalid.Wrapf("the key is %d bytes", len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, ErrKEKInvalid.Wrapf("AES: %v", err)
	}
	return cipher.NewGCM(block)
}

// SealPrivateKey encrypts key under kek (32 bytes) with AES-256-GCM and a
// random nonce, bound to aad (use KeyAAD(provider, kid)). The result is
// safe to store; OpenPrivateKey reverses it.
func SealPrivateKey(kek []byte, key *rsa.PrivateKey, aad []byte) ([]byte, error) {
	if key == nil {
		return nil, ErrKeySealing.Wrap(errNilKey)
	}
	return sealPKCS8(kek, key, aad)
}

// sealPKCS8 seals the PKCS#8 encoding of key.
func sealPKCS8(kek []byte, key any, aad []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	plain, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, ErrKeySealing.Wrapf("encoding the key: %v", err)
	}
	defer clear(plain)
	out := make([]byte, sealPrefix+gcmNonceSize, sealPrefix+gcmNonceSize+len(plain)+gcmTagSize)
	copy(out, sealMagic)
	out[len(sealMagic)] = sealVersion1
	if _, err := rand.Read(out[sealPrefix:]); err != nil {
		return nil, ErrKeySealing.Wrapf("reading a nonce: %v", err)
	}
	ad := append(append(make([]byte, 0, sealPrefix+len(aad)), out[:sealPrefix]...), aad...)
	return aead.Seal(out, out[sealPrefix:], plain, ad), nil
}

// OpenPrivateKey decrypts a key sealed by SealPrivateKey with the same kek
// and aad. Any mismatch (KEK, aad, a changed byte) fails with
// ErrKeyUnsealing; the returned key is validated and precomputed.
func OpenPrivateKey(kek, sealed, aad []byte) (*rsa.PrivateKey, error) {
	plain, err := openPKCS8(kek, sealed, aad)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	k, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, ErrKeyUnsealing.Wrapf("the decrypted data is not a PKCS#8 key")
	}
	priv, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, ErrKeyUnsealing.Wrapf("the decrypted key is %T, not RSA", k)
	}
	priv.Precompute()
	return priv, nil
}

// openPKCS8 returns the PKCS#8 bytes of a sealed key; the caller clears
// them.
func openPKCS8(kek, sealed, aad []byte) ([]byte, error) {
	aead, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	if len(sealed) < sealPrefix+gcmNonceSize+gcmTagSize || string(sealed[:len(sealMagic)]) != sealMagic {
		return nil, ErrKeyUnsealing.Wrapf("not a sealed avow key")
	}
	if v := sealed[len(sealMagic)]; v != sealVersion1 {
		return nil, ErrKeyUnsealing.Wrapf("unsupported sealed key format version %d", v)
	}
	ad := append(append(make([]byte, 0, sealPrefix+len(aad)), sealed[:sealPrefix]...), aad...)
	nonce := sealed[sealPrefix : sealPrefix+gcmNonceSize]
	plain, err := aead.Open(nil, nonce, sealed[sealPrefix+gcmNonceSize:], ad)
	if err != nil {
		return nil, ErrKeyUnsealing.Wrapf("authentication failed")
	}
	return plain, nil
}

// KEKFromEnv parses a key-encryption key given as text, typically an
// environment variable: 64 hex characters, or base64 (standard or URL
// alphabet, padded or not) of exactly 32 bytes. Surrounding whitespace is
// ignored. Errors never quote the value.
func KEKFromEnv(value string) ([]byte, error) {
	s := strings.TrimSpace(value)
	if s == "" {
		return nil, ErrKEKInvalid.Wrapf("the value is empty")
	}
	if len(s) == 2*KEKSize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := enc.Strict().DecodeString(s)
		if err == nil && len(k) == KEKSize {
			return k, nil
		}
		clear(k)
	}
	return nil, ErrKEKInvalid.Wrapf("a value of %d characters is neither 64 hex characters nor base64 of 32 bytes", len(s))
}

// LoadOrCreateKEK reads the key-encryption key at path, or creates it when
// the file does not exist: 32 random bytes written as 64 hex characters and
// a newline, mode 0600 (the parent directory is created with mode 0700 if
// missing). Creation is atomic: concurrent callers all end up with the same
// key. An existing file must be a regular file not accessible by group or
// others (ErrKEKFileInsecure, checked on Unix) and hold raw 32 bytes or
// 64 hex characters (ErrKEKInvalid).
func LoadOrCreateKEK(path string) (kek []byte, created bool, err error) {
	if path == "" {
		return nil, false, ErrKEKUnavailable.Wrapf("no path given")
	}
	kek, err = readKEKFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kek, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, ErrKEKUnavailable.Wrap(err)
	}
	kek = make([]byte, KEKSize)
	if _, err := rand.Read(kek); err != nil {
		return nil, false, ErrKEKUnavailable.Wrapf("reading random bytes: %v", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kek-*")
	if err != nil {
		return nil, false, ErrKEKUnavailable.Wrap(err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return nil, false, ErrKEKUnavailable.Wrap(err)
	}
	text := make([]byte, 0, 2*KEKSize+1)
	text = hex.AppendEncode(text, kek)
	text = append(text, '\n')
	_, werr := tmp.Write(text)
	clear(text)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, false, ErrKEKUnavailable.Wrap(werr)
	}
	// Link fails if path exists: the first creator wins and everyone else
	// reads its key.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			clear(kek)
			kek, err = readKEKFile(path)
			return kek, false, err
		}
		return nil, false, ErrKEKUnavailable.Wrap(err)
	}
	return kek, true, nil
}

func readKEKFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, ErrKEKUnavailable.Wrap(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, ErrKEKUnavailable.Wrap(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, ErrKEKFileInsecure.Wrapf("%s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, ErrKEKFileInsecure.Wrapf("%s has mode %04o; run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4097))
	defer clear(data)
	if err != nil {
		return nil, ErrKEKUnavailable.Wrap(err)
	}
	if len(data) == KEKSize {
		return bytes.Clone(data), nil
	}
	s := strings.TrimSpace(string(data))
	if len(s) == 2*KEKSize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	return nil, ErrKEKInvalid.Wrapf("%s holds %d bytes: neither 32 raw bytes nor 64 hex characters", path, len(data))
}

package alwaysencrypted

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

const goldenURL = "https://contoso.eus.attest.azure.net/attest/SgxEnclave"

// goldenKey is a fixed P-384 client key: the scalar is SHA-384 of a label.
func goldenKey(t testing.TB) *ecdh.PrivateKey {
	t.Helper()
	seed := sha512.Sum384([]byte("avow ae golden client key"))
	k, err := ecdh.P384().NewPrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func goldenNonce() []byte {
	n := make([]byte, NonceSize)
	for i := range n {
		n[i] = byte(i)
	}
	return n
}

// TestParamsGolden pins A.3's layout byte by byte for a fixed nonce and key.
func TestParamsGolden(t *testing.T) {
	key := goldenKey(t)
	p, err := NewParamsWith(goldenURL, goldenNonce(), key)
	if err != nil {
		t.Fatal(err)
	}
	b := p.Marshal()
	urlLen := 2 * (len(goldenURL) + 1)
	n := 4 + urlLen + 4 + 256
	if len(b) != 8+n+4+104 {
		t.Fatalf("%d bytes, want %d", len(b), 8+n+4+104)
	}
	u32 := func(off int) uint32 { return le.Uint32(b[off:]) }
	if u32(0) != 1 || u32(4) != uint32(n) || u32(8) != uint32(urlLen) {
		t.Errorf("header: protocol %d, N %d, URL length %d", u32(0), u32(4), u32(8))
	}
	units := make([]uint16, urlLen/2)
	for i := range units {
		units[i] = le.Uint16(b[12+2*i:])
	}
	if string(utf16.Decode(units[:len(units)-1])) != goldenURL || units[len(units)-1] != 0 {
		t.Errorf("URL %q", string(utf16.Decode(units)))
	}
	off := 12 + urlLen
	if u32(off) != 256 || !bytes.Equal(b[off+4:off+4+256], goldenNonce()) {
		t.Errorf("nonce length %d or bytes differ", u32(off))
	}
	off += 4 + 256
	if u32(off) != 104 {
		t.Errorf("key length %d", u32(off))
	}
	blob := b[off+4:]
	if !bytes.Equal(blob[:8], []byte{0x45, 0x43, 0x4b, 0x33, 0x30, 0, 0, 0}) {
		t.Errorf("ECK3 header % x", blob[:8])
	}
	if point := key.PublicKey().Bytes(); !bytes.Equal(blob[8:], point[1:]) {
		t.Error("X, Y differ from the key's point")
	}

	golden := filepath.Join("testdata", "params.golden.hex")
	text := wrapHex(b)
	if *update {
		if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != text {
		t.Errorf("params differ from %s (go test -run TestParamsGolden -update)", golden)
	}
}

func wrapHex(b []byte) string {
	h := hex.EncodeToString(b)
	var sb strings.Builder
	for len(h) > 64 {
		sb.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	sb.WriteString(h + "\n")
	return sb.String()
}

func TestParamsRoundTrip(t *testing.T) {
	p1, k1, err := NewParams("https://contoso.eus.attest.azure.net/attest/SgxEnclave?api-version=2022-08-01 — ünïcode 😀")
	if err != nil {
		t.Fatal(err)
	}
	p2, k2, _ := NewParams(p1.URL)
	if bytes.Equal(p1.Nonce, p2.Nonce) || k1.Equal(k2) {
		t.Error("two attempts share a nonce or a key")
	}
	got, err := ParseParams(p1.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != p1.URL || !bytes.Equal(got.Nonce, p1.Nonce) || !got.PublicKey.Equal(k1.PublicKey()) {
		t.Errorf("round trip: %+v", got)
	}
	if !bytes.Equal(got.Marshal(), p1.Marshal()) {
		t.Error("re-marshalled bytes differ")
	}
	for _, bad := range []struct {
		url   string
		nonce []byte
		key   *ecdh.PrivateKey
	}{
		{"", goldenNonce(), k1},
		{"https://x", make([]byte, 255), k1},
		{"https://x", goldenNonce(), nil},
		{strings.Repeat("x", MaxURLBytes/2), goldenNonce(), k1},
	} {
		if _, err := NewParamsWith(bad.url, bad.nonce, bad.key); !errors.Is(err, ErrParamsInvalid) {
			t.Errorf("NewParamsWith(%d chars, %d-byte nonce): %v", len(bad.url), len(bad.nonce), err)
		}
	}
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	if _, err := NewParamsWith("https://x", goldenNonce(), x); !errors.Is(err, ErrParamsInvalid) {
		t.Errorf("X25519 key: %v", err)
	}
}

func TestParseParamsErrors(t *testing.T) {
	p, err := NewParamsWith("https://a.b", goldenNonce(), goldenKey(t))
	if err != nil {
		t.Fatal(err)
	}
	good := p.Marshal()
	urlLen := 2 * (len("https://a.b") + 1)
	nonceOff := 12 + urlLen // the nonce length field
	keyOff := nonceOff + 4 + 256
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	put := func(off int, v uint32) []byte {
		return mod(func(b []byte) []byte { le.PutUint32(b[off:], v); return b })
	}
	cases := []struct {
		name, want string
		b          []byte
	}{
		{"empty", "protocol id", nil},
		{"protocol None", "protocol id 2", put(0, 2)},
		{"protocol HGS", "protocol id 3", put(0, 3)},
		{"N too large", "protocol input", put(4, uint32(len(good)))},
		{"N too small", "nonce", put(4, 40)},
		{"N larger than its content", "after the nonce", mod(func(b []byte) []byte {
			le.PutUint32(b[4:], le.Uint32(b[4:])+2)
			return append(b[:keyOff:keyOff], append([]byte{0, 0}, good[keyOff:]...)...)
		})},
		{"odd URL length", "even", put(8, uint32(urlLen-1))},
		{"URL length 0", "at least 2", put(8, 0)},
		{"URL length huge", "at most", put(8, MaxURLBytes+2)},
		{"URL not terminated", "U+0000", mod(func(b []byte) []byte { b[12+urlLen-2] = 'x'; return b })},
		{"NUL inside URL", "U+0000 at character 3", mod(func(b []byte) []byte { b[12+6] = 0; return b })},
		{"URL only NUL", "empty", mod(func(b []byte) []byte {
			out := le.AppendUint32(nil, 1)
			out = le.AppendUint32(out, 4+2+4+256)
			out = le.AppendUint32(out, 2)
			out = append(out, 0, 0)
			return append(out, b[nonceOff:]...)
		})},
		{"unpaired surrogate", "surrogate", mod(func(b []byte) []byte { le.PutUint16(b[12:], 0xd800); return b })},
		{"nonce length 255", "nonce length 255", put(nonceOff, 255)},
		{"key length 103", "ECDH key length 103", put(keyOff, 103)},
		{"truncated key", "ECDH key", good[:len(good)-1]},
		{"bad ECK3 magic", "header", mod(func(b []byte) []byte { b[keyOff+4] = 'X'; return b })},
		{"ECK3 key size 32", "header", mod(func(b []byte) []byte { b[keyOff+8] = 0x20; return b })},
		{"point off the curve", "not a point", mod(func(b []byte) []byte { b[len(b)-1] ^= 1; return b })},
		{"trailing byte", "after the ECDH key", append(bytes.Clone(good), 0)},
	}
	for _, c := range cases {
		_, err := ParseParams(c.b)
		if !errors.Is(err, ErrParamsInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ae_params_invalid mentioning %q", c.name, err, c.want)
		}
	}
}

func TestClientKeyPEM(t *testing.T) {
	key := goldenKey(t)
	pemKey, err := MarshalClientKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pemKey, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Errorf("PEM %s", pemKey)
	}
	back, err := ParseClientKey(pemKey)
	if err != nil || !back.Equal(key) {
		t.Fatalf("round trip: %v", err)
	}
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(p256)
	x, _ := ecdh.X25519().GenerateKey(rand.Reader)
	xder, _ := x509.MarshalPKCS8PrivateKey(x)
	ecDER, _ := x509.MarshalECPrivateKey(p256)
	for name, data := range map[string][]byte{
		"not PEM":     []byte("hello"),
		"EC PEM type": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
		"garbage DER": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
		"P-256":       pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		"X25519":      pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: xder}),
	} {
		if _, err := ParseClientKey(data); !errors.Is(err, ErrClientKeyInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

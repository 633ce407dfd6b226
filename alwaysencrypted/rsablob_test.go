package alwaysencrypted

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
)

var (
	rsa4096Once sync.Once
	rsa4096     *rsa.PrivateKey
)

// enclaveRSAKey is one RSA-4096 key for the package's tests (generating
// one takes a second or more).
func enclaveRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	rsa4096Once.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 4096)
		if err != nil {
			panic(err)
		}
		rsa4096 = k
	})
	return rsa4096
}

func TestRSAKeyBlob(t *testing.T) {
	key := enclaveRSAKey(t)
	b := MarshalRSAKeyBlob(&key.PublicKey)
	if len(b) != SqlClientRSABlobSize {
		t.Fatalf("%d bytes, want 539", len(b))
	}
	if !bytes.Equal(b[:4], []byte("RSA1")) || le.Uint32(b[4:]) != 4096 || le.Uint32(b[8:]) != 3 || le.Uint32(b[12:]) != 512 ||
		le.Uint32(b[16:]) != 0 || le.Uint32(b[20:]) != 0 {
		t.Errorf("header % x", b[:24])
	}
	if !bytes.Equal(b[24:27], []byte{1, 0, 1}) || !bytes.Equal(b[27:], key.N.FillBytes(make([]byte, 512))) {
		t.Error("exponent at 24 or modulus at 27 differ")
	}
	pub, err := ParseRSAKeyBlob(b)
	if err != nil || !pub.Equal(&key.PublicKey) {
		t.Fatalf("parse: %v", err)
	}
	if err := CheckSqlClientRSAShape(b); err != nil {
		t.Error(err)
	}
}

// TestRSAKeyBlobOtherShapes: JDBC (and ParseRSAKeyBlob) read any shape;
// SqlClient on .NET Core reads only the 539-byte one.
func TestRSAKeyBlobOtherShapes(t *testing.T) {
	k2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key := enclaveRSAKey(t)
	e3 := &rsa.PublicKey{N: key.N, E: 3}
	fourByteExp := MarshalRSAKeyBlob(&key.PublicKey)
	fourByteExp = append(append(bytes.Clone(fourByteExp[:24]), 0), fourByteExp[24:]...)
	le.PutUint32(fourByteExp[8:], 4)
	for name, b := range map[string][]byte{
		"2048-bit":        MarshalRSAKeyBlob(&k2048.PublicKey),
		"exponent 3":      MarshalRSAKeyBlob(e3),
		"4-byte exponent": fourByteExp,
	} {
		if _, err := ParseRSAKeyBlob(b); err != nil {
			t.Errorf("%s: JDBC would read it: %v", name, err)
		}
		err := CheckSqlClientRSAShape(b)
		if !errors.Is(err, ErrRSAKeyShape) || !strings.Contains(errMessage(err), "539-byte shape") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func errMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestParseRSAKeyBlobErrors(t *testing.T) {
	good := MarshalRSAKeyBlob(&enclaveRSAKey(t).PublicKey)
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	put := func(off int, v uint32) []byte {
		return mod(func(b []byte) []byte { le.PutUint32(b[off:], v); return b })
	}
	small, _ := new(big.Int).SetString("c7f1", 16)
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"empty":             {nil, "header"},
		"short header":      {good[:23], "header"},
		"magic RSA2":        {mod(func(b []byte) []byte { b[3] = '2'; return b }), "magic"},
		"cbPrime1":          {put(16, 256), "prime lengths"},
		"cbPrime2":          {put(20, 1), "prime lengths"},
		"exponent length 0": {put(8, 0), "exponent length 0"},
		"exponent length 5": {put(8, 5), "exponent length 5"},
		"modulus length 0":  {put(12, 0), "modulus length 0"},
		"modulus absurd":    {put(12, 0xfffffff0), "modulus length"},
		"truncated":         {good[:538], "announces 539"},
		"trailing byte":     {append(bytes.Clone(good), 0), "announces 539"},
		"bit length":        {put(4, 4095), "bit length 4095"},
		"even exponent":     {mod(func(b []byte) []byte { b[26] = 2; return b }), "exponent 65538"},
		"exponent 1":        {mod(func(b []byte) []byte { b[24], b[26] = 0, 1; return b }), "exponent 1"},
		"leading zero modulus": {mod(func(b []byte) []byte {
			b[27] = 0
			return b
		}), "bit length 4096"},
		"small modulus": {MarshalRSAKeyBlob(&rsa.PublicKey{N: small, E: 65537}), "at least 1024"},
	}
	for name, c := range cases {
		_, err := ParseRSAKeyBlob(c.b)
		if !errors.Is(err, ErrRSAKeyInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ae_rsa_key_invalid mentioning %q", name, err, c.want)
		}
	}
	if err := CheckSqlClientRSAShape(good[:100]); !errors.Is(err, ErrRSAKeyShape) {
		t.Errorf("short blob shape: %v", err)
	}
}

package token

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// t0 is the fixed time of the tests.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const testIssuer = "https://avow.example/providers/p1"

var (
	keyOnce  sync.Once
	keyA     *SigningKey
	keyB     *SigningKey
	keyError error
)

// testKeys returns two signing keys made once per test binary (RSA key
// generation is slow).
func testKeys(tb testing.TB) (*SigningKey, *SigningKey) {
	tb.Helper()
	keyOnce.Do(func() {
		keyA, keyError = GenerateSigningKey(nil, "avow test key A", t0.Add(-24*time.Hour))
		if keyError == nil {
			keyB, keyError = GenerateSigningKey(nil, "avow test key B", t0)
		}
	})
	if keyError != nil {
		tb.Fatal(keyError)
	}
	return keyA, keyB
}

// goldenKey loads the fixed key of testdata/golden_key.pem and
// testdata/golden_cert.pem (made by TestGoldenToken -update from a test
// seed and committed, so that the golden token does not depend on how a Go
// release generates RSA keys).
func goldenKey(tb testing.TB) *SigningKey {
	tb.Helper()
	keyPEM, err := os.ReadFile(filepath.Join("testdata", "golden_key.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	certPEM, err := os.ReadFile(filepath.Join("testdata", "golden_cert.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if kb == nil || cb == nil {
		tb.Fatal("testdata golden key or certificate is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	sk, err := NewSigningKey(cb.Bytes, k.(*rsa.PrivateKey), t0, time.Time{})
	if err != nil {
		tb.Fatal(err)
	}
	return sk
}

// sgxClaims is a realistic SGX claim set (maa.md §2.3) without the time
// claims.
func sgxClaims() map[string]any {
	coll := map[string]any{
		"qeidcertshash":    "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1",
		"qeidcrlhash":      "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2",
		"qeidhash":         "c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3",
		"quotehash":        "d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4",
		"tcbinfocertshash": "a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1",
		"tcbinfocrlhash":   "b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2",
		"tcbinfohash":      "e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5",
	}
	ehd := "eyJrZXlzIjpbeyJrdHkiOiJSU0EiLCJrZXlfb3BzIjpbImVuY3J5cHQiXSwia2lkIjoiY2VsZXN0ZSIsIm4iOiJ4eXoiLCJlIjoiQVFBQiJ9XX0"
	mrenclave := "b7792026c8f3d7d3e1cbf4dafa6dff47a8cc8ea4e4d8a8d6f7e6b0a3d4c8e9f0"
	mrsigner := "2c1a44952ae8207135c6c29b75b8c029372ee94b677e15c20bdf2a0be1ec3b7d"
	return map[string]any{
		"aas-ehd": ehd, "maa-ehd": ehd, "x-ms-sgx-ehd": ehd,
		"is-debuggable": false, "x-ms-sgx-is-debuggable": false,
		"maa-attestationcollateral": coll, "x-ms-sgx-collateral": coll,
		"product-id": 1, "x-ms-sgx-product-id": 1,
		"svn": 3, "x-ms-sgx-svn": 3,
		"sgx-mrenclave": mrenclave, "x-ms-sgx-mrenclave": mrenclave,
		"sgx-mrsigner": mrsigner, "x-ms-sgx-mrsigner": mrsigner,
		"tee": "sgx", "x-ms-attestation-type": "sgx",
		"x-ms-policy": map[string]any{
			"is-debuggable": false, "product-id": 1, "sgx-mrenclave": mrenclave,
			"sgx-mrsigner": mrsigner, "svn": 3, "tee": "sgx",
		},
		"x-ms-policy-hash":     "wm9mHlvTU82e8UqoOy1Yj1FBRSNkfe99-69IYDq9eWs",
		"x-ms-sgx-report-data": "ed11a9eb97dfc17025ad1ec9a4b8e0e9bd2b1e1d4b1c5a1b9a4e1dc4ed6a3e2c0000000000000000000000000000000000000000000000000000000000000000",
		"x-ms-ver":             "1.0",
	}
}

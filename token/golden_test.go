package token

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"
)

const goldenJTI = "9a5c8f2e0b6d4a1c3e7f9b2d4c6a8e0f1b3d5f7a9c1e3b5d7f9a2c4e6b8d0f1a"

// TestGoldenToken pins the exact token Issue makes for a fixed key, time,
// jti and claim set: header and payload bytes (testdata/golden_*.json) and
// the whole compact JWS (testdata/golden_token.jwt; PKCS#1 v1.5 signatures
// are deterministic). Run with -update to rewrite the files; with -update
// and no testdata key, the key is regenerated from test seed 1.
func TestGoldenToken(t *testing.T) {
	if *update {
		if _, err := os.Stat(filepath.Join("testdata", "golden_key.pem")); os.IsNotExist(err) {
			writeGoldenKey(t)
		}
	}
	key := goldenKey(t)
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	tok, err := Issue(sgxClaims(), key, testIssuer, now, AttestationLifetime, goldenJTI)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	golden(t, "golden_header.json", hdr)
	golden(t, "golden_payload.json", payload)
	golden(t, "golden_token.jwt", []byte(tok))

	// The shape MAA's SDKs rely on, independently of the files.
	wantHdr := `{"alg":"RS256","jku":"` + testIssuer + `/certs","kid":"` + key.KID + `","typ":"JWT"}`
	if string(hdr) != wantHdr {
		t.Errorf("header\n got %s\nwant %s", hdr, wantHdr)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatal(err)
	}
	iat := float64(now.Unix())
	if m["iat"] != iat || m["nbf"] != iat || m["exp"] != iat+28800 || m["iss"] != testIssuer || m["jti"] != goldenJTI {
		t.Errorf("time claims: iat %v nbf %v exp %v iss %v jti %v", m["iat"], m["nbf"], m["exp"], m["iss"], m["jti"])
	}
	if !bytes.Contains(payload, []byte(`"iat":1740830400,`)) {
		t.Errorf("iat is not an integer NumericDate: %s", payload)
	}
	if _, _, err := Verify(tok, []PublicKey{key.PublicKey()}, VerifyOptions{Issuer: testIssuer, Now: now}); err != nil {
		t.Errorf("golden token does not verify: %v", err)
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./token/ -run TestGoldenToken -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file\n got %s\nwant %s", name, got, want)
	}
}

func writeGoldenKey(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 1)
	k, err := GenerateSigningKey(nil, "avow golden test key", t0)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "golden_key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "golden_cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: k.Certificate.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGenerateSigningKeyDeterministicSeed: with a fixed test seed the key
// and certificate (hence the kid) are reproducible within a Go release.
func TestGenerateSigningKeyDeterministicSeed(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 7)
	a, err := GenerateSigningKey(nil, "seed", t0)
	if err != nil {
		t.Fatal(err)
	}
	cryptotest.SetGlobalRandom(t, 7)
	b, err := GenerateSigningKey(nil, "seed", t0)
	if err != nil {
		t.Fatal(err)
	}
	if a.KID != b.KID || !a.Private.Equal(b.Private) {
		t.Errorf("same seed, different keys: %s vs %s", a.KID, b.KID)
	}
}

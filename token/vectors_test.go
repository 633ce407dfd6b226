package token

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
)

// Recorded MAA tokens, their signing keys (kid per MANIFEST.md) and the
// times they were issued at.
var maaTokens = []struct {
	file, keyFile, kid, issuer string
	iat, lifetime              int64
	claim, value               string
}{
	{"transcribed/sdk-js-recording/set_policy_sgx_response.jwt", "transcribed/sdk-js-recording/jslarryo_2021_signing_key.pub.pem",
		"rPtBGRWTlPmzs5u35L0QRD9WdymeKPRxteTeTlwN0Ec=", "https://jslarryoattestationaad.wus.attest.azure.net",
		1627339196, 3600, "x-ms-policy-result", "Updated"},
	{"transcribed/sdk-js-recording/reset_policy_sgx_response.jwt", "transcribed/sdk-js-recording/jslarryo_2021_signing_key.pub.pem",
		"rPtBGRWTlPmzs5u35L0QRD9WdymeKPRxteTeTlwN0Ec=", "https://jslarryoattestationaad.wus.attest.azure.net",
		1627339197, 3600, "x-ms-policy-result", "Removed"},
	// 2020: header JSON with spaces, RSA-1024 key.
	{"transcribed/sdk-net-recording/get_policy_sgx_shared_2020_response.jwt", "transcribed/sdk-net-recording/shareduks_2020_signing_key.pub.pem",
		"oW4jog3ah7+jwOm01f9VDF+Gs0Evtw/du+MDIxAIagk=", "https://shareduks.uks.test.attest.azure.net",
		1605986646, 3600, "", ""},
}

func readPub(t *testing.T, path string) *rsa.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: not PEM", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(*rsa.PublicKey)
}

func TestVerifyMAATokens(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	for _, v := range maaTokens {
		t.Run(filepath.Base(v.file), func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(dir, v.file))
			if err != nil {
				t.Fatal(err)
			}
			tok := strings.TrimSpace(string(raw))
			keys := []PublicKey{{KID: v.kid, Key: readPub(t, filepath.Join(dir, v.keyFile))}}
			iat := time.Unix(v.iat, 0)
			opts := VerifyOptions{Issuer: v.issuer, Now: iat.Add(time.Minute)}
			claims, h, err := Verify(tok, keys, opts)
			if err != nil {
				t.Fatal(err)
			}
			if h.Alg != "RS256" || h.KID != v.kid || h.JKU != v.issuer+"/certs" || h.Typ != "JWT" {
				t.Errorf("header %+v", h)
			}
			if claims["iat"] != json.Number(itoa(v.iat)) || claims["nbf"] != claims["iat"] || claims["exp"] != json.Number(itoa(v.iat+v.lifetime)) {
				t.Errorf("times iat %v nbf %v exp %v", claims["iat"], claims["nbf"], claims["exp"])
			}
			if v.claim != "" && claims[v.claim] != v.value {
				t.Errorf("%s = %v", v.claim, claims[v.claim])
			}
			// The checks bite on the real tokens too.
			for name, tc := range map[string]struct {
				opts VerifyOptions
				keys []PublicKey
				want error
			}{
				"at exp":        {VerifyOptions{Now: time.Unix(v.iat+v.lifetime, 0)}, keys, ErrExpired},
				"before iat":    {VerifyOptions{Now: iat.Add(-time.Second)}, keys, ErrNotYetValid},
				"slack":         {VerifyOptions{Now: iat.Add(-time.Second), Slack: time.Second}, keys, nil},
				"other issuer":  {VerifyOptions{Issuer: "https://avow.example", Now: opts.Now}, keys, ErrIssuerMismatch},
				"other kid":     {opts, []PublicKey{{KID: "x", Key: keys[0].Key}}, ErrUnknownKey},
				"no kid in set": {opts, nil, ErrUnknownKey},
			} {
				if _, _, err := Verify(tok, tc.keys, tc.opts); !errors.Is(err, tc.want) && !(tc.want == nil && err == nil) {
					t.Errorf("%s: %v, want %v", name, err, tc.want)
				}
			}
			// Another recorded key under the same kid does not verify.
			for _, other := range maaTokens {
				if other.keyFile != v.keyFile {
					wrong := []PublicKey{{KID: v.kid, Key: readPub(t, filepath.Join(dir, other.keyFile))}}
					if _, _, err := Verify(tok, wrong, opts); !errors.Is(err, ErrSignatureInvalid) {
						t.Errorf("wrong key: %v", err)
					}
				}
			}
			// One changed payload byte breaks the signature.
			p := strings.Split(tok, ".")
			b := []byte(p[1])
			if b[10] == 'A' {
				b[10] = 'B'
			} else {
				b[10] = 'A'
			}
			if _, _, err := Verify(p[0]+"."+string(b)+"."+p[2], keys, opts); err == nil {
				t.Error("tampered token verifies")
			}
		})
	}
}

// TestVerifyMAAUnsignedPolicy: MAA's unsigned JWS (the stored policy inside
// x-ms-policy) is refused as unsigned by default; with AllowUnsigned it
// still needs exp, which a policy document does not have.
func TestVerifyMAAUnsignedPolicy(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	raw, err := os.ReadFile(filepath.Join(dir, "transcribed/sdk-js-recording/set_policy_sgx_request.jws"))
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(string(raw))
	if _, h, err := Verify(tok, nil, VerifyOptions{Now: t0}); !errors.Is(err, ErrUnsigned) || h.Alg != "none" {
		t.Errorf("default: %v", err)
	}
	if _, _, err := Verify(tok, nil, VerifyOptions{Now: t0, AllowUnsigned: true}); !errors.Is(err, ErrMalformed) {
		t.Errorf("allowed: %v", err)
	}
	c, _, err := DecodeUnverified(tok)
	if err != nil || c["AttestationPolicy"] == nil {
		t.Errorf("decode: %v %v", c, err)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

package policy

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
)

// TestPolicyHashExamples checks the three hashes against the derived
// examples of the shared vectors (each cross-checked there against service
// output).
func TestPolicyHashExamples(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	b, err := os.ReadFile(filepath.Join(dir, "derived", "hash_examples.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		PolicyHash []struct {
			File       string `json:"policy_file"`
			B64        string `json:"AttestationPolicy_b64url"`
			Hash       string `json:"x-ms-policy-hash"`
			LegacyHash string `json:"maa-policyHash(hex sha256 text)"`
		} `json:"x-ms-policy-hash"`
		TokenHash []struct {
			File string `json:"jws_file"`
			Hash string `json:"x-ms-policy-token-hash"`
		} `json:"x-ms-policy-token-hash"`
	}
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	if len(ex.PolicyHash) == 0 || len(ex.TokenHash) == 0 {
		t.Fatal("hash_examples.json has no examples")
	}
	for _, e := range ex.PolicyHash {
		text, err := os.ReadFile(filepath.Join(dir, e.File))
		if err != nil {
			t.Fatal(err)
		}
		if got := base64.RawURLEncoding.EncodeToString(text); got != e.B64 {
			t.Errorf("%s: AttestationPolicy %s, want %s", e.File, got, e.B64)
		}
		if got := PolicyHash(string(text)); got != e.Hash {
			t.Errorf("%s: x-ms-policy-hash %s, want %s", e.File, got, e.Hash)
		}
		if got := LegacyPolicyHash(string(text)); got != e.LegacyHash {
			t.Errorf("%s: maa-policyHash %s, want %s", e.File, got, e.LegacyHash)
		}
		// The hash of a document is the hash of its policy, whatever the
		// document's bytes.
		d, err := ParseDocument(UnsignedDocument(string(text)))
		if err != nil || d.PolicyHash() != e.Hash {
			t.Errorf("%s: unsigned document policy hash %v %v", e.File, d, err)
		}
	}
	checked := 0
	for _, e := range ex.TokenHash {
		jws, err := os.ReadFile(filepath.Join(dir, e.File))
		if errors.Is(err, os.ErrNotExist) {
			t.Logf("%s is named in hash_examples.json but not included in the vectors; its token hash is not checked", e.File)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := PolicyTokenHash(string(jws)); got != e.Hash {
			t.Errorf("%s: x-ms-policy-token-hash %s, want %s", e.File, got, e.Hash)
		}
		d, err := ParseDocument(string(jws))
		if err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		if d.TokenHash() != e.Hash {
			t.Errorf("%s: Document.TokenHash %s", e.File, d.TokenHash())
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no x-ms-policy-token-hash example could be checked")
	}
}

// TestPolicyDocumentInRecordedToken: the 2020 GET policy response carries
// the stored policy as an unsigned document in x-ms-policy; its text is the
// default policy vector and its hash the documented one.
func TestPolicyDocumentInRecordedToken(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	tok, err := os.ReadFile(filepath.Join(dir, "transcribed/sdk-net-recording/get_policy_sgx_shared_2020_response.jwt"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "transcribed/sdk-net-recording/default_sgx_policy_shared_2020.txt"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSpace(string(tok)), ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Policy string `json:"x-ms-policy"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	d, err := ParseDocument(claims.Policy)
	if err != nil {
		t.Fatal(err)
	}
	if d.Signed || d.Algorithm != "none" || d.Text != string(want) {
		t.Errorf("document %+v", d)
	}
	if d.PolicyHash() != "egjnANIzEpS2WgpE4Nk-QEwM69XRCgTs42_G0qLlbnk" {
		t.Errorf("policy hash %s", d.PolicyHash())
	}
	// The 2020 sample token carries maa-policyHash of the same text.
	body, err := os.ReadFile(filepath.Join(dir, "ms-samples/validatequotes.net/post.attest.response.jwt.body.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), LegacyPolicyHash(string(want))) {
		t.Errorf("maa-policyHash %s not in the 2020 sample token", LegacyPolicyHash(string(want)))
	}
}

func TestPolicyDocumentRawTextPayload(t *testing.T) {
	b, err := os.ReadFile("testdata/documents/docs_2020_signed_raw_text.jws")
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseDocument(string(b))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Signed || d.Algorithm != "RS256" || d.Certificates[0].Subject.CommonName != "MaaTestCert1" {
		t.Errorf("document %+v", d)
	}
	if len(d.Warnings) != 1 || d.Warnings[0].Code != WarnRawPolicyDocument {
		t.Errorf("warnings %v", d.Warnings)
	}
	p, err := Parse(d.Text)
	if err != nil {
		t.Fatal(err)
	}
	if p.RuleCount(Issuance) != 7 {
		t.Errorf("issuance rules %d", p.RuleCount(Issuance))
	}
	// Any change breaks the signature.
	tampered := strings.Replace(string(b), "eyJBdHRlc3RhdGlvblBvbGljeSI6ICJ2ZXJzaW9uPSAx", "eyJBdHRlc3RhdGlvblBvbGljeSI6ICJ2ZXJzaW9uPSAy", 1)
	if _, err := ParseDocument(tampered); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("tampered document: %v", err)
	}
}

func testKey(t *testing.T, name string) crypto.Signer {
	t.Helper()
	dir := vectors.Dir(t, "maa")
	b, err := os.ReadFile(filepath.Join(dir, "sdk-cpp", "test-keys", name))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", name)
	}
	if k, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
		return k.(crypto.Signer)
	}
	if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
		return k
	}
	k, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return k
}

func selfSigned(t *testing.T, key crypto.Signer, cn string) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2044, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPolicySignDocumentRoundTrip(t *testing.T) {
	text := "version=1.0; authorizationrules { => permit(); };"
	rsaKey := testKey(t, "rsa_private.pem")
	ecKey := testKey(t, "ecdsa_p256_private.pem")
	rsaCert := selfSigned(t, rsaKey, "avow policy signer RSA")
	ecCert := selfSigned(t, ecKey, "avow policy signer EC")
	for _, tc := range []struct {
		name string
		key  crypto.Signer
		cert *x509.Certificate
		alg  string
		want string
	}{
		{"rsa", rsaKey, rsaCert, "", "RS256"},
		{"rsa_pss", rsaKey, rsaCert, "PS256", "PS256"},
		{"ecdsa", ecKey, ecCert, "", "ES256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jws, err := SignDocumentAlg(text, tc.key, []*x509.Certificate{tc.cert}, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			d, err := ParseDocument(jws)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Signed || d.Algorithm != tc.want || d.Text != text || !d.Certificates[0].Equal(tc.cert) {
				t.Errorf("document %+v", d)
			}
			if d.PolicyHash() != PolicyHash(text) || d.TokenHash() != PolicyTokenHash(jws) {
				t.Error("hashes")
			}
			parts := strings.Split(jws, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[len(sig)/2] ^= 1
			parts[2] = base64.RawURLEncoding.EncodeToString(sig)
			if _, err := ParseDocument(strings.Join(parts, ".")); !errors.Is(err, ErrSignatureInvalid) {
				t.Errorf("corrupted signature: %v", err)
			}
		})
	}
	if _, err := SignDocument(text, rsaKey, []*x509.Certificate{ecCert}); !errors.Is(err, ErrSignKey) {
		t.Errorf("key/certificate mismatch: %v", err)
	}
	if _, err := SignDocument(text, rsaKey, nil); !errors.Is(err, ErrSignKey) {
		t.Errorf("no certificate: %v", err)
	}
	if _, err := SignDocumentAlg(text, ecKey, []*x509.Certificate{ecCert}, "RS256"); !errors.Is(err, ErrSignKey) {
		t.Errorf("RS256 with an EC key: %v", err)
	}
}

// signRaw builds a JWS with an arbitrary header, as SDKs send them.
func signRaw(t *testing.T, header any, text string, sign func(digest []byte) []byte) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	signing := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(payloadJSON(text))
	d := sha256.Sum256([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(sign(d[:]))
}

func TestPolicyDocumentSDKVariants(t *testing.T) {
	text := "version=1.0; authorizationrules { => permit(); };"
	rsaKey := testKey(t, "rsa_private.pem").(*rsa.PrivateKey)
	ecKey := testKey(t, "ecdsa_p256_private.pem").(*ecdsa.PrivateKey)
	rsaCert := selfSigned(t, rsaKey, "rsa")
	ecCert := selfSigned(t, ecKey, "ec")
	x5c := func(c *x509.Certificate) []string { return []string{base64.StdEncoding.EncodeToString(c.Raw)} }
	pkcs1 := func(d []byte) []byte {
		s, err := rsa.SignPKCS1v15(rand.Reader, rsaKey, crypto.SHA256, d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	der := func(d []byte) []byte {
		s, err := ecdsa.SignASN1(rand.Reader, ecKey, d)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ok := []struct {
		name string
		jws  string
	}{
		// Python SDK: certificate in jwk.x5c, alg RSA256.
		{"python_jwk_x5c_rsa256", signRaw(t, map[string]any{"alg": "RSA256", "jwk": map[string]any{"kty": "RSA", "x5c": x5c(rsaCert)}}, text, pkcs1)},
		// .NET SDK: x5c, alg RSA256.
		{"dotnet_x5c_rsa256", signRaw(t, map[string]any{"alg": "RSA256", "x5c": x5c(rsaCert)}, text, pkcs1)},
		// Python EC path: alg ECDH256, DER-encoded ECDSA signature.
		{"python_ecdh256_der", signRaw(t, map[string]any{"alg": "ECDH256", "jwk": map[string]any{"x5c": x5c(ecCert)}}, text, der)},
	}
	for _, tc := range ok {
		d, err := ParseDocument(tc.jws)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !d.Signed || d.Text != text {
			t.Errorf("%s: %+v", tc.name, d)
		}
	}
	bad := []struct {
		name string
		jws  string
		want error
	}{
		{"no_certificate", signRaw(t, map[string]any{"alg": "RS256"}, text, pkcs1), ErrSignerMissing},
		{"hs256", signRaw(t, map[string]any{"alg": "HS256", "x5c": x5c(rsaCert)}, text, pkcs1), ErrDocumentAlg},
		{"es256_with_rsa_key", signRaw(t, map[string]any{"alg": "ES256", "x5c": x5c(rsaCert)}, text, pkcs1), ErrDocumentAlg},
		{"rs256_with_ec_key", signRaw(t, map[string]any{"alg": "RS256", "x5c": x5c(ecCert)}, text, der), ErrDocumentAlg},
		{"wrong_signer", signRaw(t, map[string]any{"alg": "RS256", "x5c": x5c(selfSigned(t, mustRSA(t), "other"))}, text, pkcs1), ErrSignatureInvalid},
		{"bad_certificate", signRaw(t, map[string]any{"alg": "RS256", "x5c": []string{"AAAA"}}, text, pkcs1), ErrSignerCertificate},
		{"none_with_signature", "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(payloadJSON(text)) + ".c2ln", ErrDocumentMalformed},
		{"two_parts", "eyJhbGciOiJub25lIn0.e30", ErrDocumentMalformed},
		{"header_not_json", "bm90IGpzb24.e30.", ErrDocumentMalformed},
		{"no_alg", "e30.e30.", ErrDocumentAlg},
		{"payload_not_object", "eyJhbGciOiJub25lIn0.WzFd.", ErrDocumentPayload},
		{"policy_not_base64", "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"AttestationPolicy":"%%%"}`)) + ".", ErrDocumentPayload},
	}
	for _, tc := range bad {
		if _, err := ParseDocument(tc.jws); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
	// Padding and standard base64 in AttestationPolicy are tolerated.
	padded := base64.URLEncoding.EncodeToString([]byte(text + "  // x?>"))
	std := base64.StdEncoding.EncodeToString([]byte(text + "  // x?>"))
	for _, enc := range []string{padded, std} {
		pl, _ := json.Marshal(map[string]string{"AttestationPolicy": enc})
		d, err := ParseDocument("eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(pl) + ".")
		if err != nil || d.Text != text+"  // x?>" || d.PolicyHash() != PolicyHash(text+"  // x?>") {
			t.Errorf("encoding %q: %+v %v", enc, d, err)
		}
	}
	if !LooksLikeDocument(UnsignedDocument(text)) || LooksLikeDocument(text) {
		t.Error("LooksLikeDocument")
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPolicyParseSignedJWS verifies the docs' certificates:add request,
// whose payload is a policy certificate, not a policy.
func TestPolicyParseManagementDocument(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	b, err := os.ReadFile(filepath.Join(dir, "transcribed/azure-docs/add_policy_signer_request.jws"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseManagementDocument(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if !d.Signed || d.Algorithm != "RS256" || d.Certificates[0].Subject.CommonName != "MaaTestCert1" || d.Text != "" {
		t.Errorf("%+v", d)
	}
	if _, err := ParseDocument(strings.TrimSpace(string(b))); !errors.Is(err, ErrDocumentPayload) {
		t.Errorf("ParseDocument: %v", err)
	}
	if _, err := ParseManagementDocument(strings.Replace(string(b), "eyJtYWEt", "eyJtYWFt", 1)); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("tampered: %v", err)
	}
	d, err = ParseManagementDocument("eyJhbGciOiJub25lIn0..")
	if err != nil || d.Signed {
		t.Errorf("unsigned: %+v %v", d, err)
	}
}

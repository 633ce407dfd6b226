package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// testSigner is a self-signed P-256 policy signer certificate valid from
// notBefore to notAfter.
func testSigner(t testing.TB, cn string, notBefore, notAfter time.Time) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// signerPayload is the payload of a certificates:add/remove document
// naming cert, with extra members (x-avow-operation, time claims).
func signerPayload(cert *x509.Certificate, extra map[string]any) []byte {
	m := map[string]any{"policyCertificate": map[string]any{"kty": "EC", "x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)}}}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return b
}

func mustSign(t testing.TB, payload []byte, key *ecdsa.PrivateKey, cert *x509.Certificate) string {
	t.Helper()
	jws, err := policy.SignJWS(payload, key, []*x509.Certificate{cert}, "")
	if err != nil {
		t.Fatal(err)
	}
	return jws
}

func codeOf(err error) string { return errs.Code(err) }

// isolatedSetup is a service at testNow with an Isolated provider
// "isolated" whose only signer is (key, cert), and an AAD provider
// "contoso".
func isolatedSetup(t *testing.T) (s *Service, key *ecdsa.PrivateKey, cert *x509.Certificate) {
	t.Helper()
	s = newTestService(t, &fixedClock{testNow})
	key, cert = testSigner(t, "signer one", testNow.Add(-24*time.Hour), testNow.Add(365*24*time.Hour))
	ctx := context.Background()
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "isolated", TrustModel: store.TrustModelIsolated,
		PolicySigningCertificates: []*x509.Certificate{cert}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "contoso"}); err != nil {
		t.Fatal(err)
	}
	return s, key, cert
}

// storedPolicyDocument returns x-ms-policy of GET /policies/{type}: what any
// reader obtains.
func storedPolicyDocument(t *testing.T, s *Service, provider, attType string) string {
	t.Helper()
	tok, err := s.GetPolicy(context.Background(), &Principal{ID: "r", Role: store.RoleReader}, provider, attType)
	if err != nil {
		t.Fatal(err)
	}
	claims, _, err := token.DecodeUnverified(tok)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := claims["x-ms-policy"].(string)
	if doc == "" {
		t.Fatalf("no x-ms-policy in %v", claims)
	}
	return doc
}

// TestResetWithStoredSignedPolicyRefused is issue 13 item 2: the signed
// policy any reader gets from GET /policies/{type} must not reset the
// policy of an Isolated provider (a reset body has an empty payload).
func TestResetWithStoredSignedPolicyRefused(t *testing.T) {
	s, key, cert := isolatedSetup(t)
	ctx := context.Background()
	admin := &Principal{ID: "pa", Role: store.RolePolicyAdmin}
	text := "version=1.0; authorizationrules { c:[type==\"x-ms-sgx-svn\", value>=9] => permit(); };"
	signed, err := policy.SignDocument(text, key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetPolicy(ctx, admin, "isolated", sgx.NameSgxEnclave, signed); err != nil {
		t.Fatal(err)
	}
	stored := storedPolicyDocument(t, s, "isolated", sgx.NameSgxEnclave)
	if stored != signed {
		t.Fatalf("x-ms-policy %q is not the signed document", stored)
	}
	_, err = s.ResetPolicy(ctx, admin, "isolated", sgx.NameSgxEnclave, stored)
	if codeOf(err) != "policy_document_operation" {
		t.Fatalf("reset with the stored signed policy: %v, want code policy_document_operation", err)
	}
	if got, _ := s.PolicyText(ctx, "isolated", sgx.NameSgxEnclave); got != text {
		t.Errorf("the policy in force changed to %q", got)
	}
	// A signed reset with an empty payload still works.
	reset, err := policy.SignJWS(nil, key, []*x509.Certificate{cert}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ResetPolicy(ctx, admin, "isolated", sgx.NameSgxEnclave, reset); err != nil {
		t.Fatalf("signed empty reset: %v", err)
	}
}

// TestDocumentsOnlyServeTheirOperation is the cross-operation matrix of
// issue 13 item 2: every kind of management document (a policy, unsigned
// and signed; a reset, unsigned and signed; a signer addition and a signer
// removal made by avow's client; a signer change in MAA's format; result
// tokens a reader gets) is offered to every operation (policy set, reset,
// signer add, signer remove). A document is accepted only by the operation
// it was made for; MAA's signer change format does not say which, so it is
// accepted by both. Unsigned documents go to the AAD provider, so that
// what refuses them is their kind, not the Isolated trust model.
func TestDocumentsOnlyServeTheirOperation(t *testing.T) {
	const text = "version=1.0; authorizationrules { => permit(); };"
	type docs map[string]string
	build := func(t *testing.T, s *Service, key *ecdsa.PrivateKey, cert, other *x509.Certificate) docs {
		signedPolicy, err := policy.SignDocument(text, key, []*x509.Certificate{cert})
		if err != nil {
			t.Fatal(err)
		}
		reader := &Principal{ID: "r", Role: store.RoleReader}
		policyResult, err := s.GetPolicy(context.Background(), reader, "isolated", sgx.NameSgxEnclave)
		if err != nil {
			t.Fatal(err)
		}
		certsResult, err := s.Certificates(context.Background(), reader, "isolated")
		if err != nil {
			t.Fatal(err)
		}
		return docs{
			"policy unsigned":     policy.UnsignedDocument(text),
			"policy signed":       signedPolicy,
			"reset unsigned":      "eyJhbGciOiJub25lIn0..",
			"reset signed":        mustSign(t, nil, key, cert),
			"add (avow)":          mustSign(t, signerPayload(other, map[string]any{"x-avow-operation": "add"}), key, cert),
			"remove (avow)":       mustSign(t, signerPayload(other, map[string]any{"x-avow-operation": "remove"}), key, cert),
			"signer change MAA":   mustSign(t, signerPayload(other, nil), key, cert),
			"policy result":       policyResult,
			"certificates result": certsResult,
		}
	}
	accepts := map[string][]string{
		"set":    {"policy unsigned", "policy signed"},
		"reset":  {"reset unsigned", "reset signed"},
		"add":    {"add (avow)", "signer change MAA"},
		"remove": {"remove (avow)", "signer change MAA"},
	}
	tokens := map[string]bool{"policy result": true, "certificates result": true}
	unsigned := map[string]bool{"policy unsigned": true, "reset unsigned": true}
	ctx := context.Background()
	admin := &Principal{ID: "pa", Role: store.RolePolicyAdmin}
	for _, op := range []string{"set", "reset", "add", "remove"} {
		for _, name := range []string{"policy unsigned", "policy signed", "reset unsigned", "reset signed", "add (avow)",
			"remove (avow)", "signer change MAA", "policy result", "certificates result"} {
			t.Run(op+"/"+name, func(t *testing.T) {
				s, key, cert := isolatedSetup(t)
				_, other := testSigner(t, "signer two", testNow.Add(-time.Hour), testNow.Add(24*time.Hour))
				d := build(t, s, key, cert, other)
				if op == "remove" {
					if _, err := s.ModifySigners(ctx, admin, "isolated", true, d["signer change MAA"]); err != nil {
						t.Fatal(err)
					}
				}
				provider := "isolated"
				if unsigned[name] && (op == "set" || op == "reset") {
					provider = "contoso"
				}
				var err error
				switch op {
				case "set":
					_, _, err = s.SetPolicy(ctx, admin, provider, sgx.NameSgxEnclave, d[name])
				case "reset":
					_, err = s.ResetPolicy(ctx, admin, provider, sgx.NameSgxEnclave, d[name])
				case "add", "remove":
					_, err = s.ModifySigners(ctx, admin, provider, op == "add", d[name])
				}
				want := false
				for _, a := range accepts[op] {
					want = want || a == name
				}
				switch {
				case want && err != nil:
					t.Fatalf("refused: %v", err)
				case !want && err == nil:
					t.Fatalf("accepted")
				case !want && !tokens[name] && codeOf(err) != "policy_document_operation":
					t.Fatalf("refused with %v, want code policy_document_operation", err)
				}
			})
		}
	}
}

// TestDocumentTimeClaims is issue 13 item 6: exp, nbf and iat in a
// document (payload members; a reset's in its protected header) are
// honoured by every operation when present, with
// policy.DocumentClockSkew tolerated; documents without them (the SDKs')
// are not bounded in time.
func TestDocumentTimeClaims(t *testing.T) {
	const text = "version=1.0; authorizationrules { => permit(); };"
	ctx := context.Background()
	admin := &Principal{ID: "pa", Role: store.RolePolicyAdmin}
	skew := 2 * time.Minute
	cases := []struct {
		name   string
		claims map[string]any
		code   string // "" accepted
	}{
		{"none", nil, ""},
		{"valid", map[string]any{"iat": testNow.Unix(), "nbf": testNow.Unix(), "exp": testNow.Add(10 * time.Minute).Unix()}, ""},
		{"expired", map[string]any{"exp": testNow.Add(-skew - time.Second).Unix()}, "policy_document_expired"},
		{"expired within skew", map[string]any{"exp": testNow.Add(-skew + time.Second).Unix()}, ""},
		{"not yet valid", map[string]any{"nbf": testNow.Add(skew + time.Second).Unix()}, "policy_document_not_yet_valid"},
		{"nbf within skew", map[string]any{"nbf": testNow.Add(skew - time.Second).Unix()}, ""},
		{"issued in the future", map[string]any{"iat": testNow.Add(skew + time.Second).Unix()}, "policy_document_issued_in_future"},
		{"fractional exp", map[string]any{"exp": float64(testNow.Add(-time.Hour).Unix()) + 0.5}, "policy_document_expired"},
		{"exp not a number", map[string]any{"exp": "tomorrow"}, "invalid_request"},
	}
	for _, op := range []string{"set", "reset", "add", "remove"} {
		for _, tc := range cases {
			t.Run(op+"/"+tc.name, func(t *testing.T) {
				s, key, cert := isolatedSetup(t)
				_, other := testSigner(t, "signer two", testNow.Add(-time.Hour), testNow.Add(24*time.Hour))
				var err error
				switch op {
				case "set":
					m := map[string]any{"AttestationPolicy": base64.RawURLEncoding.EncodeToString([]byte(text))}
					for k, v := range tc.claims {
						m[k] = v
					}
					b, _ := json.Marshal(m)
					_, _, err = s.SetPolicy(ctx, admin, "isolated", sgx.NameSgxEnclave, mustSign(t, b, key, cert))
				case "reset":
					_, err = s.ResetPolicy(ctx, admin, "isolated", sgx.NameSgxEnclave, signWithHeader(t, tc.claims, key, cert))
				case "add", "remove":
					if op == "remove" {
						if _, err := s.ModifySigners(ctx, admin, "isolated", true, mustSign(t, signerPayload(other, nil), key, cert)); err != nil {
							t.Fatal(err)
						}
					}
					_, err = s.ModifySigners(ctx, admin, "isolated", op == "add", mustSign(t, signerPayload(other, tc.claims), key, cert))
				}
				if codeOf(err) != tc.code {
					t.Fatalf("got %v, want code %q", err, tc.code)
				}
			})
		}
	}
}

// signWithHeader signs an empty payload (a reset) with extra protected
// header members, as avow's client signs resets.
func signWithHeader(t *testing.T, extra map[string]any, key *ecdsa.PrivateKey, cert *x509.Certificate) string {
	t.Helper()
	h := map[string]any{"alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)}}
	for k, v := range extra {
		h[k] = v
	}
	hb, _ := json.Marshal(h)
	signing := base64.RawURLEncoding.EncodeToString(hb) + "."
	digest := sha256.Sum256([]byte(signing))
	r, sg, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sg.FillBytes(sig[32:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestSignerCertificateValidity is issue 13 item 9(e): a document signed
// by a certificate outside its validity period is refused
// (policy_signer_expired) on every operation and trust model, even when
// the certificate is a signer of the provider; a certificate that is not
// valid now is not added as a signer (nor given at provider creation), but
// an expired one can be removed.
func TestSignerCertificateValidity(t *testing.T) {
	const text = "version=1.0; authorizationrules { => permit(); };"
	ctx := context.Background()
	admin := &Principal{ID: "pa", Role: store.RolePolicyAdmin}
	s, key, cert := isolatedSetup(t)
	expiredKey, expired := testSigner(t, "expired signer", testNow.Add(-48*time.Hour), testNow.Add(-time.Hour))
	futureKey, future := testSigner(t, "future signer", testNow.Add(time.Hour), testNow.Add(48*time.Hour))
	// The expired certificate became a signer while it was valid.
	if _, err := s.st.AddSigner(ctx, store.Signer{Provider: "isolated", Certificate: expired.Raw, AddedAt: testNow.Add(-24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for _, sg := range []struct {
		key  *ecdsa.PrivateKey
		cert *x509.Certificate
	}{{expiredKey, expired}, {futureKey, future}} {
		signed, _ := policy.SignDocument(text, sg.key, []*x509.Certificate{sg.cert})
		for _, provider := range []string{"isolated", "contoso"} {
			if _, _, err := s.SetPolicy(ctx, admin, provider, sgx.NameSgxEnclave, signed); codeOf(err) != "policy_signer_expired" {
				t.Errorf("%s: set on %s: %v", sg.cert.Subject.CommonName, provider, err)
			}
		}
		if _, err := s.ResetPolicy(ctx, admin, "isolated", sgx.NameSgxEnclave, mustSign(t, nil, sg.key, sg.cert)); codeOf(err) != "policy_signer_expired" {
			t.Errorf("%s: reset: %v", sg.cert.Subject.CommonName, err)
		}
		_, other := testSigner(t, "other", testNow.Add(-time.Hour), testNow.Add(time.Hour))
		if _, err := s.ModifySigners(ctx, admin, "isolated", true, mustSign(t, signerPayload(other, nil), sg.key, sg.cert)); codeOf(err) != "policy_signer_expired" {
			t.Errorf("%s: add signed by it: %v", sg.cert.Subject.CommonName, err)
		}
		// Adding it, signed by a valid signer, is refused too.
		if _, err := s.ModifySigners(ctx, admin, "isolated", true, mustSign(t, signerPayload(sg.cert, nil), key, cert)); codeOf(err) != "policy_signer_expired" {
			t.Errorf("%s: add it: %v", sg.cert.Subject.CommonName, err)
		}
	}
	// The expired signer is removed by a valid one.
	if _, err := s.ModifySigners(ctx, admin, "isolated", false, mustSign(t, signerPayload(expired, nil), key, cert)); err != nil {
		t.Fatalf("remove the expired signer: %v", err)
	}
	if signers, _ := s.st.ListSigners(ctx, "isolated"); len(signers) != 1 {
		t.Errorf("%d signers left", len(signers))
	}
	// A provider is not created with a signer that cannot sign now.
	for _, c := range []*x509.Certificate{expired, future} {
		_, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "stillborn", TrustModel: store.TrustModelIsolated,
			PolicySigningCertificates: []*x509.Certificate{cert, c}})
		if codeOf(err) != "policy_signer_expired" {
			t.Errorf("create with %s: %v", c.Subject.CommonName, err)
		}
	}
}

// TestSetPolicyWarnings: a policy on a misspelled claim is stored, and the
// answer says why it will refuse every attestation.
func TestSetPolicyWarnings(t *testing.T) {
	s, _ := simSetup(t)
	ctx := context.Background()
	text := "version=1.0;\nauthorizationrules {\n  [type==\"x-ms-sgx-is-debugable\", value==false] => permit();\n};"
	_, ws, err := s.SetPolicy(ctx, owner, "contoso", sgx.NameSgxEnclave, policy.UnsignedDocument(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 1 || ws[0].Code != policy.WarnUnknownClaim || ws[0].Line != 3 || ws[0].Column != 10 ||
		!strings.Contains(ws[0].Message, "did you mean x-ms-sgx-is-debuggable?") {
		t.Errorf("warnings %+v", ws)
	}
	if got, err := s.PolicyText(ctx, "contoso", sgx.NameSgxEnclave); err != nil || got != text {
		t.Errorf("stored %q, %v", got, err)
	}
	_, ws, err = s.SetPolicy(ctx, owner, "contoso", sgx.NameSgxEnclave, policy.UnsignedDocument(sgx.DefaultPolicy))
	if err != nil || len(ws) != 0 {
		t.Errorf("a clean policy: %v, %v", ws, err)
	}
}

// TestAttestLegacyDollarNames: MAA's 2020 policies on $is-debuggable work:
// the 2020 default permits, a deny rule on $is-debuggable refuses a debug
// enclave; the $-names are not token claims.
func TestAttestLegacyDollarNames(t *testing.T) {
	s, p := simSetup(t)
	ctx := context.Background()
	dir := vectors.Dir(t, "maa")
	def, err := os.ReadFile(filepath.Join(dir, "transcribed/sdk-net-recording/default_sgx_policy_shared_2020.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ws, err := s.SetPolicy(ctx, owner, "contoso", sgx.NameSgxEnclave, policy.UnsignedDocument(string(def))); err != nil || len(ws) != 0 {
		t.Fatalf("2020 default policy: %v, %v", ws, err)
	}
	res, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{Debug: true})})
	if err != nil {
		t.Fatalf("the 2020 default policy refuses: %v", err)
	}
	issued, _ := res.Claims["x-ms-policy"].(map[string]any)
	if fmt.Sprint(issued["is-debuggable"]) != "true" || fmt.Sprint(issued["tee"]) != "sgx" {
		t.Errorf("x-ms-policy %v", res.Claims["x-ms-policy"])
	}
	for k := range res.Claims {
		if strings.HasPrefix(k, "$") {
			t.Errorf("token claim %s", k)
		}
	}
	for k := range res.Claims {
		switch k {
		case "x-ms-policy", "x-ms-policy-hash", "x-ms-policy-signer", "nonce":
			continue // after the policy
		}
		if !claims.Known(k) {
			t.Errorf("the service gives the policy %s, which claims/registry.go does not register", k)
		}
	}
	deny := "version=1.0;authorizationrules {c:[type==\"$is-debuggable\", value==true] => deny();=> permit();};"
	if _, _, err := s.SetPolicy(ctx, owner, "contoso", sgx.NameSgxEnclave, policy.UnsignedDocument(deny)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{Debug: true})}); !errors.Is(err, ErrPolicyDenied) {
		t.Errorf("a debug enclave under a $is-debuggable deny rule: %v", err)
	}
	if _, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{})}); err != nil {
		t.Errorf("a production enclave under a $is-debuggable deny rule: %v", err)
	}
}

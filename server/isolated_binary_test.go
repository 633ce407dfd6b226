package server

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/token"
)

// TestIsolatedResetWithStoredPolicyBinary is issue 13 item 2 against the
// real avow binary over HTTPS: a policy-admin who is not a signer takes
// the signed policy any reader gets from GET /policies/{type}
// (x-ms-policy) and posts it to :reset of the Isolated provider. It is
// refused (400 policy_document_operation) and the signed policy stays in
// force.
func TestIsolatedResetWithStoredPolicyBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the avow binary: skipped with -short")
	}
	bin := buildAvow(t)
	dir := t.TempDir()
	rb := make([]byte, 16)
	rand.Read(rb)
	owner := "avow_isolated_" + hex.EncodeToString(rb)
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(owner), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startAvow(t, "avow", bin, "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
		"--admin-token-file", filepath.Join(dir, "admin-token"), "--mgmt-rate", "-1")
	if !strings.HasPrefix(n.URL, "https://") {
		t.Fatalf("not HTTPS: %s", n.URL)
	}
	key, cert := selfSigned(t, "the signer")
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	if status, _, raw, err := n.do("POST", "/management/providers", owner, map[string]any{"name": "fabrikam",
		"trustModel": "Isolated", "policySigningCertificates": []string{pemCert}}, nil); err != nil || status != 201 {
		t.Fatalf("create provider: %d %v %s", status, err, raw)
	}
	newToken := func(role string) string {
		var out struct{ Token string }
		if status, _, raw, err := n.do("POST", "/management/admin-tokens", owner, map[string]string{"role": role}, &out); err != nil || status != 201 {
			t.Fatalf("admin token %s: %d %v %s", role, status, err, raw)
		}
		return out.Token
	}
	policyAdmin, reader := newToken("policy-admin"), newToken("reader")

	const path = "/providers/fabrikam/policies/SgxEnclave"
	const q = "?api-version=2022-08-01"
	text := `version=1.0; authorizationrules { c:[type=="x-ms-sgx-mrsigner", value=="00"] => permit(); };`
	signed, err := policy.SignDocument(text, key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	// The signer's policy-admin sets the signed policy.
	if status, _, raw, err := n.do("PUT", path+q, policyAdmin, signed, nil); err != nil || status != 200 {
		t.Fatalf("set: %d %v %s", status, err, raw)
	}
	stored := func() string {
		var res struct{ Token string }
		if status, _, raw, err := n.do("GET", path+q, reader, nil, &res); err != nil || status != 200 {
			t.Fatalf("get: %d %v %s", status, err, raw)
		}
		claims, _, err := token.DecodeUnverified(res.Token)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := claims["x-ms-policy"].(string)
		return s
	}
	xmsPolicy := stored()
	if xmsPolicy != signed {
		t.Fatalf("x-ms-policy is not the signed document: %q", xmsPolicy)
	}
	// Without the signer's key: reset with what the reader got.
	status, _, raw, err := n.do("POST", path+":reset"+q, policyAdmin, xmsPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Error struct{ Code, Message string }
	}
	_ = json.Unmarshal(raw, &body)
	if status != 400 || body.Error.Code != "policy_document_operation" {
		t.Fatalf("reset with the stored signed policy: %d %s", status, raw)
	}
	if got := stored(); got != signed {
		t.Errorf("the policy in force changed: %q", got)
	}
}

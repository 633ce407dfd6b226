package main

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestQuickstart runs the README's main command end to end.
func TestQuickstart(t *testing.T) {
	code, out := runCLI(t, "quickstart")
	if code != 0 {
		t.Fatalf("quickstart exited %d\n%s", code, out)
	}
	// Long messages are wrapped onto indented lines; the checks read them
	// joined.
	flat := regexp.MustCompile(`\n +`).ReplaceAllString(out, " ")
	for _, want := range []string{
		"provider always-encrypted",
		"https://always-encrypted.avow.localhost:",
		"Enclave Attestation Url=https://always-encrypted.avow.localhost:",
		"token_issuer      SqlClient  OK",
		"dh_signature      both       OK",
		"session_key       both       OK",
		`"x-ms-sgx-product-id": 4639`,
		`"x-ms-sgx-svn": 2`,
		`"x-ms-sgx-is-debuggable": false`,
		"x-ms-sgx-is-debuggable is true, the rule requires == false",
		"x-ms-sgx-svn is 1, the rule requires >= 2",
		"Operator: the audit log",
		"policy.set",
		"attest.SgxEnclave",
		"failure_code=policy_denied",
		"tcb_status=UpToDate",
		// The condensed policy is accepted, said once, with the canonical form.
		"avow accepts this condensed form, as Microsoft publishes the policy",
		"    authorizationrules\n    {\n        ...the rules above...\n    };\n",
		// The token, abbreviated, and its claims.
		"the token (",
		" characters, abbreviated): eyJ",
		"the token's claims (values over 64 characters abbreviated):",
		// The end: commands that work in the checkout after go run.
		"\n== Done. Your own server: build avow in the checkout, then start it (README: \"Running a server\")\n" +
			"go build -o avow ./cmd/avow\n./avow serve --dev --provider-domain avow.localhost\n",
	} {
		if !strings.Contains(flat, want) && !strings.Contains(out, want) {
			t.Errorf("quickstart output lacks %q\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, quickstartEnd) {
		t.Errorf("quickstart does not end with %q", quickstartEnd)
	}
	if n := strings.Count(out, "condensed"); n != 1 {
		t.Errorf("the condensed form is mentioned %d times, want once", n)
	}
	// The client and the enclave agree on the session key.
	value := func(prefix string) string {
		_, v, _ := strings.Cut(out, prefix)
		v, _, _ = strings.Cut(v, "\n")
		return v
	}
	client, enclave := value("session key sha256 (client):  "), value("session key sha256 (enclave): ")
	if len(client) != 64 || client != enclave {
		t.Errorf("session keys: client %q, enclave %q", client, enclave)
	}
	// Every line fits 100 columns but those meant to be copied whole:
	// Microsoft's policy text, the connection string and the certificate's
	// path (in $TMPDIR).
	for _, line := range strings.Split(out, "\n") {
		if utf8.RuneCountInString(line) <= quickstartWidth || strings.Contains(RecommendedPolicy, line) ||
			strings.HasPrefix(line, "connection string: ") || strings.HasPrefix(line, "TLS certificate: ") {
			continue
		}
		t.Errorf("a line of %d characters, over %d:\n%s", utf8.RuneCountInString(line), quickstartWidth, line)
	}
}

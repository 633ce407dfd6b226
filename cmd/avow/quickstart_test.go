package main

import (
	"strings"
	"testing"
)

// TestQuickstart runs the README's main command end to end.
func TestQuickstart(t *testing.T) {
	code, out := runCLI(t, "quickstart")
	if code != 0 {
		t.Fatalf("quickstart exited %d\n%s", code, out)
	}
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
	} {
		if !strings.Contains(out, want) {
			t.Errorf("quickstart output lacks %q\n%s", want, out)
		}
	}
	// The client and the enclave agree on the session key.
	_, line, _ := strings.Cut(out, "session key sha256: client ")
	line, _, _ = strings.Cut(line, "\n")
	client, enclave, _ := strings.Cut(line, ", enclave ")
	if len(client) != 64 || client != enclave {
		t.Errorf("session keys: client %q, enclave %q", client, enclave)
	}
}

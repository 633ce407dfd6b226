package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/fakemaa"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
)

// fakeAttestToken gets a token for provider name from the fake.
func fakeAttestToken(t *testing.T, f *fakemaa.Server, name string) string {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(f.Certificate())
	c, err := client.New(f.URL, client.WithRootCAs(pool))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.AttestSGX(context.Background(), f.AttestURI(name), []byte("quote"), client.AttestOptions{Nonce: "n-7"})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestTokenCLI(t *testing.T) {
	f, conn := remoteFake(t)
	ca := conn[5]
	f.AddProvider("contoso", "")
	f.AddProvider("other", "")
	tok := fakeAttestToken(t, f, "contoso")
	uri := f.AttestURI("contoso")
	dir := t.TempDir()
	tokFile := filepath.Join(dir, "token.jwt")
	os.WriteFile(tokFile, []byte(tok+"\n"), 0o644)
	jsonFile := filepath.Join(dir, "answer.json")
	os.WriteFile(jsonFile, []byte(`{"token": "`+tok+`"}`), 0o644)
	setRemoteNow(t, fakemaa.Now.Add(time.Minute))

	out, _ := mustRemote(t, 0, "token", "verify", tokFile, "--issuer", uri, "--ca-cert", ca)
	for _, s := range []string{"valid: signature, times and issuer " + uri, "kid:", f.Key.KID, "nonce:", "n-7"} {
		if !strings.Contains(out, s) {
			t.Errorf("verify output lacks %q:\n%s", s, out)
		}
	}
	// The token itself as argument; the {"token"} answer; JSON output.
	mustRemote(t, 0, "token", "verify", tok, "--issuer", uri, "--ca-cert", ca)
	out, _ = mustRemote(t, 0, "token", "verify", jsonFile, "--issuer", uri+"/", "--ca-cert", ca, "-o", "json")
	var got tokenOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Valid == nil || !*got.Valid || !got.Verified || got.Claims["nonce"] != "n-7" || got.Header.Alg != "RS256" {
		t.Errorf("json %+v %v\n%s", got, err, out)
	}

	// Invalid: exit 1, the claims shown as unverified.
	out, _ = mustRemote(t, 1, "token", "verify", tokFile, "--issuer", uri, "--ca-cert", ca, "--at", fakemaa.Now.Add(9*time.Hour).Format(time.RFC3339))
	if !strings.Contains(out, "INVALID: token_expired") || !strings.Contains(out, "NOT verified") || !strings.Contains(out, "n-7") {
		t.Errorf("expired:\n%s", out)
	}
	mustRemote(t, 0, "token", "verify", tokFile, "--issuer", uri, "--ca-cert", ca, "--at", fakemaa.Now.Add(8*time.Hour+time.Second).Format(time.RFC3339), "--clock-skew", "1m")
	out, _ = mustRemote(t, 1, "token", "verify", tokFile, "--issuer", f.AttestURI("other"), "--ca-cert", ca, "-o", "json")
	got = tokenOutput{}
	if err := json.Unmarshal([]byte(out), &got); err != nil || *got.Valid || got.Error == nil || got.Error.Code != "token_issuer_mismatch" {
		t.Errorf("other issuer %+v\n%s", got, out)
	}
	mustRemote(t, 1, "token", "verify", strings.TrimSuffix(tok, "A")+"B", "--issuer", uri, "--ca-cert", ca)
	mustRemote(t, 1, "token", "verify", "a.b.c", "--issuer", uri, "--ca-cert", ca)
	// Another issuer, even one that does not exist: refused before its
	// metadata is fetched.
	mustRemote(t, 1, "token", "verify", tokFile, "--issuer", f.AttestURI("nobody"), "--ca-cert", ca)

	// Usage and discovery errors: exit 2.
	for _, args := range [][]string{
		{"token", "verify", tokFile},
		{"token", "verify", tokFile, "--issuer", uri}, // self-signed server, untrusted
		{"token", "verify", tokFile, "--issuer", uri, "--at", "yesterday"},
		{"token", "verify", filepath.Join(dir, "missing"), "--issuer", uri},
		{"token", "verify", tokFile, "--issuer", uri, "--clock-skew", "-1s"},
		{"token", "show"},
		{"token", "show", "not-a-token"},
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}

	// token show decodes without verifying.
	out, _ = mustRemote(t, 0, "token", "show", tokFile)
	if !strings.Contains(out, "(not verified)") || !strings.Contains(out, "x-ms-attestation-type:") {
		t.Errorf("show:\n%s", out)
	}
	out, _ = mustRemote(t, 0, "token", "show", tok, "-o", "json")
	got = tokenOutput{}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Verified || got.Claims["iss"] != uri {
		t.Errorf("show json %+v\n%s", got, out)
	}
}

// TestTokenVerifyKinds is issue 13 item 8: a policy or signer management
// result is signed by the provider's key like an attestation token, but
// `avow token verify` must not call it a valid attestation token. It names
// the kind (text and JSON) and refuses anything but an attestation token
// (exit 1, token_kind_mismatch) unless --kind says otherwise.
func TestTokenVerifyKinds(t *testing.T) {
	f, conn := remoteFake(t)
	ca := conn[5]
	f.AddProvider("contoso", "")
	uri := f.AttestURI("contoso")
	setRemoteNow(t, fakemaa.Now.Add(time.Minute))
	pool := x509.NewCertPool()
	pool.AddCert(f.Certificate())
	c, err := client.New(f.URL, client.WithRootCAs(pool), client.WithToken(fakemaa.OwnerToken))
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.SetPolicy(context.Background(), uri, client.TypeSgxEnclave, policy.UnsignedDocument(fakemaa.DefaultText))
	if err != nil {
		t.Fatal(err)
	}
	att := fakeAttestToken(t, f, "contoso")

	out, _ := mustRemote(t, 1, "token", "verify", res.Token, "--issuer", uri, "--ca-cert", ca)
	if !strings.Contains(out, "token_kind_mismatch") || !strings.Contains(out, "policy management") {
		t.Errorf("policy result, default kind:\n%s", out)
	}
	out, _ = mustRemote(t, 1, "token", "verify", res.Token, "--issuer", uri, "--ca-cert", ca, "-o", "json")
	var got tokenOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || *got.Valid || got.Kind != "policy-management" || got.Error == nil || got.Error.Code != "token_kind_mismatch" {
		t.Errorf("policy result json %+v\n%s", got, out)
	}
	for _, kind := range []string{"management", "any"} {
		out, _ = mustRemote(t, 0, "token", "verify", res.Token, "--issuer", uri, "--ca-cert", ca, "--kind", kind)
		if !strings.Contains(out, "kind: policy management") {
			t.Errorf("--kind %s:\n%s", kind, out)
		}
	}
	out, _ = mustRemote(t, 0, "token", "verify", att, "--issuer", uri, "--ca-cert", ca, "-o", "json")
	got = tokenOutput{}
	if err := json.Unmarshal([]byte(out), &got); err != nil || !*got.Valid || got.Kind != "attestation" {
		t.Errorf("attestation json %+v\n%s", got, out)
	}
	mustRemote(t, 1, "token", "verify", att, "--issuer", uri, "--ca-cert", ca, "--kind", "management")
	mustRemote(t, 2, "token", "verify", att, "--issuer", uri, "--ca-cert", ca, "--kind", "everything")
	out, _ = mustRemote(t, 0, "token", "show", res.Token)
	if !strings.Contains(out, "kind: policy management") {
		t.Errorf("show:\n%s", out)
	}
}

// TestTokenVerifyIssuer is issue 15 item 4: another provider's --issuer is
// refused as that ("the token's issuer is X, not Y"), before any key is
// fetched (a real provider has its own keys: the answer used to be
// token_unknown_key); the output names the token's iss, not the text of
// --issuer (with its trailing slash); and --issuer takes a provider name on
// --server, resolved as attest --url resolves it.
func TestTokenVerifyIssuer(t *testing.T) {
	f, conn := remoteFake(t)
	ca := conn[5]
	f.AddProvider("contoso", "")
	f.AddProvider("other", "")
	tok := fakeAttestToken(t, f, "contoso")
	uri, other := f.AttestURI("contoso"), f.AttestURI("other")
	setRemoteNow(t, fakemaa.Now.Add(time.Minute))

	for _, issuer := range []string{other, other + "/"} {
		before := f.LastRequest() // the attestation
		out, _ := mustRemote(t, 1, "token", "verify", tok, "--issuer", issuer, "--ca-cert", ca)
		want := "INVALID: token_issuer_mismatch: the token issuer is not the expected issuer: the token's issuer is " + uri + ", not " + other + "\n"
		if !strings.HasPrefix(out, want) {
			t.Errorf("--issuer %s:\n got %s\nwant %s", issuer, out, want)
		}
		if last := f.LastRequest(); last.Method != before.Method || last.Path != before.Path {
			t.Errorf("--issuer %s: %s %s was requested before the issuer was compared", issuer, last.Method, last.Path)
		}
	}

	out, _ := mustRemote(t, 0, "token", "verify", tok, "--issuer", uri+"/", "--ca-cert", ca)
	if !strings.HasPrefix(out, "valid: signature, times and issuer "+uri+" verified\n") {
		t.Errorf("trailing slash:\n%s", out)
	}
	out, _ = mustRemote(t, 0, "token", "verify", tok, "--issuer", uri+"/", "--ca-cert", ca, "-o", "json")
	var got tokenOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Issuer != uri {
		t.Errorf("trailing slash, json issuer %q, want %q\n%s", got.Issuer, uri, out)
	}

	// A provider name, as attest --url takes it.
	out, _ = mustRemote(t, 0, "token", "verify", tok, "--issuer", "contoso", "--server", f.URL, "--ca-cert", ca)
	if !strings.HasPrefix(out, "valid: signature, times and issuer "+uri+" verified\n") {
		t.Errorf("--issuer contoso:\n%s", out)
	}
	out, _ = mustRemote(t, 1, "token", "verify", tok, "--issuer", "other", "--server", f.URL, "--ca-cert", ca)
	if !strings.Contains(out, "the token's issuer is "+uri+", not "+other) {
		t.Errorf("--issuer other:\n%s", out)
	}
	// An unknown name is the server's refusal (exit 1); a name without a
	// server is a usage error (exit 2).
	_, errOut := mustRemote(t, 1, "token", "verify", tok, "--issuer", "nobody", "--server", f.URL, "--ca-cert", ca)
	if !strings.Contains(errOut, "the server refused (404") {
		t.Errorf("--issuer nobody:\n%s", errOut)
	}
	_, errOut = mustRemote(t, 2, "token", "verify", tok, "--issuer", "contoso", "--ca-cert", ca)
	if !strings.Contains(errOut, "--server") {
		t.Errorf("--issuer contoso without --server:\n%s", errOut)
	}
}

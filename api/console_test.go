package api

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/avowhq/avow/console"
	"github.com/avowhq/avow/sgxsim"
)

const jsonCT = "application/json"

func TestWhoami(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do(t, "GET", "/management/whoami", e.reader, nil)
	var who struct{ ID, Role string }
	if r.status != 200 || json.Unmarshal(r.body, &who) != nil || who.Role != "reader" || who.ID == "" {
		t.Fatalf("whoami: %d %s", r.status, r.body)
	}
	if r := e.do(t, "GET", "/management/whoami", "", nil); r.status != 401 {
		t.Errorf("anonymous whoami: %d", r.status)
	}
	if r := e.do(t, "POST", "/management/whoami", e.reader, nil); r.status != 405 {
		t.Errorf("POST whoami: %d", r.status)
	}
}

func TestPolicyCheck(t *testing.T) {
	e := newEnv(t, Options{})
	typo := strings.Replace(console.AlwaysEncryptedCondensed, "value==4639", "value=4639", 1)
	body, _ := json.Marshal(map[string]string{"policy": typo, "type": "SgxEnclave"})
	r := e.do(t, "POST", "/management/policy:check", e.reader, strings.NewReader(string(body)), "Content-Type", jsonCT)
	var out struct {
		Valid  bool
		Errors []struct {
			Line, Column  int
			Code, Message string
		}
		Warnings []struct{ Code string }
		Hash     string
		Rules    map[string]int
	}
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.Valid || len(out.Errors) != 1 {
		t.Fatalf("check typo: %d %s", r.status, r.body)
	}
	if e := out.Errors[0]; e.Line != 3 || e.Column != 48 || e.Code != "policy_single_equals" {
		t.Errorf("typo reported as %+v", e)
	}
	body, _ = json.Marshal(map[string]string{"policy": console.AlwaysEncryptedCondensed})
	r = e.do(t, "POST", "/management/policy:check", e.reader, strings.NewReader(string(body)), "Content-Type", jsonCT)
	out.Errors = nil
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil || !out.Valid || out.Rules["authorization"] != 1 ||
		out.Hash == "" || len(out.Warnings) == 0 || out.Warnings[0].Code != "policy_condensed_form" {
		t.Fatalf("check: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/management/policy:check", "", strings.NewReader(string(body)), "Content-Type", jsonCT); r.status != 401 {
		t.Errorf("anonymous check: %d", r.status)
	}
	if r := e.do(t, "POST", "/management/policy:check", e.reader, strings.NewReader(`{"policy":"x","type":"Nope"}`), "Content-Type", jsonCT); r.status != 404 {
		t.Errorf("unknown type: %d %s", r.status, r.body)
	}
}

func TestSimQuoteOnlyInDev(t *testing.T) {
	e := newEnv(t, Options{})
	if r := e.do(t, "POST", "/management/sim/quote", e.owner, strings.NewReader(`{}`), "Content-Type", jsonCT); r.status != 404 {
		t.Fatalf("sim quote without --dev: %d %s", r.status, r.body)
	}
	e = newEnv(t, Options{Console: ConsoleOptions{Dev: true, Sim: sgxsim.Default()}})
	if r := e.do(t, "POST", "/management/sim/quote", e.reader, strings.NewReader(`{}`), "Content-Type", jsonCT); r.status != 403 {
		t.Fatalf("sim quote as reader: %d %s", r.status, r.body)
	}
	r := e.do(t, "POST", "/management/sim/quote", e.owner, strings.NewReader(`{"productId":4639,"svn":2,"mrsigner":"`+strings.Repeat("ab", 32)+`"}`), "Content-Type", jsonCT)
	var out struct{ Quote string }
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("sim quote: %d %s", r.status, r.body)
	}
	if _, err := base64.RawURLEncoding.DecodeString(out.Quote); err != nil {
		t.Fatal(err)
	}
	if r := e.do(t, "POST", "/management/sim/quote", e.owner, strings.NewReader(`{"mrsigner":"abc"}`), "Content-Type", jsonCT); r.status != 400 {
		t.Errorf("short mrsigner: %d %s", r.status, r.body)
	}
}

type playgroundOut struct {
	Permitted      bool
	Code, Message  string
	Stage          string
	Trace          []json.RawMessage
	IncomingClaims []struct {
		Type  string
		Value any
	}
	TokenClaims map[string]any
}

// TestPlayground: a reader runs the Always Encrypted policy as a draft on
// a production and a debuggable enclave; each run is one draft attestation
// in the audit log and the refusal is explained by the trace.
func TestPlayground(t *testing.T) {
	e := newEnv(t, Options{})
	p := sgxsim.Default()
	signer, _ := hex.DecodeString("e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5")
	run := func(debug bool) playgroundOut {
		q, err := p.Quote(sgxsim.QuoteOptions{MRSigner: signer, ISVProdID: 4639, ISVSVN: 2, Debug: debug})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(map[string]any{"type": "sgxenclave", "quote": base64.RawURLEncoding.EncodeToString(q), "policy": console.AlwaysEncryptedCondensed})
		r := e.do(t, "POST", "/management/providers/contoso/playground", e.reader, strings.NewReader(string(body)), "Content-Type", jsonCT)
		var out playgroundOut
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
			t.Fatalf("playground: %d %s", r.status, r.body)
		}
		return out
	}
	ok := run(false)
	if !ok.Permitted || ok.Stage != "token" || len(ok.Trace) != 1 || ok.TokenClaims["x-ms-sgx-product-id"] != float64(4639) {
		t.Fatalf("production enclave: %+v", ok)
	}
	bad := run(true)
	if bad.Permitted || bad.Code != "policy_denied" || !strings.Contains(bad.Message, "x-ms-sgx-is-debuggable is true") || len(bad.Trace) != 1 {
		t.Fatalf("debuggable enclave: %+v", bad)
	}
	var sawDebug bool
	for _, c := range bad.IncomingClaims {
		if c.Type == "x-ms-sgx-is-debuggable" && c.Value == true {
			sawDebug = true
		}
	}
	if !sawDebug {
		t.Errorf("incoming claims lack x-ms-sgx-is-debuggable: %+v", bad.IncomingClaims)
	}
	if err := e.svc.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "GET", "/management/audit?kind=attestation", e.reader, nil)
	var page struct {
		Entries []struct {
			Outcome string
			Details map[string]string
		}
	}
	if json.Unmarshal(r.body, &page) != nil || len(page.Entries) != 2 {
		t.Fatalf("audit after two playground runs: %s", r.body)
	}
	if page.Entries[0].Outcome != "policy_denied" || page.Entries[1].Outcome != "success" || page.Entries[0].Details["draft"] != "true" {
		t.Errorf("audit: %+v", page.Entries)
	}
	// Errors before the policy, unknown providers and anonymous callers.
	r = e.do(t, "POST", "/management/providers/contoso/playground", e.reader, strings.NewReader(`{"type":"SgxEnclave","quote":"AAAA"}`), "Content-Type", jsonCT)
	var early playgroundOut
	if r.status != 200 || json.Unmarshal(r.body, &early) != nil || early.Permitted || early.Stage != "evidence" || early.Code == "" {
		t.Errorf("garbage quote: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/management/providers/nobody/playground", e.reader, strings.NewReader(`{"type":"SgxEnclave","quote":"AAAA"}`), "Content-Type", jsonCT); r.status != 404 {
		t.Errorf("unknown provider: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", "/management/providers/contoso/playground", "", strings.NewReader(`{}`), "Content-Type", jsonCT); r.status != 401 {
		t.Errorf("anonymous: %d", r.status)
	}
}

func TestConsoleHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{"/ui/", "/ui/assets/app.js", "/ui/assets/app.css", "/ui/config.json", "/ui/templates.json", "/ui/assets/nothing.js"} {
		r := e.do(t, "GET", path, "", nil)
		if r.header.Get("Content-Security-Policy") != console.CSP || r.header.Get("X-Content-Type-Options") != "nosniff" ||
			r.header.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", path, r.header)
		}
		if want := 200; path == "/ui/assets/nothing.js" {
			want = 404
			if r.status != want {
				t.Errorf("%s: %d", path, r.status)
			}
		} else if r.status != want {
			t.Errorf("%s: %d", path, r.status)
		}
	}
	if r := e.do(t, "GET", "/ui/assets/app.js", "", nil); r.header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("app.js content type %q", r.header.Get("Content-Type"))
	}
	e = newEnv(t, Options{Console: ConsoleOptions{Off: true}})
	if r := e.do(t, "GET", "/ui/", "", nil); r.status != 404 {
		t.Errorf("console off: %d", r.status)
	}
}

func TestConsoleRoutesOf(t *testing.T) {
	for path, want := range map[string]string{
		"/ui":                                      "/ui",
		"/ui/assets/" + strings.Repeat("z", 100):   "/ui",
		"/management/whoami":                       "/management/whoami",
		"/management/policy:check":                 "/management/policy:check",
		"/management/sim/quote":                    "/management/sim/quote",
		"/management/providers/contoso/playground": "/management/providers/{id}/playground",
	} {
		if got := routeOf(path); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestPlaygroundRuntimeData: a simulated quote made with runtime data
// binds it as attestation checks it, and the playground takes the attest
// body's runtimeData.
func TestPlaygroundRuntimeData(t *testing.T) {
	e := newEnv(t, Options{Console: ConsoleOptions{Dev: true, Sim: sgxsim.Default()}})
	rd := base64.RawURLEncoding.EncodeToString([]byte(`{"jwk":{"kty":"RSA"}}`))
	r := e.do(t, "POST", "/management/sim/quote", e.owner, strings.NewReader(`{"runtimeData":"`+rd+`"}`), "Content-Type", jsonCT)
	var q struct{ Quote string }
	if r.status != 200 || json.Unmarshal(r.body, &q) != nil {
		t.Fatalf("sim quote: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		data      string
		permitted bool
	}{{rd, true}, {base64.RawURLEncoding.EncodeToString([]byte("other")), false}} {
		body := `{"type":"SgxEnclave","quote":"` + q.Quote + `","runtimeData":{"data":"` + tc.data + `","dataType":"JSON"}}`
		r = e.do(t, "POST", "/management/providers/contoso/playground", e.reader, strings.NewReader(body), "Content-Type", jsonCT)
		var out playgroundOut
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.Permitted != tc.permitted {
			t.Fatalf("playground with runtime data: %d %s", r.status, r.body)
		}
		if !tc.permitted && (out.Code != "runtime_data_mismatch" || out.Stage != "evidence") {
			t.Errorf("mismatched runtime data: %+v", out)
		}
	}
	if r := e.do(t, "POST", "/management/providers/contoso/playground", e.reader, strings.NewReader(`{"quote":"AAAA"}`), "Content-Type", jsonCT); r.status != 400 {
		t.Errorf("no type: %d %s", r.status, r.body)
	}
}

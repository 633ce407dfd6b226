package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/api"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/sgxsim"
)

// TestHostileInput sends a corpus of malformed requests to every kind of
// endpoint and a few thousand random mutations of a valid attestation:
// each gets a 4xx with MAA's error body (code, message, request id), never
// a 5xx; the server stays up and its memory stays bounded.
func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("hostile input corpus: skipped with -short")
	}
	dir := t.TempDir()
	ctx := context.Background()
	n, c := startNode(t, dir, func(cfg *Config) { cfg.Ops.Limits = api.Limits{ManagementRate: -1} })
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "hostile"})
	if err != nil {
		t.Fatal(err)
	}
	_, signer := selfSigned(t, "isolated signer")
	if _, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "isolated", TrustModel: client.TrustModelIsolated,
		PolicySigningCertificates: []*x509.Certificate{signer}}); err != nil {
		t.Fatal(err)
	}
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	b64 := base64.RawURLEncoding.EncodeToString
	hc := mustHTTP(t, n)
	admin := n.AdminToken.Secret
	attest := p.AttestURI + "/attest/SgxEnclave?api-version=2022-08-01"
	policyURL := p.AttestURI + "/policies/SgxEnclave?api-version=2022-08-01"
	mgmt := n.URL + "/management"
	nested := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)

	type tc struct {
		name, method, url, ctype, body string
		token                          bool
		hdr                            []string
	}
	cases := []tc{
		{"empty body", "POST", attest, "application/json", "", false, nil},
		{"json array", "POST", attest, "application/json", `[1,2,3]`, false, nil},
		{"json string", "POST", attest, "application/json", `"quote"`, false, nil},
		{"quote is a number", "POST", attest, "application/json", `{"quote":12345}`, false, nil},
		{"quote is null", "POST", attest, "application/json", `{"quote":null}`, false, nil},
		{"quote is empty", "POST", attest, "application/json", `{"quote":""}`, false, nil},
		{"deeply nested", "POST", attest, "application/json", nested, false, nil},
		{"huge number", "POST", attest, "application/json", `{"quote":"` + b64(q) + `","nonce":1e999999}`, false, nil},
		{"invalid utf-8", "POST", attest, "application/json", "{\"quote\":\"\xff\xfe\"}", false, nil},
		{"trailing garbage", "POST", attest, "application/json", `{"quote":"` + b64(q) + `"} xyz`, false, nil},
		{"runtime data bad base64", "POST", attest, "application/json", `{"quote":"` + b64(q) + `","runtimeData":{"data":"%%%","dataType":"Binary"}}`, false, nil},
		{"runtime data bad json", "POST", attest, "application/json", `{"quote":"` + b64(q) + `","runtimeData":{"data":"` + b64([]byte("{nope")) + `","dataType":"JSON"}}`, false, nil},
		{"runtime data is a string", "POST", attest, "application/json", `{"quote":"` + b64(q) + `","runtimeData":"x"}`, false, nil},
		{"quote one byte", "POST", attest, "application/json", `{"quote":"AA"}`, false, nil},
		{"quote zeros", "POST", attest, "application/json", `{"quote":"` + b64(make([]byte, 5000)) + `"}`, false, nil},
		{"quote header only", "POST", attest, "application/json", `{"quote":"` + b64(q[:48]) + `"}`, false, nil},
		{"open enclave report short", "POST", p.AttestURI + "/attest/OpenEnclave?api-version=2022-08-01", "application/json", `{"report":"` + b64([]byte{1, 2, 3}) + `"}`, false, nil},
		{"tdx with an sgx quote", "POST", p.AttestURI + "/attest/TdxVm?api-version=2022-08-01", "application/json", `{"quote":"` + b64(q) + `"}`, false, nil},
		{"draft policy garbage", "POST", attest, "application/json", `{"quote":"` + b64(q) + `","draftPolicyForAttestation":"` + strings.Repeat("{[", 5000) + `"}`, false, nil},
		{"gzip body", "POST", attest, "application/json", `{"quote":"` + b64(q) + `"}`, false, []string{"Content-Encoding", "gzip"}},
		{"xml", "POST", attest, "application/xml", `<quote/>`, false, nil},
		{"bad content type", "POST", attest, ";;;", `{}`, false, nil},
		{"over the attest limit", "POST", attest, "application/json", `{"quote":"` + strings.Repeat("A", api.MaxAttestBody) + `"}`, false, nil},
		{"api-version twice wrong", "POST", p.AttestURI + "/attest/SgxEnclave?api-version=x&api-version=y", "application/json", `{}`, false, nil},
		{"path traversal", "GET", n.URL + "/providers/../management/providers", "", "", false, nil},
		{"long path", "GET", n.URL + "/providers/" + strings.Repeat("a", 20000) + "/certs", "", "", false, nil},
		{"provider name with nul", "GET", n.URL + "/providers/a%00b/certs", "", "", false, nil},
		{"trace method", "TRACE", attest, "", "", false, nil},
		{"options method", "OPTIONS", attest, "", "", false, nil},
		{"policy garbage", "PUT", policyURL, "text/plain", "not a jws", true, nil},
		{"policy jws bad parts", "PUT", policyURL, "text/plain", "a.b.c", true, nil},
		{"policy jws bad payload", "PUT", policyURL, "text/plain", "eyJhbGciOiJub25lIn0.eyJ.", true, nil},
		{"policy wrong grammar", "PUT", policyURL, "text/plain", policy.UnsignedDocument("version=1.0; authorizationrules { => permit() };;;"), true, nil},
		{"policy json string broken", "PUT", policyURL, "application/json", `"abc`, true, nil},
		{"policy over the limit", "PUT", policyURL, "text/plain", strings.Repeat("a", api.MaxPolicyBody+1), true, nil},
		{"reset garbage", "POST", p.AttestURI + "/policies/SgxEnclave:reset?api-version=2022-08-01", "text/plain", "{{{", true, nil},
		{"signer add on AAD", "POST", p.AttestURI + "/certificates:add?api-version=2022-08-01", "application/json", `"a.b.c"`, true, nil},
		{"signer add garbage", "POST", n.URL + "/providers/isolated/certificates:add?api-version=2022-08-01", "application/json", `"a.b.c"`, true, nil},
		{"signer add no cert", "POST", n.URL + "/providers/isolated/certificates:add?api-version=2022-08-01", "application/json", `"eyJhbGciOiJub25lIn0.e30."`, true, nil},
		{"unknown action", "POST", p.AttestURI + "/policies/SgxEnclave:explode?api-version=2022-08-01", "text/plain", "x", true, nil},
		{"provider bad name", "POST", mgmt + "/providers", "application/json", `{"name":"../../etc"}`, true, nil},
		{"provider unknown field", "POST", mgmt + "/providers", "application/json", `{"name":"abc","evil":true}`, true, nil},
		{"provider bad trust model", "POST", mgmt + "/providers", "application/json", `{"name":"abcd","trustModel":"Root"}`, true, nil},
		{"provider bad cert", "POST", mgmt + "/providers", "application/json", `{"name":"abcde","trustModel":"Isolated","policySigningCertificates":["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]}`, true, nil},
		{"provider isolated without cert", "POST", mgmt + "/providers", "application/json", `{"name":"abcdef","trustModel":"Isolated"}`, true, nil},
		{"settings bad duration", "PATCH", mgmt + "/providers/hostile", "application/json", `{"settings":{"collateralGracePeriod":"forever"}}`, true, nil},
		{"settings negative grace", "PATCH", mgmt + "/providers/hostile", "application/json", `{"settings":{"collateralGracePeriod":"-1h"}}`, true, nil},
		{"settings unknown status", "PATCH", mgmt + "/providers/hostile", "application/json", `{"settings":{"acceptedTcbStatuses":["Revoked"]}}`, true, nil},
		{"settings bad algorithm", "PATCH", mgmt + "/providers/hostile", "application/json", `{"settings":{"tokenAlgorithm":"none"}}`, true, nil},
		{"settings missing", "PATCH", mgmt + "/providers/hostile", "application/json", `{}`, true, nil},
		{"token bad role", "POST", mgmt + "/admin-tokens", "application/json", `{"role":"root"}`, true, nil},
		{"revoke unknown token", "DELETE", mgmt + "/admin-tokens/tok-nothing", "", "", true, nil},
		{"collateral garbage", "POST", mgmt + "/collateral", "application/json", `{"tcbInfo":1}`, true, nil},
		{"collateral empty object", "POST", mgmt + "/collateral", "application/json", `{}`, true, nil},
		{"collateral not json", "POST", mgmt + "/collateral", "application/json", `PCK`, true, nil},
		{"audit bad since", "GET", mgmt + "/audit?since=tomorrow", "", "", true, nil},
		{"audit huge limit", "GET", mgmt + "/audit?limit=99999999999", "", "", true, nil},
		{"audit negative before", "GET", mgmt + "/audit?before=-5", "", "", true, nil},
		{"bearer garbage", "GET", mgmt + "/providers", "", "", false, []string{"Authorization", "Bearer " + strings.Repeat("x", 4000)}},
		{"basic auth", "GET", mgmt + "/providers", "", "", false, []string{"Authorization", "Basic YTpi"}},
		{"keys of nobody", "GET", mgmt + "/providers/nobody/keys", "", "", true, nil},
		{"rotate with GET", "GET", mgmt + "/providers/hostile/keys:rotate", "", "", true, nil},
	}
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	check := func(name string, req *http.Request) {
		t.Helper()
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		var e struct {
			Error struct{ Code, Message, RequestID string } `json:"error"`
		}
		id := resp.Header.Get("x-ms-request-id")
		if resp.StatusCode < 400 || resp.StatusCode > 499 || json.Unmarshal(body, &e) != nil || e.Error.Code == "" ||
			e.Error.Message == "" || e.Error.RequestID != id || id == "" {
			t.Errorf("%s: %d %.300s", name, resp.StatusCode, body)
		}
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		if c.token {
			req.Header.Set("Authorization", "Bearer "+admin)
		}
		for i := 0; i+1 < len(c.hdr); i += 2 {
			req.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		check(c.name, req)
	}
	// A body over the limit without Content-Length (chunked).
	req, _ := http.NewRequest("POST", attest, io.MultiReader(strings.NewReader(`{"quote":"`), &zeroReader{n: 4 << 20}))
	req.Header.Set("Content-Type", "application/json")
	check("chunked over the limit", req)

	// Random mutations of a valid request: bit flips, truncations,
	// insertions, in the quote and in the JSON around it.
	valid := []byte(`{"quote":"` + b64(q) + `","runtimeData":{"data":"` + b64([]byte("hello")) + `","dataType":"Binary"},"nonce":"n"}`)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1500; i++ {
		m := mutate(rng, valid, b64(q))
		req, _ := http.NewRequest("POST", attest, bytes.NewReader(m))
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("mutation %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 || (resp.StatusCode != 200 && !bytes.Contains(body, []byte(`"code"`))) {
			t.Fatalf("mutation %d: %d %.300s\nbody %.500s", i, resp.StatusCode, body, m)
		}
	}

	// Still up, and memory bounded.
	if resp, err := hc.Get(n.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after the corpus: %v", err)
	}
	if _, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{}); err != nil {
		t.Fatalf("a valid attestation after the corpus: %v", err)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapInuse) - int64(before.HeapInuse); grow > 64<<20 {
		t.Errorf("heap grew by %d MB", grow>>20)
	}
}

// zeroReader yields n bytes of 'A'.
type zeroReader struct{ n int }

func (z *zeroReader) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	k := min(len(p), z.n)
	for i := range p[:k] {
		p[i] = 'A'
	}
	z.n -= k
	return k, nil
}

// mutate returns a damaged copy of body.
func mutate(rng *rand.Rand, body []byte, quoteB64 string) []byte {
	m := append([]byte(nil), body...)
	switch rng.IntN(6) {
	case 0: // flip bytes anywhere
		for k := 0; k < 1+rng.IntN(8); k++ {
			i := rng.IntN(len(m))
			m[i] ^= byte(1 + rng.IntN(255))
		}
	case 1: // truncate
		m = m[:rng.IntN(len(m))]
	case 2: // change base64 characters inside the quote (valid alphabet)
		start := bytes.Index(m, []byte(quoteB64))
		const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for k := 0; k < 1+rng.IntN(16); k++ {
			m[start+rng.IntN(len(quoteB64))] = alpha[rng.IntN(len(alpha))]
		}
	case 3: // cut the quote short inside valid JSON
		cut := rng.IntN(len(quoteB64))
		m = []byte(strings.Replace(string(m), quoteB64, quoteB64[:cut], 1))
	case 4: // insert random bytes
		i := rng.IntN(len(m))
		ins := make([]byte, 1+rng.IntN(64))
		for k := range ins {
			ins[k] = byte(rng.IntN(256))
		}
		m = append(m[:i], append(ins, m[i:]...)...)
	case 5: // a field of the wrong type
		fields := []string{`"nonce":"n"`, `"dataType":"Binary"`, `"data":"aGVsbG8"`}
		f := fields[rng.IntN(len(fields))]
		vals := []string{`1`, `null`, `[]`, `{}`, `true`, `"` + strings.Repeat("z", 1000) + `"`}
		name, _, _ := strings.Cut(f, ":")
		m = []byte(strings.Replace(string(m), f, name+":"+vals[rng.IntN(len(vals))], 1))
	}
	return m
}

// TestSlowClientDropped: a client that never finishes its headers is
// disconnected after ReadHeaderTimeout.
func TestSlowClientDropped(t *testing.T) {
	n, _ := startNode(t, t.TempDir(), func(cfg *Config) { cfg.Ops.ReadHeaderTimeout = 500 * time.Millisecond })
	host := strings.TrimPrefix(n.URL, "https://")
	conn, err := tls.Dial("tcp", host, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /providers/x/attest/SgxEnclave HTTP/1.1\r\nHost: %s\r\nX-Slow: ", host)
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("slow client kept for %v (%v)", el, err)
	}
}

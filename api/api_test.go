package api

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/testenv"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testEnv struct {
	api     *Server
	srv     *httptest.Server
	svc     *service.Service
	metrics *Metrics
	logs    *testenv.SyncBuffer
	owner   string // owner admin token
	reader  string
	quote   []byte
}

// newTestService is the service the API tests run over: a fresh SQLite
// store, the clock at testNow, the simulated platform trusted and its
// collateral imported, the provider "contoso", and owner and reader admin
// tokens (their secrets are returned). m, when set, observes the service
// and its store.
func newTestService(tb testing.TB, m *Metrics) (svc *service.Service, bundle []byte, owner, reader string) {
	tb.Helper()
	return newTestServiceWith(tb, m, nil)
}

// newTestServiceWith is newTestService with the service configuration
// changed by mutate first.
func newTestServiceWith(tb testing.TB, m *Metrics, mutate func(*service.Config)) (svc *service.Service, bundle []byte, owner, reader string) {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "avow.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	p := sgxsim.Default()
	var obs service.Observer
	var s store.Store = st
	if m != nil {
		obs = m
		s = store.Instrument(st, m.ObserveStore)
	}
	// Providers may name Intel's PCS as their collateral source (the
	// management fuzz seeds do).
	pcsRule, err := pcs.ParseSourceRule("pcs")
	if err != nil {
		tb.Fatal(err)
	}
	cfg := service.Config{Store: s, Types: builtin.Registry(), KEK: make([]byte, 32), PublicURL: "https://avow.test",
		Clock: fixedClock{testNow}, ExtraRoots: []*x509.Certificate{p.Root()}, Simulated: true, Observer: obs,
		Collateral: service.CollateralConfig{ProviderSourceRules: []pcs.SourceRule{pcsRule}}}
	if mutate != nil {
		mutate(&cfg)
	}
	svc, err = service.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close(context.Background()) })
	if m != nil {
		m.Watch(svc)
	}
	admin := &service.Principal{ID: "test", Role: store.RoleOwner}
	col, err := p.Collateral(sgxsim.CollateralOptions{Now: testNow.Add(-time.Hour)})
	if err != nil {
		tb.Fatal(err)
	}
	if _, _, err := svc.ImportCollateral(ctx, admin, col, "sgxsim"); err != nil {
		tb.Fatal(err)
	}
	if bundle, err = col.MarshalBundle(); err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.CreateProvider(ctx, admin, service.ProviderRequest{Name: "contoso"}); err != nil {
		tb.Fatal(err)
	}
	ot, err := svc.CreateAdminToken(ctx, admin, store.RoleOwner, "owner")
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := svc.CreateAdminToken(ctx, admin, store.RoleReader, "reader")
	if err != nil {
		tb.Fatal(err)
	}
	return svc, bundle, ot.Secret, rt.Secret
}

// newEnv runs the API over newTestService.
func newEnv(t *testing.T, o Options) *testEnv {
	t.Helper()
	return newEnvWith(t, o, nil)
}

// newEnvWith runs the API over newTestServiceWith(mutate).
func newEnvWith(t *testing.T, o Options, mutate func(*service.Config)) *testEnv {
	t.Helper()
	m := o.Metrics
	svc, _, owner, reader := newTestServiceWith(t, m, mutate)
	p := sgxsim.Default()
	logs := &testenv.SyncBuffer{}
	h := NewServer(svc, slog.New(slog.NewJSONHandler(logs, nil)), o)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	q, err := p.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{api: h, srv: srv, svc: svc, metrics: m, logs: logs, owner: owner, reader: reader, quote: q}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *testEnv) do(t *testing.T, method, path, token string, body io.Reader, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i] == "Host" {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, b}
}

func (e *testEnv) attestBody(q []byte) string {
	return `{"quote":"` + base64.RawURLEncoding.EncodeToString(q) + `"}`
}

const attestPath = "/providers/contoso/attest/SgxEnclave?api-version=2022-08-01"

type errBody struct {
	Error struct {
		Code, Message, RequestID string
	} `json:"error"`
}

func TestErrorBodyCarriesRequestID(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct{ method, path, token, body string }{
		{"GET", "/nothing", "", ""},
		{"GET", "/management/providers", "", ""},
		{"POST", attestPath, "", `{"quote":`},
		{"GET", "/management/admin-tokens", e.reader, ""},
	} {
		r := e.do(t, tc.method, tc.path, tc.token, strings.NewReader(tc.body))
		var b errBody
		if err := json.Unmarshal(r.body, &b); err != nil || r.status < 400 {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
		id := r.header.Get("x-ms-request-id")
		if len(id) != 32 || b.Error.RequestID != id || b.Error.Code == "" || b.Error.Message == "" {
			t.Errorf("%s %s: header %q, body %s", tc.method, tc.path, id, r.body)
		}
	}
}

// TestRequestLogs: one JSON log line per request with the request id of
// x-ms-request-id, and the same id in the attestation's audit record.
func TestRequestLogs(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(e.quote)), "Content-Type", "application/json")
	if r.status != 200 {
		t.Fatalf("attest: %d %s", r.status, r.body)
	}
	id := r.header.Get("x-ms-request-id")
	var found bool
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if line["msg"] == "request" && line["request_id"] == id {
			found = true
			if line["status"] != float64(200) || line["method"] != "POST" || line["duration_ms"] == nil ||
				!strings.HasPrefix(line["path"].(string), "/providers/contoso/attest/") {
				t.Errorf("log line %v", line)
			}
		}
	}
	if !found {
		t.Fatalf("no request log line with request_id %s:\n%s", id, e.logs.String())
	}
	if err := e.svc.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := e.do(t, "GET", "/management/audit?kind=attestation", e.reader, nil)
	if a.status != 200 || !strings.Contains(string(a.body), `"requestId":"`+id+`"`) {
		t.Errorf("audit: %d %s", a.status, a.body)
	}
}

func TestAuditEndpoint(t *testing.T) {
	e := newEnv(t, Options{})
	for i := 0; i < 3; i++ {
		e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(e.quote)))
	}
	e.do(t, "POST", "/providers/nobody/attest/SgxEnclave?api-version=2022-08-01", "", strings.NewReader(e.attestBody(e.quote)))
	r := e.do(t, "POST", "/management/providers", e.owner, strings.NewReader(`{"name":"fabrikam"}`))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	createID := r.header.Get("x-ms-request-id")
	e.svc.FlushAudit(context.Background())

	type page struct {
		Entries []client.AuditEntry `json:"entries"`
		Next    int64               `json:"next"`
	}
	get := func(query, token string, want int) page {
		t.Helper()
		r := e.do(t, "GET", "/management/audit"+query, token, nil)
		if r.status != want {
			t.Fatalf("audit%s: %d %s", query, r.status, r.body)
		}
		var p page
		if want == 200 {
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	all := get("", e.reader, 200)
	if len(all.Entries) < 4+5 { // 4 attestations, collateral, 2 providers, 2 tokens
		t.Fatalf("%d entries: %+v", len(all.Entries), all.Entries)
	}
	for i := 1; i < len(all.Entries); i++ {
		if all.Entries[i].ID >= all.Entries[i-1].ID {
			t.Fatal("entries not newest first")
		}
	}
	mgmt := get("?kind=management&provider=fabrikam", e.reader, 200)
	if len(mgmt.Entries) != 1 || mgmt.Entries[0].Operation != "provider.create" || mgmt.Entries[0].RequestID != createID || mgmt.Entries[0].Actor == "" {
		t.Errorf("management entries %+v (request %s)", mgmt.Entries, createID)
	}
	att := get("?kind=attestation&provider=contoso&since=24h", e.reader, 200)
	if len(att.Entries) != 3 || att.Entries[0].Details["tcb_status"] != "UpToDate" {
		t.Errorf("attestation entries %+v", att.Entries)
	}
	p1 := get("?kind=attestation&limit=2", e.reader, 200)
	if len(p1.Entries) != 2 || p1.Next == 0 {
		t.Fatalf("page 1 %+v", p1)
	}
	p2 := get("?kind=attestation&limit=2&before="+itoa(p1.Next), e.reader, 200)
	if len(p2.Entries) != 2 || p2.Entries[0].ID >= p1.Next {
		t.Fatalf("page 2 %+v", p2)
	}
	if future := get("?since=2030-01-01T00:00:00Z", e.reader, 200); len(future.Entries) != 0 {
		t.Errorf("since in the future: %+v", future.Entries)
	}
	get("?since=yesterday", e.reader, 400)
	get("?limit=0", e.reader, 400)
	get("?before=x", e.reader, 400)
	get("?kind=other", e.reader, 400)
	get("", "", 401)
	if r := e.do(t, "POST", "/management/audit", e.owner, nil); r.status != 405 {
		t.Errorf("POST audit: %d", r.status)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestMetrics(t *testing.T) {
	e := newEnv(t, Options{Metrics: NewMetrics(), MetricsAccess: MetricsPublic})
	e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(e.quote)))
	bad := append([]byte{}, e.quote...)
	bad[len(bad)/2] ^= 0xff
	e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(bad)))
	e.do(t, "POST", "/providers/nobody/attest/SgxEnclave?api-version=2022-08-01", "", strings.NewReader(e.attestBody(e.quote)))
	e.do(t, "GET", "/management/providers", e.reader, nil)
	r := e.do(t, "GET", "/metrics", "", nil)
	if r.status != 200 {
		t.Fatalf("metrics: %d %s", r.status, r.body)
	}
	text := string(r.body)
	for _, want := range []string{
		`avow_attestations_total{failure_code="",outcome="success",provider="contoso",tcb_status="UpToDate",type="SgxEnclave"} 1`,
		`avow_attestations_total{failure_code="provider_not_found",outcome="failure",provider="",tcb_status="",type="SgxEnclave"} 1`,
		`avow_http_requests_total{code="200",method="POST",route="/providers/{name}/attest/{type}"} 1`,
		`avow_http_requests_total{code="404",method="POST",route="/providers/{name}/attest/{type}"} 1`,
		`avow_http_requests_total{code="200",method="GET",route="/management/providers"} 1`,
		`avow_attestation_stage_duration_seconds_count{stage="verify"} 2`,
		`avow_attestation_stage_duration_seconds_count{stage="policy"} 1`,
		`avow_attestation_stage_duration_seconds_count{stage="sign"} 1`,
		`avow_cache_lookups_total{cache="provider",result="hit"}`,
		`avow_store_operation_duration_seconds_count{op="get_admin_token_by_hash"} 1`,
		`avow_collateral_expiry_seconds{fmspc="00FEED000000",pce_id="0000",tee="sgx"}`,
		`avow_collateral_age_seconds{fmspc="00FEED000000",pce_id="0000",tee="sgx"} 3600`,
		`avow_audit_queue_length`,
		"process_cpu_seconds_total",
		"process_resident_memory_bytes",
		"go_goroutines",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s\n%s", want, grep(text, "avow_collateral"))
		}
	}
	if !strings.Contains(text, `failure_code="invalid_quote_signature"`) && !strings.Contains(text, `outcome="failure",provider="contoso"`) {
		t.Errorf("no failure of the corrupted quote:\n%s", grep(text, "avow_attestations_total"))
	}
	e.svc.FlushAudit(context.Background())
	r = e.do(t, "GET", "/metrics", "", nil)
	if !strings.Contains(string(r.body), "avow_audit_records_written_total 3") {
		t.Errorf("audit written: %s", grep(string(r.body), "avow_audit"))
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestMetricsAccess(t *testing.T) {
	e := newEnv(t, Options{Metrics: NewMetrics(), MetricsAccess: MetricsReader})
	if r := e.do(t, "GET", "/metrics", "", nil); r.status != 401 {
		t.Errorf("anonymous: %d", r.status)
	}
	if r := e.do(t, "GET", "/metrics", e.reader, nil); r.status != 200 || !strings.Contains(string(r.body), "avow_http_requests_total") {
		t.Errorf("reader: %d", r.status)
	}
	off := newEnv(t, Options{Metrics: NewMetrics(), MetricsAccess: MetricsOff})
	if r := off.do(t, "GET", "/metrics", off.owner, nil); r.status != 404 {
		t.Errorf("off: %d", r.status)
	}
	none := newEnv(t, Options{})
	if r := none.do(t, "GET", "/metrics", "", nil); r.status != 404 {
		t.Errorf("no metrics: %d", r.status)
	}
	// The default (issue 13 item 9b): a reader token, not anonymous.
	def := newEnv(t, Options{Metrics: NewMetrics()})
	if r := def.do(t, "GET", "/metrics", "", nil); r.status != 401 {
		t.Errorf("default, anonymous: %d", r.status)
	}
	if r := def.do(t, "GET", "/metrics", def.reader, nil); r.status != 200 {
		t.Errorf("default, reader: %d", r.status)
	}
}

func TestManagementRateLimit(t *testing.T) {
	m := NewMetrics()
	e := newEnv(t, Options{Metrics: m, MetricsAccess: MetricsPublic, Limits: Limits{ManagementRate: 1, ManagementBurst: 3}})
	var codes []int
	for i := 0; i < 5; i++ {
		r := e.do(t, "GET", "/management/providers", e.owner, nil)
		codes = append(codes, r.status)
		if r.status == 429 {
			var b errBody
			json.Unmarshal(r.body, &b)
			if r.header.Get("Retry-After") == "" || b.Error.Code != "too_many_requests" {
				t.Errorf("429 without Retry-After or code: %v %s", r.header, r.body)
			}
		}
	}
	if codes[0] != 200 || codes[2] != 200 || codes[3] != 429 || codes[4] != 429 {
		t.Errorf("statuses %v, want 3 × 200 then 429", codes)
	}
	// Another token has its own bucket; so has the data plane's policy
	// route, which counts as management.
	if r := e.do(t, "GET", "/management/providers", e.reader, nil); r.status != 200 {
		t.Errorf("another token: %d", r.status)
	}
	if r := e.do(t, "GET", "/providers/contoso/policies/SgxEnclave?api-version=2022-08-01", e.owner, nil); r.status != 429 {
		t.Errorf("policy route with the exhausted token: %d", r.status)
	}
	// Unauthenticated requests are limited per address.
	var anon []int
	for i := 0; i < 5; i++ {
		anon = append(anon, e.do(t, "GET", "/management/providers", "", nil).status)
	}
	if anon[0] != 401 || anon[4] != 429 {
		t.Errorf("anonymous statuses %v", anon)
	}
	// Attestation is not rate limited.
	for i := 0; i < 5; i++ {
		if r := e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(e.quote))); r.status != 200 {
			t.Fatalf("attestation %d: %d %s", i, r.status, r.body)
		}
	}
	if !strings.Contains(string(e.do(t, "GET", "/metrics", "", nil).body), `avow_rate_limited_total{limit="management"}`) {
		t.Error("no rate-limited metric")
	}
}

func TestRateLimiterRefills(t *testing.T) {
	now := time.Unix(0, 0)
	l := newRateLimiter(2, 2, func() time.Time { return now })
	for i := 0; i < 2; i++ {
		if ok, _ := l.allow("a"); !ok {
			t.Fatal("burst refused")
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("over the burst: %v %v", ok, wait)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("not refilled after 0.5 s at 2/s")
	}
	now = now.Add(time.Hour)
	l.allow("b") // sweeps the refilled bucket of a
	if len(l.buckets) != 1 {
		t.Errorf("%d buckets after the sweep", len(l.buckets))
	}
	if newRateLimiter(-1, 1, nil) != nil {
		t.Error("a negative rate makes a limiter")
	}
}

// TestAttestConcurrencyLimit holds one attestation in its slot and sends
// another: 429 with Retry-After.
func TestAttestConcurrencyLimit(t *testing.T) {
	e := newEnv(t, Options{Metrics: NewMetrics(), MetricsAccess: MetricsPublic, Limits: Limits{AttestConcurrency: 1}})
	inSlot, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	e.api.attestHook = func() {
		once.Do(func() {
			close(inSlot)
			<-release
		})
	}
	body := e.attestBody(e.quote)
	first := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.srv.URL+attestPath, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			first <- response{status: -1}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		first <- response{resp.StatusCode, resp.Header, b}
	}()
	<-inSlot
	r := e.do(t, "POST", attestPath, "", strings.NewReader(body))
	if r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Errorf("second attestation: %d %v %s", r.status, r.header, r.body)
	}
	close(release)
	if f := <-first; f.status != 200 {
		t.Fatalf("first attestation: %d %s", f.status, f.body)
	}
	if r := e.do(t, "POST", attestPath, "", strings.NewReader(body)); r.status != 200 {
		t.Errorf("after the first finished: %d %s", r.status, r.body)
	}
}

// trickle starts an attestation whose body arrives slowly: it sends the
// first n bytes and returns a function that sends the rest and returns the
// answer.
func (e *testEnv) trickle(t *testing.T, body string, n int) func() response {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest("POST", e.srv.URL+attestPath, pr)
		req.Header.Set("Content-Type", "application/json")
		req.ContentLength = int64(len(body))
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			done <- response{status: -1, body: []byte(err.Error())}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- response{resp.StatusCode, resp.Header, b}
	}()
	if _, err := pw.Write([]byte(body[:n])); err != nil {
		t.Fatal(err)
	}
	return func() response {
		pw.Write([]byte(body[n:]))
		pw.Close()
		return <-done
	}
}

// Issue 13, item 5: four connections trickling their bodies held every
// slot at --attest-concurrency 4, so every other attestation was refused
// for the read timeout. A body is now read before its attestation takes a
// slot.
func TestSlowBodiesHoldNoSlot(t *testing.T) {
	e := newEnv(t, Options{Metrics: NewMetrics(), Limits: Limits{AttestConcurrency: 4}})
	body := e.attestBody(e.quote)
	var finish []func() response
	for i := 0; i < 4; i++ {
		finish = append(finish, e.trickle(t, body, 10))
	}
	// The four slow requests are being read by the server: their bytes are
	// reserved from the body budget.
	deadline := time.Now().Add(10 * time.Second)
	for e.api.attestBodies.used.Load() < 4*int64(len(body)) {
		if time.Now().After(deadline) {
			t.Fatalf("the server reads %d bytes of slow bodies, want %d", e.api.attestBodies.used.Load(), 4*len(body))
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 8; i++ {
		if r := e.do(t, "POST", attestPath, "", strings.NewReader(body)); r.status != 200 {
			t.Fatalf("attestation %d while four bodies trickle: %d %s", i, r.status, r.body)
		}
	}
	for _, f := range finish {
		if r := f(); r.status != 200 {
			t.Errorf("slow attestation: %d %s", r.status, r.body)
		}
	}
	if used := e.api.attestBodies.used.Load(); used != 0 {
		t.Errorf("%d bytes of the body budget still held after every request ended", used)
	}
}

// The bytes of attestation bodies held at once are bounded: slow clients
// cannot make the server hold more than AttestBodyMemory, and a body that
// would pass it is answered 429 while the others go on.
func TestAttestBodyMemoryBound(t *testing.T) {
	e := newEnv(t, Options{Limits: Limits{AttestBodyMemory: 256 << 10}})
	big := e.attestBody(e.quote)
	big = big[:len(big)-1] + `,"nonce":"` + strings.Repeat("n", 150<<10) + `"}`
	finish := e.trickle(t, big, 140<<10)
	deadline := time.Now().Add(10 * time.Second)
	for e.api.attestBodies.used.Load() < 140<<10 {
		if time.Now().After(deadline) {
			t.Fatal("the slow body is not being read")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r := e.do(t, "POST", attestPath, "", strings.NewReader(big))
	var b errBody
	json.Unmarshal(r.body, &b)
	if r.status != 429 || b.Error.Code != "too_many_requests" {
		t.Errorf("a body over the budget: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(e.quote))); r.status != 200 {
		t.Errorf("a small body within the budget: %d %s", r.status, r.body)
	}
	if r := finish(); r.status != 200 {
		t.Errorf("the slow body: %d %s", r.status, r.body)
	}
	if r := e.do(t, "POST", attestPath, "", strings.NewReader(big)); r.status != 200 {
		t.Errorf("the large body once the budget is free: %d %s", r.status, r.body)
	}
}

func TestCompressedBodiesRefused(t *testing.T) {
	e := newEnv(t, Options{})
	for _, enc := range []string{"gzip", "deflate", "br", "gzip, identity"} {
		r := e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(e.quote)), "Content-Encoding", enc)
		var b errBody
		json.Unmarshal(r.body, &b)
		if r.status != 415 || b.Error.Code != "unsupported_media_type" {
			t.Errorf("%s: %d %s", enc, r.status, r.body)
		}
	}
	if r := e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(e.quote)), "Content-Encoding", "identity"); r.status != 200 {
		t.Errorf("identity: %d %s", r.status, r.body)
	}
	r := e.do(t, "POST", "/management/providers", e.owner, strings.NewReader(`{"name":"zipped"}`), "Content-Encoding", "gzip")
	if r.status != 415 {
		t.Errorf("management gzip: %d", r.status)
	}
}

func TestRouteOf(t *testing.T) {
	for path, want := range map[string]string{
		"/healthz":                                            "/healthz",
		"/metrics":                                            "/metrics",
		"/providers/contoso/attest/SgxEnclave":                "/providers/{name}/attest/{type}",
		"/providers/x/attest/anything/else":                   "/providers/{name}/attest/{type}",
		"/providers/contoso/policies/SgxEnclave":              "/providers/{name}/policies/{type}",
		"/providers/contoso/policies/SgxEnclave:reset":        "/providers/{name}/policies/{type}:reset",
		"/providers/contoso/certificates:add":                 "/providers/{name}/certificates:add",
		"/providers/contoso/certs":                            "/providers/{name}/certs",
		"/providers/contoso/.well-known/openid-configuration": "/providers/{name}/.well-known/openid-configuration",
		"/providers/contoso/random":                           "other",
		"/management/providers":                               "/management/providers",
		"/management/providers/contoso":                       "/management/providers/{id}",
		"/management/providers/contoso/keys:rotate":           "/management/providers/{id}/keys:rotate",
		"/management/admin-tokens/tok-1":                      "/management/admin-tokens/{id}",
		"/management/audit":                                   "/management/audit",
		"/management/collateral:refresh":                      "/management/collateral:refresh",
		"/management/collateral/sgx/00906ed50000/0000/bundle": "/management/collateral/{id}/{id}/{id}/bundle",
		"/management/whatever":                                "other",
		"/management/providers/a/b/c/d/e":                     "other",
		"/x" + strings.Repeat("y", 1000):                      "other",
	} {
		if got := routeOf(path); got != want {
			t.Errorf("routeOf(%q) = %q, want %q", path, got, want)
		}
	}
}

// TestRefusedManagementAudited: a refused change by an authenticated
// principal is in the audit log with its code; unauthenticated attempts
// and reads are not.
func TestRefusedManagementAudited(t *testing.T) {
	e := newEnv(t, Options{})
	r := e.do(t, "POST", "/management/providers", e.reader, strings.NewReader(`{"name":"sneaky"}`))
	if r.status != 403 {
		t.Fatalf("reader create: %d", r.status)
	}
	forbiddenID := r.header.Get("x-ms-request-id")
	e.do(t, "PUT", "/providers/contoso/policies/SgxEnclave?api-version=2022-08-01", e.owner, strings.NewReader("not a jws"), "Content-Type", "text/plain")
	// A missing api-version is refused after the caller is known, so the
	// refusal names its actor.
	r = e.do(t, "POST", "/providers/contoso/certificates:add", e.owner, strings.NewReader("x"), "Content-Type", "text/plain")
	if r.status != 400 {
		t.Fatalf("signer add without api-version: %d", r.status)
	}
	noVersionID := r.header.Get("x-ms-request-id")
	e.do(t, "POST", "/management/providers", "", strings.NewReader(`{"name":"anon"}`))
	e.do(t, "PUT", "/providers/contoso/policies/SgxEnclave", "", strings.NewReader("x"), "Content-Type", "text/plain")
	e.do(t, "GET", "/management/admin-tokens", e.reader, nil)
	e.svc.FlushAudit(context.Background())
	var page struct{ Entries []client.AuditEntry }
	json.Unmarshal(e.do(t, "GET", "/management/audit?kind=management&limit=10", e.owner, nil).body, &page)
	byOp := map[string]client.AuditEntry{}
	for _, x := range page.Entries {
		if x.Outcome != "success" {
			byOp[x.Operation] = x
		}
	}
	if f := byOp["provider.create"]; f.Outcome != "forbidden" || f.RequestID != forbiddenID || f.Actor == "" || f.Provider != "" || f.Details["message"] == "" {
		t.Errorf("forbidden create: %+v", f)
	}
	if p := byOp["policy.set"]; p.Outcome != "invalid_request" || p.Provider != "contoso" {
		t.Errorf("bad policy: %+v", p)
	}
	if a := byOp["signer.add"]; a.Outcome == "success" || a.Outcome == "" || a.RequestID != noVersionID || a.Actor == "" || a.Provider != "contoso" {
		t.Errorf("signer add without api-version: %+v", a)
	}
	if len(byOp) != 3 {
		t.Errorf("refusals recorded: %+v", byOp)
	}
}

// TestPolicySetWarnings: a policy with lint findings is stored and the
// answer carries them beside the token; a clean policy gets MAA's body,
// {"token": ...} and nothing else.
func TestPolicySetWarnings(t *testing.T) {
	e := newEnv(t, Options{})
	put := func(text string) map[string]json.RawMessage {
		t.Helper()
		r := e.do(t, "PUT", "/providers/contoso/policies/SgxEnclave?api-version=2022-08-01", e.owner,
			strings.NewReader(policy.UnsignedDocument(text)), "Content-Type", "text/plain")
		if r.status != 200 {
			t.Fatalf("PUT policy: %d %s", r.status, r.body)
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	body := put("version=1.0;\nauthorizationrules {\n  [type==\"x-ms-sgx-is-debugable\", value==false] => permit();\n};")
	var ws []policy.Warning
	if err := json.Unmarshal(body["warnings"], &ws); err != nil || len(ws) != 1 || len(body) != 2 || body["token"] == nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if w := ws[0]; w.Code != "policy_unknown_claim" || w.Line != 3 || w.Column != 10 || !strings.HasSuffix(w.Message, "did you mean x-ms-sgx-is-debuggable?") {
		t.Errorf("warning %+v", w)
	}
	if body := put("version=1.0; authorizationrules { => permit(); };"); len(body) != 1 || body["token"] == nil {
		t.Errorf("a clean policy's body has %d members: %s", len(body), body)
	}
}

// TestCollateralExpiryInAPI: importing real collateral that expired long
// before the server's time answers 201 with expired, expiredDocuments and
// a warning; the list gives every row expired, expiresAt and
// expiresInSeconds.
func TestCollateralExpiryInAPI(t *testing.T) {
	e := newEnv(t, Options{})
	b, err := os.ReadFile(filepath.Join(vectors.Dir(t, "dcap"), "S01-sgx-v3-phala", "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "POST", "/management/collateral", e.owner, bytes.NewReader(b), "Content-Type", "application/json")
	if r.status != 201 {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	var imp client.Collateral
	if err := json.Unmarshal(r.body, &imp); err != nil || !imp.Expired || len(imp.ExpiredDocuments) < 3 ||
		imp.ExpiredDocuments[0].Document != "QE identity" || len(imp.Warnings) != 1 || !strings.HasPrefix(imp.Warnings[0], "the collateral is expired: QE identity expired ") {
		t.Errorf("import %+v %v\n%s", imp, err, r.body)
	}
	var list struct{ Collateral []client.Collateral }
	if err := json.Unmarshal(e.do(t, "GET", "/management/collateral", e.reader, nil).body, &list); err != nil || len(list.Collateral) == 0 {
		t.Fatalf("list %+v %v", list, err)
	}
	found := false
	for _, c := range list.Collateral {
		if c.ExpiresAt == nil || c.ExpiresInSeconds == nil || c.Expired != (*c.ExpiresInSeconds <= 0) {
			t.Errorf("list row %+v", c)
		}
		if c.SHA256 == imp.SHA256 {
			found = true
			if !c.Expired || !c.ExpiresAt.Equal(imp.ExpiredDocuments[0].ExpiredAt) {
				t.Errorf("S01's collateral is not marked expired: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("the import is not listed: %+v", list)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/api"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/sgxsim"
)

// liveServer starts a real avow node in development mode and returns it
// with the connection flags of the remote commands and its sim folder.
func liveServer(t *testing.T) (*server.Node, []string, string) {
	t.Helper()
	remoteEnv(t)
	dir := t.TempDir()
	sim := filepath.Join(dir, "sim")
	n, err := server.Start(context.Background(), server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), Dev: true, SimDir: sim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return n, []string{"--server", n.URL, "--token", n.AdminToken.Secret, "--ca-cert", n.CertFile}, sim
}

func TestAuditListCLI(t *testing.T) {
	n, conn, simDir := liveServer(t)
	mustRemote(t, 0, append([]string{"provider", "create", "contoso"}, conn...)...)
	hc, _ := n.HTTPClient()
	c, _ := client.New(n.URL, client.WithHTTPClient(hc))
	sim, _ := sgxsim.Open(simDir)
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	if _, err := c.AttestSGX(context.Background(), c.AttestURI("contoso"), q, client.AttestOptions{}); err != nil {
		t.Fatal(err)
	}
	n.Service.FlushAudit(context.Background())

	out, _ := mustRemote(t, 0, append([]string{"audit", "list"}, conn...)...)
	for _, want := range []string{"TIME", "REQUEST ID", "provider.create", "attest.SgxEnclave", "tcb_status=UpToDate", "admin_token.create", "collateral.import"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit list lacks %q:\n%s", want, out)
		}
	}
	out, _ = mustRemote(t, 0, append([]string{"audit", "list", "--provider", "contoso", "--kind", "attestation", "--since", "1h", "-o", "json"}, conn...)...)
	var page client.AuditPage
	if err := json.Unmarshal([]byte(out), &page); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(page.Entries) != 1 || page.Entries[0].Operation != "attest.SgxEnclave" || page.Entries[0].RequestID == "" {
		t.Errorf("entries %+v", page.Entries)
	}
	out, _ = mustRemote(t, 0, append([]string{"audit", "list", "--kind", "management", "--limit", "1", "--all", "-o", "json"}, conn...)...)
	page = client.AuditPage{}
	json.Unmarshal([]byte(out), &page)
	if len(page.Entries) < 4 || page.Next != 0 {
		t.Errorf("--all: %d entries, next %d", len(page.Entries), page.Next)
	}
	mustRemote(t, 2, append([]string{"audit", "list", "--kind", "other"}, conn...)...)
	_, errOut := mustRemote(t, 1, append([]string{"audit", "list", "--since", "yesterday"}, conn...)...)
	if !strings.Contains(errOut, "invalid_query") || !strings.Contains(errOut, "request id") {
		t.Errorf("bad --since: %s", errOut)
	}
}

func TestBenchCLI(t *testing.T) {
	n, conn, simDir := liveServer(t)
	mustRemote(t, 0, append([]string{"provider", "create", "bench"}, conn...)...)
	out, errOut := mustRemote(t, 0, "bench", "--url", n.URL+"/providers/bench", "--ca-cert", n.CertFile, "--sim-dir", simDir,
		"--requests", "40", "--concurrency", "4", "--invalid-share", "0.25", "-o", "json")
	var rep BenchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Requests != 40 || rep.OK != 30 || rep.Rejected != 10 || rep.Errors != 0 || rep.TokenAlg != "RS256" ||
		rep.Statuses["200"] != 30 || rep.Statuses["400 invalid_quote_signature"] != 10 {
		t.Errorf("report %+v", rep)
	}
	if rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || rep.Latency.Max < rep.Latency.P99 || rep.Throughput <= 0 {
		t.Errorf("latency %+v, throughput %v", rep.Latency, rep.Throughput)
	}
	if rep.ServerCPUSeconds == nil || *rep.ServerCPUSeconds <= 0 || rep.ServerRSSEndMB == nil || *rep.ServerRSSEndMB <= 0 || rep.ClientCPUSeconds <= 0 {
		t.Errorf("cpu: client %v server %v rss %v (%s)", rep.ClientCPUSeconds, rep.ServerCPUSeconds, rep.ServerRSSEndMB, rep.MetricsNote)
	}
	_ = errOut
	// Table output, a steady rate, and the floor.
	out, _ = mustRemote(t, 0, "bench", "--url", n.URL+"/providers/bench", "--ca-cert", n.CertFile, "--sim-dir", simDir,
		"--duration", "1500ms", "--rate", "20", "--concurrency", "2", "--floor", "--quiet")
	for _, want := range []string{"requests", "p50", "p99", "client CPU", "server CPU", "floor", "RS256"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// TDX evidence (attest/TdxVm).
	out, _ = mustRemote(t, 0, "bench", "--url", n.URL+"/providers/bench", "--ca-cert", n.CertFile, "--sim-dir", simDir,
		"--tee", "tdx", "--requests", "8", "--concurrency", "2", "--quiet", "-o", "json")
	rep = BenchReport{}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.TEE != "tdx" || rep.OK != 8 || rep.Errors != 0 {
		t.Errorf("tdx: %+v %v", rep, err)
	}
	// A server that does not trust the simulated platform's evidence, or
	// a wrong provider: exit 2 with an explanation.
	_, errOut = mustRemote(t, 2, "bench", "--url", n.URL+"/providers/nobody", "--ca-cert", n.CertFile, "--sim-dir", simDir, "--requests", "1")
	if !strings.Contains(errOut, "404 provider_not_found") {
		t.Errorf("unknown provider: %s", errOut)
	}
	mustRemote(t, 2, "bench", "--url", n.URL+"/providers/bench", "--tee", "tpm")
	mustRemote(t, 2, "bench")
}

func TestPercentiles(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(lat)
	if p.P50 != 50 || p.P90 != 90 || p.P99 != 99 || p.Max != 100 || p.Mean != 50.5 {
		t.Errorf("%+v", p)
	}
	if (percentiles(nil) != LatencyReport{}) {
		t.Error("empty")
	}
}

func TestNewLogger(t *testing.T) {
	var buf bytes.Buffer
	l, err := newLogger("json", "info", &buf)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("request", "request_id", "abc", "status", 200)
	l.Debug("hidden")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["request_id"] != "abc" || line["msg"] != "request" {
		t.Errorf("json log %q: %v", buf.String(), err)
	}
	buf.Reset()
	l, _ = newLogger("text", "debug", &buf)
	l.Debug("shown", "request_id", "def")
	if !strings.Contains(buf.String(), "request_id=def") || !strings.Contains(buf.String(), "level=DEBUG") {
		t.Errorf("text log %q", buf.String())
	}
	if _, err := newLogger("xml", "info", &buf); err == nil {
		t.Error("xml accepted")
	}
	if _, err := newLogger("json", "loud", &buf); err == nil {
		t.Error("level loud accepted")
	}
}

func TestServeFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"--audit-retention", "7d"}, true},
		{[]string{"--audit-retention", "0"}, true},
		{[]string{"--audit-retention", "soon"}, false},
		{[]string{"--metrics", "reader"}, true},
		{[]string{"--metrics", "everyone"}, false},
	} {
		cmd := &cobra.Command{Use: "serve"}
		var cfg server.Config
		ops := addOpsFlags(cmd, &cfg.Ops)
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		err := ops.apply(&cfg.Ops)
		if (err == nil) != tc.ok {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
	// serve refuses a bad --log-format before starting anything.
	code, _, errOut := runAvow(t, "serve", "--log-format", "xml", "--data", t.TempDir())
	if code != 2 || !strings.Contains(errOut, "--log-format") {
		t.Errorf("serve --log-format xml: %d %s", code, errOut)
	}
}

// TestSoakShort is scripts/soak.sh in miniature: a steady rate with 10 %
// invalid quotes, zero unexpected answers, and the server's memory under
// the 200 MB target (the 10-minute run is in docs/reliability.md).
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("soak: skipped with -short")
	}
	n, conn, simDir := liveServer(t)
	mustRemote(t, 0, append([]string{"provider", "create", "soak"}, conn...)...)
	out, _ := mustRemote(t, 0, "bench", "--url", n.URL+"/providers/soak", "--ca-cert", n.CertFile, "--sim-dir", simDir,
		"--rate", "40", "--duration", "3s", "--concurrency", "4", "--invalid-share", "0.1", "--quiet", "-o", "json")
	var rep BenchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Errors != 0 || rep.Requests < 80 || rep.Rejected == 0 || rep.Throughput > 60 {
		t.Errorf("soak: %d requests, %d errors, %d rejected, %.1f/s (target 40/s)", rep.Requests, rep.Errors, rep.Rejected, rep.Throughput)
	}
	if rep.ServerRSSEndMB == nil || *rep.ServerRSSEndMB > 200 {
		t.Errorf("server RSS %v MB", rep.ServerRSSEndMB)
	}
}

// avow serve runs Go on one scheduler slot more than attestation workers
// and with GOGC 400, unless the environment says otherwise.
func TestTuneRuntime(t *testing.T) {
	procs0, gc0 := runtime.GOMAXPROCS(0), debug.SetGCPercent(100)
	t.Cleanup(func() { runtime.GOMAXPROCS(procs0); debug.SetGCPercent(gc0) })

	t.Setenv("GOMAXPROCS", "")
	t.Setenv("GOGC", "")
	l := api.Limits{AttestWorkers: 3}
	if procs, gogc := tuneRuntime(&l); procs != 4 || gogc != serveGCPercent || debug.SetGCPercent(serveGCPercent) != serveGCPercent {
		t.Errorf("3 workers: GOMAXPROCS %d, GOGC %d", procs, gogc)
	}
	runtime.GOMAXPROCS(2)
	l = api.Limits{}
	if procs, _ := tuneRuntime(&l); l.AttestWorkers != 2 || procs != 3 {
		t.Errorf("default: %d workers, GOMAXPROCS %d", l.AttestWorkers, procs)
	}
	// Unbounded workers leave the scheduler alone.
	runtime.GOMAXPROCS(2)
	l = api.Limits{AttestWorkers: -1}
	if procs, _ := tuneRuntime(&l); procs != 2 {
		t.Errorf("unbounded: GOMAXPROCS %d", procs)
	}
	// The environment wins.
	t.Setenv("GOMAXPROCS", "2")
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	l = api.Limits{AttestWorkers: 2}
	if procs, gogc := tuneRuntime(&l); procs != 2 || gogc != 150 || debug.SetGCPercent(150) != 150 {
		t.Errorf("environment: GOMAXPROCS %d, GOGC %d", procs, gogc)
	}
}

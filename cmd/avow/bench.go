package main

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/sgxsim"
)

func init() { commands = append(commands, newBenchCmd) }

// benchOptions are the flags of avow bench.
type benchOptions struct {
	url          string
	concurrency  int
	duration     time.Duration
	requests     int
	invalidShare float64
	tee          string
	rate         float64
	simDir       string
	metricsURL   string
	warmup       int
	floor        bool
	quiet        bool
	bodyOut      string
}

// BenchReport is the result of avow bench (its --output json).
type BenchReport struct {
	URL          string  `json:"url"`
	TEE          string  `json:"tee"`
	Concurrency  int     `json:"concurrency"`
	Rate         float64 `json:"targetRate,omitempty"`
	InvalidShare float64 `json:"invalidShare"`
	TokenAlg     string  `json:"tokenAlg,omitempty"`

	Requests   int64   `json:"requests"`
	OK         int64   `json:"ok"`       // valid evidence answered 200
	Rejected   int64   `json:"rejected"` // invalid evidence answered 4xx, as expected
	Errors     int64   `json:"errors"`   // everything else
	Seconds    float64 `json:"seconds"`  // measured wall time
	Throughput float64 `json:"requestsPerSecond"`

	Latency LatencyReport `json:"latencyMs"`
	// Statuses counts answers by "status code" ("200", "400 invalid_quote_signature",
	// "transport: ...").
	Statuses map[string]int64 `json:"statuses"`

	ClientCPUSeconds float64  `json:"clientCpuSeconds"`
	ClientCores      float64  `json:"clientCores"`
	ServerCPUSeconds *float64 `json:"serverCpuSeconds,omitempty"`
	ServerCores      *float64 `json:"serverCores,omitempty"`
	ServerRSSStartMB *float64 `json:"serverRssStartMB,omitempty"`
	ServerRSSEndMB   *float64 `json:"serverRssEndMB,omitempty"`
	MetricsNote      string   `json:"metricsNote,omitempty"`

	Floor *FloorReport `json:"floor,omitempty"`
}

// LatencyReport holds latency percentiles in milliseconds.
type LatencyReport struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// FloorReport is the essential cryptography of one attestation measured
// on this machine: warm verification of the same quote plus one token
// signature, and the throughput the machine's cores would reach doing
// only that.
type FloorReport struct {
	Alg             string  `json:"alg"`
	MicrosPerAttest float64 `json:"microsPerAttestation"` // mean of a measurement before and one after the load
	Cores           int     `json:"cores"`
	PerSecond       float64 `json:"perSecond"` // cores / MicrosPerAttest
	// ThroughputOfFloor is the throughput as a share of PerSecond.
	ThroughputOfFloor float64 `json:"throughputShareOfFloor"`
	// CPUShareOfFloor compares the CPU time the load took (client and
	// server) with the floor's: throughput per core used / floor per core.
	// On a machine shared with other work it shows avow's overhead where
	// ThroughputOfFloor also shows the other work.
	CPUShareOfFloor float64 `json:"cpuShareOfFloor,omitempty"`
}

func newBenchCmd() *cobra.Command {
	o := &benchOptions{}
	cmd := &cobra.Command{
		Use:   "bench --url ATTEST_URI",
		Short: "Load an avow server with simulated attestations and report throughput, latency and CPU",
		Long: `Send attestations of simulated evidence to a provider's attest URI from --concurrency
connections, for --duration or --requests, and report the throughput, latency
percentiles (p50, p90, p99, max), answers by status and error code, the client's CPU
time (getrusage) and the server's (process_cpu_seconds_total of its /metrics before
and after) and its resident memory.

The evidence comes from the simulated platform in --sim-dir: the server must trust it
(avow serve --dev with the same folder). --invalid-share sends that share of quotes with
a broken signature, which the server must refuse (counted as rejected, not as errors).
--rate holds a steady request rate (a soak test) instead of sending as fast as possible.
--floor measures, on this machine before and after the load, warm verification of the same quote plus one
token signature of the server's algorithm, and reports the throughput as a share of
cores / that cost.

A progress line is written to standard error every second (not with --quiet).
Exit status: 0 no errors, 1 some requests failed, 2 usage or set-up error.`,
		Example: `  avow bench --url https://localhost:8443/providers/contoso --ca-cert avow-data/tls-cert.pem
  avow bench --url $URI --concurrency 32 --duration 30s --floor -o json
  avow bench --url $URI --rate 200 --duration 10m --invalid-share 0.1`,
		Args: cobra.NoArgs,
	}
	r := remoteFlags(cmd, false)
	f := cmd.Flags()
	f.StringVar(&r.token, "token", "", "admin token to read the server's /metrics (needed unless the server runs --dev or --metrics public; default $"+envToken+")")
	f.StringVar(&o.url, "url", "", "the provider's attest URI, e.g. https://localhost:8443/providers/contoso (required)")
	f.IntVar(&o.concurrency, "concurrency", 32, "concurrent connections")
	f.DurationVar(&o.duration, "duration", 10*time.Second, "how long to send (ignored with --requests)")
	f.IntVar(&o.requests, "requests", 0, "send this many requests instead of running for --duration")
	f.Float64Var(&o.invalidShare, "invalid-share", 0, "share of requests with an invalid quote (0 to 1)")
	f.StringVar(&o.tee, "tee", "sgx", "evidence: sgx (attest/SgxEnclave) or tdx (attest/TdxVm)")
	f.Float64Var(&o.rate, "rate", 0, "requests per second in total (0: as fast as the connections go)")
	f.StringVar(&o.simDir, "sim-dir", "", "simulated platform folder, the server's --sim-dir (default $AVOW_SIM_DIR, else ./avow-sim)")
	f.StringVar(&o.metricsURL, "metrics-url", "", "the server's /metrics (default: the attest URI's origin + /metrics; \"off\" to skip)")
	f.IntVar(&o.warmup, "warmup", -1, "requests sent before measuring; -1: 2 × concurrency")
	f.BoolVar(&o.floor, "floor", false, "measure the essential cryptography on this machine (before and after the load) and report throughput as a share of it")
	f.BoolVar(&o.quiet, "quiet", false, "no progress line")
	f.StringVar(&o.bodyOut, "write-body", "", "write the JSON body of a valid request to this file and exit (for other load tools)")
	_ = f.MarkHidden("write-body")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return runBench(cmd, r, o)
	}
	return cmd
}

func runBench(cmd *cobra.Command, r *remote, o *benchOptions) error {
	if o.url == "" {
		return errors.New("--url is required: the provider's attest URI, e.g. https://localhost:8443/providers/contoso")
	}
	u, err := url.Parse(strings.TrimRight(o.url, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("--url %q is not an http(s) attest URI", o.url)
	}
	if o.concurrency < 1 {
		return errors.New("--concurrency must be at least 1")
	}
	if o.invalidShare < 0 || o.invalidShare > 1 {
		return errors.New("--invalid-share must be from 0 to 1")
	}
	if o.requests < 0 || (o.requests == 0 && o.duration <= 0) {
		return errors.New("give a positive --duration or --requests")
	}
	if o.rate < 0 {
		return errors.New("--rate must not be negative")
	}
	var tee sgxsim.TEE
	attType := "SgxEnclave"
	switch strings.ToLower(o.tee) {
	case "sgx":
		tee = sgxsim.SGX
	case "tdx":
		tee, attType = sgxsim.TDX, "TdxVm"
	default:
		return fmt.Errorf("--tee must be sgx or tdx, not %q", o.tee)
	}
	if err := r.checkOutput(); err != nil {
		return err
	}
	simDir := o.simDir
	if simDir == "" {
		simDir = os.Getenv("AVOW_SIM_DIR")
	}
	if simDir == "" {
		simDir = simDefaultDir
	}
	sim, err := sgxsim.Open(simDir)
	if err != nil {
		return err
	}
	valid, err := sim.Quote(sgxsim.QuoteOptions{TEE: tee})
	if err != nil {
		return err
	}
	invalid, err := sim.Quote(sgxsim.QuoteOptions{TEE: tee, Defect: sgxsim.BadQuoteSignature})
	if err != nil {
		return err
	}
	body := func(q []byte) []byte {
		return []byte(`{"quote":"` + base64.RawURLEncoding.EncodeToString(q) + `"}`)
	}
	if o.bodyOut != "" {
		return os.WriteFile(o.bodyOut, body(valid), 0o644)
	}
	c, err := r.client(false)
	if err != nil {
		return err
	}
	hc := c.HTTPClient() // for the server's /metrics
	target, err := url.Parse(u.String() + "/attest/" + attType + "?api-version=" + client.APIVersion)
	if err != nil {
		return err
	}
	metricsURL := o.metricsURL
	if metricsURL == "" {
		metricsURL = u.Scheme + "://" + u.Host + "/metrics"
	}
	b := &bencher{valid: newBenchRequest(target, "application/json", body(valid)),
		invalid: newBenchRequest(target, "application/json", body(invalid)), share: o.invalidShare}
	dial := benchDialer(target, hc)
	for range o.concurrency {
		b.conns = append(b.conns, &benchConn{dial: dial, timeout: time.Minute})
	}
	defer func() {
		for _, c := range b.conns {
			c.close()
		}
	}()
	metricsToken := r.token
	if metricsToken == "" {
		metricsToken = os.Getenv(envToken)
	}
	ctx, cancel := r.context(cmd)
	defer cancel()
	if r.timeout > 0 && o.requests == 0 && o.duration+time.Minute > r.timeout {
		// --timeout bounds the whole command; leave room for the run.
		cancel()
		ctx, cancel = context.WithTimeout(cmd.Context(), o.duration+5*time.Minute)
		defer cancel()
	}

	rep := &BenchReport{URL: u.String(), TEE: strings.ToLower(o.tee), Concurrency: o.concurrency, Rate: o.rate,
		InvalidShare: o.invalidShare, Statuses: map[string]int64{}}
	// Warm up: connections, TLS sessions and the server's caches; the
	// first answer tells the token algorithm.
	warm := o.warmup
	if warm < 0 {
		warm = 2 * o.concurrency
	}
	alg, err := b.warmup(ctx, max(warm, 1), o.concurrency)
	if err != nil {
		return err
	}
	rep.TokenAlg = alg
	if o.floor {
		fl, err := measureFloor(sim, valid, tee, alg)
		if err != nil {
			return err
		}
		rep.Floor = fl
		// The server sat idle while the floor was measured: warm it up
		// again, or the first seconds of the run measure a cold server.
		if _, err := b.warmup(ctx, max(warm, 1), o.concurrency); err != nil {
			return err
		}
	}

	cpu0 := processCPU()
	srv0, note := scrapeServer(ctx, hc, metricsURL, metricsToken)
	rep.MetricsNote = note
	res := b.run(ctx, o, cmd.ErrOrStderr())
	cpu1 := processCPU()
	srv1, _ := scrapeServer(ctx, hc, metricsURL, metricsToken)

	rep.Requests, rep.OK, rep.Rejected, rep.Errors = res.requests, res.ok, res.rejected, res.errors
	rep.Seconds = res.elapsed.Seconds()
	if rep.Seconds > 0 {
		rep.Throughput = float64(res.requests) / rep.Seconds
	}
	rep.Statuses = res.statuses
	rep.Latency = percentiles(res.latencies)
	rep.ClientCPUSeconds = (cpu1 - cpu0).Seconds()
	if rep.Seconds > 0 {
		rep.ClientCores = rep.ClientCPUSeconds / rep.Seconds
	}
	if srv0 != nil && srv1 != nil {
		cpu := srv1.cpu - srv0.cpu
		cores := cpu / rep.Seconds
		rs0, rs1 := srv0.rss/1e6, srv1.rss/1e6
		rep.ServerCPUSeconds, rep.ServerCores, rep.ServerRSSStartMB, rep.ServerRSSEndMB = &cpu, &cores, &rs0, &rs1
	}
	if rep.Floor != nil {
		// A second measurement after the load: the floor is the mean of
		// both, bracketing the run on a machine whose load may change.
		if after, err := measureFloor(sim, valid, tee, alg); err == nil {
			f := rep.Floor
			f.MicrosPerAttest = math.Round((f.MicrosPerAttest+after.MicrosPerAttest)/2*100) / 100
			f.PerSecond = math.Round(float64(f.Cores)/(f.MicrosPerAttest/1e6)*10) / 10
		}
		if rep.Floor.PerSecond > 0 {
			rep.Floor.ThroughputOfFloor = rep.Throughput / rep.Floor.PerSecond
			if rep.ServerCores != nil && *rep.ServerCores+rep.ClientCores > 0 {
				perCore := rep.Throughput / (*rep.ServerCores + rep.ClientCores)
				rep.Floor.CPUShareOfFloor = perCore / (rep.Floor.PerSecond / float64(rep.Floor.Cores))
			}
		}
	}
	err = r.emit(cmd, rep, func(w io.Writer) { benchTable(w, rep) })
	if err != nil {
		return err
	}
	if rep.Errors > 0 {
		return exitError{1}
	}
	return nil
}

type bencher struct {
	valid   benchRequest
	invalid benchRequest
	share   float64
	conns   []*benchConn // one per worker, kept alive from the warm-up on
}

// outcome of one request.
type outcome struct {
	status string // "200", "400 invalid_quote_signature", "transport: ..."
	ok     bool   // the answer expected for the evidence sent
	token  string // the token of a 200, when asked for
}

func (b *bencher) send(ctx context.Context, c *benchConn, invalid, wantToken bool) outcome {
	req := b.valid
	if invalid {
		req = b.invalid
	}
	a, err := c.do(ctx, req, wantToken)
	if err != nil {
		return outcome{status: "transport: " + err.Error()}
	}
	if a.status == http.StatusOK {
		o := outcome{status: "200", ok: !invalid}
		if wantToken {
			var t struct {
				Token string `json:"token"`
			}
			json.Unmarshal(a.body, &t)
			o.token = t.Token
		}
		return o
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	status := strconv.Itoa(a.status)
	if json.Unmarshal(a.body, &e) == nil && e.Error.Code != "" {
		status += " " + e.Error.Code
	}
	return outcome{status: status, ok: invalid && a.status >= 400 && a.status < 500}
}

// warmup sends n valid requests from conns connections and returns the
// token algorithm of the answers.
func (b *bencher) warmup(ctx context.Context, n, conns int) (string, error) {
	var next atomic.Int64
	var mu sync.Mutex
	var first outcome
	var wg sync.WaitGroup
	for w := 0; w < min(conns, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				o := b.send(ctx, b.conns[w], false, true)
				mu.Lock()
				if first.status == "" || (o.ok && !first.ok) {
					first = o
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if !first.ok {
		return "", fmt.Errorf("the server does not attest the simulated evidence (%s): run avow serve --dev with the same --sim-dir, and check --url", first.status)
	}
	tok, err := client.DecodeToken(first.token)
	if err != nil {
		return "", fmt.Errorf("the server's answer is not a token: %v", err)
	}
	return tok.Header.Alg, nil
}

type benchResult struct {
	requests, ok, rejected, errors int64
	elapsed                        time.Duration
	latencies                      []time.Duration
	statuses                       map[string]int64
}

func (b *bencher) run(ctx context.Context, o *benchOptions, progress io.Writer) *benchResult {
	var issued, done, failed atomic.Int64
	start := time.Now()
	deadline := start.Add(o.duration)
	limit := int64(o.requests)
	// A steady rate hands out tickets; otherwise workers go as fast as
	// they can.
	var tickets chan struct{}
	stop := make(chan struct{})
	var stopOnce sync.Once
	halt := func() { stopOnce.Do(func() { close(stop) }) }
	if o.rate > 0 {
		tickets = make(chan struct{}, o.concurrency)
		go func() {
			interval := time.Duration(float64(time.Second) / o.rate)
			t := time.NewTicker(max(interval, 50*time.Microsecond))
			defer t.Stop()
			sent := 0.0
			for {
				select {
				case <-stop:
					close(tickets)
					return
				case now := <-t.C:
					due := now.Sub(start).Seconds() * o.rate
					for ; sent < due; sent++ {
						select {
						case tickets <- struct{}{}:
						case <-stop:
							close(tickets)
							return
						}
					}
				}
			}
		}()
	}
	type workerResult struct {
		lat      []time.Duration
		statuses map[string]int64
		ok, rej  int64
	}
	results := make([]workerResult, o.concurrency)
	var wg sync.WaitGroup
	for w := 0; w < o.concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			res := &results[w]
			res.statuses = map[string]int64{}
			for {
				if tickets != nil {
					if _, open := <-tickets; !open {
						return
					}
				}
				if ctx.Err() != nil {
					return
				}
				i := issued.Add(1) - 1
				if limit > 0 && i >= limit {
					return
				}
				if limit == 0 && time.Now().After(deadline) {
					return
				}
				invalid := math.Floor(float64(i+1)*b.share) > math.Floor(float64(i)*b.share)
				t0 := time.Now()
				out := b.send(ctx, b.conns[w], invalid, false)
				res.lat = append(res.lat, time.Since(t0))
				res.statuses[out.status]++
				switch {
				case out.ok && !invalid:
					res.ok++
				case out.ok:
					res.rej++
				default:
					failed.Add(1)
				}
				done.Add(1)
			}
		}(w)
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastT := int64(0), start
	term := isTerminal(progress)
loop:
	for {
		select {
		case <-finished:
			break loop
		case now := <-tick.C:
			if limit == 0 && now.After(deadline) {
				halt()
			}
			if o.quiet {
				continue
			}
			d := done.Load()
			rate := float64(d-last) / now.Sub(lastT).Seconds()
			last, lastT = d, now
			line := fmt.Sprintf("%5.0fs  %8d requests  %7.1f/s  %d errors", now.Sub(start).Seconds(), d, rate, failed.Load())
			if term {
				fmt.Fprintf(progress, "\r%s   ", line)
			} else {
				fmt.Fprintln(progress, line)
			}
		}
	}
	halt()
	elapsed := time.Since(start)
	if !o.quiet && term {
		fmt.Fprintln(progress)
	}
	out := &benchResult{elapsed: elapsed, statuses: map[string]int64{}}
	for _, r := range results {
		out.latencies = append(out.latencies, r.lat...)
		for k, v := range r.statuses {
			out.statuses[k] += v
		}
		out.ok += r.ok
		out.rejected += r.rej
	}
	out.requests = int64(len(out.latencies))
	out.errors = out.requests - out.ok - out.rejected
	return out
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func percentiles(lat []time.Duration) LatencyReport {
	if len(lat) == 0 {
		return LatencyReport{}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }
	at := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return lat[min(max(i, 0), len(lat)-1)]
	}
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return LatencyReport{P50: ms(at(.50)), P90: ms(at(.90)), P99: ms(at(.99)), Max: ms(lat[len(lat)-1]),
		Mean: ms(sum / time.Duration(len(lat)))}
}

// processCPU is this process's user + system CPU time (getrusage).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type serverSample struct{ cpu, rss float64 }

// scrapeServer reads process_cpu_seconds_total and
// process_resident_memory_bytes from the server's /metrics.
func scrapeServer(ctx context.Context, hc *http.Client, metricsURL, token string) (*serverSample, string) {
	if metricsURL == "off" {
		return nil, "server metrics not read (--metrics-url off)"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return nil, err.Error()
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "server metrics unavailable: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Sprintf("server metrics unavailable: %s answered %d (avow serve --metrics public, or pass --token)", metricsURL, resp.StatusCode)
	}
	s := &serverSample{cpu: -1, rss: -1}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, m := range []struct {
			name string
			dst  *float64
		}{{"process_cpu_seconds_total ", &s.cpu}, {"process_resident_memory_bytes ", &s.rss}} {
			if v, ok := strings.CutPrefix(line, m.name); ok {
				if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					*m.dst = f
				}
			}
		}
	}
	if s.cpu < 0 {
		return nil, "server metrics lack process_cpu_seconds_total"
	}
	return s, ""
}

// measureFloor times warm verification of the quote plus one signature of
// alg, on one goroutine, for about two seconds.
func measureFloor(sim *sgxsim.Platform, raw []byte, tee sgxsim.TEE, alg string) (*FloorReport, error) {
	col, err := sim.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: time.Now().Add(-time.Minute)})
	if err != nil {
		return nil, err
	}
	opts := dcap.Options{Now: time.Now(), TrustedRoots: []*x509.Certificate{sim.Root()}, Cache: dcap.NewCache()}
	if _, _, err := dcap.VerifyQuote(raw, col, opts); err != nil {
		return nil, fmt.Errorf("floor: verifying the simulated quote: %v", err)
	}
	var sign func(digest []byte) error
	switch alg {
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		sign = func(d []byte) error { _, err := ecdsa.SignASN1(rand.Reader, k, d); return err }
	default:
		alg = "RS256"
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		k.Precompute()
		sign = func(d []byte) error { _, err := rsa.SignPKCS1v15(nil, k, crypto.SHA256, d); return err }
	}
	digest := sha256.Sum256(raw)
	n := 0
	start := time.Now()
	for time.Since(start) < 2*time.Second || n < 10 {
		q, err := quote.Parse(raw)
		if err != nil {
			return nil, err
		}
		if _, err := dcap.Verify(q, col, opts); err != nil {
			return nil, err
		}
		if err := sign(digest[:]); err != nil {
			return nil, err
		}
		n++
	}
	per := time.Since(start) / time.Duration(n)
	cores := runtime.NumCPU()
	return &FloorReport{Alg: alg, MicrosPerAttest: math.Round(float64(per.Nanoseconds())/10) / 100, Cores: cores,
		PerSecond: math.Round(float64(cores)/per.Seconds()*10) / 10}, nil
}

func benchTable(w io.Writer, r *BenchReport) {
	fmt.Fprintf(w, "target       %s (%s evidence, %s tokens, %d connections", r.URL, strings.ToUpper(r.TEE), outDash(r.TokenAlg), r.Concurrency)
	if r.Rate > 0 {
		fmt.Fprintf(w, ", target rate %g/s", r.Rate)
	}
	if r.InvalidShare > 0 {
		fmt.Fprintf(w, ", %g%% invalid", r.InvalidShare*100)
	}
	fmt.Fprintln(w, ")")
	fmt.Fprintf(w, "requests     %d in %.1f s: %.1f/s (ok %d, rejected as expected %d, errors %d)\n",
		r.Requests, r.Seconds, r.Throughput, r.OK, r.Rejected, r.Errors)
	l := r.Latency
	fmt.Fprintf(w, "latency      p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms  (mean %.2f ms)\n", l.P50, l.P90, l.P99, l.Max, l.Mean)
	keys := make([]string, 0, len(r.Statuses))
	for k := range r.Statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		label := "answers"
		if i > 0 {
			label = ""
		}
		fmt.Fprintf(w, "%-12s %s: %d\n", label, k, r.Statuses[k])
	}
	fmt.Fprintf(w, "client CPU   %.2f s (%.2f cores)\n", r.ClientCPUSeconds, r.ClientCores)
	if r.ServerCPUSeconds != nil {
		fmt.Fprintf(w, "server CPU   %.2f s (%.2f cores); RSS %.1f MB at start, %.1f MB at end\n",
			*r.ServerCPUSeconds, *r.ServerCores, *r.ServerRSSStartMB, *r.ServerRSSEndMB)
	} else if r.MetricsNote != "" {
		fmt.Fprintf(w, "server CPU   - (%s)\n", r.MetricsNote)
	}
	if f := r.Floor; f != nil {
		fmt.Fprintf(w, "floor        %.1f µs per attestation (warm verification + one %s signature) → %d cores: %.0f/s; throughput is %.0f%% of it",
			f.MicrosPerAttest, f.Alg, f.Cores, f.PerSecond, f.ThroughputOfFloor*100)
		if f.CPUShareOfFloor > 0 {
			fmt.Fprintf(w, " (per CPU second used, client and server: %.0f%%)", f.CPUShareOfFloor*100)
		}
		fmt.Fprintln(w)
	}
}

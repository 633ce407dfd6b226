package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/api"
	"github.com/avowhq/avow/server"
)

// newLogger returns the request and event logger of avow serve: slog text
// (the default) or JSON lines on w.
func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
}

// opsFlags holds the operational flags of avow serve (audit retention,
// metrics, limits, timeouts); apply checks them into cfg.
type opsFlags struct {
	retention string
	logLevel  string
}

func addOpsFlags(cmd *cobra.Command, o *server.Operations) *opsFlags {
	of := &opsFlags{}
	f := cmd.Flags()
	f.StringVar(&of.retention, "audit-retention", "30d", "how long attestation audit records are kept (e.g. 30d, 720h; 0: forever); management records are kept forever")
	f.IntVar(&o.AuditQueue, "audit-queue", 0, "attestation audit records waiting to be written at most; more are dropped and counted (default 16384)")
	f.StringVar(&o.Metrics, "metrics", "", "who may read /metrics: reader (a bearer token with the reader role; the default), public (anonymous; the default with --dev) or off")
	f.Float64Var(&o.Limits.ManagementRate, "mgmt-rate", api.DefaultManagementRate, "management requests per second per client (token id, or address when unauthenticated); negative: unlimited")
	f.IntVar(&o.Limits.ManagementBurst, "mgmt-burst", 0, "management requests a client may send at once (default 2 × --mgmt-rate)")
	f.IntVar(&o.Limits.AttestConcurrency, "attest-concurrency", api.DefaultAttestConcurrency, "attestations served at once; more are answered 429 with Retry-After; negative: unlimited")
	f.IntVar(&o.Limits.AttestWorkers, "attest-workers", 0, "attestations computed at once, the others wait in arrival order (default: the number of CPUs; negative: no bound); unless $GOMAXPROCS is set, Go runs on one more thread than this, to read requests as they arrive")
	f.DurationVar(&o.ReadHeaderTimeout, "read-header-timeout", 10*time.Second, "drop clients that have not sent their request headers in this time")
	f.DurationVar(&o.ReadTimeout, "read-timeout", 30*time.Second, "drop clients that have not sent their whole request in this time")
	f.StringVar(&of.logLevel, "log-level", "info", "log level: debug, info (one line per request), warn or error")
	return of
}

func (of *opsFlags) apply(o *server.Operations) error {
	d, err := api.ParseDays(of.retention)
	if err != nil || d < 0 {
		return fmt.Errorf("--audit-retention %q is not a duration such as 30d or 720h", of.retention)
	}
	o.AuditRetention = d
	if d == 0 {
		o.AuditRetention = -1 // forever
	}
	switch o.Metrics {
	case "", api.MetricsPublic, api.MetricsReader, api.MetricsOff:
	default:
		return fmt.Errorf("--metrics must be public, reader or off, not %q", o.Metrics)
	}
	return nil
}

// serveGCPercent is avow serve's GOGC. The heap a node keeps is small
// (caches, about 10 MB) and nearly everything an attestation allocates is
// garbage when it is answered, so a collection costs about the same
// whenever it runs: running it a quarter as often (heap goal 5× the live
// heap instead of 2×) cut the garbage collector's share of the CPU under
// ES256 load from 5.9 % to 1.4 %, for 13–17 MB more resident memory.
const serveGCPercent = 400

// tuneRuntime fixes the number of attestation workers (default: the CPUs
// Go schedules on) and, unless the environment sets them, Go's scheduler
// slots (GOMAXPROCS: one more than there are workers) and GOGC
// (serveGCPercent). It returns GOMAXPROCS and GOGC.
//
// Why one slot more than workers: with as many slots as workers, every
// slot is busy computing under load, and Go then looks for connections with
// a new request only when a slot runs out of work or when its monitor polls
// the network (every 10 ms). Requests are then read in bursts, in no
// particular order, and their latency spreads from near zero to more than
// twice the mean (RS256, 32 clients: p10 9 ms, p99 92–101 ms around a mean
// of 36–39 ms). The extra slot waits in the network poller, reads each
// request as it arrives and puts it in the workers' first-in, first-out
// queue (same runs: p10 32 ms, p99 54–56 ms around a mean of 40 ms).
func tuneRuntime(l *api.Limits) (procs, gogc int) {
	if l.AttestWorkers == 0 {
		l.AttestWorkers = runtime.GOMAXPROCS(0)
	}
	if l.AttestWorkers > 0 && os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(l.AttestWorkers + 1)
	}
	gogc = 100
	if v := os.Getenv("GOGC"); v == "" {
		debug.SetGCPercent(serveGCPercent)
		gogc = serveGCPercent
	} else if n, err := strconv.Atoi(v); err == nil {
		gogc = n
	} else {
		gogc = -1 // "off"
	}
	return runtime.GOMAXPROCS(0), gogc
}

package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// Metrics is avow's Prometheus instrumentation: HTTP requests, attestation
// outcomes and stage latencies (as the service's Observer), cache lookups,
// store latency (Metrics.ObserveStore with store.Instrument), the audit
// writer, rate limiting, collateral age and time to expiry, and the Go
// runtime and process collectors (process_cpu_seconds_total,
// process_resident_memory_bytes). Each Metrics has its own registry, so
// several nodes can run in one process (tests).
type Metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	inFlight        prometheus.Gauge

	attestations     *prometheus.CounterVec
	attestDuration   *prometheus.HistogramVec
	stageDuration    *prometheus.HistogramVec
	attestInFlight   prometheus.Gauge
	cacheLookups     *prometheus.CounterVec
	storeDuration    *prometheus.HistogramVec
	storeErrors      *prometheus.CounterVec
	auditWritten     prometheus.Counter
	auditDropped     *prometheus.CounterVec
	auditBatch       prometheus.Histogram
	rateLimited      *prometheus.CounterVec
	collateralSource func(ctx context.Context) ([]store.Collateral, error)
	now              func() time.Time
}

// latency buckets in seconds, from 250 µs to 5 s.
var latencyBuckets = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

// NewMetrics returns the instrumentation with its own registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), now: time.Now}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "avow_http_requests_total",
		Help: "HTTP requests by route (a path template), method and status code."}, []string{"route", "method", "code"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "avow_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by route.", Buckets: latencyBuckets}, []string{"route"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "avow_http_requests_in_flight", Help: "HTTP requests being served."})
	m.attestations = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "avow_attestations_total",
		Help: "Attestations by provider, attestation type, TCB status, outcome (success, failure) and failure code."},
		[]string{"provider", "type", "tcb_status", "outcome", "failure_code"})
	m.attestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "avow_attestation_duration_seconds",
		Help: "Time of the whole attestation pipeline in the service, by outcome.", Buckets: latencyBuckets}, []string{"outcome"})
	m.stageDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "avow_attestation_stage_duration_seconds",
		Help:    "Time of the attestation stages: verify (collateral lookup and quote verification), policy (claims and evaluation), sign (token).",
		Buckets: latencyBuckets}, []string{"stage"})
	m.attestInFlight = prometheus.NewGauge(prometheus.GaugeOpts{Name: "avow_attestations_in_flight",
		Help: "Attestation requests holding a slot of the concurrency limit."})
	m.cacheLookups = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "avow_cache_lookups_total",
		Help: "Lookups in the service caches (provider, policy, signing_key, collateral) by result (hit, miss)."}, []string{"cache", "result"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "avow_store_operation_duration_seconds",
		Help: "Time of store operations by operation (tx: a whole transaction).", Buckets: latencyBuckets}, []string{"op"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "avow_store_errors_total",
		Help: "Store operations that returned an error (not found included), by operation."}, []string{"op"})
	m.auditWritten = prometheus.NewCounter(prometheus.CounterOpts{Name: "avow_audit_records_written_total",
		Help: "Attestation audit records written."})
	m.auditDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "avow_audit_records_dropped_total",
		Help: "Attestation audit records not written, by reason (queue_full, store_error, closed)."}, []string{"reason"})
	m.auditBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "avow_audit_batch_duration_seconds",
		Help: "Time to write one batch of attestation audit records (one transaction).", Buckets: latencyBuckets})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "avow_rate_limited_total",
		Help: "Requests answered 429, by limit (management: per-client rate, attestation: concurrency)."}, []string{"limit"})
	for _, c := range []prometheus.Collector{m.requests, m.requestDuration, m.inFlight, m.attestations, m.attestDuration,
		m.stageDuration, m.attestInFlight, m.cacheLookups, m.storeDuration, m.storeErrors, m.auditWritten, m.auditDropped,
		m.auditBatch, m.rateLimited} {
		f(c)
	}
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f(collectors.NewGoCollector())
	f(&collateralCollector{m: m})
	for _, r := range []string{"hit", "miss"} {
		for _, c := range []string{service.CacheProvider, service.CachePolicy, service.CacheKey, service.CacheCollateral} {
			m.cacheLookups.WithLabelValues(c, r)
		}
	}
	m.auditDropped.WithLabelValues("queue_full")
	m.auditDropped.WithLabelValues("store_error")
	m.rateLimited.WithLabelValues("management")
	m.rateLimited.WithLabelValues("attestation")
	return m
}

// Registry returns the registry, to add collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Watch makes the metrics read what they report at scrape time from svc:
// collateral age and time to expiry, and the audit queue length.
func (m *Metrics) Watch(svc *service.Service) {
	m.collateralSource = svc.CollateralStatus
	m.now = svc.Now
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "avow_audit_queue_length",
		Help: "Attestation audit records waiting to be written."}, func() float64 { return float64(svc.AuditQueueLength()) }))
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveStore is a store.Observe: pass it to store.Instrument.
func (m *Metrics) ObserveStore(op string, d time.Duration, err error) {
	m.storeDuration.WithLabelValues(op).Observe(d.Seconds())
	if err != nil {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

// The service.Observer methods.

// AttestStage implements service.Observer.
func (m *Metrics) AttestStage(stage service.Stage, d time.Duration) {
	m.stageDuration.WithLabelValues(string(stage)).Observe(d.Seconds())
}

// Attested implements service.Observer.
func (m *Metrics) Attested(r service.AttestRecord) {
	provider := r.Provider
	if !r.ProviderKnown {
		provider = "" // names of unknown providers come from requests: no label per name
	}
	typ := r.Type
	if !r.TypeKnown {
		typ = "other"
	}
	m.attestations.WithLabelValues(provider, typ, r.TCBStatus, r.Outcome, r.FailureCode).Inc()
	m.attestDuration.WithLabelValues(r.Outcome).Observe(r.Duration.Seconds())
}

// CacheLookup implements service.Observer.
func (m *Metrics) CacheLookup(cache string, hit bool) {
	r := "miss"
	if hit {
		r = "hit"
	}
	m.cacheLookups.WithLabelValues(cache, r).Inc()
}

// AuditWritten implements service.Observer.
func (m *Metrics) AuditWritten(n int, d time.Duration, err error) {
	m.auditBatch.Observe(d.Seconds())
	if err == nil {
		m.auditWritten.Add(float64(n))
	}
}

// AuditDropped implements service.Observer.
func (m *Metrics) AuditDropped(n int, reason string) {
	m.auditDropped.WithLabelValues(reason).Add(float64(n))
}

// request records one answered request.
func (m *Metrics) request(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, methodLabel(method), strconv.Itoa(status)).Inc()
	m.requestDuration.WithLabelValues(route).Observe(d.Seconds())
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}

// collateralCollector reports the stored collateral at scrape time.
type collateralCollector struct{ m *Metrics }

var (
	collateralAgeDesc = prometheus.NewDesc("avow_collateral_age_seconds",
		"Time since the issue date of the latest stored TCB info, per platform family (TEE, FMSPC, PCE ID).",
		[]string{"tee", "fmspc", "pce_id"}, nil)
	collateralExpiryDesc = prometheus.NewDesc("avow_collateral_expiry_seconds",
		"Time until the next update date of the latest stored TCB info (negative: expired), per platform family.",
		[]string{"tee", "fmspc", "pce_id"}, nil)
	collateralFetchedDesc = prometheus.NewDesc("avow_collateral_fetched_age_seconds",
		"Time since the latest collateral of a platform family was stored.",
		[]string{"tee", "fmspc", "pce_id"}, nil)
)

func (c *collateralCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- collateralAgeDesc
	ch <- collateralExpiryDesc
	ch <- collateralFetchedDesc
}

func (c *collateralCollector) Collect(ch chan<- prometheus.Metric) {
	src := c.m.collateralSource
	if src == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := src(ctx)
	if err != nil {
		return
	}
	now := c.m.now()
	for _, r := range rows {
		labels := []string{r.Key.TEE, strings.ToUpper(r.Key.FMSPC), strings.ToUpper(r.Key.PCEID)}
		ch <- prometheus.MustNewConstMetric(collateralAgeDesc, prometheus.GaugeValue, now.Sub(r.IssueDate).Seconds(), labels...)
		ch <- prometheus.MustNewConstMetric(collateralExpiryDesc, prometheus.GaugeValue, r.NextUpdate.Sub(now).Seconds(), labels...)
		if !r.FetchedAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(collateralFetchedDesc, prometheus.GaugeValue, now.Sub(r.FetchedAt).Seconds(), labels...)
		}
	}
}

// routeOf maps a path to a route template for the request metrics: a
// bounded set of labels whatever the paths clients send.
func routeOf(path string) string {
	switch path {
	case "/healthz", "/readyz", "/metrics":
		return path
	}
	if isARMPath(path) {
		return armRoute(path)
	}
	if path == "/ui" || strings.HasPrefix(path, "/ui/") {
		return "/ui" // the console's static assets: one route
	}
	if rest, ok := strings.CutPrefix(path, "/providers/"); ok {
		_, sub, _ := strings.Cut(rest, "/")
		switch {
		case strings.HasPrefix(sub, "attest/"):
			return "/providers/{name}/attest/{type}"
		case strings.HasPrefix(sub, "policies/"):
			if strings.HasSuffix(sub, ":reset") {
				return "/providers/{name}/policies/{type}:reset"
			}
			return "/providers/{name}/policies/{type}"
		case sub == "certificates", sub == "certificates:add", sub == "certificates:remove", sub == "certs",
			sub == ".well-known/openid-configuration":
			return "/providers/{name}/" + sub
		}
		return "other"
	}
	if rest, ok := strings.CutPrefix(path, "/management/"); ok {
		parts := strings.Split(rest, "/")
		switch parts[0] {
		case "providers", "admin-tokens", "collateral", "audit", "collateral:refresh", "collateral:prune",
			"whoami", "policy:check", "sim":
		default:
			return "other"
		}
		out := "/management/" + parts[0]
		for _, p := range parts[1:] {
			switch p {
			case "keys", "keys:rotate", "refresh", "sources", "history", "bundle", "playground", "quote":
				out += "/" + p
			default:
				out += "/{id}"
			}
		}
		if len(parts) > 5 {
			return "other"
		}
		return out
	}
	return "other"
}

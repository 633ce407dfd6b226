package api

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// Who may read /metrics.
const (
	MetricsPublic = "public" // anonymous, like /healthz
	MetricsReader = "reader" // a bearer token with the reader role (the default)
	MetricsOff    = "off"    // not served
)

// Options configure a Server.
type Options struct {
	// Metrics, when not nil, counts requests and serves /metrics.
	Metrics *Metrics
	// MetricsAccess is MetricsReader (default), MetricsPublic or
	// MetricsOff. The metrics name providers, failure codes, collateral
	// state and request rates: not for anonymous callers by default.
	MetricsAccess string
	// Limits on management rate and attestation concurrency.
	Limits Limits
	// Console configures the web console at /ui/ (see console.go).
	Console ConsoleOptions
	// Network declares the private networks and trusted proxies that
	// publicNetworkAccess Disabled relies on (network.go).
	Network NetworkOptions
}

// NewServer returns the HTTP handler of svc.
func NewServer(svc *service.Service, log *slog.Logger, o Options) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := o.Limits.withDefaults()
	if o.MetricsAccess == "" {
		o.MetricsAccess = MetricsReader
	}
	return &Server{svc: svc, log: log, metrics: o.Metrics, metricsAccess: o.MetricsAccess, limits: l,
		mgmtLimiter: newRateLimiter(l.ManagementRate, l.ManagementBurst, nil), attestSlots: newSemaphore(l.AttestConcurrency),
		workers: newSemaphore(l.AttestWorkers), attestBodies: newByteBudget(l.AttestBodyMemory), network: o.Network,
		console: newConsole(svc, o.Console), sim: o.Console.Sim}
}

func (s *Server) metricsStart() {
	if s.metrics != nil {
		s.metrics.inFlight.Inc()
	}
}

func (s *Server) metricsDone(r *http.Request, status int, d time.Duration) {
	if s.metrics != nil {
		s.metrics.inFlight.Dec()
		s.metrics.request(routeOf(r.URL.Path), r.Method, status, d)
	}
}

// serveMetrics serves /metrics as configured.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil || s.metricsAccess == MetricsOff {
		s.writeError(w, r, ErrNotFound.Wrapf("metrics are not served (avow serve --metrics)"))
		return
	}
	if !s.method(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	if s.metricsAccess == MetricsReader {
		who, ok := s.authenticate(w, r)
		if !ok {
			return
		}
		if !who.Allows(store.RoleReader) {
			s.writeError(w, r, service.ErrForbidden.Wrapf("role %s", who.Role))
			return
		}
	}
	s.metrics.Handler().ServeHTTP(w, r)
}

// Package api is avow's HTTP layer: MAA's data plane per provider, avow's
// management plane, health endpoints, and the middleware around them
// (request ids, body limits, panics, logs). It maps HTTP onto package
// service and knows nothing of quotes or SQL.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
)

// Body limits.
const (
	MaxAttestBody = 1 << 20   // quotes are a few KiB; runtime data is small
	MaxPolicyBody = 256 << 10 // policy documents
	MaxMgmtBody   = 1 << 20   // management requests incl. collateral bundles
)

// Server serves avow's HTTP API.
type Server struct {
	svc *service.Service
	log *slog.Logger

	// see options.go
	metrics       *Metrics
	metricsAccess string
	limits        Limits
	mgmtLimiter   *rateLimiter
	attestSlots   semaphore
	workers       semaphore
	attestBodies  *byteBudget
	network       NetworkOptions
	// console serves /ui/ (nil when disabled); sim makes quotes in --dev
	// (console.go).
	console http.Handler
	sim     *sgxsim.Platform
	// attestHook, when set (tests), runs while an attestation holds its
	// slot, before the pipeline.
	attestHook func()
}

// New returns the HTTP handler of svc with the default limits and no
// metrics.
func New(svc *service.Service, log *slog.Logger) *Server {
	return NewServer(svc, log, Options{})
}

type ctxKey int

const requestIDKey ctxKey = 0

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey).(string)
	return id
}

// ServeHTTP routes a request after giving it a request id (returned in
// x-ms-request-id) and recovering from panics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	r = r.WithContext(withReqState(service.WithRequestID(context.WithValue(r.Context(), requestIDKey, id), id)))
	w.Header().Set("x-ms-request-id", id)
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.metricsStart()
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "request_id", id, "path", r.URL.Path, "panic", p)
			s.writeError(rec, r, errInternal)
		}
		d := time.Since(start)
		s.log.Info("request", "request_id", id, "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "duration_ms", float64(d.Microseconds())/1000)
		s.metricsDone(r, rec.status, d)
	}()
	s.providerRoute(r)
	s.route(rec, r)
}

// providerRoute maps a request for a host-named provider (NAME.{domain},
// service.Config.ProviderDomain) or for the provider at the server's root
// (RootProvider) onto the path of its data plane, /providers/NAME/...: one
// router, one set of metrics routes and audit operations serve the three
// forms of attest URI. A provider's host serves its data plane only.
func (s *Server) providerRoute(r *http.Request) {
	path := r.URL.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if name, ok := s.svc.ProviderForHost(r.Host); ok {
		r.URL.Path = "/providers/" + name + path
	} else if root := s.svc.RootProvider(); root != "" && rootDataPlane(path) {
		r.URL.Path = "/providers/" + root + path
	} else {
		return
	}
	r.URL.RawPath = ""
}

// rootDataPlane reports whether path is one of MAA's data-plane routes,
// which the root provider answers at the server's root.
func rootDataPlane(path string) bool {
	switch {
	case path == "/certs", path == "/.well-known/openid-configuration", path == "/certificates",
		strings.HasPrefix(path, "/certificates:"), strings.HasPrefix(path, "/attest/"), strings.HasPrefix(path, "/policies/"):
		return true
	}
	return false
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	switch {
	case path == "/healthz":
		writeRaw(w, http.StatusOK, "text/plain; charset=utf-8", []byte("ok\n"))
	case path == "/metrics":
		s.serveMetrics(w, r)
	case path == "/readyz":
		if err := s.svc.Ready(r.Context()); err != nil {
			writeRaw(w, http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte("store unavailable\n"))
			return
		}
		writeRaw(w, http.StatusOK, "text/plain; charset=utf-8", []byte("ready\n"))
	case consolePath(path):
		s.serveConsole(w, r)
	case isARMPath(path):
		s.arm(w, r)
	case strings.HasPrefix(path, "/providers/"):
		rest := strings.TrimPrefix(path, "/providers/")
		if name, _, _ := strings.Cut(rest, "/"); !s.networkAllowed(w, r, name) {
			return
		}
		s.dataPlane(w, r, rest)
	case path == "/management" || strings.HasPrefix(path, "/management/"):
		s.management(w, r, strings.TrimPrefix(strings.TrimPrefix(path, "/management"), "/"))
	default:
		s.writeError(w, r, ErrNotFound.Wrapf("%s", path))
	}
}

// bearer returns the bearer token of a request, or "".
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// principal authenticates the request's bearer token.
func (s *Server) principal(r *http.Request) (*service.Principal, error) {
	return s.svc.Authenticate(r.Context(), bearer(r))
}

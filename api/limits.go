package api

import (
	"context"
	"math"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// ErrRateLimited answers requests over a limit (429 with Retry-After).
var ErrRateLimited = errs.New("too_many_requests", "too many requests; retry after the time in Retry-After").WithStatus(http.StatusTooManyRequests)

// Limits are the request limits of a Server.
type Limits struct {
	// ManagementRate is how many management requests per second one
	// client may send: per bearer token id once authenticated, per remote
	// address otherwise (default DefaultManagementRate; negative:
	// unlimited). Management requests are those under /management and
	// the data plane's policy and certificate routes.
	ManagementRate float64
	// ManagementBurst is the bucket size (default 2 × rate, at least 1).
	ManagementBurst int
	// AttestConcurrency is how many attestations run at once at most;
	// more are answered 429 at once (default DefaultAttestConcurrency;
	// negative: unlimited). An attestation takes its slot once its body is
	// read: a client that sends its body slowly holds no slot.
	AttestConcurrency int
	// AttestBodyMemory bounds the bytes of attestation bodies held at once,
	// while they are received and until their attestation ends (default
	// DefaultAttestBodyMemory; negative: unlimited). Bodies are read before
	// an attestation takes a slot, so this, not the slots, bounds what
	// clients that send slowly can make the server hold; a body that would
	// pass it is answered 429.
	AttestBodyMemory int64
	// AttestWorkers is how many attestations compute at once (default
	// GOMAXPROCS; negative: no bound). The others wait in arrival order:
	// the pipeline is CPU-bound, so running more at once only adds
	// context switches and lets late requests overtake early ones, which
	// stretches the latency tail.
	AttestWorkers int
}

// Limit defaults.
const (
	DefaultManagementRate    = 50
	DefaultAttestConcurrency = 256
	DefaultAttestBodyMemory  = 64 << 20
)

func (l Limits) withDefaults() Limits {
	if l.ManagementRate == 0 {
		l.ManagementRate = DefaultManagementRate
	}
	if l.ManagementBurst <= 0 {
		l.ManagementBurst = max(1, int(math.Ceil(2*l.ManagementRate)))
	}
	if l.AttestConcurrency == 0 {
		l.AttestConcurrency = DefaultAttestConcurrency
	}
	if l.AttestWorkers == 0 {
		l.AttestWorkers = runtime.GOMAXPROCS(0)
	}
	if l.AttestBodyMemory == 0 {
		l.AttestBodyMemory = DefaultAttestBodyMemory
	}
	return l
}

// byteBudget bounds bytes held by requests at once; nil is unlimited.
type byteBudget struct {
	max  int64
	used atomic.Int64
}

func newByteBudget(max int64) *byteBudget {
	if max <= 0 {
		return nil
	}
	return &byteBudget{max: max}
}

// take reserves n bytes, or reserves nothing and returns false when that
// would pass the bound.
func (b *byteBudget) take(n int64) bool {
	if b == nil {
		return true
	}
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *byteBudget) give(n int64) {
	if b != nil {
		b.used.Add(-n)
	}
}

// rateLimiter is a token bucket per client key.
type rateLimiter struct {
	rate  float64 // tokens per second
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweep   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the memory of the limiter; idle buckets are dropped
// first (a full bucket is the same as no bucket).
const maxBuckets = 100000

func newRateLimiter(rate float64, burst int, now func() time.Time) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &rateLimiter{rate: rate, burst: float64(burst), now: now, buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket. When there is none it returns
// false and how long until there is one.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets || now.Sub(l.sweep) > time.Minute {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(l.burst, b.tokens+el*l.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// prune drops buckets that have refilled; if that is not enough, all.
func (l *rateLimiter) prune(now time.Time) {
	l.sweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// semaphore limits concurrent attestations; nil is unlimited.
type semaphore chan struct{}

func newSemaphore(n int) semaphore {
	if n <= 0 {
		return nil
	}
	return make(semaphore, n)
}

func (s semaphore) tryAcquire() bool {
	if s == nil {
		return true
	}
	select {
	case s <- struct{}{}:
		return true
	default:
		return false
	}
}

// acquire waits for a slot in arrival order (Go wakes blocked channel
// senders first in, first out) or until ctx ends.
func (s semaphore) acquire(ctx context.Context) error {
	if s == nil {
		return nil
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s semaphore) release() {
	if s != nil {
		<-s
	}
}

// handOff releases a slot and, when a waiting goroutine took it over at
// once, yields the caller's scheduler slot (P) to it. Go readies the
// waiter on the caller's P, where it would otherwise wait until the caller
// blocks: for an attestation, until it has written its answer and its log
// line (about 0.2 ms, a tenth of an RS256 attestation), while the worker
// slot it holds computes nothing. After the yield the waiter computes at
// once and the caller finishes on another P (avow serve keeps one more P
// than workers).
func (s semaphore) handOff() {
	if s == nil {
		return
	}
	<-s
	if len(s) == cap(s) {
		runtime.Gosched()
	}
}

// clientAddr is the remote IP of a request (no port).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// limitManagement applies the per-client management rate: the principal's
// token id when authenticated, the remote address otherwise. It writes the
// 429 and returns false when the client is over its rate.
func (s *Server) limitManagement(w http.ResponseWriter, r *http.Request, who *service.Principal) bool {
	key := "addr:" + clientAddr(r)
	if who != nil {
		key = "token:" + who.ID
	}
	ok, wait := s.mgmtLimiter.allow(key)
	if ok {
		return true
	}
	s.tooMany(w, r, "management", wait, "management requests of this client exceed %g per second", s.limits.ManagementRate)
	return false
}

// acquireAttest takes a slot of the attestation concurrency limit; the
// caller must call s.attestSlots.release() when it returns true.
func (s *Server) acquireAttest(w http.ResponseWriter, r *http.Request) bool {
	if s.attestSlots.tryAcquire() {
		if s.metrics != nil {
			s.metrics.attestInFlight.Inc()
		}
		return true
	}
	s.tooMany(w, r, "attestation", time.Second, "%d attestations are running, the limit", s.limits.AttestConcurrency)
	return false
}

// errClientGone is a request whose client left while it waited for a worker.
var errClientGone = errs.New("client_gone", "the request was cancelled")

// inWorker runs fn in one of the worker slots (attestations and the
// console's playground, which runs the same pipeline).
func inWorker[T any](s *Server, ctx context.Context, fn func() (T, error)) (T, error) {
	if err := s.workers.acquire(ctx); err != nil {
		var zero T
		return zero, errClientGone.Wrap(err)
	}
	defer s.workers.handOff()
	return fn()
}

// runAttest runs the attestation pipeline in one of the worker slots.
func (s *Server) runAttest(ctx context.Context, provider string, req service.AttestRequest) (*service.AttestResult, error) {
	return inWorker(s, ctx, func() (*service.AttestResult, error) { return s.svc.Attest(ctx, provider, req) })
}

func (s *Server) releaseAttest() {
	s.attestSlots.release()
	if s.metrics != nil {
		s.metrics.attestInFlight.Dec()
	}
}

func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, limit string, wait time.Duration, format string, args ...any) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	if s.metrics != nil {
		s.metrics.rateLimited.WithLabelValues(limit).Inc()
	}
	s.writeError(w, r, ErrRateLimited.Wrapf(format, args...))
}

// checkEncoding refuses request bodies with a Content-Encoding: avow
// never decompresses requests, so a compressed body cannot expand past the
// body limits.
func checkEncoding(r *http.Request) error {
	ce := strings.TrimSpace(r.Header.Get("Content-Encoding"))
	if ce == "" || strings.EqualFold(ce, "identity") {
		return nil
	}
	return ErrMediaType.Wrapf("Content-Encoding %q is not accepted; send the body uncompressed", ce)
}

// authenticate resolves the request's bearer token and applies the
// management rate limit. On refusal it has written the answer (401, 429)
// and returns false.
// allow answers 403 unless who's role is at least need. Routes with a body
// call it before they read the body: a caller who may not use a route
// costs the server no reading, parsing or signature verification (the
// service checks the role again).
func (s *Server) allow(w http.ResponseWriter, r *http.Request, who *service.Principal, need store.Role) bool {
	if who.Allows(need) {
		return true
	}
	s.writeError(w, r, service.ErrForbidden.Wrapf("role %s, %s needed", who.Role, need))
	return false
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*service.Principal, bool) {
	who, err := s.principal(r)
	if !s.limitManagement(w, r, who) {
		return nil, false
	}
	if err != nil {
		s.writeError(w, r, err)
		return nil, false
	}
	if st := stateOf(r); st != nil {
		st.who = who
	}
	return who, true
}

package service

import (
	"context"
	"time"

	"github.com/avowhq/avow/store"
)

// Stage is a timed step of the attestation pipeline.
type Stage string

// The stages Observer.AttestStage reports.
const (
	// StageVerify: collateral lookup and quote verification.
	StageVerify Stage = "verify"
	// StagePolicy: claims, the provider's policy (compiled, cached) and
	// its evaluation.
	StagePolicy Stage = "policy"
	// StageSign: the token and its signature.
	StageSign Stage = "sign"
)

// Caches whose lookups Observer.CacheLookup reports.
const (
	CacheProvider   = "provider"
	CachePolicy     = "policy"
	CacheKey        = "signing_key"
	CacheCollateral = "collateral"
)

// Observer receives measurements from the service: the time of each stage
// of an attestation, the outcome of every attestation, cache lookups and
// the work of the audit writer. It keeps the service free of any metrics
// library: package api implements it with Prometheus. Methods are called
// on the request path and must be cheap and safe for concurrent use.
// Embed NopObserver to implement only some methods.
type Observer interface {
	AttestStage(stage Stage, d time.Duration)
	Attested(r AttestRecord)
	CacheLookup(cache string, hit bool)
	// AuditWritten reports a batch of n audit records written in one
	// transaction that took d; err is the store's error, if any (the
	// records are then lost and counted in AuditDropped as well).
	AuditWritten(n int, d time.Duration, err error)
	// AuditDropped reports n attestation records that were not written:
	// the queue was full (reason "queue_full") or the store failed
	// ("store_error").
	AuditDropped(n int, reason string)
}

// NopObserver ignores everything.
type NopObserver struct{}

func (NopObserver) AttestStage(Stage, time.Duration)       {}
func (NopObserver) Attested(AttestRecord)                  {}
func (NopObserver) CacheLookup(string, bool)               {}
func (NopObserver) AuditWritten(int, time.Duration, error) {}
func (NopObserver) AuditDropped(int, string)               {}

// AttestRecord is the outcome of one attestation: what the audit log keeps
// and what metrics count. It holds no evidence and no secrets.
type AttestRecord struct {
	Time time.Time // the service clock's now
	// Provider is the provider's stored name; when the provider does not
	// exist it is the requested name and ProviderKnown is false.
	Provider      string
	ProviderKnown bool
	Type          string // the registered name (SgxEnclave, TdxVm, …); as requested when unknown
	TypeKnown     bool   // Type is a registered attestation type
	TEE           string // sgx, tdx, … once the evidence parsed
	FMSPC         string // once the platform was identified
	TCBStatus     string // once the quote verified
	PolicyHash    string // once the policy was chosen
	Draft         bool   // a draft policy was evaluated (unsigned token)
	Simulated     bool   // evidence from the simulated platform
	TCBBaseline   string // the TCB baseline used: "17 (17)", "azuredefault (18)"
	TCBGrace      string // the provider's tcbGrace admitted the TCB status: "OutOfDate INTEL-SA-01213 until …"
	Outcome       string // "success" or "failure"
	FailureCode   string // the error's stable code on failure
	Message       string // the client-safe message on failure (truncated)
	Duration      time.Duration
	RequestID     string
}

// Outcomes of AttestRecord.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

type requestIDKey struct{}

// WithRequestID returns a context carrying a request id; the service
// writes it into audit records (the HTTP layer sets it from
// x-ms-request-id).
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDFrom returns the request id of ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// lookup is getCached reporting the lookup to the observer.
func lookup[K comparable, V any](s *Service, c *cache, m map[K]V, k K, name string) (V, bool) {
	v, ok := getCached(c, m, k)
	s.obs.CacheLookup(name, ok)
	return v, ok
}

// CollateralStatus returns the latest collateral of every platform family
// (without the bundle bytes) for monitoring; the caller is the node
// itself, so no principal is needed.
func (s *Service) CollateralStatus(ctx context.Context) ([]store.Collateral, error) {
	return s.st.ListCollateral(ctx)
}

// Package attestation is the contract between avow's service and its
// attestation types. An attestation type (SgxEnclave, OpenEnclave, TdxVm,
// SevSnpVm, …) is one package that does one job:
//
//	request bytes → parsed evidence → verified evidence → claims
//
// and is registered with the service in a Registry. The service runs the
// same path for every type — provider → type → Parse → Verify (with the
// collateral the service keeps, at now) → Claims → policy → token — and
// knows no evidence format; the HTTP layer knows only MAA's request shape
// (the evidence member, runtimeData, initTimeData, nonce,
// draftPolicyForAttestation).
//
// This package imports nothing of avow but errs: the service and every type
// package import it, never the other way round (docs/architecture.md).
package attestation

import (
	"context"
	"time"

	"github.com/avowhq/avow/errs"
)

// Type is one attestation type. Implementations are stateless values, safe
// for concurrent use.
type Type interface {
	// Name is MAA's name of the type: the path segment of
	// POST {attestUri}/attest/{Name} and the policy type of
	// /policies/{Name} ("SgxEnclave"). Requests match it
	// case-insensitively.
	Name() string
	// EvidenceField is the member of MAA's attest request body that
	// carries the evidence, base64url-encoded: "quote" or "report"; or
	// "evidence", a JSON value the HTTP layer hands Parse as
	// {"evidence": <value>, "nonce": <the request's nonce>} (NvidiaGpu).
	EvidenceField() string
	// DefaultPolicy is the policy text a provider evaluates for this type
	// until one is set.
	DefaultPolicy() string
	// Parse turns the decoded evidence member into parsed evidence. It
	// decides nothing about trust. Errors are *errs.Error with a stable
	// code (the client sees them).
	Parse(evidence []byte) (Evidence, error)
	// Verify checks parsed evidence at env.Now with the collateral env
	// gives access to: signatures, certificate chains, revocation, TCB.
	// A nil error means the evidence is genuine; whether its TCB status is
	// acceptable is the provider's and the policy's decision, made by the
	// service from the Verified it returns.
	Verify(ctx context.Context, ev Evidence, env Env) (*Verified, error)
	// Claims returns the claims of verified evidence, as the policy sees
	// them, with the request's runtime and init-time data (nil when
	// absent) bound to the evidence and added. A binding that does not
	// hold is an error.
	Claims(v *Verified, runtime, initTime *Data) (map[string]any, error)
}

// ExtraParser is a Type that takes request members beside its evidence
// member: composite evidence (TdxVm with the GPUs' evidence beside the
// quote). The HTTP layer hands it the raw JSON of each member it names
// that the request carries; a request with none of them goes to Parse.
type ExtraParser interface {
	ExtraFields() []string
	ParseExtra(evidence []byte, extra map[string][]byte) (Evidence, error)
}

// TCBBaselined is implemented by types whose evidence the service verifies
// against a TCB baseline of its own collateral, selected by the policy's
// x-ms-sgx-tcbidentifier (Intel DCAP quotes): TCBFamily names the
// collateral family ("sgx", "tdx") whose TCB evaluation data numbers
// GET {attestUri}/tcbbaselines/{type} lists. Other types have no
// baselines.
type TCBBaselined interface {
	TCBFamily() string
}

// Evidence is parsed, unverified evidence of one type.
type Evidence interface {
	// TEE names the hardware in audit records and metrics: "sgx", "tdx",
	// "snp", …
	TEE() string
}

// Data is the runtime or init-time data of an attestation request
// (runtimeData / initTimeData).
type Data struct {
	Bytes    []byte
	DataType string // "Binary" or "JSON" as sent; "" when absent
}

// Env is what a type's Verify gets from the service.
type Env struct {
	// Now is the time the evidence and its collateral are verified at.
	Now time.Time
	// Collateral is the service's collateral for the provider attested
	// against: its store, caches and fetching sources. A type asserts the
	// interface of its evidence family (dcapquote.Collateral for Intel
	// DCAP quotes) and refuses the evidence when the service has none.
	Collateral any
	// Settings are the provider's settings for this type (typeSettings
	// in the provider's settings), checked when they were set
	// (SettingsChecker); nil when it has none.
	Settings map[string]string
}

// SettingsChecker is implemented by a type that takes provider settings
// (typeSettings: {"SevSnpVm": {"minimumTcb": "…"}}): the service refuses a
// setting the type does not accept when a provider's settings change, so
// Verify reads only checked values.
type SettingsChecker interface {
	CheckSetting(key, value string) error
}

// Verified is verified evidence: the facts the service judges by the
// provider's settings, and the type's own result.
type Verified struct {
	Evidence Evidence
	// PlatformID identifies the platform family in audit records and
	// messages (an FMSPC in hex for Intel); PlatformKind says what it is
	// ("FMSPC").
	PlatformID   string
	PlatformKind string
	// TCBStatus is the verifier's verdict on the platform's TCB
	// ("UpToDate", "OutOfDate", …), checked against the provider's
	// acceptedTcbStatuses; AdvisoryIDs are its advisories.
	TCBStatus   string
	AdvisoryIDs []string
	// CollateralExpired says the collateral was past its next update at
	// Now; CollateralExpiry is when the earliest of it expires (the
	// provider's grace period counts from it).
	CollateralExpired bool
	CollateralExpiry  time.Time
	// RootKey is the key of the trust anchor the evidence chained to; the
	// service marks tokens of simulated and private roots by it.
	RootKey []byte
	// Result is the type's own verification result (*dcap.Result for DCAP
	// quotes), for callers of the service that want the detail.
	Result any
}

// ErrInvalidRequest is the error of a request a type cannot take: runtime
// data of type JSON that is not JSON, an unknown data type. It is the
// service's invalid_request (errors.Is matches by code).
var ErrInvalidRequest = errs.New("invalid_request", "the request is malformed")

// ErrRuntimeDataMismatch is the code of runtime data the evidence does not
// bind (each type says how it binds it; errors.Is matches by code).
var ErrRuntimeDataMismatch = errs.New("runtime_data_mismatch", "the runtime data does not match the report data of the evidence")

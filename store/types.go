package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"time"
)

// TrustModel is a provider's trust model, spelled as MAA spells it.
type TrustModel string

// The trust models.
const (
	// TrustModelAAD: any authorised administrator may set policies.
	TrustModelAAD TrustModel = "AAD"
	// TrustModelIsolated: policies and signer changes must be signed by
	// one of the provider's policy signer certificates.
	TrustModelIsolated TrustModel = "Isolated"
)

// Valid reports whether m is a known trust model.
func (m TrustModel) Valid() bool { return m == TrustModelAAD || m == TrustModelIsolated }

// Provider is an attestation provider.
type Provider struct {
	Name       string // unique, case-insensitive; format checks are the service's
	TrustModel TrustModel
	Settings   Settings
	Metadata   Metadata
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Version    int64 // 1 on creation, bumped by every update
}

// Settings are a provider's verification settings.
type Settings struct {
	AcceptedTCBStatuses   []string
	CollateralGracePeriod time.Duration
	// Extra holds later settings as a JSON value (usually an object). It is
	// stored and returned as given; it must be valid JSON when not empty.
	Extra json.RawMessage
}

// Metadata is what an ARM-compatible management API shows of a provider.
type Metadata struct {
	SubscriptionID string
	ResourceGroup  string
	Location       string
	Tags           map[string]string
}

// Validate checks what the store itself relies on.
func (p *Provider) Validate() error {
	if strings.TrimSpace(p.Name) == "" {
		return ErrInvalid.Wrapf("provider name is empty")
	}
	if !p.TrustModel.Valid() {
		return ErrInvalid.Wrapf("unknown trust model %q", p.TrustModel)
	}
	if p.Settings.CollateralGracePeriod < 0 {
		return ErrInvalid.Wrapf("negative collateral grace period")
	}
	if len(p.Settings.Extra) > 0 && !json.Valid(p.Settings.Extra) {
		return ErrInvalid.Wrapf("settings extra is not valid JSON")
	}
	return nil
}

// Policy is a provider's policy for one attestation type.
type Policy struct {
	Provider        string
	AttestationType string // "SgxEnclave", "OpenEnclave", "TdxVm"…; case-insensitive
	Document        string // the policy as received: a JWS (signed or unsigned)
	Text            string // the policy text
	Hash            []byte // the policy hash (as the service computes it)
	SignerCert      []byte // DER of the certificate that signed it; nil if unsigned
	UpdatedAt       time.Time
	Version         int64 // bumped by every set; see Writer.SetPolicy
}

// Validate checks what the store itself relies on.
func (p *Policy) Validate() error {
	switch {
	case strings.TrimSpace(p.Provider) == "":
		return ErrInvalid.Wrapf("policy provider is empty")
	case strings.TrimSpace(p.AttestationType) == "":
		return ErrInvalid.Wrapf("policy attestation type is empty")
	case p.Document == "":
		return ErrInvalid.Wrapf("policy document is empty")
	case p.Version < 0:
		return ErrInvalid.Wrapf("negative policy version")
	}
	return nil
}

// Signer is a policy signer certificate of a provider (Isolated model).
type Signer struct {
	Provider    string
	Thumbprint  string // lowercase hex SHA-256 of Certificate, computed by the store
	Certificate []byte // DER
	AddedAt     time.Time
}

// Thumbprint returns the thumbprint the store uses for a certificate: the
// lowercase hex SHA-256 of its DER.
func Thumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// SigningKey is a provider's token signing key.
type SigningKey struct {
	Provider    string
	KID         string
	SealedKey   []byte // the private key, encrypted by the caller
	Certificate []byte // DER
	CreatedAt   time.Time
	RetiredAt   time.Time // zero while never retired
	Active      bool      // exactly one key per provider (with keys) is active
}

// Validate checks what the store itself relies on.
func (k *SigningKey) Validate() error {
	switch {
	case strings.TrimSpace(k.KID) == "":
		return ErrInvalid.Wrapf("signing key id is empty")
	case len(k.SealedKey) == 0:
		return ErrInvalid.Wrapf("signing key %q has no sealed key", k.KID)
	case len(k.Certificate) == 0:
		return ErrInvalid.Wrapf("signing key %q has no certificate", k.KID)
	}
	return nil
}

// Role is an admin token's role.
type Role string

// The roles, from least to most privileged.
const (
	RoleReader      Role = "reader"
	RolePolicyAdmin Role = "policy-admin"
	RoleOwner       Role = "owner"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleReader || r == RolePolicyAdmin || r == RoleOwner }

// AdminToken is a management API bearer token. The store never sees the
// secret, only its SHA-256.
type AdminToken struct {
	ID          string
	Hash        []byte // SHA-256 of the secret, 32 bytes
	Role        Role
	Description string
	CreatedAt   time.Time
	Revoked     bool
	RevokedAt   time.Time // zero unless Revoked
}

// Validate checks what the store itself relies on.
func (t *AdminToken) Validate() error {
	switch {
	case strings.TrimSpace(t.ID) == "":
		return ErrInvalid.Wrapf("admin token id is empty")
	case len(t.Hash) != sha256.Size:
		return ErrInvalid.Wrapf("admin token hash has %d bytes, want %d", len(t.Hash), sha256.Size)
	case !t.Role.Valid():
		return ErrInvalid.Wrapf("unknown role %q", t.Role)
	}
	return nil
}

// CollateralKey identifies the collateral of one platform family.
type CollateralKey struct {
	TEE   string // "sgx" or "tdx"
	FMSPC string // 12 hex digits, stored lowercase
	PCEID string // 4 hex digits, stored lowercase
}

// Normalize returns k in the stored form (lowercase) or ErrInvalid.
func (k CollateralKey) Normalize() (CollateralKey, error) {
	k.TEE = strings.ToLower(k.TEE)
	k.FMSPC = strings.ToLower(k.FMSPC)
	k.PCEID = strings.ToLower(k.PCEID)
	if k.TEE != "sgx" && k.TEE != "tdx" {
		return k, ErrInvalid.Wrapf("unknown TEE %q", k.TEE)
	}
	if !isHex(k.FMSPC, 12) {
		return k, ErrInvalid.Wrapf("FMSPC %q is not 12 hex digits", k.FMSPC)
	}
	if !isHex(k.PCEID, 4) {
		return k, ErrInvalid.Wrapf("PCE-ID %q is not 4 hex digits", k.PCEID)
	}
	return k, nil
}

func (k CollateralKey) String() string { return k.TEE + "/" + k.FMSPC + "/" + k.PCEID }

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Collateral is one stored collateral bundle.
type Collateral struct {
	ID         int64 // assigned by the store; increases with every put
	Key        CollateralKey
	Bundle     []byte // opaque to the store; nil in List and History results
	Size       int64  // len(Bundle), computed by the store
	SHA256     string // lowercase hex SHA-256 of Bundle, computed by the store
	IssueDate  time.Time
	NextUpdate time.Time
	FetchedAt  time.Time
	Source     string // where it came from: a file, a PCCS URL…
	// TCBEvaluationDataNumber is the tcbEvaluationDataNumber of the
	// bundle's TCB info (0: not recorded, rows stored before schema
	// support).
	TCBEvaluationDataNumber uint32
	// Pinned marks collateral kept for one TCB evaluation data number (a
	// TCB baseline a provider selects) rather than as the key's current
	// collateral: GetCollateral, ListCollateral and the latest-row rules
	// of PruneCollateral skip it; GetCollateralForNumber finds it.
	Pinned bool
}

// AuditKind separates attestation records from management records.
type AuditKind string

// The audit kinds.
const (
	AuditManagement  AuditKind = "management"
	AuditAttestation AuditKind = "attestation"
)

// Valid reports whether k is a known kind.
func (k AuditKind) Valid() bool { return k == AuditManagement || k == AuditAttestation }

// AuditEntry is one audit log record. The log is append-only.
type AuditEntry struct {
	ID        int64 // assigned by the store, increasing
	Time      time.Time
	Kind      AuditKind
	Actor     string // token id or OIDC subject; empty for anonymous attestation
	Provider  string // may name a deleted provider; empty for global operations
	Operation string // e.g. "policy.set", "attest.SgxEnclave"; required
	Outcome   string // e.g. "success", "denied", a failure code
	Details   map[string]string
	RequestID string
}

// Validate checks what the store itself relies on.
func (e *AuditEntry) Validate() error {
	switch {
	case !e.Kind.Valid():
		return ErrInvalid.Wrapf("unknown audit kind %q", e.Kind)
	case strings.TrimSpace(e.Operation) == "":
		return ErrInvalid.Wrapf("audit entry has no operation")
	}
	return nil
}

// Audit list limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 10000
)

// AuditFilter selects audit entries. Zero fields do not filter.
type AuditFilter struct {
	Provider        string    // case-insensitive
	Kind            AuditKind // management or attestation
	OperationPrefix string    // e.g. "policy." (case-sensitive)
	Since           time.Time // Time >= Since
	Until           time.Time // Time < Until
	BeforeID        int64     // ID < BeforeID: the next page after the last ID seen
	Limit           int       // 0: DefaultAuditLimit; at most MaxAuditLimit
}

// EffectiveLimit returns the limit a backend applies for f.Limit.
func (f *AuditFilter) EffectiveLimit() int {
	switch {
	case f.Limit <= 0:
		return DefaultAuditLimit
	case f.Limit > MaxAuditLimit:
		return MaxAuditLimit
	}
	return f.Limit
}

// Timestamp returns t as the store keeps it: UTC, truncated to
// microseconds; the zero time stays zero.
func Timestamp(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// TimestampOrNow is Timestamp, with the zero time replaced by now.
func TimestampOrNow(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return Timestamp(t)
}

// TypeCollateral is collateral of an attestation type other than Intel
// DCAP, such as AMD SEV-SNP's VCEK certificates, certificate chains and
// CRLs: bytes the type verifies before it stores them and again when it
// uses them. There is one row per (Type, Kind, Key); a put replaces it.
type TypeCollateral struct {
	Type string // the attestation type, e.g. "SevSnpVm"
	Kind string // e.g. "vcek", "cert_chain", "crl"
	Key  string // e.g. "Milan/<hwid>/<tcb>"
	Data []byte
	// SHA256 is the lower-case hex SHA-256 of Data, set by the store.
	SHA256 string
	// NotAfter is when the item stops being usable (a certificate's
	// notAfter, a CRL's nextUpdate); zero when it does not say.
	NotAfter  time.Time
	FetchedAt time.Time
	Source    string // where it came from: a URL, "import"
}

// Validate checks what the store relies on.
func (c *TypeCollateral) Validate() error {
	if c.Type == "" || c.Kind == "" || c.Key == "" {
		return ErrInvalid.Wrapf("type collateral needs a type, a kind and a key")
	}
	if len(c.Data) == 0 {
		return ErrInvalid.Wrapf("type collateral %s/%s/%s: no data", c.Type, c.Kind, c.Key)
	}
	return nil
}

package wire

import "time"

// Settings are a provider's verification settings. On create and update an
// absent member keeps the server's default or current value. In answers,
// an absent acceptedTcbStatuses means none is accepted.
type Settings struct {
	// AcceptedTCBStatuses are the TCB statuses attestation accepts
	// (UpToDate, SWHardeningNeeded, ConfigurationNeeded, ...).
	AcceptedTCBStatuses []string `json:"acceptedTcbStatuses,omitempty"`
	// CollateralGracePeriod is how long expired collateral is still
	// accepted, as a Go duration ("0s", "72h").
	CollateralGracePeriod string `json:"collateralGracePeriod,omitempty"`
	// TokenAlgorithm is the algorithm of the provider's tokens: RS256
	// (MAA's, the default) or ES256. Changing it rotates the signing key.
	TokenAlgorithm string `json:"tokenAlgorithm,omitempty"`
	// CollateralSources, when not empty, replace the deployment's
	// collateral sources (avow serve --collateral-source) for attestations
	// against the provider: PCCS URLs, "pcs" or "pcs:URL", bundle files or
	// folders on the server, tried in order.
	CollateralSources []string `json:"collateralSources,omitempty"`
	// TypeSettings are the provider's settings per attestation type
	// ({"SevSnpVm": {"minimumTcb": "bl=3,tee=0,snp=8,ucode=115"}}). On
	// update, a type named here gets exactly these settings ({} removes
	// them); types not named keep theirs.
	TypeSettings map[string]map[string]string `json:"typeSettings,omitempty"`
	// UseDeploymentSources, on update, makes the client send
	// "collateralSources": [] (which omitempty cannot say): the provider
	// goes back to the deployment's sources. Not itself on the wire.
	UseDeploymentSources bool `json:"-"`
	// PublicNetworkAccess and TPMAttestationAuthentication are MAA's ARM
	// properties (2021-06-01), "Enabled" (the default, not shown in
	// answers) or "Disabled". publicNetworkAccess Disabled closes the
	// provider's data plane to all but the server's private networks.
	PublicNetworkAccess          string `json:"publicNetworkAccess,omitempty"`
	TPMAttestationAuthentication string `json:"tpmAttestationAuthentication,omitempty"`
	// TCBGrace admits OutOfDate platforms whose advisories are all listed
	// in an entry that has not ended (docs/tcb-baselines.md): each such
	// attestation is marked in its token (x-avow-tcb-grace) and audit
	// record. On update, a non-nil empty list removes the setting.
	TCBGrace *[]TCBGrace `json:"tcbGrace,omitempty"`
}

// TCBGrace is one entry of the tcbGrace setting.
type TCBGrace struct {
	AdvisoryIDs []string  `json:"advisoryIds"`
	Until       time.Time `json:"until"`
}

// Provider is an attestation provider as the management API returns it.
type Provider struct {
	Name       string   `json:"name"`
	TrustModel string   `json:"trustModel"`
	AttestURI  string   `json:"attestUri"`
	Settings   Settings `json:"settings"`
	// PolicySigningCertificates is the number of policy signer
	// certificates (ListSigners returns them).
	PolicySigningCertificates int `json:"policySigningCertificates"`
	// Shared marks a shared provider of the operator (avow serve
	// --shared-provider): read-only through the API.
	Shared    bool      `json:"shared,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	Version   int64     `json:"version"`
}

// Key is a provider's token signing key.
type Key struct {
	KID       string     `json:"kid"`
	Active    bool       `json:"active"`
	CreatedAt time.Time  `json:"createdAt"`
	RetiredAt *time.Time `json:"retiredAt,omitempty"`
}

// GracePeriod parses CollateralGracePeriod (zero when empty).
func (s Settings) GracePeriod() (time.Duration, error) {
	if s.CollateralGracePeriod == "" {
		return 0, nil
	}
	return time.ParseDuration(s.CollateralGracePeriod)
}

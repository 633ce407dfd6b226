package client

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"github.com/avowhq/avow/wire"
	"net/http"
	"net/url"
	"time"
)

// Providers, their settings and signing keys as the management API shows them (package wire).
type (
	Settings = wire.Settings
	// TCBGrace is one entry of the tcbGrace setting.
	TCBGrace = wire.TCBGrace
	Provider = wire.Provider
	Key      = wire.Key
)

// Trust models of a provider.
const (
	TrustModelAAD      = "AAD"
	TrustModelIsolated = "Isolated"
)

// Roles of admin tokens.
const (
	RoleReader      = "reader"
	RolePolicyAdmin = "policy-admin"
	RoleOwner       = "owner"
)

// CreateProviderRequest describes a new provider.
type CreateProviderRequest struct {
	Name string
	// TrustModel is TrustModelAAD (the server's default when empty) or
	// TrustModelIsolated.
	TrustModel string
	// PolicySigningCertificates are the initial policy signers; an
	// Isolated provider needs at least one.
	PolicySigningCertificates []*x509.Certificate
	// Settings: nil or empty members keep the server's defaults.
	Settings *Settings
}

type createProviderBody struct {
	Name                      string    `json:"name"`
	TrustModel                string    `json:"trustModel,omitempty"`
	PolicySigningCertificates []string  `json:"policySigningCertificates,omitempty"`
	Settings                  *Settings `json:"settings,omitempty"`
}

// CreateProvider creates a provider (POST /management/providers, owner).
func (c *Client) CreateProvider(ctx context.Context, r CreateProviderRequest) (*Provider, error) {
	if r.Name == "" {
		return nil, ErrInvalidArgument.Wrapf("the provider needs a name")
	}
	u, err := c.mgmt("/providers")
	if err != nil {
		return nil, err
	}
	b := createProviderBody{Name: r.Name, TrustModel: r.TrustModel, Settings: r.Settings}
	for _, cert := range r.PolicySigningCertificates {
		b.PolicySigningCertificates = append(b.PolicySigningCertificates,
			string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	}
	body, _ := json.Marshal(b)
	var p Provider
	if err := c.do(ctx, request{method: http.MethodPost, url: u, body: body, auth: true, out: &p}); err != nil {
		return nil, err
	}
	return &p, nil
}

// ListProviders lists the providers (GET /management/providers, reader).
func (c *Client) ListProviders(ctx context.Context) ([]Provider, error) {
	u, err := c.mgmt("/providers")
	if err != nil {
		return nil, err
	}
	var out struct {
		Providers []Provider `json:"providers"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return out.Providers, nil
}

func (c *Client) providerURL(name, suffix string) (string, error) {
	if name == "" {
		return "", ErrInvalidArgument.Wrapf("empty provider name")
	}
	return c.mgmt("/providers/" + url.PathEscape(name) + suffix)
}

// GetProvider returns one provider (GET /management/providers/{name}, reader).
func (c *Client) GetProvider(ctx context.Context, name string) (*Provider, error) {
	u, err := c.providerURL(name, "")
	if err != nil {
		return nil, err
	}
	var p Provider
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &p}); err != nil {
		return nil, err
	}
	return &p, nil
}

// UpdateProviderSettings changes a provider's settings (PATCH
// /management/providers/{name}, owner); empty members are left unchanged.
func (c *Client) UpdateProviderSettings(ctx context.Context, name string, s Settings) (*Provider, error) {
	u, err := c.providerURL(name, "")
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(struct {
		Settings Settings `json:"settings"`
	}{s})
	if s.UseDeploymentSources {
		type plain Settings
		body, _ = json.Marshal(struct {
			Settings struct {
				plain
				CollateralSources []string `json:"collateralSources"`
			} `json:"settings"`
		}{Settings: struct {
			plain
			CollateralSources []string `json:"collateralSources"`
		}{plain(s), []string{}}})
	}
	var p Provider
	if err := c.do(ctx, request{method: http.MethodPatch, url: u, body: body, auth: true, out: &p}); err != nil {
		return nil, err
	}
	return &p, nil
}

// DeleteProvider deletes a provider (DELETE /management/providers/{name}, owner).
func (c *Client) DeleteProvider(ctx context.Context, name string) error {
	u, err := c.providerURL(name, "")
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, url: u, auth: true})
}

// RotateKey makes a new active signing key for a provider (POST
// /management/providers/{name}/keys:rotate, owner). The previous key stays
// published until its last token has expired.
func (c *Client) RotateKey(ctx context.Context, name string) (*Key, error) {
	u, err := c.providerURL(name, "/keys:rotate")
	if err != nil {
		return nil, err
	}
	k := Key{Active: true}
	if err := c.do(ctx, request{method: http.MethodPost, url: u, auth: true, out: &k}); err != nil {
		return nil, err
	}
	return &k, nil
}

// ListKeys lists a provider's signing keys (GET
// /management/providers/{name}/keys, reader).
func (c *Client) ListKeys(ctx context.Context, name string) ([]Key, error) {
	u, err := c.providerURL(name, "/keys")
	if err != nil {
		return nil, err
	}
	var out struct {
		Keys []Key `json:"keys"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return out.Keys, nil
}

// AdminToken is an admin bearer token. Token, the secret, is only set in
// the answer of CreateAdminToken.
type AdminToken struct {
	ID          string    `json:"id"`
	Role        string    `json:"role"`
	Description string    `json:"description,omitempty"`
	Token       string    `json:"token,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	Revoked     bool      `json:"revoked"`
}

// CreateAdminToken makes an admin token with a role (RoleReader,
// RolePolicyAdmin, RoleOwner) (POST /management/admin-tokens, owner).
func (c *Client) CreateAdminToken(ctx context.Context, role, description string) (*AdminToken, error) {
	u, err := c.mgmt("/admin-tokens")
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(struct {
		Role        string `json:"role"`
		Description string `json:"description,omitempty"`
	}{role, description})
	var t AdminToken
	if err := c.do(ctx, request{method: http.MethodPost, url: u, body: body, auth: true, out: &t}); err != nil {
		return nil, err
	}
	if t.Description == "" {
		t.Description = description
	}
	return &t, nil
}

// ListAdminTokens lists the admin tokens, without their secrets (GET
// /management/admin-tokens, owner).
func (c *Client) ListAdminTokens(ctx context.Context) ([]AdminToken, error) {
	u, err := c.mgmt("/admin-tokens")
	if err != nil {
		return nil, err
	}
	var out struct {
		Tokens []AdminToken `json:"tokens"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeAdminToken revokes an admin token by id (DELETE
// /management/admin-tokens/{id}, owner).
func (c *Client) RevokeAdminToken(ctx context.Context, id string) error {
	if id == "" {
		return ErrInvalidArgument.Wrapf("empty admin token id")
	}
	u, err := c.mgmt("/admin-tokens/" + url.PathEscape(id))
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodDelete, url: u, auth: true})
}

// Collateral describes one stored collateral set (TCB info and QE identity
// for an FMSPC and PCE-ID).
type Collateral struct {
	ID         int64     `json:"id,omitempty"`
	TEE        string    `json:"tee"`
	FMSPC      string    `json:"fmspc"`
	PCEID      string    `json:"pceId"`
	IssueDate  time.Time `json:"issueDate"`
	NextUpdate time.Time `json:"nextUpdate"`
	FetchedAt  time.Time `json:"fetchedAt,omitzero"`
	Source     string    `json:"source,omitempty"`
	SHA256     string    `json:"sha256"`
	// TCBEvaluationDataNumber is the number of the TCB info (0: not
	// recorded); Pinned marks collateral kept for that number (a TCB
	// baseline) rather than as the platform's current collateral.
	TCBEvaluationDataNumber uint32 `json:"tcbEvaluationDataNumber,omitempty"`
	Pinned                  bool   `json:"pinned,omitempty"`
	// Expired is true when a document of the set is past its nextUpdate
	// or notAfter at the server's time. List: ExpiresAt is the earliest
	// of them and ExpiresInSeconds the time left (negative: since when);
	// import: ExpiredDocuments names the expired ones and Warnings says it
	// in a sentence. The server stores expired collateral all the same.
	Expired          bool                 `json:"expired"`
	ExpiresAt        *time.Time           `json:"expiresAt,omitempty"`
	ExpiresInSeconds *int64               `json:"expiresInSeconds,omitempty"`
	ExpiredDocuments []CollateralDocument `json:"expiredDocuments,omitempty"`
	Warnings         []string             `json:"warnings,omitempty"`
}

// CollateralDocument is one expired document of imported collateral.
type CollateralDocument struct {
	Document  string    `json:"document"` // "TCB info", "QE identity", "PCK CRL", "certificate Intel SGX TCB Signing"…
	ExpiredAt time.Time `json:"expiredAt"`
}

// ImportCollateral stores a collateral bundle (the JSON bundle format of
// pcs.Collateral.MarshalBundle) (POST /management/collateral, owner).
func (c *Client) ImportCollateral(ctx context.Context, bundle []byte) (*Collateral, error) {
	if len(bundle) == 0 {
		return nil, ErrInvalidArgument.Wrapf("empty collateral bundle")
	}
	u, err := c.mgmt("/collateral")
	if err != nil {
		return nil, err
	}
	var out Collateral
	if err := c.do(ctx, request{method: http.MethodPost, url: u, body: bundle, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCollateral lists the stored collateral (GET /management/collateral, reader).
func (c *Client) ListCollateral(ctx context.Context) ([]Collateral, error) {
	u, err := c.mgmt("/collateral")
	if err != nil {
		return nil, err
	}
	var out struct {
		Collateral []Collateral `json:"collateral"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return out.Collateral, nil
}

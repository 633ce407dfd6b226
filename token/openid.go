package token

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxDocumentSize bounds the OpenID configuration and JWKS responses that
// discovery reads.
const MaxDocumentSize = 1 << 20

// OpenIDConfigurationPath is where an issuer serves its OpenID metadata.
const OpenIDConfigurationPath = "/.well-known/openid-configuration"

// MAAClaimsSupported is claims_supported of MAA's OpenID metadata (maa.md
// §1.9, real 2022 response), in MAA's order.
var MAAClaimsSupported = []string{
	"cnf", "nonce", "x-ms-ver", "x-ms-attestation-type", "x-ms-policy-hash", "x-ms-policy-signer",
	"x-ms-sgx-is-debuggable", "x-ms-sgx-mrenclave", "x-ms-sgx-mrsigner", "x-ms-sgx-svn", "x-ms-sgx-ehd",
	"x-ms-sgx-collateral", "is-debuggable", "sgx-mrsigner", "sgx-mrenclave", "product-id", "svn", "tee",
}

// AvowClaimsSupported are the further claims avow emits: the SGX claims MAA
// emits but does not list (maa.md §2.3), avow's SGX verification claims,
// and the TDX claims of MAA's EAT profile (§2.4) with avow's additions
// (package claims).
var AvowClaimsSupported = []string{
	// SGX, emitted by MAA but not listed.
	"x-ms-sgx-product-id", "x-ms-sgx-report-data", "x-ms-sgx-config-id", "x-ms-sgx-config-svn",
	"x-ms-sgx-isv-extended-product-id", "x-ms-sgx-isv-family-id", "x-ms-runtime", "x-ms-inittime",
	"x-ms-policy",
	// SGX, avow additions.
	"x-ms-sgx-tcb-status", "x-ms-sgx-advisory-ids", "x-ms-sgx-tcb-date", "x-ms-sgx-collateral-expired",
	// TDX (MAA EAT profile https://aka.ms/maa-eat-profile-tdxvm).
	"eat_profile", "intuse", "dbgstat", "attester_tcb_status",
	"tdx_mrtd", "tdx_rtmr0", "tdx_rtmr1", "tdx_rtmr2", "tdx_rtmr3",
	"tdx_mrseam", "tdx_mrsignerseam", "tdx_mrconfigid", "tdx_mrowner", "tdx_mrownerconfig",
	"tdx_report_data", "tdx_seam_attributes", "tdx_seamsvn", "tdx_tee_tcb_svn", "tdx_xfam",
	"tdx_td_attributes", "tdx_td_attributes_debug", "tdx_td_attributes_key_locker",
	"tdx_td_attributes_perfmon", "tdx_td_attributes_protection_keys", "tdx_td_attributes_septve_disable",
	// TDX, avow additions (TDX 1.5 fields, verification results).
	"tdx_mrservicetd", "tdx_tee_tcb_svn2",
	"attester_advisory_ids", "attester_tcb_date", "attester_collateral_expired", "qe_svn", "pce_svn",
}

// OpenIDConfiguration is the OpenID metadata document of an issuer, with
// MAA's members in MAA's order (maa.md §1.9).
type OpenIDConfiguration struct {
	ResponseTypesSupported           []string `json:"response_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	RevocationEndpoint               string   `json:"revocation_endpoint,omitempty"`
	Issuer                           string   `json:"issuer,omitempty"`
	JWKSURI                          string   `json:"jwks_uri"`
	ClaimsSupported                  []string `json:"claims_supported,omitempty"`
}

// NewOpenIDConfiguration returns avow's metadata for issuer (the attest URI
// without a trailing slash): jwks_uri issuer+"/certs", revocation_endpoint
// issuer+"/revoke" (as MAA; avow does not serve it), response types
// ["token","none"], RS256, and claims_supported = MAAClaimsSupported
// followed by AvowClaimsSupported.
func NewOpenIDConfiguration(issuer string) *OpenIDConfiguration {
	claims := make([]string, 0, len(MAAClaimsSupported)+len(AvowClaimsSupported))
	claims = append(append(claims, MAAClaimsSupported...), AvowClaimsSupported...)
	return &OpenIDConfiguration{
		ResponseTypesSupported:           []string{"token", "none"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		RevocationEndpoint:               issuer + "/revoke",
		Issuer:                           issuer,
		JWKSURI:                          issuer + "/certs",
		ClaimsSupported:                  claims,
	}
}

// OpenIDMetadata returns the JSON of NewOpenIDConfiguration(issuer), the
// body of GET /.well-known/openid-configuration.
func OpenIDMetadata(issuer string) []byte {
	b, err := compactJSON(NewOpenIDConfiguration(issuer))
	if err != nil {
		panic("token: encoding OpenID metadata: " + err.Error()) // strings only; cannot happen
	}
	return b
}

// ParseOpenIDConfiguration reads an OpenID metadata document. jwks_uri is
// required and must be an http or https URL.
func ParseOpenIDConfiguration(data []byte) (*OpenIDConfiguration, error) {
	var c OpenIDConfiguration
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, ErrMetadataInvalid.Wrapf("not a JSON object: %v", err)
	}
	if c.JWKSURI == "" {
		return nil, ErrMetadataInvalid.Wrapf("no jwks_uri")
	}
	if err := checkHTTPURL(c.JWKSURI); err != nil {
		return nil, ErrMetadataInvalid.Wrapf("jwks_uri: %v", err)
	}
	return &c, nil
}

// Discover finds an issuer's token verification keys by OpenID discovery,
// as MAA's SDKs do: GET issuer + "/.well-known/openid-configuration", check
// its issuer (when present) equals issuer, then GET its jwks_uri and parse
// it with ParseJWKS. issuer may end in a slash. client nil means
// http.DefaultClient; deadlines and cancellation come from ctx. Each
// response must be 200 and at most MaxDocumentSize bytes.
func Discover(ctx context.Context, client *http.Client, issuer string) ([]PublicKey, *OpenIDConfiguration, error) {
	cfg, err := FetchOpenIDConfiguration(ctx, client, issuer)
	if err != nil {
		return nil, nil, err
	}
	// The keys of an https issuer come over https: metadata pointing at
	// http would let anyone on the path substitute the keys.
	if strings.HasPrefix(strings.ToLower(issuer), "https:") {
		if u, err := url.Parse(cfg.JWKSURI); err != nil || u.Scheme != "https" {
			return nil, cfg, ErrDiscoveryFailed.Wrapf("jwks_uri %q: the keys of an https issuer must be fetched over https", cfg.JWKSURI)
		}
	}
	keys, err := FetchJWKS(ctx, client, cfg.JWKSURI)
	if err != nil {
		return nil, cfg, err
	}
	return keys, cfg, nil
}

// FetchOpenIDConfiguration gets and parses issuer's OpenID metadata and
// checks that its issuer, when present, is issuer (ignoring a trailing
// slash on either).
func FetchOpenIDConfiguration(ctx context.Context, client *http.Client, issuer string) (*OpenIDConfiguration, error) {
	base := strings.TrimSuffix(issuer, "/")
	if err := checkHTTPURL(base); err != nil {
		return nil, ErrDiscoveryFailed.Wrapf("issuer: %v", err)
	}
	body, err := FetchDocument(ctx, client, base+OpenIDConfigurationPath, "application/json")
	if err != nil {
		return nil, err
	}
	cfg, err := ParseOpenIDConfiguration(body)
	if err != nil {
		return nil, err
	}
	if cfg.Issuer != "" && strings.TrimSuffix(cfg.Issuer, "/") != base {
		return nil, ErrMetadataInvalid.Wrapf("the document is for issuer %q, not %q", cfg.Issuer, base)
	}
	return cfg, nil
}

// FetchJWKS gets the JWKS at jwksURI and parses it with ParseJWKS.
func FetchJWKS(ctx context.Context, client *http.Client, jwksURI string) ([]PublicKey, error) {
	if err := checkHTTPURL(jwksURI); err != nil {
		return nil, ErrDiscoveryFailed.Wrapf("jwks_uri: %v", err)
	}
	body, err := FetchDocument(ctx, client, jwksURI, "application/jwk+json, application/json")
	if err != nil {
		return nil, err
	}
	return ParseJWKS(body)
}

// FetchDocument GETs u with the Accept header accept and returns a 200
// answer's body, at most MaxDocumentSize bytes; anything else is
// ErrDiscoveryFailed (its cause says what happened). Discovery uses it for
// the OpenID metadata and the JWKS.
func FetchDocument(ctx context.Context, client *http.Client, u, accept string) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, ErrDiscoveryFailed.Wrap(err)
	}
	req.Header.Set("Accept", accept)
	resp, err := client.Do(req)
	if err != nil {
		return nil, ErrDiscoveryFailed.Wrap(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, ErrDiscoveryFailed.Wrapf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
	if err != nil {
		return nil, ErrDiscoveryFailed.Wrapf("GET %s: reading the body: %v", u, err)
	}
	if len(body) > MaxDocumentSize {
		return nil, ErrDiscoveryFailed.Wrapf("GET %s: response larger than %d bytes", u, MaxDocumentSize)
	}
	return body, nil
}

func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	return nil
}

package client

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/token"
)

// Attestation types: the {type} of the attest and policy routes.
const (
	TypeSgxEnclave  = "SgxEnclave"
	TypeOpenEnclave = "OpenEnclave"
	TypeTdxVm       = "TdxVm"
	TypeSevSnpVm    = "SevSnpVm"
)

var b64url = base64.RawURLEncoding

// AttestOptions are the optional members of an attestation request.
type AttestOptions struct {
	// RuntimeData is bound to the evidence: its SHA-256 is the first 32
	// bytes of the report data. Sent as dataType "JSON" when
	// RuntimeDataJSON (the token then carries x-ms-runtime), else "Binary"
	// (x-ms-sgx-ehd).
	RuntimeData     []byte
	RuntimeDataJSON bool
	// InitTimeData, likewise (x-ms-inittime for JSON).
	InitTimeData     []byte
	InitTimeDataJSON bool
	// Nonce is echoed in the token's nonce claim.
	Nonce string
	// DraftPolicy is a policy text evaluated instead of the provider's
	// policy; the answer is then an unsigned token and nothing is stored.
	DraftPolicy string
}

type attestData struct {
	Data     string `json:"data"`
	DataType string `json:"dataType"`
}

type attestBody struct {
	Quote        string      `json:"quote,omitempty"`
	Report       string      `json:"report,omitempty"`
	RuntimeData  *attestData `json:"runtimeData,omitempty"`
	InitTimeData *attestData `json:"initTimeData,omitempty"`
	DraftPolicy  string      `json:"draftPolicyForAttestation,omitempty"`
	Nonce        string      `json:"nonce,omitempty"`
}

func newAttestData(data []byte, isJSON bool, what string) (*attestData, error) {
	if data == nil {
		return nil, nil
	}
	if isJSON {
		if !json.Valid(data) {
			return nil, ErrInvalidArgument.Wrapf("%s is sent as JSON but is not valid JSON", what)
		}
		return &attestData{Data: b64url.EncodeToString(data), DataType: "JSON"}, nil
	}
	return &attestData{Data: b64url.EncodeToString(data), DataType: "Binary"}, nil
}

// AttestSGX sends an SGX quote (POST {attestURI}/attest/SgxEnclave) and
// returns the attestation token.
func (c *Client) AttestSGX(ctx context.Context, attestURI string, quote []byte, opts AttestOptions) (string, error) {
	return c.Attest(ctx, attestURI, TypeSgxEnclave, quote, opts)
}

// AttestOpenEnclave sends an OpenEnclave report, the 16-byte OpenEnclave
// header followed by the SGX quote (see OpenEnclaveReport), to POST
// {attestURI}/attest/OpenEnclave and returns the attestation token.
func (c *Client) AttestOpenEnclave(ctx context.Context, attestURI string, report []byte, opts AttestOptions) (string, error) {
	return c.Attest(ctx, attestURI, TypeOpenEnclave, report, opts)
}

// AttestTDX sends a TDX quote (POST {attestURI}/attest/TdxVm) and returns
// the attestation token.
func (c *Client) AttestTDX(ctx context.Context, attestURI string, quote []byte, opts AttestOptions) (string, error) {
	return c.Attest(ctx, attestURI, TypeTdxVm, quote, opts)
}

// Attest sends evidence of an attestation type (TypeSgxEnclave,
// TypeOpenEnclave: evidence is the report; TypeTdxVm; TypeSevSnpVm:
// evidence is the report JSON, see SevSnpReport) and returns the
// token. Attestation is anonymous: the admin token is not sent.
func (c *Client) Attest(ctx context.Context, attestURI, attestationType string, evidence []byte, opts AttestOptions) (string, error) {
	if len(evidence) == 0 {
		return "", ErrInvalidArgument.Wrapf("no evidence to attest")
	}
	var b attestBody
	switch attestationType {
	case TypeSgxEnclave, TypeTdxVm:
		b.Quote = b64url.EncodeToString(evidence)
	case TypeOpenEnclave, TypeSevSnpVm:
		b.Report = b64url.EncodeToString(evidence)
	default:
		return "", ErrInvalidArgument.Wrapf("attestation type %q: use SgxEnclave, OpenEnclave, SevSnpVm or TdxVm", attestationType)
	}
	var err error
	if b.RuntimeData, err = newAttestData(opts.RuntimeData, opts.RuntimeDataJSON, "runtime data"); err != nil {
		return "", err
	}
	if b.InitTimeData, err = newAttestData(opts.InitTimeData, opts.InitTimeDataJSON, "init-time data"); err != nil {
		return "", err
	}
	b.Nonce, b.DraftPolicy = opts.Nonce, opts.DraftPolicy
	u, err := dataPlane(attestURI, "/attest/"+attestationType)
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(b)
	return c.tokenCall(ctx, request{method: http.MethodPost, url: u, body: body})
}

// SevSnpReport is the "report" of MAA's SevSnpVm request: the JSON
// {"SnpReport": base64url(report), "VcekCertChain": base64url(chain)}, the
// chain being PEM (VCEK, and optionally ASK and ARK).
func SevSnpReport(report, chainPEM []byte) []byte {
	b, _ := json.Marshal(map[string]string{"SnpReport": b64url.EncodeToString(report), "VcekCertChain": b64url.EncodeToString(chainPEM)})
	return b
}

// AttestSevSnp sends SEV-SNP evidence (POST {attestURI}/attest/SevSnpVm):
// report is the JSON SevSnpReport builds.
func (c *Client) AttestSevSnp(ctx context.Context, attestURI string, report []byte, opts AttestOptions) (string, error) {
	return c.Attest(ctx, attestURI, TypeSevSnpVm, report, opts)
}

// OpenEnclaveReport wraps an SGX quote in the OpenEnclave report header:
// u32 version 1, u32 report type 2 (remote), u64 quote size, little-endian.
func OpenEnclaveReport(quote []byte) []byte {
	r := make([]byte, 16+len(quote))
	binary.LittleEndian.PutUint32(r[0:], 1)
	binary.LittleEndian.PutUint32(r[4:], 2)
	binary.LittleEndian.PutUint64(r[8:], uint64(len(quote)))
	copy(r[16:], quote)
	return r
}

// tokenCall does r and returns the "token" member of the answer.
func (c *Client) tokenCall(ctx context.Context, r request) (string, error) {
	var out struct {
		Token string `json:"token"`
	}
	r.out = &out
	if err := c.do(ctx, r); err != nil {
		return "", err
	}
	if out.Token == "" {
		return "", ErrBadResponse.Wrapf("%s %s: no token in the answer", r.method, redact(r.url))
	}
	return out.Token, nil
}

// resultClaims does r and decodes the claims of the result token without
// verifying it: the result comes over the TLS connection to the server.
// Use VerifyToken with VerifyKinds(TokenPolicyManagement) (or
// TokenSignerManagement) on the result's Token to check its signature.
func (c *Client) resultClaims(ctx context.Context, r request) (string, map[string]any, error) {
	tok, err := c.tokenCall(ctx, r)
	if err != nil {
		return "", nil, err
	}
	claims, _, err := token.DecodeUnverified(tok)
	if err != nil {
		return "", nil, ErrBadResponse.Wrapf("%s %s: the result token cannot be decoded: %v", r.method, redact(r.url), err)
	}
	return tok, claims, nil
}

func policyPath(attestationType string) (string, error) {
	if attestationType == "" || strings.ContainsAny(attestationType, "/?#:% ") {
		return "", ErrInvalidArgument.Wrapf("attestation type %q", attestationType)
	}
	return "/policies/" + attestationType, nil
}

// GetPolicy returns a provider's policy for an attestation type (GET
// {attestURI}/policies/{type}): the policy text and the policy document
// (JWS) as stored, taken from the result token's x-ms-policy.
func (c *Client) GetPolicy(ctx context.Context, attestURI, attestationType string) (text, jws string, err error) {
	p, err := policyPath(attestationType)
	if err != nil {
		return "", "", err
	}
	u, err := dataPlane(attestURI, p)
	if err != nil {
		return "", "", err
	}
	_, claims, err := c.resultClaims(ctx, request{method: http.MethodGet, url: u, auth: true})
	if err != nil {
		return "", "", err
	}
	jws, ok := claims["x-ms-policy"].(string)
	if !ok {
		return "", "", ErrBadResponse.Wrapf("the policy result token has no x-ms-policy string")
	}
	doc, err := policy.ParseDocument(jws)
	if err != nil {
		return "", jws, ErrBadResponse.Wrapf("x-ms-policy is not a policy document: %v", err)
	}
	return doc.Text, jws, nil
}

// PolicyResult is the answer of SetPolicy and ResetPolicy: the result
// token's claims (MAA's PolicyResult).
type PolicyResult struct {
	// Result is "Updated" (set) or "Removed" (reset).
	Result string
	// TokenHash is x-ms-policy-token-hash: the base64url SHA-256 of the
	// document as the server received it (set only).
	TokenHash string
	// Signer is x-ms-policy-signer, the JWK of the document's signer, when
	// the document was signed.
	Signer map[string]any
	// Claims are all claims of the result token; Token is the token.
	Claims map[string]any
	Token  string
	// Warnings are avow's lint findings on the policy set (for example a
	// condition on a misspelled claim type): the policy is stored, but
	// probably does not do what its author meant. MAA sends none.
	Warnings []policy.Warning
}

// SignerCertificate returns the certificate of Signer (x5c[0]), or nil.
func (r *PolicyResult) SignerCertificate() *x509.Certificate {
	if r == nil || r.Signer == nil {
		return nil
	}
	cert, _ := jwkCertificate(r.Signer)
	return cert
}

func newPolicyResult(tok string, claims map[string]any) *PolicyResult {
	r := &PolicyResult{Claims: claims, Token: tok}
	r.Result, _ = claims["x-ms-policy-result"].(string)
	r.TokenHash, _ = claims["x-ms-policy-token-hash"].(string)
	r.Signer, _ = claims["x-ms-policy-signer"].(map[string]any)
	return r
}

// SetPolicy stores a policy document (PUT {attestURI}/policies/{type}).
// jws is a policy document from policy.UnsignedDocument or
// policy.SignDocument; it is sent verbatim, as MAA's SDKs do (text/plain).
func (c *Client) SetPolicy(ctx context.Context, attestURI, attestationType, jws string) (*PolicyResult, error) {
	return c.policyChange(ctx, attestURI, attestationType, "", jws)
}

// ResetPolicy restores the provider's default policy for a type (POST
// {attestURI}/policies/{type}:reset). jws is a document with an empty
// payload (ResetDocument); signed for an Isolated provider.
func (c *Client) ResetPolicy(ctx context.Context, attestURI, attestationType, jws string) (*PolicyResult, error) {
	return c.policyChange(ctx, attestURI, attestationType, ":reset", jws)
}

func (c *Client) policyChange(ctx context.Context, attestURI, attestationType, suffix, jws string) (*PolicyResult, error) {
	jws = strings.TrimSpace(jws)
	if jws == "" {
		return nil, ErrInvalidArgument.Wrapf("empty policy document")
	}
	p, err := policyPath(attestationType)
	if err != nil {
		return nil, err
	}
	u, err := dataPlane(attestURI, p+suffix)
	if err != nil {
		return nil, err
	}
	method := http.MethodPut
	if suffix != "" {
		method = http.MethodPost
	}
	var out struct {
		Token    string           `json:"token"`
		Warnings []policy.Warning `json:"warnings"`
	}
	r := request{method: method, url: u, body: []byte(jws), contentType: "text/plain; charset=utf-8", auth: true, out: &out}
	if err := c.do(ctx, r); err != nil {
		return nil, err
	}
	if out.Token == "" {
		return nil, ErrBadResponse.Wrapf("%s %s: no token in the answer", r.method, redact(r.url))
	}
	claims, _, err := token.DecodeUnverified(out.Token)
	if err != nil {
		return nil, ErrBadResponse.Wrapf("%s %s: the result token cannot be decoded: %v", r.method, redact(r.url), err)
	}
	res := newPolicyResult(out.Token, claims)
	res.Warnings = out.Warnings
	return res, nil
}

// ListSigners returns a provider's policy signer certificates (GET
// {attestURI}/certificates: the x5c[0] of each key of the result token's
// x-ms-policy-certificates).
func (c *Client) ListSigners(ctx context.Context, attestURI string) ([]*x509.Certificate, error) {
	u, err := dataPlane(attestURI, "/certificates")
	if err != nil {
		return nil, err
	}
	_, claims, err := c.resultClaims(ctx, request{method: http.MethodGet, url: u, auth: true})
	if err != nil {
		return nil, err
	}
	set, ok := claims["x-ms-policy-certificates"].(map[string]any)
	if !ok {
		return nil, ErrBadResponse.Wrapf("the certificates result token has no x-ms-policy-certificates object")
	}
	keys, _ := set["keys"].([]any)
	certs := []*x509.Certificate{}
	for i, k := range keys {
		jwk, _ := k.(map[string]any)
		cert, err := jwkCertificate(jwk)
		if err != nil {
			return nil, ErrBadResponse.Wrapf("x-ms-policy-certificates key %d: %v", i, err)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

func jwkCertificate(jwk map[string]any) (*x509.Certificate, error) {
	x5c, _ := jwk["x5c"].([]any)
	if len(x5c) == 0 {
		return nil, ErrBadResponse.Wrapf("no x5c")
	}
	s, _ := x5c[0].(string)
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if der, err = base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
			return nil, ErrBadResponse.Wrapf("x5c[0] is not base64")
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, ErrBadResponse.Wrapf("x5c[0] is not a certificate: %v", err)
	}
	return cert, nil
}

// SignerResult is the answer of AddSigner and RemoveSigner (MAA's
// PolicyCertificatesModificationResult).
type SignerResult struct {
	// Thumbprint is x-ms-certificate-thumbprint (hex SHA-1 of the DER).
	Thumbprint string
	// Result is x-ms-policycertificates-result: "IsPresent" after add,
	// "IsAbsent" after remove.
	Result string
	Claims map[string]any
	Token  string
}

// AddSigner adds a policy signer certificate (POST
// {attestURI}/certificates:add). jws is a SignerChangeDocument signed by a
// current signer.
func (c *Client) AddSigner(ctx context.Context, attestURI, jws string) (*SignerResult, error) {
	return c.signerChange(ctx, attestURI, ":add", jws)
}

// RemoveSigner removes a policy signer certificate (POST
// {attestURI}/certificates:remove). jws is a SignerChangeDocument signed by
// a current signer.
func (c *Client) RemoveSigner(ctx context.Context, attestURI, jws string) (*SignerResult, error) {
	return c.signerChange(ctx, attestURI, ":remove", jws)
}

func (c *Client) signerChange(ctx context.Context, attestURI, op, jws string) (*SignerResult, error) {
	jws = strings.TrimSpace(jws)
	if jws == "" {
		return nil, ErrInvalidArgument.Wrapf("empty signer document")
	}
	u, err := dataPlane(attestURI, "/certificates"+op)
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(jws) // a JSON string, as MAA's SDKs send it
	tok, claims, err := c.resultClaims(ctx, request{method: http.MethodPost, url: u, body: body, auth: true})
	if err != nil {
		return nil, err
	}
	r := &SignerResult{Claims: claims, Token: tok}
	r.Thumbprint, _ = claims["x-ms-certificate-thumbprint"].(string)
	r.Result, _ = claims["x-ms-policycertificates-result"].(string)
	return r, nil
}

// TypeNvidiaGpu is avow's type for NVIDIA confidential-GPU evidence.
const TypeNvidiaGpu = "NvidiaGpu"

// GPUEvidence is one GPU's evidence as NVIDIA's clients send it: the
// architecture (HOPPER, BLACKWELL), base64 of the PEM device chain and
// base64 of the attestation report.
type GPUEvidence struct {
	Arch        string `json:"arch"`
	Certificate string `json:"certificate"`
	Evidence    string `json:"evidence"`
}

// AttestGPU sends the evidence of one or more GPUs to
// {attestURI}/attest/NvidiaGpu and returns the token. gpuNonce is the
// GPUs' nonce in hex; when empty, opts.RuntimeData (or RuntimeDataJSON)
// must be what the nonce is SHA-256 of. opts.Nonce is not used (the GPU
// nonce is the request's "nonce").
func (c *Client) AttestGPU(ctx context.Context, attestURI string, evidence []GPUEvidence, gpuNonce string, opts AttestOptions) (string, error) {
	if len(evidence) == 0 {
		return "", ErrInvalidArgument.Wrapf("no GPU evidence to attest")
	}
	b := struct {
		Evidence    []GPUEvidence `json:"evidence"`
		Nonce       string        `json:"nonce,omitempty"`
		RuntimeData *attestData   `json:"runtimeData,omitempty"`
		DraftPolicy string        `json:"draftPolicyForAttestation,omitempty"`
	}{Evidence: evidence, Nonce: gpuNonce, DraftPolicy: opts.DraftPolicy}
	var err error
	if b.RuntimeData, err = newAttestData(opts.RuntimeData, opts.RuntimeDataJSON, "runtime data"); err != nil {
		return "", err
	}
	u, err := dataPlane(attestURI, "/attest/"+TypeNvidiaGpu)
	if err != nil {
		return "", err
	}
	body, _ := json.Marshal(b)
	return c.tokenCall(ctx, request{method: http.MethodPost, url: u, body: body})
}

// TCBBaseline is one TCB baseline of GET {attestURI}/tcbbaselines/{type}
// (MAA's TcbBaseline, api-version 2025-06-01).
type TCBBaseline struct {
	TCBIdentifier            string `json:"tcbIdentifier"`
	TCBEvaluationDataNumber  uint32 `json:"tcbEvaluationDataNumber,omitempty"`
	TCBReleaseDate           string `json:"tcbReleaseDate,omitempty"`
	MinimumPSWLinuxVersion   string `json:"minimumPswLinuxVersion,omitempty"`
	MinimumPSWWindowsVersion string `json:"minimumPswWindowsVersion,omitempty"`
	IsSelectedTCB            bool   `json:"isSelectedTcb"`
}

// TCBBaselinesAPIVersion is the api-version TCBBaselines sends.
const TCBBaselinesAPIVersion = "2025-06-01"

// TCBBaselines lists the TCB baselines a provider's policy for an
// attestation type can select, and the one it selects (GET
// {attestURI}/tcbbaselines/{type}?api-version=2025-06-01, a bearer token
// with the reader role).
func (c *Client) TCBBaselines(ctx context.Context, attestURI, attestationType string) ([]TCBBaseline, error) {
	if attestationType == "" || strings.ContainsAny(attestationType, "/?#:% ") {
		return nil, ErrInvalidArgument.Wrapf("attestation type %q", attestationType)
	}
	u, err := dataPlane(attestURI, "/tcbbaselines/"+attestationType)
	if err != nil {
		return nil, err
	}
	u = strings.TrimSuffix(u, APIVersion) + TCBBaselinesAPIVersion
	var out struct {
		TCBBaselines []TCBBaseline `json:"tcbBaselines"`
	}
	if err := c.do(ctx, request{method: http.MethodGet, url: u, auth: true, out: &out}); err != nil {
		return nil, err
	}
	return out.TCBBaselines, nil
}

// Package client is the Go client of an avow server: the management API
// (providers, signing keys, admin tokens, collateral), MAA's data plane
// (attestation, policies, policy signer certificates) and the verification
// of attestation tokens through OpenID discovery. The avow CLI is built on it.
//
// The data plane is addressed by attest URI, {server}/providers/{name} for
// an avow provider (Client.AttestURI) or any MAA-compatible instance URL, so
// the same calls work against Microsoft Azure Attestation. Requests send
// api-version 2022-08-01.
//
// A server that refuses a request answers with MAA's error body; the client
// returns it as *Error (use errors.As). Transport failures, responses larger
// than the limits and responses the client cannot understand are returned as
// other errors (codes ErrResponseTooLarge, ErrBadResponse).
//
//	c, err := client.New("https://localhost:8443",
//		client.WithToken(os.Getenv("AVOW_TOKEN")),
//		client.WithRootCAs(pool)) // the server's self-signed certificate
//	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "contoso"})
//	tok, err := c.AttestSGX(ctx, p.AttestURI, quote, client.AttestOptions{RuntimeData: rd})
//	verified, err := c.VerifyToken(ctx, tok, p.AttestURI)
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/loopback"
)

// APIVersion is the api-version sent on data-plane requests (MAA's GA
// version with the attestation types avow serves).
const APIVersion = "2022-08-01"

// Response size limits: MaxResponseSize bounds a successful response body,
// MaxErrorBodySize the part of an error body that is read.
const (
	MaxResponseSize  = 8 << 20
	MaxErrorBodySize = 64 << 10
)

// Client errors that are not the server's answer. Each has a stable code.
var (
	// ErrResponseTooLarge: a response body exceeded MaxResponseSize.
	ErrResponseTooLarge = errs.New("response_too_large", "the server response exceeds the client's size limit")
	// ErrBadResponse: a 2xx response the client cannot decode (not JSON,
	// missing token, malformed result token).
	ErrBadResponse = errs.New("bad_response", "the server response is not what the API documents")
	// ErrNoServer: a management call on a client made without a server URL.
	ErrNoServer = errs.New("no_server", "no server address is configured")
	// ErrInvalidArgument: a call with arguments the client refuses before
	// sending anything.
	ErrInvalidArgument = errs.New("invalid_argument", "invalid argument")
	// ErrOptions: options that cannot be combined or applied.
	ErrOptions = errs.New("client_options_invalid", "the client options are invalid")
)

// Error is the server's refusal of a request: the HTTP status and MAA's
// error body {"error":{"code","message"}}, with the x-ms-request-id header.
// When the body is not MAA's error body, Code is empty and Message holds the
// start of the body or the status text.
type Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "server answered %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id " + e.RequestID + ")")
	}
	return b.String()
}

// Client talks to one avow server (management plane) and to data-plane
// attest URIs. It is safe for concurrent use.
type Client struct {
	base  string // server URL without a trailing slash; may be empty
	token string
	hc    *http.Client
	now   func() time.Time
	slack time.Duration
}

type config struct {
	token    string
	hc       *http.Client
	roots    *x509.CertPool
	insecure bool
	now      func() time.Time
	slack    time.Duration
	timeout  time.Duration
}

// Option configures a Client.
type Option func(*config)

// WithToken sets the admin bearer token sent to management, policy and
// certificate endpoints (never to attestation or OpenID discovery).
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithHTTPClient sets the HTTP client. WithRootCAs and WithInsecureSkipVerify
// still apply when its Transport is nil or an *http.Transport (a copy is
// changed, never the caller's).
func WithHTTPClient(hc *http.Client) Option { return func(c *config) { c.hc = hc } }

// WithRootCAs sets the certificate authorities that server certificates must
// chain to, for example the system pool plus avow's self-signed certificate
// (see CertPoolFromPEM).
func WithRootCAs(pool *x509.CertPool) Option { return func(c *config) { c.roots = pool } }

// WithInsecureSkipVerify disables the verification of the server's TLS
// certificate. For development only: anyone on the path can then read the
// admin token and forge responses, including attestation tokens.
func WithInsecureSkipVerify() Option { return func(c *config) { c.insecure = true } }

// WithClock sets the time source of VerifyToken (default time.Now).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithClockSkew sets the clock skew VerifyToken tolerates on exp and nbf
// (default 0, as MAA's SDKs).
func WithClockSkew(d time.Duration) Option { return func(c *config) { c.slack = d } }

// WithTimeout sets a timeout on each HTTP exchange of the default HTTP
// client (no timeout by default; contexts carry deadlines too).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// New returns a client of the avow server at baseURL (for example
// https://localhost:8443). baseURL may be empty for a client used only with
// full attest URIs and token verification.
func New(baseURL string, opts ...Option) (*Client, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	base := strings.TrimRight(strings.TrimSpace(baseURL), "/")
	if base != "" {
		u, err := url.Parse(base)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, ErrInvalidArgument.Wrapf("server address %q is not an http(s) URL such as https://localhost:8443", baseURL)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return nil, ErrInvalidArgument.Wrapf("server address %q must not have a query or fragment", baseURL)
		}
	}
	if cfg.slack < 0 {
		return nil, ErrOptions.Wrapf("negative clock skew %v", cfg.slack)
	}
	hc, err := httpClient(&cfg)
	if err != nil {
		return nil, err
	}
	now := cfg.now
	if now == nil {
		now = time.Now
	}
	return &Client{base: base, token: cfg.token, hc: hc, now: now, slack: cfg.slack}, nil
}

func httpClient(cfg *config) (*http.Client, error) {
	hc := cfg.hc
	if hc == nil {
		hc = &http.Client{Timeout: cfg.timeout, Transport: LocalhostTransport()}
	}
	if cfg.roots == nil && !cfg.insecure {
		return hc, nil
	}
	var tr *http.Transport
	switch t := hc.Transport.(type) {
	case nil:
		tr = LocalhostTransport()
	case *http.Transport:
		tr = t.Clone()
	default:
		return nil, ErrOptions.Wrapf("WithRootCAs and WithInsecureSkipVerify need an *http.Transport, the HTTP client has %T", t)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if tr.TLSClientConfig != nil {
		tc = tr.TLSClientConfig.Clone()
	}
	if cfg.roots != nil {
		tc.RootCAs = cfg.roots
	}
	if cfg.insecure {
		tc.InsecureSkipVerify = true
	}
	tr.TLSClientConfig = tc
	c := *hc
	c.Transport = tr
	return &c, nil
}

// LocalhostTransport is a clone of http.DefaultTransport that dials names
// under .localhost (https://NAME.avow.localhost:8443, a development server's
// host-named providers) on the loopback address, as RFC 6761 reserves them
// and curl and browsers do; Go's resolver asks DNS for them. Clients made
// by New without WithHTTPClient use it.
func LocalhostTransport() *http.Transport { return loopback.Transport() }

// CertPoolFromPEM returns the system certificate pool (or an empty pool
// where there is none) with the PEM certificates of pemCerts added: the
// pool for WithRootCAs when the server has a self-signed certificate.
func CertPoolFromPEM(pemCerts []byte) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pemCerts) {
		return nil, ErrInvalidArgument.Wrapf("no PEM certificate found")
	}
	return pool, nil
}

// BaseURL returns the server URL the client was made with, without a
// trailing slash.
func (c *Client) BaseURL() string { return c.base }

// HTTPClient returns the HTTP client the Client uses (with its TLS options).
func (c *Client) HTTPClient() *http.Client { return c.hc }

// AttestURI returns the path-based attest URI of the provider name on
// this server, {server}/providers/{name}, where every provider's data plane
// answers. A server that names its providers by host (avow serve
// --provider-domain) or serves one at its root (--root-provider) issues
// their tokens under another URI: ProviderAttestURI asks for it.
func (c *Client) AttestURI(name string) string {
	return c.base + "/providers/" + url.PathEscape(name)
}

// ProviderAttestURI returns the attest URI of the provider name — the
// issuer of its tokens, which drivers and SDKs are given — as the server
// publishes it: the issuer of the OpenID metadata at the provider's
// path-based address (anonymous, like MAA's). It is AttestURI on a server
// with path-based providers, https://NAME.DOMAIN[:port] on one with
// host-named providers.
func (c *Client) ProviderAttestURI(ctx context.Context, name string) (string, error) {
	var meta struct {
		Issuer string `json:"issuer"`
	}
	u := c.AttestURI(name)
	if err := c.do(ctx, request{method: http.MethodGet, url: u + "/.well-known/openid-configuration", out: &meta}); err != nil {
		return "", err
	}
	iss, err := url.Parse(meta.Issuer)
	if err != nil || (iss.Scheme != "https" && iss.Scheme != "http") || iss.Host == "" {
		return "", ErrBadResponse.Wrapf("the OpenID metadata of %s names no usable issuer (%q)", u, meta.Issuer)
	}
	return strings.TrimRight(meta.Issuer, "/"), nil
}

// request is one HTTP exchange.
type request struct {
	method      string
	url         string
	body        []byte
	contentType string
	auth        bool
	out         any // decoded from a 2xx JSON body when not nil
}

// do sends r and decodes the answer. Non-2xx answers become *Error.
func (c *Client) do(ctx context.Context, r request) error {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url, body)
	if err != nil {
		return ErrInvalidArgument.Wrap(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "avow-client")
	if r.body != nil {
		ct := r.contentType
		if ct == "" {
			ct = "application/json; charset=utf-8"
		}
		req.Header.Set("Content-Type", ct)
	}
	if r.auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return fmt.Errorf("reading the response of %s %s: %w", r.method, redact(r.url), err)
	}
	if len(data) > MaxResponseSize {
		return ErrResponseTooLarge.Wrapf("%s %s: more than %d bytes", r.method, redact(r.url), MaxResponseSize)
	}
	if r.out == nil {
		return nil
	}
	if err := json.Unmarshal(data, r.out); err != nil {
		return ErrBadResponse.Wrapf("%s %s: the body is not the expected JSON: %v", r.method, redact(r.url), err)
	}
	return nil
}

// redact drops the query from a URL for messages.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

func decodeError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("x-ms-request-id")}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBodySize))
	var body struct {
		Error *struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"requestId"` // avow's copy of x-ms-request-id
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error != nil && (body.Error.Code != "" || body.Error.Message != "") {
		e.Code, e.Message = body.Error.Code, body.Error.Message
		if e.RequestID == "" {
			e.RequestID = body.Error.RequestID
		}
		return e
	}
	text := strings.TrimSpace(string(data))
	if len(text) > 200 {
		text = text[:200] + "…"
	}
	if text == "" || !isPrintable(text) {
		text = http.StatusText(resp.StatusCode)
	}
	e.Message = text
	return e
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}

// mgmt returns the URL of a management path, or ErrNoServer.
func (c *Client) mgmt(path string) (string, error) {
	if c.base == "" {
		return "", ErrNoServer.Wrapf("the management API needs the server address")
	}
	return c.base + "/management" + path, nil
}

// dataPlane returns {attestURI}{path}?api-version=APIVersion.
func dataPlane(attestURI, path string) (string, error) {
	u := strings.TrimRight(strings.TrimSpace(attestURI), "/")
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.RawQuery != "" {
		return "", ErrInvalidArgument.Wrapf("attest URI %q is not an http(s) URL such as https://localhost:8443/providers/contoso", attestURI)
	}
	return u + path + "?api-version=" + APIVersion, nil
}

// IsStatus reports whether err is a server *Error with the given status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

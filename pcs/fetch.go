package pcs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/avowhq/avow/errs"
)

// Errors of fetching collateral from a source.
var (
	// ErrFetch reports a source that did not answer usefully: a transport
	// error, a timeout, a 5xx status, a missing issuer-chain header or a
	// body that cannot be read.
	ErrFetch = errs.New("collateral_fetch_failed", "collateral could not be fetched from the source")
	// ErrNotAtSource reports a source that answered but does not have the
	// requested collateral (HTTP 404 for an unknown FMSPC, or a folder
	// without it).
	ErrNotAtSource = errs.New("collateral_not_at_source", "the source has no collateral for this platform")
)

// FetchRequest names the collateral of one platform family.
type FetchRequest struct {
	TEE   string // "sgx" or "tdx"
	FMSPC string // 12 hex digits
	PCEID string // 4 hex digits; empty matches any (folders only, PCS has no PCE ID parameter)
	// PCKCA is "processor" or "platform": the CA that issued the platform's
	// PCK certificate, whose CRL the verifier needs. Empty means "platform"
	// for TDX and "processor" for SGX.
	PCKCA string
	// TCBEvaluationDataNumber, when not zero, asks for the TCB info and QE
	// identity of that TCB evaluation data number (PCS/PCCS v4
	// tcbEvaluationDataNumber=N: a TCB baseline) instead of the update
	// channel's current ones.
	TCBEvaluationDataNumber uint32
	// Update is the update channel, "standard" (the default, "") or
	// "early" (PCS/PCCS update=early). It cannot be combined with a
	// TCBEvaluationDataNumber.
	Update string
}

func (r FetchRequest) normalize() (FetchRequest, error) {
	r.TEE = strings.ToLower(r.TEE)
	r.FMSPC = strings.ToLower(r.FMSPC)
	r.PCEID = strings.ToLower(r.PCEID)
	r.PCKCA = strings.ToLower(r.PCKCA)
	if r.TEE != "sgx" && r.TEE != "tdx" {
		return r, ErrFetch.Wrapf("unknown TEE %q", r.TEE)
	}
	if len(r.FMSPC) != 12 || !isHex([]byte(r.FMSPC)) {
		return r, ErrFetch.Wrapf("FMSPC %q is not 12 hex digits", r.FMSPC)
	}
	if r.PCKCA == "" {
		r.PCKCA = "processor"
		if r.TEE == "tdx" {
			r.PCKCA = "platform"
		}
	}
	if r.PCKCA != "processor" && r.PCKCA != "platform" {
		return r, ErrFetch.Wrapf("PCK CA %q: want processor or platform", r.PCKCA)
	}
	r.Update = strings.ToLower(r.Update)
	switch {
	case r.Update != "" && r.Update != UpdateStandard && r.Update != UpdateEarly:
		return r, ErrFetch.Wrapf("update %q: want standard or early", r.Update)
	case r.Update != "" && r.TCBEvaluationDataNumber != 0:
		return r, ErrFetch.Wrapf("update=%s cannot be combined with a TCB evaluation data number", r.Update)
	}
	return r, nil
}

// The update channels of PCS/PCCS v4 TCB info and QE identity.
const (
	UpdateStandard = "standard"
	UpdateEarly    = "early"
)

// collateralQuery is the query of a TCB info or QE identity request: the
// TCB evaluation data number or the update channel, if any.
func (r FetchRequest) collateralQuery(q url.Values) url.Values {
	if r.TCBEvaluationDataNumber != 0 {
		if q == nil {
			q = url.Values{}
		}
		q.Set("tcbEvaluationDataNumber", strconv.FormatUint(uint64(r.TCBEvaluationDataNumber), 10))
	} else if r.Update != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("update", r.Update)
	}
	return q
}

// String names the request in messages: "SGX FMSPC 00906ed50000 (processor CA)".
func (r FetchRequest) String() string {
	s := fmt.Sprintf("%s FMSPC %s (%s CA)", strings.ToUpper(r.TEE), r.FMSPC, r.PCKCA)
	if r.TCBEvaluationDataNumber != 0 {
		s += fmt.Sprintf(" TCB evaluation data number %d", r.TCBEvaluationDataNumber)
	} else if r.Update == UpdateEarly {
		s += " (early update)"
	}
	return s
}

// Source is somewhere collateral can be had: a PCCS, Intel's PCS, or a
// local folder. Fetch returns the collateral as received, unverified;
// errors wrap ErrFetch or ErrNotAtSource.
type Source interface {
	// Name identifies the source in errors, the audit log and the stored
	// row's Source column ("pccs https://pccs.example:8081"). It never
	// contains an API key.
	Name() string
	Fetch(ctx context.Context, req FetchRequest) (*Collateral, error)
}

// Kinds of HTTP sources.
const (
	KindPCS  = "pcs"  // Intel's Provisioning Certification Service
	KindPCCS = "pccs" // Intel's Provisioning Certificate Caching Service (or a compatible cache)
)

// DefaultPCSURL is Intel's PCS.
const DefaultPCSURL = "https://api.trustedservices.intel.com"

// Issuer-chain response headers (dcap.md §4.1, §4.2). Header names are
// case-insensitive; v3 names are accepted as fallbacks.
const (
	HeaderTCBInfoIssuerChain     = "TCB-Info-Issuer-Chain"
	HeaderTCBInfoIssuerChainV3   = "SGX-TCB-Info-Issuer-Chain"
	HeaderQEIdentityIssuerChain  = "SGX-Enclave-Identity-Issuer-Chain"
	headerQEIdentityIssuerChain2 = "Enclave-Identity-Issuer-Chain"
	HeaderPCKCRLIssuerChain      = "SGX-PCK-CRL-Issuer-Chain"
	// HeaderAPIKey carries the PCS subscription key.
	HeaderAPIKey = "Ocp-Apim-Subscription-Key"
)

// Fetcher gets collateral over HTTP from a PCCS or Intel's PCS (API v3 or
// v4): TCB info and QE identity with their issuer chains from the
// documented headers, the PCK CRL (DER, encoding=der) with its issuer
// chain, and the root CA CRL (PCCS: rootcacrl, hex of DER, falling back to
// crl?uri=; PCS: the CRL distribution point of the PCK CRL's issuer).
type Fetcher struct {
	Kind    string // KindPCS or KindPCCS
	BaseURL string // scheme://host[:port][/prefix], without /sgx/certification/vN
	Version string // "v4" (default) or "v3"
	// APIKey is sent as Ocp-Apim-Subscription-Key when set (PCS), only on
	// requests to Intel's PCS over HTTPS (SendsAPIKey): never over plain
	// HTTP, to a mirror at another host or to a CRL distribution point.
	APIKey string
	// Client does the requests; nil uses a client with no timeout of its
	// own (bound each Fetch with the context). Whatever the client's own
	// redirect policy, a Fetcher follows at most MaxRedirects redirects,
	// each within the origin (scheme, host and port) of its request.
	Client *http.Client
	// AllowURL, when set, is asked before every request (the root CA
	// CRL's distribution point and redirects included); a URL it refuses
	// is not requested. The service sets it for providers' sources: the
	// operator's allow-list (SourceRule).
	AllowURL func(*url.URL) bool
	// RootCRLURL overrides where a PCS source gets the root CA CRL (by
	// default the CRL distribution point of the PCK CRL issuer certificate,
	// https://certificates.trustedservices.intel.com/IntelSGXRootCA.der).
	RootCRLURL string
	// MaxBody caps each response body (default 4 MiB).
	MaxBody int64
}

// Name returns "pcs URL" or "pccs URL".
func (f *Fetcher) Name() string { return f.Kind + " " + f.BaseURL }

func (f *Fetcher) version() string {
	if f.Version == "" {
		return "v4"
	}
	return f.Version
}

func (f *Fetcher) url(tee, path string, q url.Values) string {
	u := f.BaseURL + "/" + tee + "/certification/" + f.version() + "/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// MaxRedirects bounds the redirects one request follows.
const MaxRedirects = 3

// PCSHost is the host of Intel's PCS, the only host the API key goes to.
const PCSHost = "api.trustedservices.intel.com"

// IntelCRLHost publishes the CRLs of Intel's SGX root CA
// (https://certificates.trustedservices.intel.com/IntelSGXRootCA.der).
const IntelCRLHost = "certificates.trustedservices.intel.com"

// SendsAPIKey reports whether a request to u may carry the PCS API key:
// https to Intel's PCS host on the default port.
func SendsAPIKey(u *url.URL) bool {
	return u.Scheme == "https" && strings.EqualFold(u.Hostname(), PCSHost) && (u.Port() == "" || u.Port() == "443")
}

// IntelCRLURL reports whether u is an https URL of Intel's CRL host.
func IntelCRLURL(u *url.URL) bool {
	return u.Scheme == "https" && strings.EqualFold(u.Hostname(), IntelCRLHost) && (u.Port() == "" || u.Port() == "443")
}

// origin is scheme://host:port with the default port made explicit and
// the host lowercase.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// errRedirect refuses a redirect; get turns it into ErrFetch.
type errRedirect struct{ msg string }

func (e errRedirect) Error() string { return e.msg }

// client is f.Client (or http.DefaultClient) with f's redirect policy:
// at most MaxRedirects, each to the origin of the first request (so never
// https→http, another host or another port), each allowed by AllowURL,
// and the API key dropped wherever SendsAPIKey says no.
func (f *Fetcher) client() *http.Client {
	hc := f.Client
	if hc == nil {
		hc = http.DefaultClient
	}
	c := *hc
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		first := via[0].URL
		switch {
		case len(via) > MaxRedirects:
			return errRedirect{fmt.Sprintf("more than %d redirects", MaxRedirects)}
		case origin(req.URL) != origin(first):
			return errRedirect{fmt.Sprintf("a redirect to %s refused: redirects are followed within %s only", origin(req.URL), origin(first))}
		case f.AllowURL != nil && !f.AllowURL(req.URL):
			return errRedirect{fmt.Sprintf("a redirect to %s refused: not an allowed collateral source", shortURL(req.URL.String()))}
		}
		if !SendsAPIKey(req.URL) {
			req.Header.Del(HeaderAPIKey)
		}
		return nil
	}
	return &c
}

// response is one answered request.
type response struct {
	body   []byte
	header http.Header
}

// get performs one GET. A 404 is ErrNotAtSource; any other non-200
// status, transport error or oversized body is ErrFetch. Messages name the
// path (never the API key, which travels in a header).
func (f *Fetcher) get(ctx context.Context, rawURL string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, ErrFetch.Wrapf("%s: %v", rawURL, err)
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, ErrFetch.Wrapf("GET %s: not an http(s) URL", shortURL(rawURL))
	}
	if f.AllowURL != nil && !f.AllowURL(req.URL) {
		return nil, ErrFetch.Wrapf("GET %s: refused: not an allowed collateral source", shortURL(rawURL))
	}
	if f.APIKey != "" && SendsAPIKey(req.URL) {
		req.Header.Set(HeaderAPIKey, f.APIKey)
	}
	req.Header.Set("User-Agent", "avow")
	resp, err := f.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ErrFetch.Wrapf("GET %s: %v", shortURL(rawURL), ctx.Err())
		}
		return nil, ErrFetch.Wrapf("GET %s: %v", shortURL(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	limit := f.MaxBody
	if limit <= 0 {
		limit = 4 << 20
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, ErrFetch.Wrapf("GET %s: reading the body: %v", shortURL(rawURL), err)
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, ErrNotAtSource.Wrapf("GET %s: 404 Not Found", shortURL(rawURL))
	case resp.StatusCode != http.StatusOK:
		return nil, ErrFetch.Wrapf("GET %s: %s%s", shortURL(rawURL), resp.Status, errorHint(body))
	case int64(len(body)) > limit:
		return nil, ErrFetch.Wrapf("GET %s: the body is larger than %d bytes", shortURL(rawURL), limit)
	}
	return &response{body: body, header: resp.Header}, nil
}

// errorHint returns a short, printable excerpt of an error body.
func errorHint(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" {
		return ""
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	for _, r := range s {
		if r < 0x20 && r != '\t' {
			return ""
		}
	}
	return " (" + s + ")"
}

// shortURL drops the scheme for messages.
func shortURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		return u[i+3:]
	}
	return u
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// chainHeader returns the URL-decoded value of the first of names present.
func chainHeader(r *response, what string, names ...string) ([]byte, error) {
	for _, n := range names {
		if v := r.header.Get(n); v != "" {
			dec, err := DecodeIssuerChain(v)
			if err != nil {
				return nil, ErrFetch.Wrapf("%s: header %s: %v", what, n, err)
			}
			return dec, nil
		}
	}
	return nil, ErrFetch.Wrapf("%s: the response has no %s header", what, names[0])
}

// DecodeIssuerChain decodes an issuer-chain header value: percent-encoded
// PEM (a '+' stays a '+'). A value that already is PEM is returned as is.
func DecodeIssuerChain(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if !strings.Contains(v, "%") && strings.HasPrefix(v, "-----BEGIN") {
		return []byte(v), nil // PEM never contains '%'
	}
	dec, err := url.PathUnescape(v)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(dec, "-----BEGIN CERTIFICATE-----") {
		return nil, errors.New("the value is not URL-encoded PEM certificates")
	}
	return []byte(dec), nil
}

// EncodeIssuerChain percent-encodes a PEM chain the way PCS does (spaces
// as %20), for PCS-like test servers and export.
func EncodeIssuerChain(pemChain []byte) string {
	return strings.ReplaceAll(url.QueryEscape(string(pemChain)), "+", "%20")
}

// TCBInfo fetches GET {tee}/certification/{v}/tcb?fmspc= and returns the
// exact signed tcbInfo member, its signature and the issuer chain.
func (f *Fetcher) TCBInfo(ctx context.Context, tee, fmspc string) (raw, sig, chain []byte, err error) {
	return f.tcbInfo(ctx, FetchRequest{TEE: tee, FMSPC: fmspc})
}

// tcbInfo is TCBInfo for req's TEE and FMSPC, with its TCB evaluation data
// number or update channel.
func (f *Fetcher) tcbInfo(ctx context.Context, req FetchRequest) (raw, sig, chain []byte, err error) {
	r, err := f.get(ctx, f.url(req.TEE, "tcb", req.collateralQuery(url.Values{"fmspc": {strings.ToUpper(req.FMSPC)}})))
	if err != nil {
		return nil, nil, nil, err
	}
	raw, sig, err = SplitSigned(r.body, "tcbInfo")
	if err != nil {
		return nil, nil, nil, ErrFetch.Wrapf("TCB info: %s", errs.Detail(err))
	}
	chain, err = chainHeader(r, "TCB info", HeaderTCBInfoIssuerChain, HeaderTCBInfoIssuerChainV3)
	return raw, sig, chain, err
}

// QEIdentity fetches GET {tee}/certification/{v}/qe/identity (QE for SGX,
// TD_QE for TDX).
func (f *Fetcher) QEIdentity(ctx context.Context, tee string) (raw, sig, chain []byte, err error) {
	return f.qeIdentity(ctx, FetchRequest{TEE: tee})
}

// qeIdentity is QEIdentity for req's TEE, with its TCB evaluation data
// number or update channel.
func (f *Fetcher) qeIdentity(ctx context.Context, req FetchRequest) (raw, sig, chain []byte, err error) {
	r, err := f.get(ctx, f.url(req.TEE, "qe/identity", req.collateralQuery(nil)))
	if err != nil {
		return nil, nil, nil, err
	}
	raw, sig, err = SplitSigned(r.body, "enclaveIdentity")
	if err != nil {
		return nil, nil, nil, ErrFetch.Wrapf("QE identity: %s", errs.Detail(err))
	}
	chain, err = chainHeader(r, "QE identity", HeaderQEIdentityIssuerChain, headerQEIdentityIssuerChain2)
	return raw, sig, chain, err
}

// PCKCRL fetches GET sgx/certification/{v}/pckcrl?ca=…&encoding=der and
// returns the CRL as DER (PEM or hex answers are accepted too) and its
// issuer chain.
func (f *Fetcher) PCKCRL(ctx context.Context, ca string) (der, chain []byte, err error) {
	r, err := f.get(ctx, f.url("sgx", "pckcrl", url.Values{"ca": {ca}, "encoding": {"der"}}))
	if err != nil {
		return nil, nil, err
	}
	if der, err = CRLBytes(r.body); err != nil {
		return nil, nil, ErrFetch.Wrapf("PCK CRL: %v", err)
	}
	chain, err = chainHeader(r, "PCK CRL", HeaderPCKCRLIssuerChain)
	return der, chain, err
}

// RootCACRL fetches the root CA CRL as DER. A PCCS answers
// sgx/certification/{v}/rootcacrl (hex text of DER); when it does not,
// crl?uri=<distribution point> is tried. For PCS the CRL is fetched from
// RootCRLURL or the distribution point named in pckCRLChain's CA
// certificate (Intel: https://certificates.trustedservices.intel.com/IntelSGXRootCA.der).
func (f *Fetcher) RootCACRL(ctx context.Context, pckCRLChain []byte) ([]byte, error) {
	if f.Kind == KindPCCS {
		r, err := f.get(ctx, f.url("sgx", "rootcacrl", nil))
		if err == nil {
			der, cerr := CRLBytes(r.body)
			if cerr != nil {
				return nil, ErrFetch.Wrapf("root CA CRL: %v", cerr)
			}
			return der, nil
		}
		if pckCRLChain == nil || !errors.Is(err, ErrNotAtSource) {
			return nil, err
		}
	}
	return f.rootCRLFromCDP(ctx, pckCRLChain)
}

// rootCRLFromCDP fetches the root CA CRL from RootCRLURL or the CRL
// distribution point in pckCRLChain; a PCCS is asked for it with crl?uri=.
func (f *Fetcher) rootCRLFromCDP(ctx context.Context, pckCRLChain []byte) ([]byte, error) {
	target := f.RootCRLURL
	if target == "" {
		cdp, err := rootCRLDistributionPoint(pckCRLChain)
		if err != nil {
			return nil, ErrFetch.Wrapf("root CA CRL: %v", err)
		}
		target = cdp
		if f.Kind == KindPCCS {
			target = f.url("sgx", "crl", url.Values{"uri": {cdp}})
		}
	}
	r, err := f.get(ctx, target)
	if err != nil {
		return nil, err
	}
	der, err := CRLBytes(r.body)
	if err != nil {
		return nil, ErrFetch.Wrapf("root CA CRL: %v", err)
	}
	return der, nil
}

// rootCRLDistributionPoint returns the CRL distribution point of the
// certificate in chain that is issued by the chain's root: that
// distribution point publishes the root CA's CRL.
func rootCRLDistributionPoint(chain []byte) (string, error) {
	certs, err := ParseCertificates(chain)
	if err != nil {
		return "", fmt.Errorf("the PCK CRL issuer chain: %v", err)
	}
	var root *x509.Certificate
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			root = c
		}
	}
	for _, c := range certs {
		if c != root && root != nil && bytes.Equal(c.RawIssuer, root.RawSubject) && len(c.CRLDistributionPoints) > 0 {
			return c.CRLDistributionPoints[0], nil
		}
	}
	if root != nil && len(root.CRLDistributionPoints) > 0 {
		return root.CRLDistributionPoints[0], nil
	}
	return "", errors.New("no CRL distribution point for the root CA CRL in the PCK CRL issuer chain")
}

// Fetch gets everything a verification needs for req: TCB info, QE
// identity, PCK CRL and root CA CRL with their issuer chains, in parallel
// where the requests are independent. The first failure in that order (a
// 404 for the TCB info first: an unknown FMSPC) is returned.
func (f *Fetcher) Fetch(ctx context.Context, req FetchRequest) (*Collateral, error) {
	req, err := req.normalize()
	if err != nil {
		return nil, err
	}
	col := &Collateral{}
	var wg sync.WaitGroup
	var tcbErr, qeErr, crlErr, rootErr error
	wg.Add(3)
	go func() {
		defer wg.Done()
		col.TCBInfo, col.TCBInfoSignature, col.TCBInfoIssuerChain, tcbErr = f.tcbInfo(ctx, req)
	}()
	go func() {
		defer wg.Done()
		col.QEIdentity, col.QEIdentitySignature, col.QEIdentityIssuerChain, qeErr = f.qeIdentity(ctx, req)
	}()
	go func() {
		defer wg.Done()
		col.PCKCRL, col.PCKCRLIssuerChain, crlErr = f.PCKCRL(ctx, req.PCKCA)
	}()
	// A PCCS serves the root CA CRL by itself; PCS needs the PCK CRL's
	// issuer chain to find it.
	rootPending := true
	if f.Kind == KindPCCS {
		wg.Add(1)
		go func() {
			defer wg.Done()
			col.RootCACRL, rootErr = f.RootCACRL(ctx, nil)
		}()
		rootPending = false
	}
	wg.Wait()
	for _, e := range []error{tcbErr, qeErr, crlErr} {
		if e != nil {
			return nil, e
		}
	}
	switch {
	case rootPending:
		col.RootCACRL, rootErr = f.RootCACRL(ctx, col.PCKCRLIssuerChain)
	case errors.Is(rootErr, ErrNotAtSource): // a PCCS without rootcacrl
		col.RootCACRL, rootErr = f.rootCRLFromCDP(ctx, col.PCKCRLIssuerChain)
	}
	if rootErr != nil {
		return nil, rootErr
	}
	return col, nil
}

// SourceOptions configure the sources ParseSource builds.
type SourceOptions struct {
	// APIKey is given to PCS sources, which send it as
	// Ocp-Apim-Subscription-Key to Intel's PCS over https only
	// (SendsAPIKey).
	APIKey string
	// Client does the HTTP requests of URL sources (nil: http.DefaultClient).
	Client *http.Client
}

var versionPath = regexp.MustCompile(`^(.*?)/(?:sgx|tdx)/certification/(v[0-9]+)/?$`)

// ParseSource turns a --collateral-source value into a Source:
//
//   - "pcs" — Intel's PCS at DefaultPCSURL;
//   - "pcs:URL" or "pccs:URL" — an explicit kind;
//   - an http(s) URL — Intel's PCS when the host is
//     api.trustedservices.intel.com, a PCCS otherwise;
//   - "dir:PATH", "file:PATH" or any other value — a local bundle file,
//     bundle folder or folder of PCS responses (see DirSource).
//
// A URL may name the API root ("https://pccs:8081") or, as Intel's QCNL
// configuration does, the versioned path ("https://pccs:8081/sgx/certification/v4/");
// the version (v3 or v4, default v4) is taken from it.
func ParseSource(spec string, opts SourceOptions) (Source, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, ErrFetch.Wrapf("empty collateral source")
	}
	kind := ""
	switch {
	case spec == KindPCS:
		kind, spec = KindPCS, DefaultPCSURL
	case strings.HasPrefix(spec, "pcs:"):
		kind, spec = KindPCS, strings.TrimPrefix(spec, "pcs:")
	case strings.HasPrefix(spec, "pccs:"):
		kind, spec = KindPCCS, strings.TrimPrefix(spec, "pccs:")
	case strings.HasPrefix(spec, "dir:"), strings.HasPrefix(spec, "file:"):
		_, path, _ := strings.Cut(spec, ":")
		return NewDirSource(path)
	}
	if !strings.HasPrefix(spec, "http://") && !strings.HasPrefix(spec, "https://") {
		if kind != "" {
			return nil, ErrFetch.Wrapf("collateral source %q: %s needs an http(s) URL", spec, kind)
		}
		return NewDirSource(spec)
	}
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, ErrFetch.Wrapf("collateral source %q is not a plain http(s) URL", spec)
	}
	if kind == "" {
		kind = KindPCCS
		if strings.EqualFold(u.Hostname(), "api.trustedservices.intel.com") {
			kind = KindPCS
		}
	}
	base, version := strings.TrimRight(u.Scheme+"://"+u.Host+u.Path, "/"), "v4"
	if m := versionPath.FindStringSubmatch(u.Path); m != nil {
		base, version = strings.TrimRight(u.Scheme+"://"+u.Host+m[1], "/"), m[2]
	}
	if version != "v3" && version != "v4" {
		return nil, ErrFetch.Wrapf("collateral source %q: API version %s is not supported (v3 or v4)", spec, version)
	}
	f := &Fetcher{Kind: kind, BaseURL: base, Version: version, Client: opts.Client}
	if kind == KindPCS {
		f.APIKey = opts.APIKey
	}
	return f, nil
}

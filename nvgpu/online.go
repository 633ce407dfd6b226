package nvgpu

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Online is a Collateral that asks NVIDIA's RIM service and OCSP
// responder (or a mirror) when asked, for a server with a way out: RIMs
// are kept once fetched (they do not change under one content hash),
// OCSP answers until an hour before their nextUpdate. Errors of the
// services are errors of the lookup (the verifier then says which
// collateral is missing). Now is the clock answers are judged against
// for reuse (default time.Now).
type Online struct {
	Fetcher Fetcher
	Now     func() time.Time

	mu   sync.Mutex
	rims map[string][]byte
	ocsp map[string]onlineAnswer
}

type onlineAnswer struct {
	der   []byte
	reuse time.Time // until
}

func (o *Online) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Online) urls() (Getter, string, string) {
	g, rim, oc := o.Fetcher.Getter, o.Fetcher.RIMService, o.Fetcher.OCSP
	if g == nil {
		g = HTTPGetter{}
	}
	if rim == "" {
		rim = DefaultRIMServiceURL
	}
	if oc == "" {
		oc = DefaultOCSPURL
	}
	return g, rim, oc
}

// RIMs implements Collateral.
func (o *Online) RIMs(ctx context.Context, id string) ([][]byte, error) {
	if !validRIMID(id) {
		return nil, nil
	}
	o.mu.Lock()
	if doc, ok := o.rims[id]; ok {
		o.mu.Unlock()
		return [][]byte{doc}, nil
	}
	o.mu.Unlock()
	g, rimURL, _ := o.urls()
	body, err := g.Get(ctx, rimURL+id)
	if err != nil {
		return nil, err
	}
	var ans struct {
		RIM string `json:"rim"`
	}
	if err := json.Unmarshal(body, &ans); err != nil || ans.RIM == "" {
		return nil, ErrRIMMissing.Wrapf("%s: the RIM service's answer has no rim", id)
	}
	doc, err := base64.StdEncoding.DecodeString(ans.RIM)
	if err != nil {
		return nil, ErrMalformedRIM.Wrapf("%s: %v", id, err)
	}
	if _, err := ParseRIM(doc); err != nil {
		return nil, err
	}
	o.mu.Lock()
	if o.rims == nil {
		o.rims = map[string][]byte{}
	}
	if len(o.rims) < maxCached {
		o.rims[id] = doc
	}
	o.mu.Unlock()
	return [][]byte{doc}, nil
}

// OCSP implements Collateral.
func (o *Online) OCSP(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, error) {
	kk := key(cert.Raw, issuer.Raw)
	k := string(kk[:])
	o.mu.Lock()
	if a, ok := o.ocsp[k]; ok && o.now().Before(a.reuse) {
		o.mu.Unlock()
		return [][]byte{a.der}, nil
	}
	o.mu.Unlock()
	g, _, ocspURL := o.urls()
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA384})
	if err != nil {
		return nil, err
	}
	der, err := g.Post(ctx, ocspURL, "application/ocsp-request", req)
	if err != nil {
		return nil, err
	}
	resp, err := parseOCSP(der, cert, issuer)
	if err != nil {
		return nil, ErrRevocationInvalid.Wrapf("OCSP for %q: %v", cert.Subject.String(), err)
	}
	o.mu.Lock()
	if o.ocsp == nil || len(o.ocsp) >= maxCached {
		o.ocsp = map[string]onlineAnswer{}
	}
	o.ocsp[k] = onlineAnswer{der: der, reuse: resp.NextUpdate.Add(-time.Hour)}
	o.mu.Unlock()
	return [][]byte{der}, nil
}

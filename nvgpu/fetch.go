package nvgpu

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

// NVIDIA's public services (their terms: docs/gpu.md).
const (
	DefaultRIMServiceURL = "https://rim.attestation.nvidia.com/v1/rim/"
	DefaultOCSPURL       = "https://ocsp.ndis.nvidia.com/"
	maxFetchBody         = 4 << 20
)

// Getter is how collateral is fetched: GET for RIMs, POST for OCSP. The
// default speaks HTTP; tests and air-gapped mirrors provide their own.
type Getter interface {
	Get(ctx context.Context, url string) ([]byte, error)
	Post(ctx context.Context, url, contentType string, body []byte) ([]byte, error)
}

// HTTPGetter is the default Getter.
type HTTPGetter struct {
	Client *http.Client // default: 30 s timeout
}

func (g HTTPGetter) client() *http.Client {
	if g.Client != nil {
		return g.Client
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// Get implements Getter.
func (g HTTPGetter) Get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return g.do(req)
}

// Post implements Getter.
func (g HTTPGetter) Post(ctx context.Context, url, contentType string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	return g.do(req)
}

func (g HTTPGetter) do(req *http.Request) ([]byte, error) {
	resp, err := g.client().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxFetchBody {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", req.URL, maxFetchBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", req.URL, resp.Status)
	}
	return b, nil
}

// Fetcher gets the collateral a set of GPUs needs from NVIDIA's RIM and
// OCSP services (or a mirror of them): the driver and VBIOS RIMs of each
// GPU and OCSP answers for the device chains' intermediates and for every
// RIM signer chain.
type Fetcher struct {
	Getter     Getter // default HTTPGetter{}
	RIMService string // default DefaultRIMServiceURL
	OCSP       string // default DefaultOCSPURL
}

// Fetched says what Fetch stored.
type Fetched struct {
	RIMs []string // id@sha256
	OCSP []string // subject@sha256
}

// Fetch stores into s what the evidence needs. It verifies nothing beyond
// the documents' form: verification happens where they are used, at its
// own time.
func (f Fetcher) Fetch(ctx context.Context, list []*Evidence, s *Store) (*Fetched, error) {
	g := f.Getter
	if g == nil {
		g = HTTPGetter{}
	}
	rimURL, ocspURL := f.RIMService, f.OCSP
	if rimURL == "" {
		rimURL = DefaultRIMServiceURL
	}
	if ocspURL == "" {
		ocspURL = DefaultOCSPURL
	}
	out := &Fetched{}
	seen := map[string]bool{}
	ocspFor := func(cert, issuer *x509.Certificate) error {
		key := string(issuer.Raw) + cert.SerialNumber.String()
		if seen[key] {
			return nil
		}
		seen[key] = true
		req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA384})
		if err != nil {
			return err
		}
		der, err := g.Post(ctx, ocspURL, "application/ocsp-request", req)
		if err != nil {
			return ErrRevocationMissing.Wrapf("OCSP for %q: %v", cert.Subject.String(), err)
		}
		// Refuse what does not verify for this certificate now, so that a
		// broken answer is noticed on the connected machine.
		if _, err := ocsp.ParseResponseForCert(der, cert, issuer); err != nil {
			return ErrRevocationInvalid.Wrapf("OCSP for %q: %v", cert.Subject.String(), err)
		}
		sum, err := s.AddOCSP(der)
		if err != nil {
			return err
		}
		out.OCSP = append(out.OCSP, cert.Subject.CommonName+"@"+sum)
		return nil
	}
	for _, ev := range list {
		for i := 1; i+1 < len(ev.Chain); i++ {
			if err := ocspFor(ev.Chain[i], ev.Chain[i+1]); err != nil {
				return out, err
			}
		}
		op := ev.Report.Response.Opaque
		chip := strings.Fields(ev.Chain[0].Subject.CommonName + " ")[0]
		for _, id := range []string{op.DriverRIMID(ev.Arch, chip), op.VBIOSRIMID()} {
			if seen[id] {
				continue
			}
			seen[id] = true
			body, err := g.Get(ctx, rimURL+id)
			if err != nil {
				return out, ErrRIMMissing.Wrapf("%s: %v", id, err)
			}
			var ans struct {
				RIM string `json:"rim"`
			}
			if err := json.Unmarshal(body, &ans); err != nil || ans.RIM == "" {
				return out, ErrRIMMissing.Wrapf("%s: the RIM service's answer has no rim", id)
			}
			doc, err := base64.StdEncoding.DecodeString(ans.RIM)
			if err != nil {
				return out, ErrMalformedRIM.Wrapf("%s: %v", id, err)
			}
			sum, err := s.AddRIM(id, doc)
			if err != nil {
				return out, err
			}
			out.RIMs = append(out.RIMs, id+"@"+sum)
			r, _ := ParseRIM(doc)
			for i := 0; i+1 < len(r.Chain); i++ {
				if err := ocspFor(r.Chain[i], r.Chain[i+1]); err != nil {
					return out, err
				}
			}
		}
	}
	return out, nil
}

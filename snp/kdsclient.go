package snp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
)

// KDSURL is AMD's Key Distribution Service.
const KDSURL = "https://kdsintf.amd.com"

// maxKDSAnswer bounds what a KDS answer may hold (a certificate, a
// two-certificate chain or a CRL).
const maxKDSAnswer = 1 << 20

// KDS fetches collateral from AMD's Key Distribution Service or a caching
// proxy that serves the same paths (/vcek/v1/{product}/{hwid}?blSPL=…,
// /vcek/v1/{product}/cert_chain, /vcek/v1/{product}/crl and their /vlek/v1
// counterparts). URLs are go-sev-guest's kds package's, on BaseURL.
type KDS struct {
	BaseURL string       // KDSURL when empty
	Client  *http.Client // a client with a 30 s timeout when nil
}

var kdsDefaultClient = &http.Client{Timeout: 30 * time.Second}

func (k *KDS) rebase(amdURL string) string {
	base := strings.TrimRight(k.BaseURL, "/")
	if base == "" || base == KDSURL {
		return amdURL
	}
	return base + strings.TrimPrefix(amdURL, KDSURL)
}

// VCEKURL is the URL of a chip's VCEK at a TCB.
func (k *KDS) VCEKURL(product string, chipID []byte, reportedTCB uint64) string {
	return k.rebase(kds.VCEKCertURL(product, chipID, kds.TCBVersion(reportedTCB)))
}

// VCEK fetches a chip's VCEK (DER) at a TCB.
func (k *KDS) VCEK(ctx context.Context, product string, chipID []byte, reportedTCB uint64) ([]byte, error) {
	return k.get(ctx, k.VCEKURL(product, chipID, reportedTCB))
}

// CertChain fetches a product line's ASK (or ASVK) and ARK, PEM.
func (k *KDS) CertChain(ctx context.Context, product, signer string) ([]byte, error) {
	return k.get(ctx, k.rebase(kds.ProductCertChainURL(reportSigner(signer), product)))
}

// CRL fetches a product line's CRL (DER), signed by its ARK.
func (k *KDS) CRL(ctx context.Context, product, signer string) ([]byte, error) {
	return k.get(ctx, k.rebase(kds.CrlLinkByKey(product, reportSigner(signer))))
}

func reportSigner(signer string) abi.ReportSigner {
	if signer == "vlek" {
		return abi.VlekReportSigner
	}
	return abi.VcekReportSigner
}

func (k *KDS) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	c := k.Client
	if c == nil {
		c = kdsDefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxKDSAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", url, resp.StatusCode)
	}
	if len(b) > maxKDSAnswer {
		return nil, fmt.Errorf("%s: the answer exceeds %d bytes", url, maxKDSAnswer)
	}
	return b, nil
}

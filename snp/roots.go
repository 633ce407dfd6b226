package snp

import (
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	"github.com/google/go-sev-guest/verify/trust"
)

// The AMD root bundles (intermediate, then ARK) of KDS's cert_chain
// endpoints, byte-identical to go-sev-guest's verify/trust and to
// ../shared/vectors/snp/roots; roots/provenance.json names their source,
// commit and SHA-256, and a test compares them with the shared vectors.
//
//go:embed roots/*.pem roots/provenance.json
var rootFiles embed.FS

// Products are the SEV-SNP product lines with pinned roots.
var Products = []string{"Milan", "Genoa", "Turin"}

var rootBundles = map[string][2]string{ // product → VCEK bundle, VLEK bundle
	"Milan": {"roots/ask_ark_milan.pem", "roots/ask_ark_milan_vlek.pem"},
	"Genoa": {"roots/ask_ark_genoa.pem", "roots/ask_ark_genoa_vlek.pem"},
	"Turin": {"roots/ask_ark_turin_vcek.pem", "roots/ask_ark_turin_vlek.pem"},
}

// Root is one trusted AMD root for a product line: the ARK and its
// intermediates (ASK for VCEKs, ASVK for VLEKs).
type Root struct {
	Product string
	Ark     *x509.Certificate
	Ask     *x509.Certificate // may be nil
	Asvk    *x509.Certificate // may be nil
	// KeyHash is SHA-256 of the ARK's SubjectPublicKeyInfo; the service
	// uses it to tell the simulated platform's root from AMD's.
	KeyHash [32]byte
	certs   *trust.ProductCerts
}

// NewRoot makes a Root from certificates; ask or asvk may be nil.
func NewRoot(product string, ark, ask, asvk *x509.Certificate) (*Root, error) {
	if _, err := kds.ParseProductLine(product); err != nil {
		return nil, err
	}
	if ark == nil || (ask == nil && asvk == nil) {
		return nil, fmt.Errorf("snp: a root needs the ARK and the ASK or ASVK")
	}
	return &Root{
		Product: product, Ark: ark, Ask: ask, Asvk: asvk,
		KeyHash: sha256.Sum256(ark.RawSubjectPublicKeyInfo),
		certs:   &trust.ProductCerts{Ark: ark, Ask: ask, Asvk: asvk},
	}, nil
}

// gsg returns a fresh go-sev-guest root of trust (its CRL field is per call).
func (r *Root) gsg() *trust.AMDRootCerts {
	a := trust.AMDRootCertsProduct(r.Product)
	a.ProductCerts = r.certs
	return a
}

func (r *Root) intermediate(s abi.ReportSigner) *x509.Certificate {
	if s == abi.VlekReportSigner {
		return r.Asvk
	}
	return r.Ask
}

// Roots is a set of trusted roots by product line.
type Roots struct {
	byProduct map[string][]*Root
}

// Add trusts another root (a private or simulated AMD-like PKI).
func (rs *Roots) Add(r *Root) {
	if rs.byProduct == nil {
		rs.byProduct = map[string][]*Root{}
	}
	rs.byProduct[r.Product] = append(rs.byProduct[r.Product], r)
}

// For returns the roots of a product line.
func (rs *Roots) For(product string) []*Root {
	if rs == nil {
		return nil
	}
	return rs.byProduct[product]
}

// All returns every root, by product then order of addition.
func (rs *Roots) All() []*Root {
	var ps []string
	for p := range rs.byProduct {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	var out []*Root
	for _, p := range ps {
		out = append(out, rs.byProduct[p]...)
	}
	return out
}

// Clone returns a copy that can be added to without changing rs.
func (rs *Roots) Clone() *Roots {
	out := &Roots{byProduct: map[string][]*Root{}}
	for p, l := range rs.byProduct {
		out.byProduct[p] = append([]*Root(nil), l...)
	}
	return out
}

func (rs *Roots) gsg(product string) map[string][]*trust.AMDRootCerts {
	var l []*trust.AMDRootCerts
	for _, r := range rs.For(product) {
		l = append(l, r.gsg())
	}
	return map[string][]*trust.AMDRootCerts{product: l}
}

var amdRoots = mustAMDRoots()

// AMDRoots returns AMD's pinned roots (Milan, Genoa, Turin; ASK and ASVK).
// Callers may Clone and Add to the result, not change it.
func AMDRoots() *Roots { return amdRoots }

func mustAMDRoots() *Roots {
	rs := &Roots{}
	for _, p := range Products {
		var ark, ask, asvk *x509.Certificate
		for i, name := range rootBundles[p] {
			pemBytes, err := rootFiles.ReadFile(name)
			if err != nil {
				panic(err)
			}
			// pem.Decode, not kds.ParseProductCertChain: the Turin files
			// have CRLF line endings, which the latter refuses.
			ders, err := ParseCertificates(pemBytes)
			if err != nil || len(ders) != 2 {
				panic(fmt.Sprintf("snp: %s: want the intermediate and the ARK (%v)", name, err))
			}
			ica, err1 := x509.ParseCertificate(ders[0])
			a, err2 := x509.ParseCertificate(ders[1])
			if err1 != nil || err2 != nil {
				panic(fmt.Sprintf("snp: %s: %v %v", name, err1, err2))
			}
			if ark == nil {
				ark = a
			}
			if i == 0 {
				ask = ica
			} else {
				asvk = ica
			}
		}
		r, err := NewRoot(p, ark, ask, asvk)
		if err != nil {
			panic(err)
		}
		rs.Add(r)
	}
	return rs
}

// ParseRootBundle reads a PEM bundle of an ARK and its ASK and/or ASVK (a
// KDS cert_chain answer, or two of them concatenated) as a Root; the
// product line is the ARK's common name "ARK-<product>".
func ParseRootBundle(b []byte) (*Root, error) {
	ders, err := ParseCertificates(b)
	if err != nil {
		return nil, err
	}
	var ark, ask, asvk *x509.Certificate
	for _, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("snp: root bundle: %w", err)
		}
		switch cn := c.Subject.CommonName; {
		case strings.HasPrefix(cn, "ARK-"):
			ark = c
		case strings.HasPrefix(cn, "SEV-VLEK-"):
			asvk = c
		case strings.HasPrefix(cn, "SEV-"):
			ask = c
		default:
			return nil, fmt.Errorf("snp: root bundle: %q is neither an ARK nor an ASK/ASVK", cn)
		}
	}
	if ark == nil {
		return nil, fmt.Errorf("snp: root bundle: no ARK (common name ARK-<product>)")
	}
	return NewRoot(strings.TrimPrefix(ark.Subject.CommonName, "ARK-"), ark, ask, asvk)
}

package snp

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
)

// Collateral kinds kept by a Cache.
const (
	KindVCEK = "vcek"
	KindCRL  = "crl"
)

// Cache keeps verified collateral across restarts and nodes (the service
// store's type collateral). Get returns nil data, no error, when it has
// none.
type Cache interface {
	Get(ctx context.Context, kind, key string) (data []byte, err error)
	Put(ctx context.Context, kind, key string, data []byte, notAfter time.Time, source string) error
}

// VCEKKey is the cache key of a chip's VCEK at a TCB:
// "<product>/<hwid hex>/<tcb hex>".
func VCEKKey(product string, chipID []byte, tcb uint64) string {
	return fmt.Sprintf("%s/%s/%016x", product, hex.EncodeToString(chipID), tcb)
}

// CRLKey is the cache key of a product line's CRL: "<product>/<signer>".
func CRLKey(product, signer string) string { return product + "/" + signer }

// CachedCollateral is the Collateral of a server: VCEKs and CRLs come from
// memory, then the Cache, then Source (AMD's KDS, a caching proxy or a
// folder), are verified before they are cached (a VCEK must chain to a
// trusted root and name the chip and TCB asked for; a CRL must be signed by
// the product's ARK), and a cached VCEK keeps working when the source
// fails. A CRL is fetched again RefreshLead before its nextUpdate; until
// then, and while the source fails, the cached one is used.
type CachedCollateral struct {
	Source      Collateral
	SourceName  string // recorded as the rows' source
	Cache       Cache  // nil: memory only
	Roots       *Roots // nil: AMD's
	Now         func() time.Time
	RefreshLead time.Duration // default 24h

	mu    sync.Mutex
	vceks map[string][]byte
	crls  map[string]*cachedCRL
}

type cachedCRL struct {
	der     []byte
	next    time.Time // the CRL's nextUpdate
	checked time.Time // when the cache and source were last consulted
}

func (c *CachedCollateral) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *CachedCollateral) roots() *Roots {
	if c.Roots == nil {
		return AMDRoots()
	}
	return c.Roots
}

func (c *CachedCollateral) lead() time.Duration {
	if c.RefreshLead <= 0 {
		return 24 * time.Hour
	}
	return c.RefreshLead
}

// VCEK returns a chip's VCEK at a TCB from memory, the cache or the source.
func (c *CachedCollateral) VCEK(ctx context.Context, product string, chipID []byte, tcb uint64) ([]byte, error) {
	key := VCEKKey(product, chipID, tcb)
	c.mu.Lock()
	if der := c.vceks[key]; der != nil {
		c.mu.Unlock()
		return der, nil
	}
	c.mu.Unlock()
	if c.Cache != nil {
		if der, err := c.Cache.Get(ctx, KindVCEK, key); err == nil && der != nil {
			if _, err := c.CheckVCEK(der, product, chipID, tcb); err == nil {
				c.remember(key, der)
				return der, nil
			}
		}
	}
	if c.Source == nil {
		return nil, fmt.Errorf("no VCEK for %s is cached and no KDS is configured", key)
	}
	der, err := c.Source.VCEK(ctx, product, chipID, tcb)
	if err != nil {
		return nil, err
	}
	cert, err := c.CheckVCEK(der, product, chipID, tcb)
	if err != nil {
		return nil, fmt.Errorf("the VCEK fetched for %s is refused: %w", key, err)
	}
	if c.Cache != nil {
		if err := c.Cache.Put(ctx, KindVCEK, key, der, cert.NotAfter, c.SourceName); err != nil {
			return nil, err
		}
	}
	c.remember(key, der)
	return der, nil
}

func (c *CachedCollateral) remember(key string, der []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.vceks == nil {
		c.vceks = map[string][]byte{}
	}
	if len(c.vceks) >= maxCached {
		clear(c.vceks)
	}
	c.vceks[key] = der
}

// CheckVCEK checks a VCEK before it is cached: a KDS VCEK certificate for
// chipID at tcb that chains (go-sev-guest's X.509 options of the root) to a
// trusted root of product, valid now.
func (c *CachedCollateral) CheckVCEK(der []byte, product string, chipID []byte, tcb uint64) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	exts, err := kds.VcekCertificateExtensions(cert)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(exts.HWID, chipID) || uint64(exts.TCBVersion) != tcb {
		return nil, fmt.Errorf("it is the VCEK of chip %x at TCB %016x", exts.HWID, uint64(exts.TCBVersion))
	}
	var errs []error
	for _, r := range c.roots().For(product) {
		o := r.gsg().X509Options(c.now(), abi.VcekReportSigner)
		if o == nil {
			continue
		}
		if _, err := cert.Verify(*o); err != nil {
			errs = append(errs, err)
			continue
		}
		return cert, nil
	}
	return nil, fmt.Errorf("it does not chain to a trusted %s root: %w", product, errors.Join(errs...))
}

// CRL returns a product line's CRL: the remembered or cached one while it
// is more than RefreshLead before its nextUpdate, else a fresh one from the
// source, else (the source failing) the last one while it is current. The
// cache and the source are consulted at most once a minute per CRL; a
// failing source is not an error (Options.RequireCRL decides whether a
// missing CRL refuses evidence).
func (c *CachedCollateral) CRL(ctx context.Context, product, signer string) ([]byte, error) {
	key := CRLKey(product, signer)
	now := c.now()
	c.mu.Lock()
	cur := c.crls[key]
	c.mu.Unlock()
	if cur != nil && (now.Before(cur.checked.Add(crlRecheck)) || (cur.der != nil && now.Before(cur.next.Add(-c.lead())))) {
		if cur.der != nil && !now.Before(cur.next) {
			return nil, nil // expired
		}
		return cur.der, nil
	}
	best := cur
	if best != nil && best.der == nil {
		best = nil
	}
	if c.Cache != nil {
		if der, err := c.Cache.Get(ctx, KindCRL, key); err == nil && der != nil {
			if crl, err := c.CheckCRL(der, product); err == nil && (best == nil || crl.NextUpdate.After(best.next)) {
				best = &cachedCRL{der: der, next: crl.NextUpdate}
			}
		}
	}
	if best == nil || !now.Before(best.next.Add(-c.lead())) {
		if fresh, err := c.fetchCRL(ctx, product, signer); err == nil {
			return fresh.der, nil
		}
	}
	if best == nil {
		c.rememberCRL(key, &cachedCRL{checked: now})
		return nil, nil
	}
	c.rememberCRL(key, &cachedCRL{der: best.der, next: best.next, checked: now})
	if now.Before(best.next) {
		return best.der, nil
	}
	return nil, nil
}

// crlRecheck is how often a CRL's cache and source are consulted again
// when the remembered CRL is due, absent or the source failed.
const crlRecheck = time.Minute

func (c *CachedCollateral) rememberCRL(key string, v *cachedCRL) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crls == nil {
		c.crls = map[string]*cachedCRL{}
	}
	c.crls[key] = v
}

func (c *CachedCollateral) fetchCRL(ctx context.Context, product, signer string) (*cachedCRL, error) {
	if c.Source == nil {
		return nil, errors.New("no KDS is configured")
	}
	der, err := c.Source.CRL(ctx, product, signer)
	if err != nil {
		return nil, err
	}
	if len(der) == 0 {
		return nil, fmt.Errorf("the source has no CRL for %s", CRLKey(product, signer))
	}
	crl, err := c.CheckCRL(der, product)
	if err != nil {
		return nil, fmt.Errorf("the CRL fetched for %s is refused: %w", CRLKey(product, signer), err)
	}
	v := &cachedCRL{der: der, next: crl.NextUpdate, checked: c.now()}
	if c.Cache != nil {
		if err := c.Cache.Put(ctx, KindCRL, CRLKey(product, signer), der, crl.NextUpdate, c.SourceName); err != nil {
			return nil, err
		}
	}
	c.rememberCRL(CRLKey(product, signer), v)
	return v, nil
}

// CheckCRL checks a CRL before it is cached: signed by the ARK of a
// trusted root of product.
func (c *CachedCollateral) CheckCRL(der []byte, product string) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, err
	}
	for _, r := range c.roots().For(product) {
		if crl.CheckSignatureFrom(r.Ark) == nil {
			return crl, nil
		}
	}
	return nil, fmt.Errorf("it is not signed by a trusted %s ARK", product)
}

// Refresh fetches the CRL of every product line and signer whose cached
// CRL is due (RefreshLead before its nextUpdate) or missing; it returns
// the errors of the fetches that failed.
func (c *CachedCollateral) Refresh(ctx context.Context) error {
	var errs []error
	for _, p := range Products {
		for _, s := range []string{"vcek", "vlek"} {
			if len(c.roots().For(p)) == 0 {
				continue
			}
			key := CRLKey(p, s)
			c.mu.Lock()
			cur := c.crls[key]
			c.mu.Unlock()
			if cur != nil && cur.der != nil && c.now().Before(cur.next.Add(-c.lead())) {
				continue
			}
			if _, err := c.fetchCRL(ctx, p, s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Dir is a folder of SNP collateral laid out as `avow snp collateral
// export` writes it, read as a KDS: vcek/<product>/<hwid hex>-<tcb hex>.der
// and crl/<product>-<signer>.crl. It is the air-gapped server's source.
type Dir string

// VCEKPath and CRLPath are the files of a Dir.
func (d Dir) VCEKPath(product string, chipID []byte, tcb uint64) string {
	return filepath.Join(string(d), "vcek", product, fmt.Sprintf("%s-%016x.der", hex.EncodeToString(chipID), tcb))
}

func (d Dir) CRLPath(product, signer string) string {
	return filepath.Join(string(d), "crl", product+"-"+signer+".crl")
}

func (d Dir) VCEK(_ context.Context, product string, chipID []byte, tcb uint64) ([]byte, error) {
	return os.ReadFile(d.VCEKPath(product, chipID, tcb))
}

func (d Dir) CRL(_ context.Context, product, signer string) ([]byte, error) {
	b, err := os.ReadFile(d.CRLPath(product, signer))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Get reads a cached item of a Dir (a Dir is also a Cache: `avow snp
// collateral fetch` and `export` write one).
func (d Dir) Get(ctx context.Context, kind, key string) ([]byte, error) {
	path, err := d.path(kind, key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// Put writes an item into a Dir.
func (d Dir) Put(_ context.Context, kind, key string, data []byte, _ time.Time, _ string) error {
	path, err := d.path(kind, key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func (d Dir) path(kind, key string) (string, error) {
	parts := strings.Split(key, "/")
	switch {
	case kind == KindVCEK && len(parts) == 3:
		chip, err1 := hex.DecodeString(parts[1])
		tcb, err2 := strconv.ParseUint(parts[2], 16, 64)
		if err1 == nil && err2 == nil && validProduct(parts[0]) {
			return d.VCEKPath(parts[0], chip, tcb), nil
		}
	case kind == KindCRL && len(parts) == 2 && validProduct(parts[0]) && (parts[1] == "vcek" || parts[1] == "vlek"):
		return d.CRLPath(parts[0], parts[1]), nil
	}
	return "", fmt.Errorf("snp: no file for %s %q", kind, key)
}

func validProduct(p string) bool { return slices.Contains(Products, p) }

// Items lists the VCEKs and CRLs a Dir holds, as (kind, key) pairs.
func (d Dir) Items() ([][2]string, error) {
	var out [][2]string
	for _, p := range Products {
		files, _ := filepath.Glob(filepath.Join(string(d), "vcek", p, "*.der"))
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".der")
			chip, tcb, ok := strings.Cut(name, "-")
			if !ok {
				return nil, fmt.Errorf("snp: %s: not <hwid>-<tcb>.der", f)
			}
			out = append(out, [2]string{KindVCEK, p + "/" + chip + "/" + tcb})
		}
		for _, s := range []string{"vcek", "vlek"} {
			if _, err := os.Stat(d.CRLPath(p, s)); err == nil {
				out = append(out, [2]string{KindCRL, CRLKey(p, s)})
			}
		}
	}
	return out, nil
}

// Load fetches one item through c (verifying it and caching it in c.Cache).
func (c *CachedCollateral) Load(ctx context.Context, kind, key string) error {
	parts := strings.Split(key, "/")
	switch {
	case kind == KindVCEK && len(parts) == 3:
		chip, err1 := hex.DecodeString(parts[1])
		tcb, err2 := strconv.ParseUint(parts[2], 16, 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("snp: bad VCEK key %q", key)
		}
		_, err := c.VCEK(ctx, parts[0], chip, tcb)
		return err
	case kind == KindCRL && len(parts) == 2:
		if _, err := c.fetchCRL(ctx, parts[0], parts[1]); err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("snp: unknown collateral %s %q", kind, key)
}

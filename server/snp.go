package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/avowhq/avow/attestation/sevsnp"
	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/snp/snpsim"
	"github.com/avowhq/avow/store"
)

// SNPOptions configure the SevSnpVm type (docs/snp.md).
type SNPOptions struct {
	// KDS is where VCEKs missing from evidence and AMD's CRLs come from:
	// "amd" for AMD's KDS (https://kdsintf.amd.com), a caching proxy's URL
	// serving KDS's paths, a folder written by `avow snp collateral
	// export` (air-gapped servers), or "" for none (evidence must carry its
	// VCEK; no CRL is checked). What comes from it is verified, then cached
	// in the store, and the cache keeps serving when the source fails.
	KDS string
	// RefreshInterval is how often the CRLs are checked for refresh
	// (default 1h); they are fetched a day before their nextUpdate.
	RefreshInterval time.Duration
	// MinimumTCB is the lowest REPORTED_TCB reported as UpToDate; below
	// it evidence is OutOfDate, refused unless a provider's
	// acceptedTcbStatuses takes OutOfDate.
	MinimumTCB *snp.TCB
	// RequireCRL refuses evidence without a current AMD CRL (needs KDS or
	// imported CRLs).
	RequireCRL bool
	// HTTPClient does the KDS requests (tests); nil: a client with a 30 s
	// timeout.
	HTTPClient *http.Client
}

// snpConfig builds the SevSnpVm configuration: AMD's roots, in
// development mode the simulated SNP platform's root (whose key is then
// marked simulated), the KDS source.
func (o SNPOptions) snpConfig(dev bool, simDir string, st store.Store, clock func() time.Time, log *slog.Logger) (*sevsnp.Config, [][]byte, error) {
	cfg := &sevsnp.Config{Roots: snp.AMDRoots(), MinimumTCB: o.MinimumTCB, RequireCRL: o.RequireCRL, Verifier: snp.NewVerifier()}
	var simulated [][]byte
	if dev {
		sim, err := snpsim.Open(snpsim.DirBeside(simDir))
		if err != nil {
			return nil, nil, ErrConfig.Wrapf("simulated SEV-SNP platform: %v", err)
		}
		cfg.Roots = cfg.Roots.Clone()
		root := sim.Root()
		cfg.Roots.Add(root)
		simulated = append(simulated, root.KeyHash[:])
		log.Warn("development mode: trusting the simulated SEV-SNP platform's ARK; its tokens carry x-avow-simulated", "sim_dir", snpsim.DirBeside(simDir))
	}
	var src snp.Collateral
	name := strings.TrimSpace(o.KDS)
	switch {
	case name == "":
	case name == "amd":
		src, name = &snp.KDS{BaseURL: snp.KDSURL, Client: o.HTTPClient}, snp.KDSURL
	case strings.HasPrefix(name, "https://") || strings.HasPrefix(name, "http://"):
		src = &snp.KDS{BaseURL: name, Client: o.HTTPClient}
	default:
		if fi, err := os.Stat(name); err != nil || !fi.IsDir() {
			return nil, nil, ErrConfig.Wrapf("--snp-kds %q is neither amd, an http(s) URL nor a folder", name)
		}
		src = snp.Dir(name)
	}
	// The store's cache serves even without a source: imported or
	// previously fetched VCEKs and CRLs.
	cfg.Collateral = &snp.CachedCollateral{Source: src, SourceName: name, Cache: storeCache{st}, Roots: cfg.Roots, Now: clock}
	return cfg, simulated, nil
}

// runSNPRefresh fetches AMD's CRLs before they expire until ctx ends.
func runSNPRefresh(ctx context.Context, c *snp.CachedCollateral, every time.Duration, log *slog.Logger) {
	if c == nil || c.Source == nil {
		return
	}
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
			log.Debug("SEV-SNP CRL refresh", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SNPCollateralType is the store's type of SEV-SNP collateral rows.
const SNPCollateralType = sevsnp.Name

// storeCache keeps SEV-SNP collateral in the store (store.TypeCollateral).
type storeCache struct{ st store.Store }

func (c storeCache) Get(ctx context.Context, kind, key string) ([]byte, error) {
	row, err := c.st.GetTypeCollateral(ctx, SNPCollateralType, kind, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return row.Data, err
}

func (c storeCache) Put(ctx context.Context, kind, key string, data []byte, notAfter time.Time, source string) error {
	_, err := c.st.PutTypeCollateral(ctx, store.TypeCollateral{Type: SNPCollateralType, Kind: kind, Key: key, Data: data,
		NotAfter: notAfter, Source: source})
	return err
}

// SNPStoreCache is the store as a cache of SEV-SNP collateral (for the CLI's
// import and export).
func SNPStoreCache(st store.Store) snp.Cache { return storeCache{st} }

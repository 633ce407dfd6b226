package service

import (
	"strings"
	"sync"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// cache holds what attestations read on every request. A whole cache is
// replaced when anything changes (invalidate); a reader that filled an
// entry from the store after the replacement writes into the old cache,
// which nobody reads any more, so a stale value never survives a change.
type cache struct {
	mu         sync.RWMutex
	providers  map[string]store.Provider
	policies   map[string]*activePolicy
	keys       map[string]*token.SigningKey
	collateral map[store.CollateralKey]*storedCollateral
	numbered   map[numberKey]*storedCollateral // by TCB evaluation data number (baselines.go)
	sources    map[string]sourceSet            // a provider's collateralSources, built
}

func newCache() *cache {
	return &cache{
		providers:  map[string]store.Provider{},
		policies:   map[string]*activePolicy{},
		keys:       map[string]*token.SigningKey{},
		collateral: map[store.CollateralKey]*storedCollateral{},
		numbered:   map[numberKey]*storedCollateral{},
		sources:    map[string]sourceSet{},
	}
}

// activePolicy is a provider's policy for one attestation type, compiled.
type activePolicy struct {
	compiled  *policy.Policy
	document  string         // the JWS as stored (x-ms-policy on GET)
	hash      string         // x-ms-policy-hash
	signer    map[string]any // x-ms-policy-signer (JWK), nil when unsigned
	isDefault bool
	// baseline is the TCB baseline its configurationrules select
	// (baselines.go); baselineErr says why it selects none.
	baseline    tcbBaseline
	baselineErr error
}

// newActivePolicy returns ap with its TCB baseline evaluated.
func newActivePolicy(ap *activePolicy) *activePolicy {
	ap.baseline, ap.baselineErr = baselineOf(ap.compiled)
	return ap
}

// storedCollateral is a parsed collateral bundle from the store.
type storedCollateral struct {
	col    *pcs.Collateral
	row    store.Collateral
	hashes pcs.CollateralHashes // col's digests, for x-ms-sgx-collateral
}

// newStoredCollateral computes col's digests once, not per attestation.
func newStoredCollateral(col *pcs.Collateral, row store.Collateral) *storedCollateral {
	return &storedCollateral{col: col, row: row, hashes: col.Hashes()}
}

func policyKey(provider, attType string) string {
	return strings.ToLower(provider) + "\x00" + strings.ToLower(attType)
}

func getCached[K comparable, V any](c *cache, m map[K]V, k K) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := m[k]
	return v, ok
}

func putCached[K comparable, V any](c *cache, m map[K]V, k K, v V) {
	c.mu.Lock()
	m[k] = v
	c.mu.Unlock()
}

package dcap

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

// Cache remembers the work that depends only on collateral and certificate
// contents: parsed certificates, CRLs, TCB info and QE identity documents,
// and the outcome of signature checks over them. Entries are keyed by the
// SHA-256 of the exact bytes, so a changed byte is a different entry and a
// cached result can never be applied to different input. The per-quote
// signatures (quote signature, QE report signature) are never cached.
//
// A Cache is safe for concurrent use. It holds at most maxEntries items per
// map and starts afresh when full: collateral changes rarely and a refill
// costs one cold verification.
type Cache struct {
	mu     sync.RWMutex
	parsed map[cacheKey]any
	sigs   map[[32]byte]bool
}

type cacheKey struct {
	kind byte
	sum  [32]byte
}

const maxEntries = 4096

const (
	kindCerts byte = iota + 1
	kindCRL
	kindTCBInfo
	kindQEIdentity
)

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{parsed: map[cacheKey]any{}, sigs: map[[32]byte]bool{}}
}

// defaultCache serves callers that pass no cache in Options.
var defaultCache = NewCache()

// parse returns the memoised result of fn over data. A parse error is
// memoised too: the same bytes fail the same way.
func (c *Cache) parse(kind byte, sum [32]byte, fn func() (any, error)) (any, error) {
	key := cacheKey{kind, sum}
	c.mu.RLock()
	v, ok := c.parsed[key]
	c.mu.RUnlock()
	if !ok {
		var err error
		v, err = fn()
		if err != nil {
			v = err
		}
		c.mu.Lock()
		if len(c.parsed) >= maxEntries {
			c.parsed = map[cacheKey]any{}
		}
		c.parsed[key] = v
		c.mu.Unlock()
	}
	if err, isErr := v.(error); isErr {
		return nil, err
	}
	return v, nil
}

// chain is a parsed certificate chain with what the verifier derives from
// its contents alone, computed once per distinct chain bytes.
type chain struct {
	certs []*x509.Certificate
	keys  [][]byte // each certificate's P-256 key as an uncompressed point (nil if not P-256)

	// The role checks depend only on the chain's bytes, so they run once
	// per chain (chains.go). A chain checked as a PCK chain and as a TCB
	// signing chain keeps both outcomes apart.
	pckOnce sync.Once
	pck     pckChainFacts
	tcbOnce sync.Once
	tcb     signingChainFacts
	crlOnce sync.Once
	crl     crlChainFacts
}

// crlChainFacts is what a PCK CRL issuer chain establishes by itself.
type crlChainFacts struct {
	root, ca *x509.Certificate
	err      error
}

// crlFacts memoises crlIssuerChain per chain.
func (c *Cache) crlFacts(ch *chain) *crlChainFacts {
	ch.crlOnce.Do(func() { ch.crl.root, ch.crl.ca, ch.crl.err = c.crlIssuerChain(ch) })
	return &ch.crl
}

func (c *Cache) chain(data []byte) (*chain, error) {
	v, err := c.parse(kindCerts, sha256.Sum256(data), func() (any, error) {
		certs, err := pcs.ParseCertificates(data)
		if err != nil {
			return nil, err
		}
		return newChain(certs), nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*chain), nil
}

// parsedCRL is a CRL with its revoked serials indexed for lookup.
type parsedCRL struct {
	crl          *x509.RevocationList
	revoked      map[string]struct{}
	extensionsOK bool // CRL number and AKI present, as QVL's CRL parser requires
}

func (c *Cache) crl(der []byte) (*parsedCRL, error) {
	v, err := c.parse(kindCRL, sha256.Sum256(der), func() (any, error) {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, err
		}
		p := &parsedCRL{crl: crl, revoked: make(map[string]struct{}, len(crl.RevokedCertificateEntries)),
			extensionsOK: hasExtension(crl.Extensions, oidCRLNo) && hasExtension(crl.Extensions, oidAKI)}
		for _, e := range crl.RevokedCertificateEntries {
			p.revoked[string(e.SerialNumber.Bytes())] = struct{}{}
		}
		return p, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*parsedCRL), nil
}

// signedDoc is a parsed TCB info or QE identity with the SHA-256 of the
// bytes its signature covers, so warm verifications do not hash them again.
type signedDoc[T any] struct {
	doc    T
	digest [32]byte
}

// docKey hashes a signed document and its signature together: the same
// document with another signature is another entry.
func docKey(raw, sig []byte) [32]byte {
	h := sha256.New()
	h.Write(raw)
	h.Write([]byte{0})
	h.Write(sig)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *Cache) tcbInfo(raw, sig []byte) (*signedDoc[*pcs.TCBInfo], error) {
	v, err := c.parse(kindTCBInfo, docKey(raw, sig), func() (any, error) {
		t, err := pcs.ParseTCBInfo(raw, sig)
		if err != nil {
			return nil, err
		}
		return &signedDoc[*pcs.TCBInfo]{t, sha256.Sum256(t.Signed)}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*signedDoc[*pcs.TCBInfo]), nil
}

func (c *Cache) qeIdentity(raw, sig []byte) (*signedDoc[*pcs.QEIdentity], error) {
	v, err := c.parse(kindQEIdentity, docKey(raw, sig), func() (any, error) {
		q, err := pcs.ParseQEIdentity(raw, sig)
		if err != nil {
			return nil, err
		}
		return &signedDoc[*pcs.QEIdentity]{q, sha256.Sum256(q.Signed)}, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*signedDoc[*pcs.QEIdentity]), nil
}

// checked runs verify once per distinct (key, message, signature) and
// remembers the outcome.
func (c *Cache) checked(id [32]byte, verify func() bool) bool {
	c.mu.RLock()
	ok, hit := c.sigs[id]
	c.mu.RUnlock()
	if hit {
		return ok
	}
	ok = verify()
	c.mu.Lock()
	if len(c.sigs) >= maxEntries {
		c.sigs = map[[32]byte]bool{}
	}
	c.sigs[id] = ok
	c.mu.Unlock()
	return ok
}

// Platform returns the SGX extensions of the PCK certificate a quote
// carries (FMSPC, PCE ID, TCB), from the same memo the verifier uses, so
// a caller can find the quote's collateral before verifying it. The chain
// is checked for shape and signatures; trust is not decided here.
func (c *Cache) Platform(q *quote.Quote) (*pcs.PCKExtensions, error) {
	f, err := c.quotePCK(q)
	if err != nil {
		return nil, err
	}
	return f.ext, nil
}

// quotePCK returns what the PCK chain of q's certification data says,
// checked for shape and signatures (not for trust).
func (c *Cache) quotePCK(q *quote.Quote) (*pckChainFacts, error) {
	if q.CertificationDataType != 5 {
		return nil, ErrUnsupportedCertificationData.Wrapf("certification data type is %d", q.CertificationDataType)
	}
	ch, err := c.chain(q.CertificationData)
	if err != nil {
		return nil, ErrPCKChainInvalid.Wrapf("the certification data cannot be parsed: %v", err)
	}
	f := c.pckFacts(ch)
	if f.err != nil {
		return nil, ErrPCKChainInvalid.Wrap(f.err)
	}
	return f, nil
}

package nvgpu

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// Store is an in-memory Collateral: RIMs by id (several per id, keyed by
// content hash — NVIDIA re-issues RIMs under one id) and OCSP answers by
// certificate serial. It is safe for concurrent use.
type Store struct {
	mu   sync.RWMutex
	rims map[string]map[string][]byte // id → sha256 → document
	ocsp map[string]map[string][]byte // serial (hex, upper) → sha256 → DER
}

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{rims: map[string]map[string][]byte{}, ocsp: map[string]map[string][]byte{}}
}

// AddRIM adds a RIM document under its service id; it returns the content
// hash. The document is parsed (not verified) to refuse what is not a RIM.
func (s *Store) AddRIM(id string, doc []byte) (string, error) {
	if !validRIMID(id) {
		return "", ErrMalformedRIM.Wrapf("RIM id %q", id)
	}
	r, err := ParseRIM(doc)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rims[id] == nil {
		s.rims[id] = map[string][]byte{}
	}
	s.rims[id][r.SHA256] = doc
	return r.SHA256, nil
}

// AddOCSP adds an OCSP answer (DER or base64); it returns its content hash.
func (s *Store) AddOCSP(b []byte) (string, error) {
	der, err := DecodeOCSP(b)
	if err != nil {
		return "", err
	}
	keys, err := ResponseKeys(der)
	if err != nil {
		return "", err
	}
	sum := sha256hex(der)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		if s.ocsp[k.Serial] == nil {
			s.ocsp[k.Serial] = map[string][]byte{}
		}
		s.ocsp[k.Serial][sum] = der
	}
	return sum, nil
}

// RIMs implements Collateral.
func (s *Store) RIMs(_ context.Context, id string) ([][]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return values(s.rims[id]), nil
}

// OCSP implements Collateral.
func (s *Store) OCSP(_ context.Context, cert, _ *x509.Certificate) ([][]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return values(s.ocsp[strings.ToUpper(cert.SerialNumber.Text(16))]), nil
}

// RIMIDs lists the RIM ids held.
func (s *Store) RIMIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.rims))
	for id := range s.rims {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

func values(m map[string][]byte) [][]byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

var rimIDRe = regexp.MustCompile(`^NV_[A-Z0-9_]+_[0-9A-Za-z.]+$`)

func validRIMID(id string) bool { return len(id) < 128 && rimIDRe.MatchString(id) }

var hash64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// LoadDir reads a collateral folder: rims/<id>.xml or
// rims/<id>.<sha256>.xml (RIMs), and ocsp/* (OCSP answers, DER or base64,
// any file name). This is the layout `avow collateral fetch nvidia` writes.
func LoadDir(dir string) (*Store, error) {
	s := NewStore()
	rimFiles, _ := filepath.Glob(filepath.Join(dir, "rims", "*.xml"))
	for _, f := range rimFiles {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		if i := strings.LastIndexByte(name, '.'); i > 0 && hash64.MatchString(name[i+1:]) {
			name = name[:i]
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if _, err := s.AddRIM(name, b); err != nil {
			return nil, wrap(err, "%s", f)
		}
	}
	ocspFiles, _ := filepath.Glob(filepath.Join(dir, "ocsp", "*"))
	for _, f := range ocspFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if _, err := s.AddOCSP(b); err != nil {
			return nil, wrap(err, "%s", f)
		}
	}
	return s, nil
}

// WriteDir writes the store in LoadDir's layout: RIMs as
// rims/<id>.<sha256>.xml, OCSP answers as ocsp/<sha256>.der.
func (s *Store) WriteDir(dir string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, sub := range []string{"rims", "ocsp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	for id, m := range s.rims {
		for sum, doc := range m {
			if err := os.WriteFile(filepath.Join(dir, "rims", id+"."+sum+".xml"), doc, 0o644); err != nil {
				return err
			}
		}
	}
	for _, m := range s.ocsp {
		for sum, der := range m {
			if err := os.WriteFile(filepath.Join(dir, "ocsp", sum+".der"), der, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// Multi is the union of several sources: every candidate of each.
type Multi []Collateral

// RIMs implements Collateral.
func (m Multi) RIMs(ctx context.Context, id string) ([][]byte, error) {
	var out [][]byte
	for _, c := range m {
		r, err := c.RIMs(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r...)
	}
	return out, nil
}

// OCSP implements Collateral.
func (m Multi) OCSP(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, error) {
	var out [][]byte
	for _, c := range m {
		r, err := c.OCSP(ctx, cert, issuer)
		if err != nil {
			return nil, err
		}
		out = append(out, r...)
	}
	return out, nil
}

// StoreItem is one document of a Store: a RIM (Kind "rim", Key "<id>") or an
// OCSP answer (Kind "ocsp", Key the certificate's serial in hex).
type StoreItem struct {
	Kind, Key, SHA256 string
	Data              []byte
}

// Items lists the store's documents, RIMs first, each once per key.
func (s *Store) Items() []StoreItem {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []StoreItem
	for _, id := range sortedKeys(s.rims) {
		for _, sum := range sortedKeys(s.rims[id]) {
			out = append(out, StoreItem{Kind: "rim", Key: id, SHA256: sum, Data: s.rims[id][sum]})
		}
	}
	for _, serial := range sortedKeys(s.ocsp) {
		for _, sum := range sortedKeys(s.ocsp[serial]) {
			out = append(out, StoreItem{Kind: "ocsp", Key: serial, SHA256: sum, Data: s.ocsp[serial][sum]})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Add adds an item Items listed (its kind says how).
func (s *Store) Add(it StoreItem) error {
	switch it.Kind {
	case "rim":
		_, err := s.AddRIM(it.Key, it.Data)
		return err
	case "ocsp":
		_, err := s.AddOCSP(it.Data)
		return err
	}
	return ErrMalformedEvidence.Wrapf("collateral kind %q", it.Kind)
}

// CheckRIM verifies what of a RIM does not depend on time: its XML
// signature and that its signer chain links up to one of roots (default
// NVIDIA's RIM root). For storing a RIM: verification at use checks the
// rest at its time.
func CheckRIM(doc []byte, roots []*x509.Certificate) (*RIM, error) {
	r, err, sigErr := parseVerifiedRIM(doc)
	if err != nil {
		return nil, err
	}
	if sigErr != nil {
		return nil, sigErr
	}
	if roots == nil {
		roots = RIMRoots()
	}
	if len(r.Chain) < 2 {
		return nil, ErrRIMChain.Wrapf("%d certificate(s) in KeyInfo", len(r.Chain))
	}
	// Checked as of the signer's first day: the links and the pinned root.
	if err := verifyChain(r.Chain, roots, r.Chain[0].NotBefore, ErrRIMChain, ErrRIMChain); err != nil {
		return nil, err
	}
	return r, nil
}

// Package storetest is the one conformance suite for store.Store. Every
// backend runs it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t testing.TB) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "avow.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// The factory must return a new, empty store each time it is called. A
// backend shared by several nodes also runs RunNodes with a factory that
// returns two handles on one database, and Bench for the hot reads.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
)

// Factory returns a new, empty store and arranges for it to be closed
// when t ends.
type Factory func(t testing.TB) store.Store

// NodesFactory returns two handles on one new, empty database, as two
// nodes (or processes) would hold them.
type NodesFactory func(t testing.TB) (store.Store, store.Store)

type test struct {
	name string
	fn   func(t *testing.T, s store.Store)
}

var tests = []test{
	{"ProviderCRUD", testProviderCRUD},
	{"ProviderCaseInsensitive", testProviderCaseInsensitive},
	{"ProviderValidation", testProviderValidation},
	{"ProviderOptimisticConcurrency", testProviderOptimistic},
	{"ProviderDeleteCascades", testProviderDeleteCascades},
	{"Policies", testPolicies},
	{"PolicyOptimisticConcurrency", testPolicyOptimistic},
	{"Signers", testSigners},
	{"KeysRotate", testKeysRotate},
	{"KeysRotateDuplicateKID", testKeysRotateDuplicate},
	{"KeysPruneRetired", testKeysPrune},
	{"AdminTokens", testAdminTokens},
	{"Collateral", testCollateral},
	{"CollateralPrune", testCollateralPrune},
	{"CollateralNumbers", testCollateralNumbers},
	{"Audit", testAudit},
	{"AuditPaging", testAuditPaging},
	{"AuditPruneAttestations", testAuditPrune},
	{"Timestamps", testTimestamps},
	{"TxCommit", testTxCommit},
	{"TxRollbackOnError", testTxRollback},
	{"TxInvalidAuditRollsBack", testTxInvalidAudit},
	{"TxPanicRollsBack", testTxPanic},
	{"TxFailedWriteWritesNothing", testTxFailedWrite},
	{"ChangeVersion", testChangeVersion},
	{"ContextCancelled", testContextCancelled},
	{"ErrorsAreClientSafe", testErrorsClientSafe},
	{"RaceCreateProvider", testRaceCreateProvider},
	{"ConcurrentWriters", testConcurrentWriters},
	{"ConcurrentRotate", testConcurrentRotate},
	{"ConcurrentAudit", testConcurrentAudit},
}

// Run runs the conformance suite, each test on a new store.
func Run(t *testing.T, newStore Factory) {
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// RunNodes runs the tests that need two handles on one database: races and
// visibility between nodes.
func RunNodes(t *testing.T, newNodes NodesFactory) {
	t.Run("RaceCreateProvider", func(t *testing.T) { testNodesRaceCreate(t, newNodes) })
	t.Run("Visibility", func(t *testing.T) { testNodesVisibility(t, newNodes) })
	t.Run("ConcurrentRotate", func(t *testing.T) { testNodesRotate(t, newNodes) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testNodesWriters(t, newNodes) })
}

// t0 is the suite's clock; its nanoseconds show the microsecond truncation.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// ---- helpers

// must(f())(t) returns f's value, failing t on f's error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return v
	}
}

func ok(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func is(t testing.TB, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %s", err, errs.Code(target))
	}
}

func eq[T any](t testing.TB, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func newProvider(name string) store.Provider {
	return store.Provider{
		Name:       name,
		TrustModel: store.TrustModelAAD,
		Settings: store.Settings{
			AcceptedTCBStatuses:   []string{"UpToDate", "SWHardeningNeeded"},
			CollateralGracePeriod: 36 * time.Hour,
		},
		Metadata: store.Metadata{
			SubscriptionID: "00000000-0000-0000-0000-000000000001",
			ResourceGroup:  "rg",
			Location:       "East US",
		},
		CreatedAt: t0,
	}
}

func createProvider(t testing.TB, s store.Store, name string) store.Provider {
	t.Helper()
	return must(s.CreateProvider(t.Context(), newProvider(name)))(t)
}

func cert(n int) []byte { return []byte(fmt.Sprintf("0\x82DER certificate %d", n)) }

func key(kid string, created time.Time) store.SigningKey {
	return store.SigningKey{KID: kid, SealedKey: []byte("sealed:" + kid), Certificate: []byte("cert:" + kid), CreatedAt: created}
}

func policy(provider, typ, text string) store.Policy {
	h := sha256.Sum256([]byte(text))
	return store.Policy{
		Provider:        provider,
		AttestationType: typ,
		Document:        "eyJhbGciOiJub25lIn0." + text + ".",
		Text:            text,
		Hash:            h[:],
		UpdatedAt:       t0,
	}
}

func audit(provider, op string) store.AuditEntry {
	return store.AuditEntry{
		Time: t0, Kind: store.AuditManagement, Actor: "tok-1", Provider: provider,
		Operation: op, Outcome: "success", RequestID: "req-1",
	}
}

func changeVersion(t testing.TB, s store.Store) int64 {
	t.Helper()
	return must(s.ChangeVersion(t.Context()))(t)
}

func auditCount(t testing.TB, s store.Store, f store.AuditFilter) int {
	t.Helper()
	f.Limit = store.MaxAuditLimit
	return len(must(s.ListAudit(t.Context(), f))(t))
}

// ---- providers

func testProviderCRUD(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetProvider(ctx, "nope")
	is(t, err, store.ErrNotFound)
	eq(t, "empty list", len(must(s.ListProviders(ctx))(t)), 0)

	in := newProvider("contoso")
	in.Settings.Extra = json.RawMessage(`{"tokenAlgorithm":"ES256"}`)
	in.Metadata.Tags = map[string]string{"env": "test", "team": "sec"}
	got := must(s.CreateProvider(ctx, in))(t)
	want := in
	want.CreatedAt, want.UpdatedAt, want.Version = ms(t0), ms(t0), 1
	eq(t, "created", got, want)
	eq(t, "get", must(s.GetProvider(ctx, "contoso"))(t), want)

	_, err = s.CreateProvider(ctx, newProvider("contoso"))
	is(t, err, store.ErrConflict)

	// A provider with nothing optional set round-trips too.
	bare := must(s.CreateProvider(ctx, store.Provider{Name: "bare", TrustModel: store.TrustModelIsolated, CreatedAt: t0}))(t)
	eq(t, "bare", must(s.GetProvider(ctx, "bare"))(t), bare)
	eq(t, "bare statuses", bare.Settings.AcceptedTCBStatuses, []string(nil))
	eq(t, "bare tags", bare.Metadata.Tags, map[string]string(nil))
	eq(t, "bare extra", bare.Settings.Extra, json.RawMessage(nil))
	// Empty and nil slices stay what they were.
	empty := newProvider("empty-statuses")
	empty.Settings.AcceptedTCBStatuses = []string{}
	eq(t, "empty statuses", must(s.CreateProvider(ctx, empty))(t).Settings.AcceptedTCBStatuses, []string{})
	eq(t, "empty statuses read", must(s.GetProvider(ctx, "empty-statuses"))(t).Settings.AcceptedTCBStatuses, []string{})

	list := must(s.ListProviders(ctx))(t)
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
	}
	eq(t, "list order", names, []string{"bare", "contoso", "empty-statuses"})
	eq(t, "listed", list[1], want)

	upd := got
	upd.Settings.AcceptedTCBStatuses = []string{"UpToDate"}
	upd.Settings.CollateralGracePeriod = 0
	upd.Settings.Extra = nil
	upd.Metadata.Tags = map[string]string{"env": "prod"}
	upd.UpdatedAt = at(time.Hour)
	got2 := must(s.UpdateProvider(ctx, upd))(t)
	want2 := upd
	want2.Version, want2.UpdatedAt = 2, ms(at(time.Hour))
	eq(t, "updated", got2, want2)
	eq(t, "get updated", must(s.GetProvider(ctx, "contoso"))(t), want2)
	eq(t, "created at kept", got2.CreatedAt, ms(t0))

	_, err = s.UpdateProvider(ctx, func() store.Provider { p := newProvider("ghost"); p.Version = 1; return p }())
	is(t, err, store.ErrNotFound)

	ok(t, s.DeleteProvider(ctx, "contoso"))
	_, err = s.GetProvider(ctx, "contoso")
	is(t, err, store.ErrNotFound)
	is(t, s.DeleteProvider(ctx, "contoso"), store.ErrNotFound)
	eq(t, "after delete", len(must(s.ListProviders(ctx))(t)), 2)
}

func testProviderCaseInsensitive(t *testing.T, s store.Store) {
	ctx := t.Context()
	createProvider(t, s, "Contoso")
	p := must(s.GetProvider(ctx, "CONTOSO"))(t)
	eq(t, "stored name", p.Name, "Contoso")
	_, err := s.CreateProvider(ctx, newProvider("contoso"))
	is(t, err, store.ErrConflict)
	p.Settings.CollateralGracePeriod = time.Minute
	p.Name = "contoso"
	eq(t, "update via other case", must(s.UpdateProvider(ctx, p))(t).Version, int64(2))
	must(s.SetPolicy(ctx, policy("CONTOSO", "SgxEnclave", "p1")))(t)
	pol := must(s.GetPolicy(ctx, "contoso", "sgxenclave"))(t)
	eq(t, "policy provider name", pol.Provider, "Contoso")
	eq(t, "policy type as stored", pol.AttestationType, "SgxEnclave")
	ok(t, s.DeleteProvider(ctx, "cOnToSo"))
	_, err = s.GetProvider(ctx, "Contoso")
	is(t, err, store.ErrNotFound)
}

func testProviderValidation(t *testing.T, s store.Store) {
	ctx := t.Context()
	bad := []func(p *store.Provider){
		func(p *store.Provider) { p.Name = "" },
		func(p *store.Provider) { p.Name = "   " },
		func(p *store.Provider) { p.TrustModel = "" },
		func(p *store.Provider) { p.TrustModel = "aad-ish" },
		func(p *store.Provider) { p.Settings.Extra = json.RawMessage(`{"unterminated"`) },
		func(p *store.Provider) { p.Settings.CollateralGracePeriod = -time.Second },
	}
	for i, mod := range bad {
		p := newProvider(fmt.Sprintf("bad-%d", i))
		mod(&p)
		_, err := s.CreateProvider(ctx, p)
		is(t, err, store.ErrInvalid)
	}
	eq(t, "nothing created", len(must(s.ListProviders(ctx))(t)), 0)

	good := createProvider(t, s, "good")
	good.TrustModel = "nope"
	_, err := s.UpdateProvider(ctx, good)
	is(t, err, store.ErrInvalid)
	eq(t, "unchanged", must(s.GetProvider(ctx, "good"))(t).Version, int64(1))
}

func testProviderOptimistic(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := createProvider(t, s, "occ")
	a, b := p, p
	a.Metadata.Location = "West Europe"
	a2 := must(s.UpdateProvider(ctx, a))(t)
	eq(t, "version after a", a2.Version, int64(2))

	b.Metadata.Location = "North Europe"
	_, err := s.UpdateProvider(ctx, b) // stale: version 1
	is(t, err, store.ErrConflict)
	eq(t, "a's write stays", must(s.GetProvider(ctx, "occ"))(t).Metadata.Location, "West Europe")

	b.Version = a2.Version
	eq(t, "retry with fresh version", must(s.UpdateProvider(ctx, b))(t).Version, int64(3))

	b.Version = 99 // from the future
	_, err = s.UpdateProvider(ctx, b)
	is(t, err, store.ErrConflict)
}

func testProviderDeleteCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	createProvider(t, s, "doomed")
	createProvider(t, s, "other")
	for _, name := range []string{"doomed", "other"} {
		must(s.SetPolicy(ctx, policy(name, "SgxEnclave", "x")))(t)
		must(s.AddSigner(ctx, store.Signer{Provider: name, Certificate: cert(1)}))(t)
		must(s.RotateKey(ctx, name, key("k1", t0), time.Time{}))(t)
		ok(t, s.AppendAudit(ctx, audit(name, "provider.create")))
	}
	ok(t, s.DeleteProvider(ctx, "doomed"))

	_, err := s.GetPolicy(ctx, "doomed", "SgxEnclave")
	is(t, err, store.ErrNotFound)
	_, err = s.ListSigners(ctx, "doomed")
	is(t, err, store.ErrNotFound)
	_, err = s.ActiveKey(ctx, "doomed")
	is(t, err, store.ErrNotFound)
	eq(t, "audit kept", auditCount(t, s, store.AuditFilter{Provider: "doomed"}), 1)

	// A new provider with the old name starts empty.
	createProvider(t, s, "doomed")
	eq(t, "no policies", len(must(s.ListPolicies(ctx, "doomed"))(t)), 0)
	eq(t, "no signers", len(must(s.ListSigners(ctx, "doomed"))(t)), 0)
	eq(t, "no keys", len(must(s.ListKeys(ctx, "doomed"))(t)), 0)
	// The other provider is untouched.
	must(s.GetPolicy(ctx, "other", "SgxEnclave"))(t)
	eq(t, "other signers", len(must(s.ListSigners(ctx, "other"))(t)), 1)
	must(s.ActiveKey(ctx, "other"))(t)
}

// ---- policies

func testPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.SetPolicy(ctx, policy("ghost", "SgxEnclave", "x"))
	is(t, err, store.ErrNotFound)
	_, err = s.ListPolicies(ctx, "ghost")
	is(t, err, store.ErrNotFound)
	createProvider(t, s, "pp")
	_, err = s.GetPolicy(ctx, "pp", "SgxEnclave")
	is(t, err, store.ErrNotFound)
	eq(t, "none", len(must(s.ListPolicies(ctx, "pp"))(t)), 0)

	p1 := policy("pp", "SgxEnclave", "version=1.0; authorizationrules{=> permit();};")
	got := must(s.SetPolicy(ctx, p1))(t)
	want := p1
	want.UpdatedAt, want.Version = ms(t0), 1
	eq(t, "set", got, want)
	eq(t, "get", must(s.GetPolicy(ctx, "pp", "SgxEnclave"))(t), want)

	signed := policy("pp", "SgxEnclave", "v2")
	signed.SignerCert = cert(7)
	signed.UpdatedAt = at(time.Minute)
	got2 := must(s.SetPolicy(ctx, signed))(t)
	want2 := signed
	want2.UpdatedAt, want2.Version = ms(at(time.Minute)), 2
	eq(t, "replace", got2, want2)
	eq(t, "get replaced", must(s.GetPolicy(ctx, "pp", "SgxEnclave"))(t), want2)

	tdx := must(s.SetPolicy(ctx, policy("pp", "TdxVm", "tdx")))(t)
	// Empty optional byte fields come back as nil.
	bare := store.Policy{Provider: "pp", AttestationType: "Bare", Document: "doc", SignerCert: []byte{}, Hash: []byte{}, UpdatedAt: t0}
	bareGot := must(s.SetPolicy(ctx, bare))(t)
	eq(t, "bare policy", bareGot, store.Policy{Provider: "pp", AttestationType: "Bare", Document: "doc", UpdatedAt: ms(t0), Version: 1})
	eq(t, "bare policy read", must(s.GetPolicy(ctx, "pp", "bare"))(t), bareGot)
	ok(t, s.DeletePolicy(ctx, "pp", "Bare"))
	oe := must(s.SetPolicy(ctx, policy("pp", "OpenEnclave", "oe")))(t)
	eq(t, "list", must(s.ListPolicies(ctx, "pp"))(t), []store.Policy{oe, want2, tdx})

	// Invalid input.
	for _, p := range []store.Policy{
		policy("pp", "", "x"),
		{Provider: "pp", AttestationType: "SgxEnclave"}, // no document
		policy("", "SgxEnclave", "x"),
	} {
		_, err := s.SetPolicy(ctx, p)
		is(t, err, store.ErrInvalid)
	}

	ok(t, s.DeletePolicy(ctx, "pp", "sgxenclave"))
	_, err = s.GetPolicy(ctx, "pp", "SgxEnclave")
	is(t, err, store.ErrNotFound)
	is(t, s.DeletePolicy(ctx, "pp", "SgxEnclave"), store.ErrNotFound)
	is(t, s.DeletePolicy(ctx, "ghost", "SgxEnclave"), store.ErrNotFound)
	eq(t, "after reset", len(must(s.ListPolicies(ctx, "pp"))(t)), 2)
	// Setting again after a reset starts over.
	eq(t, "version after reset", must(s.SetPolicy(ctx, p1))(t).Version, int64(1))
}

func testPolicyOptimistic(t *testing.T, s store.Store) {
	ctx := t.Context()
	createProvider(t, s, "pocc")
	p := policy("pocc", "SgxEnclave", "a")
	p.Version = 1 // expects an existing version 1: there is none
	_, err := s.SetPolicy(ctx, p)
	is(t, err, store.ErrConflict)

	p.Version = 0
	v1 := must(s.SetPolicy(ctx, p))(t)
	b := policy("pocc", "SgxEnclave", "b")
	b.Version = v1.Version
	v2 := must(s.SetPolicy(ctx, b))(t)
	eq(t, "v2", v2.Version, int64(2))

	c := policy("pocc", "SgxEnclave", "c")
	c.Version = v1.Version // stale
	_, err = s.SetPolicy(ctx, c)
	is(t, err, store.ErrConflict)
	eq(t, "b stays", must(s.GetPolicy(ctx, "pocc", "SgxEnclave"))(t).Text, "b")
	c.Version = 0 // unconditional
	eq(t, "unconditional", must(s.SetPolicy(ctx, c))(t).Version, int64(3))
}

// ---- signers

func testSigners(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.AddSigner(ctx, store.Signer{Provider: "ghost", Certificate: cert(1)})
	is(t, err, store.ErrNotFound)
	createProvider(t, s, "iso")
	eq(t, "none", len(must(s.ListSigners(ctx, "iso"))(t)), 0)

	s1 := must(s.AddSigner(ctx, store.Signer{Provider: "ISO", Certificate: cert(1), AddedAt: t0}))(t)
	eq(t, "signer", s1, store.Signer{Provider: "iso", Thumbprint: store.Thumbprint(cert(1)), Certificate: cert(1), AddedAt: ms(t0)})
	eq(t, "thumbprint form", len(s1.Thumbprint), 64)
	eq(t, "thumbprint lowercase", s1.Thumbprint, strings.ToLower(s1.Thumbprint))
	s2 := must(s.AddSigner(ctx, store.Signer{Provider: "iso", Certificate: cert(2), AddedAt: at(time.Second)}))(t)
	s3 := must(s.AddSigner(ctx, store.Signer{Provider: "iso", Certificate: cert(3), AddedAt: at(time.Second)}))(t)

	_, err = s.AddSigner(ctx, store.Signer{Provider: "iso", Certificate: cert(1), AddedAt: at(time.Hour)})
	is(t, err, store.ErrConflict)
	_, err = s.AddSigner(ctx, store.Signer{Provider: "iso"})
	is(t, err, store.ErrInvalid)
	eq(t, "list", must(s.ListSigners(ctx, "iso"))(t), []store.Signer{s1, s2, s3})

	// The same certificate may sign for another provider.
	createProvider(t, s, "iso2")
	must(s.AddSigner(ctx, store.Signer{Provider: "iso2", Certificate: cert(1)}))(t)

	ok(t, s.RemoveSigner(ctx, "iso", strings.ToUpper(s2.Thumbprint)))
	is(t, s.RemoveSigner(ctx, "iso", s2.Thumbprint), store.ErrNotFound)
	is(t, s.RemoveSigner(ctx, "iso", store.Thumbprint([]byte("unknown"))), store.ErrNotFound)
	is(t, s.RemoveSigner(ctx, "ghost", s1.Thumbprint), store.ErrNotFound)
	eq(t, "after remove", must(s.ListSigners(ctx, "iso"))(t), []store.Signer{s1, s3})
	eq(t, "other provider", len(must(s.ListSigners(ctx, "iso2"))(t)), 1)
}

// ---- keys

func activeKeys(ks []store.SigningKey) (n int, active store.SigningKey) {
	for _, k := range ks {
		if k.Active {
			n++
			active = k
		}
	}
	return n, active
}

func testKeysRotate(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.RotateKey(ctx, "ghost", key("k1", t0), time.Time{})
	is(t, err, store.ErrNotFound)
	_, err = s.ListKeys(ctx, "ghost")
	is(t, err, store.ErrNotFound)
	createProvider(t, s, "kp")
	_, err = s.ActiveKey(ctx, "kp")
	is(t, err, store.ErrNotFound)
	eq(t, "no keys", len(must(s.ListKeys(ctx, "kp"))(t)), 0)

	k1 := must(s.RotateKey(ctx, "KP", key("k1", t0), time.Time{}))(t)
	want1 := key("k1", ms(t0))
	want1.Provider, want1.Active = "kp", true
	eq(t, "first key", k1, want1)
	eq(t, "active", must(s.ActiveKey(ctx, "kp"))(t), want1)

	k2 := must(s.RotateKey(ctx, "kp", key("k2", at(time.Hour)), at(2*time.Hour)))(t)
	eq(t, "k2 active", k2.Active, true)
	eq(t, "active is k2", must(s.ActiveKey(ctx, "kp"))(t).KID, "k2")
	ret1 := want1
	ret1.Active, ret1.RetiredAt = false, ms(at(2*time.Hour))
	eq(t, "list", must(s.ListKeys(ctx, "kp"))(t), []store.SigningKey{k2, ret1})

	// Zero retireAt: retired when the new key was created.
	k3 := must(s.RotateKey(ctx, "kp", key("k3", at(3*time.Hour)), time.Time{}))(t)
	ks := must(s.ListKeys(ctx, "kp"))(t)
	eq(t, "3 keys", len(ks), 3)
	n, act := activeKeys(ks)
	eq(t, "one active", n, 1)
	eq(t, "active k3", act, k3)
	eq(t, "k2 retired at k3 creation", ks[1].RetiredAt, ms(at(3*time.Hour)))
	eq(t, "k1 keeps its retirement", ks[2].RetiredAt, ms(at(2*time.Hour)))

	for _, bad := range []store.SigningKey{
		{SealedKey: []byte("x"), Certificate: []byte("y")},
		{KID: "k9", Certificate: []byte("y")},
		{KID: "k9", SealedKey: []byte("x")},
	} {
		_, err := s.RotateKey(ctx, "kp", bad, time.Time{})
		is(t, err, store.ErrInvalid)
	}
	eq(t, "active still k3", must(s.ActiveKey(ctx, "kp"))(t).KID, "k3")

	// ActiveKeys: one per provider that has a key, by name.
	createProvider(t, s, "ka")
	createProvider(t, s, "kz")
	ka := must(s.RotateKey(ctx, "ka", key("ka1", t0), time.Time{}))(t)
	var names, kids []string
	for _, k := range must(s.ActiveKeys(ctx))(t) {
		if k.Provider == "ka" || k.Provider == "kp" || k.Provider == "kz" {
			names, kids = append(names, k.Provider), append(kids, k.KID)
			eq(t, "active", k.Active, true)
		}
	}
	eq(t, "active keys", names, []string{"ka", "kp"})
	eq(t, "active kids", kids, []string{ka.KID, "k3"})

	// Keys are per provider: another provider may reuse a KID.
	createProvider(t, s, "kp2")
	must(s.RotateKey(ctx, "kp2", key("k1", t0), time.Time{}))(t)
	eq(t, "kp keeps k3", must(s.ActiveKey(ctx, "kp"))(t).KID, "k3")
}

func testKeysRotateDuplicate(t *testing.T, s store.Store) {
	ctx := t.Context()
	createProvider(t, s, "kd")
	must(s.RotateKey(ctx, "kd", key("k1", t0), time.Time{}))(t)
	must(s.RotateKey(ctx, "kd", key("k2", at(time.Hour)), time.Time{}))(t)
	before := must(s.ListKeys(ctx, "kd"))(t)
	v := changeVersion(t, s)
	for _, kid := range []string{"k1", "k2"} {
		_, err := s.RotateKey(ctx, "kd", key(kid, at(2*time.Hour)), time.Time{})
		is(t, err, store.ErrConflict)
	}
	eq(t, "keys unchanged", must(s.ListKeys(ctx, "kd"))(t), before)
	eq(t, "change version unchanged", changeVersion(t, s), v)
}

func testKeysPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	createProvider(t, s, "kq")
	createProvider(t, s, "kr")
	for i := range 4 {
		must(s.RotateKey(ctx, "kq", key(fmt.Sprintf("q%d", i), at(time.Duration(i)*time.Hour)), time.Time{}))(t)
	}
	must(s.RotateKey(ctx, "kr", key("r0", t0), time.Time{}))(t)
	// q0 retired at 1h, q1 at 2h, q2 at 3h; q3 active; r0 active since t0.
	n := must(s.PruneRetiredKeys(ctx, at(2*time.Hour+time.Minute)))(t)
	eq(t, "pruned", n, int64(2))
	var kids []string
	for _, k := range must(s.ListKeys(ctx, "kq"))(t) {
		kids = append(kids, k.KID)
	}
	eq(t, "left", kids, []string{"q3", "q2"})
	must(s.ActiveKey(ctx, "kr"))(t)
	// Active keys are never pruned.
	eq(t, "prune far future", must(s.PruneRetiredKeys(ctx, at(1000*time.Hour)))(t), int64(1))
	must(s.ActiveKey(ctx, "kq"))(t)
	must(s.ActiveKey(ctx, "kr"))(t)
}

// ---- admin tokens

func tokenHash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

func testAdminTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetAdminTokenByHash(ctx, tokenHash("nope"))
	is(t, err, store.ErrNotFound)

	a := must(s.CreateAdminToken(ctx, store.AdminToken{ID: "tok-a", Hash: tokenHash("a"), Role: store.RoleOwner, Description: "first start", CreatedAt: t0}))(t)
	eq(t, "created", a, store.AdminToken{ID: "tok-a", Hash: tokenHash("a"), Role: store.RoleOwner, Description: "first start", CreatedAt: ms(t0)})
	b := must(s.CreateAdminToken(ctx, store.AdminToken{ID: "tok-b", Hash: tokenHash("b"), Role: store.RoleReader, CreatedAt: at(time.Second)}))(t)
	c := must(s.CreateAdminToken(ctx, store.AdminToken{ID: "tok-c", Hash: tokenHash("c"), Role: store.RolePolicyAdmin, CreatedAt: at(2 * time.Second)}))(t)
	eq(t, "by hash", must(s.GetAdminTokenByHash(ctx, tokenHash("b")))(t), b)
	_, err = s.GetAdminTokenByHash(ctx, tokenHash("a")[:16])
	is(t, err, store.ErrNotFound)

	_, err = s.CreateAdminToken(ctx, store.AdminToken{ID: "tok-a", Hash: tokenHash("other"), Role: store.RoleOwner})
	is(t, err, store.ErrConflict)
	_, err = s.CreateAdminToken(ctx, store.AdminToken{ID: "tok-z", Hash: tokenHash("a"), Role: store.RoleOwner})
	is(t, err, store.ErrConflict)
	for _, bad := range []store.AdminToken{
		{Hash: tokenHash("x"), Role: store.RoleOwner},
		{ID: "x", Hash: []byte("short"), Role: store.RoleOwner},
		{ID: "x", Hash: tokenHash("x"), Role: "admin"},
	} {
		_, err := s.CreateAdminToken(ctx, bad)
		is(t, err, store.ErrInvalid)
	}
	eq(t, "list", must(s.ListAdminTokens(ctx))(t), []store.AdminToken{a, b, c})

	ok(t, s.RevokeAdminToken(ctx, "tok-b", at(time.Hour)))
	rb := must(s.GetAdminTokenByHash(ctx, tokenHash("b")))(t)
	eq(t, "revoked", rb.Revoked, true)
	eq(t, "revoked at", rb.RevokedAt, ms(at(time.Hour)))
	ok(t, s.RevokeAdminToken(ctx, "tok-b", at(2*time.Hour)))
	eq(t, "first revocation time kept", must(s.GetAdminTokenByHash(ctx, tokenHash("b")))(t).RevokedAt, ms(at(time.Hour)))
	is(t, s.RevokeAdminToken(ctx, "tok-nope", t0), store.ErrNotFound)
	eq(t, "others not revoked", must(s.GetAdminTokenByHash(ctx, tokenHash("a")))(t).Revoked, false)
}

// ---- collateral

var (
	keyA = store.CollateralKey{TEE: "sgx", FMSPC: "00906ED50000", PCEID: "0000"}
	keyB = store.CollateralKey{TEE: "tdx", FMSPC: "90c06f000000", PCEID: "0000"}
)

func collateral(k store.CollateralKey, bundle string, fetched time.Time) store.Collateral {
	return store.Collateral{
		Key: k, Bundle: []byte(bundle),
		IssueDate: fetched.Add(-time.Hour), NextUpdate: fetched.Add(30 * 24 * time.Hour),
		FetchedAt: fetched, Source: "file:" + bundle,
	}
}

func testCollateral(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetCollateral(ctx, keyA)
	is(t, err, store.ErrNotFound)
	_, err = s.CollateralHistory(ctx, keyA)
	is(t, err, store.ErrNotFound)
	_, err = s.GetCollateralByID(ctx, 12345)
	is(t, err, store.ErrNotFound)
	eq(t, "empty list", len(must(s.ListCollateral(ctx))(t)), 0)

	c1 := must(s.PutCollateral(ctx, collateral(keyA, "bundle-1", t0)))(t)
	norm := store.CollateralKey{TEE: "sgx", FMSPC: "00906ed50000", PCEID: "0000"}
	eq(t, "normalised key", c1.Key, norm)
	sum := sha256.Sum256([]byte("bundle-1"))
	eq(t, "sha", c1.SHA256, fmt.Sprintf("%x", sum))
	eq(t, "size", c1.Size, int64(8))
	want1 := collateral(norm, "bundle-1", ms(t0))
	want1.IssueDate, want1.NextUpdate = ms(want1.IssueDate), ms(want1.NextUpdate)
	want1.ID, want1.Size, want1.SHA256 = c1.ID, 8, c1.SHA256
	eq(t, "put", c1, want1)
	eq(t, "get", must(s.GetCollateral(ctx, store.CollateralKey{TEE: "SGX", FMSPC: "00906ed50000", PCEID: "0000"}))(t), want1)
	eq(t, "by id", must(s.GetCollateralByID(ctx, c1.ID))(t), want1)

	// Put replaces; an older FetchedAt still wins because it is newer in the store.
	c2 := must(s.PutCollateral(ctx, collateral(keyA, "bundle-2", at(-time.Hour))))(t)
	if c2.ID <= c1.ID {
		t.Fatalf("ids do not increase: %d then %d", c1.ID, c2.ID)
	}
	eq(t, "latest", must(s.GetCollateral(ctx, keyA))(t).Bundle, []byte("bundle-2"))
	cb := must(s.PutCollateral(ctx, collateral(keyB, "tdx-bundle", t0)))(t)
	c3 := must(s.PutCollateral(ctx, collateral(keyA, "bundle-3", at(time.Hour))))(t)

	strip := func(c store.Collateral) store.Collateral { c.Bundle = nil; return c }
	eq(t, "history", must(s.CollateralHistory(ctx, keyA))(t), []store.Collateral{strip(c3), strip(c2), strip(c1)})
	eq(t, "list latest", must(s.ListCollateral(ctx))(t), []store.Collateral{strip(c3), strip(cb)})
	eq(t, "old row by id", must(s.GetCollateralByID(ctx, c1.ID))(t).Bundle, []byte("bundle-1"))

	// Optional dates may be absent.
	bare := must(s.PutCollateral(ctx, store.Collateral{Key: keyB, Bundle: []byte("x"), FetchedAt: at(time.Hour)}))(t)
	got := must(s.GetCollateral(ctx, keyB))(t)
	eq(t, "bare", got, bare)
	eq(t, "no issue date", got.IssueDate.IsZero() && got.NextUpdate.IsZero(), true)

	for _, k := range []store.CollateralKey{
		{TEE: "sev", FMSPC: "00906ed50000", PCEID: "0000"},
		{TEE: "sgx", FMSPC: "00906ed5000", PCEID: "0000"},
		{TEE: "sgx", FMSPC: "00906ed5000g", PCEID: "0000"},
		{TEE: "sgx", FMSPC: "00906ed50000", PCEID: "00"},
	} {
		_, err := s.PutCollateral(ctx, collateral(k, "x", t0))
		is(t, err, store.ErrInvalid)
		_, err = s.GetCollateral(ctx, k)
		is(t, err, store.ErrInvalid)
	}
	_, err = s.PutCollateral(ctx, store.Collateral{Key: keyA})
	is(t, err, store.ErrInvalid)
}

func testCollateralPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	must(s.PutCollateral(ctx, collateral(keyA, "a1", t0)))(t)
	must(s.PutCollateral(ctx, collateral(keyA, "a2", at(24*time.Hour))))(t)
	must(s.PutCollateral(ctx, collateral(keyA, "a3", at(48*time.Hour))))(t)
	b1 := must(s.PutCollateral(ctx, collateral(keyB, "b1", t0)))(t) // latest of B, and old
	v := changeVersion(t, s)

	n := must(s.PruneCollateral(ctx, at(36*time.Hour)))(t)
	eq(t, "pruned", n, int64(2)) // a1, a2; never b1, the latest of its key
	h := must(s.CollateralHistory(ctx, keyA))(t)
	eq(t, "a history", len(h), 1)
	eq(t, "a latest", must(s.GetCollateral(ctx, keyA))(t).Bundle, []byte("a3"))
	eq(t, "b kept", must(s.GetCollateral(ctx, keyB))(t).ID, b1.ID)
	eq(t, "prune does not change cached state", changeVersion(t, s), v)
	eq(t, "prune again", must(s.PruneCollateral(ctx, at(1000*time.Hour)))(t), int64(0))
}

// testCollateralNumbers: rows carry their TCB evaluation data number; a
// pinned row (kept for one number, a TCB baseline) is found by number but
// never becomes the key's current collateral, and pruning keeps the latest
// row of every number.
func testCollateralNumbers(t *testing.T, s store.Store) {
	ctx := t.Context()
	num := func(k store.CollateralKey, bundle string, fetched time.Time, n uint32, pinned bool) store.Collateral {
		c := collateral(k, bundle, fetched)
		c.TCBEvaluationDataNumber, c.Pinned = n, pinned
		return c
	}
	_, err := s.GetCollateralForNumber(ctx, keyA, 17)
	is(t, err, store.ErrNotFound)
	eq(t, "empty numbers", len(must(s.ListCollateralNumbers(ctx))(t)), 0)

	a17 := must(s.PutCollateral(ctx, num(keyA, "a17", t0, 17, false)))(t)
	a18 := must(s.PutCollateral(ctx, num(keyA, "a18", at(time.Hour), 18, false)))(t)
	eq(t, "number kept", a18.TCBEvaluationDataNumber, uint32(18))
	// An older baseline fetched later is pinned: the key's current
	// collateral stays at 18.
	p16 := must(s.PutCollateral(ctx, num(keyA, "p16", at(2*time.Hour), 16, true)))(t)
	eq(t, "pinned round trip", must(s.GetCollateralByID(ctx, p16.ID))(t).Pinned, true)
	eq(t, "current skips pinned", must(s.GetCollateral(ctx, keyA))(t).ID, a18.ID)
	eq(t, "list skips pinned", must(s.ListCollateral(ctx))(t)[0].ID, a18.ID)
	eq(t, "by number 16", must(s.GetCollateralForNumber(ctx, keyA, 16))(t).Bundle, []byte("p16"))
	eq(t, "by number 17", must(s.GetCollateralForNumber(ctx, keyA, 17))(t).ID, a17.ID)
	_, err = s.GetCollateralForNumber(ctx, keyA, 15)
	is(t, err, store.ErrNotFound)
	_, err = s.GetCollateralForNumber(ctx, keyB, 17)
	is(t, err, store.ErrNotFound)

	b18 := must(s.PutCollateral(ctx, num(keyB, "b18", t0, 18, false)))(t)
	p17 := must(s.PutCollateral(ctx, num(keyA, "p17", at(3*time.Hour), 17, true)))(t) // a newer 17, pinned
	eq(t, "by number: latest of the number", must(s.GetCollateralForNumber(ctx, keyA, 17))(t).ID, p17.ID)
	strip := func(c store.Collateral) store.Collateral { c.Bundle = nil; return c }
	eq(t, "numbers", must(s.ListCollateralNumbers(ctx))(t), []store.Collateral{strip(p16), strip(p17), strip(a18), strip(b18)})

	// Pruning keeps a18 (current), p16 and p17 (latest of their numbers);
	// a17 goes: 17 has the newer p17.
	eq(t, "pruned", must(s.PruneCollateral(ctx, at(1000*time.Hour)))(t), int64(1))
	_, err = s.GetCollateralByID(ctx, a17.ID)
	is(t, err, store.ErrNotFound)
	eq(t, "numbers after prune", len(must(s.ListCollateralNumbers(ctx))(t)), 4)
	eq(t, "current after prune", must(s.GetCollateral(ctx, keyA))(t).ID, a18.ID)
}

// ---- audit

func testAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	eq(t, "empty", len(must(s.ListAudit(ctx, store.AuditFilter{}))(t)), 0)

	e1 := audit("alpha", "provider.create")
	e1.Details = map[string]string{"trustModel": "AAD"}
	e2 := audit("alpha", "policy.set")
	e2.Time = at(time.Minute)
	e2.Details = map[string]string{"policyHash": "abc", "type": "SgxEnclave"}
	e3 := store.AuditEntry{Time: at(2 * time.Minute), Kind: store.AuditAttestation, Provider: "Alpha",
		Operation: "attest.SgxEnclave", Outcome: "success", RequestID: "req-3",
		Details: map[string]string{"tcbStatus": "UpToDate", "durationMs": "3"}}
	e4 := audit("beta", "policy.reset")
	e4.Time = at(3 * time.Minute)
	e5 := audit("", "admin.token.create")
	e5.Time = at(4 * time.Minute)
	ok(t, s.AppendAudit(ctx, e1, e2))
	ok(t, s.AppendAudit(ctx, e3))
	ok(t, s.AppendAudit(ctx, e4, e5))
	ok(t, s.AppendAudit(ctx)) // nothing

	all := must(s.ListAudit(ctx, store.AuditFilter{}))(t)
	eq(t, "all", len(all), 5)
	for i, want := range []store.AuditEntry{e5, e4, e3, e2, e1} {
		got := all[i]
		if i > 0 && got.ID >= all[i-1].ID {
			t.Fatalf("ids not decreasing: %d after %d", got.ID, all[i-1].ID)
		}
		want.ID, want.Time = got.ID, ms(want.Time)
		eq(t, fmt.Sprintf("entry %d", i), got, want)
	}

	ops := func(f store.AuditFilter) []string {
		var out []string
		for _, e := range must(s.ListAudit(ctx, f))(t) {
			out = append(out, e.Operation)
		}
		return out
	}
	eq(t, "by provider", ops(store.AuditFilter{Provider: "ALPHA"}), []string{"attest.SgxEnclave", "policy.set", "provider.create"})
	eq(t, "by kind", ops(store.AuditFilter{Kind: store.AuditAttestation}), []string{"attest.SgxEnclave"})
	eq(t, "management", len(ops(store.AuditFilter{Kind: store.AuditManagement})), 4)
	eq(t, "by prefix", ops(store.AuditFilter{OperationPrefix: "policy."}), []string{"policy.reset", "policy.set"})
	eq(t, "prefix is literal", ops(store.AuditFilter{OperationPrefix: "policy%"}), []string(nil))
	eq(t, "prefix is literal _", ops(store.AuditFilter{OperationPrefix: "polic_"}), []string(nil))
	eq(t, "since", ops(store.AuditFilter{Since: at(2 * time.Minute)}), []string{"admin.token.create", "policy.reset", "attest.SgxEnclave"})
	eq(t, "until", ops(store.AuditFilter{Until: at(time.Minute)}), []string{"provider.create"})
	eq(t, "limit", ops(store.AuditFilter{Limit: 2}), []string{"admin.token.create", "policy.reset"})
	eq(t, "combined", ops(store.AuditFilter{Provider: "alpha", OperationPrefix: "p", Since: at(30 * time.Second), Limit: 1}), []string{"policy.set"})
	eq(t, "no match", ops(store.AuditFilter{Provider: "gamma"}), []string(nil))
	_, err := s.ListAudit(ctx, store.AuditFilter{Kind: "other"})
	is(t, err, store.ErrInvalid)

	// Invalid entries are refused, together with their batch.
	for _, bad := range []store.AuditEntry{
		{Kind: store.AuditManagement, Outcome: "success"},                // no operation
		{Kind: store.AuditManagement, Operation: "  "},                   // blank operation
		{Kind: "", Operation: "provider.create"},                         // no kind
		{Kind: "other", Operation: "provider.create", Provider: "alpha"}, // unknown kind
	} {
		is(t, s.AppendAudit(ctx, audit("alpha", "ok.first"), bad), store.ErrInvalid)
	}
	eq(t, "nothing appended", len(must(s.ListAudit(ctx, store.AuditFilter{}))(t)), 5)

	// Zero time means now.
	before := time.Now().Add(-time.Second)
	ok(t, s.AppendAudit(ctx, store.AuditEntry{Kind: store.AuditManagement, Operation: "now"}))
	got := must(s.ListAudit(ctx, store.AuditFilter{Limit: 1}))(t)[0]
	if got.Time.Before(before) || got.Time.After(time.Now().Add(time.Second)) || got.Time.Location() != time.UTC {
		t.Fatalf("zero time stored as %v", got.Time)
	}
}

func testAuditPaging(t *testing.T, s store.Store) {
	ctx := t.Context()
	var batch []store.AuditEntry
	for i := range 250 {
		e := audit("pager", fmt.Sprintf("op.%03d", i))
		e.Time = at(time.Duration(i) * time.Second)
		batch = append(batch, e)
	}
	ok(t, s.AppendAudit(ctx, batch...))
	eq(t, "default limit", len(must(s.ListAudit(ctx, store.AuditFilter{}))(t)), store.DefaultAuditLimit)
	var seen []string
	f := store.AuditFilter{Limit: 60}
	for {
		page := must(s.ListAudit(ctx, f))(t)
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			seen = append(seen, e.Operation)
		}
		f.BeforeID = page[len(page)-1].ID
	}
	eq(t, "all pages", len(seen), 250)
	eq(t, "newest first", seen[0], "op.249")
	eq(t, "oldest last", seen[249], "op.000")
	if !slices.IsSortedFunc(seen, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Fatal("pages out of order")
	}
}

func testAuditPrune(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 10 {
		e := audit("pr", "attest.SgxEnclave")
		e.Kind = store.AuditAttestation
		e.Time = at(time.Duration(i) * time.Hour)
		m := audit("pr", "policy.set")
		m.Time = e.Time
		ok(t, s.AppendAudit(ctx, e, m))
	}
	v := changeVersion(t, s)
	n := must(s.PruneAttestations(ctx, at(4*time.Hour)))(t)
	eq(t, "pruned", n, int64(4))
	eq(t, "attestations left", auditCount(t, s, store.AuditFilter{Kind: store.AuditAttestation}), 6)
	eq(t, "management kept", auditCount(t, s, store.AuditFilter{Kind: store.AuditManagement}), 10)
	eq(t, "change version", changeVersion(t, s), v)
	// IDs keep increasing after a prune.
	last := must(s.ListAudit(ctx, store.AuditFilter{Limit: 1}))(t)[0].ID
	ok(t, s.AppendAudit(ctx, audit("pr", "after")))
	if id := must(s.ListAudit(ctx, store.AuditFilter{Limit: 1}))(t)[0].ID; id <= last {
		t.Fatalf("id %d after %d", id, last)
	}
}

// ---- timestamps

func testTimestamps(t *testing.T, s store.Store) {
	ctx := t.Context()
	berlin := time.FixedZone("CET", 3600)
	p := newProvider("tz")
	p.CreatedAt = t0.In(berlin)
	got := must(s.CreateProvider(ctx, p))(t)
	eq(t, "utc microseconds", got.CreatedAt, ms(t0))
	eq(t, "location", got.CreatedAt.Location(), time.UTC)
	eq(t, "updated = created", got.UpdatedAt, ms(t0))
	read := must(s.GetProvider(ctx, "tz"))(t)
	eq(t, "read back", read.CreatedAt, ms(t0))
	eq(t, "read location", read.CreatedAt.Location(), time.UTC)

	before := time.Now().Add(-time.Second)
	z := newProvider("zero-time")
	z.CreatedAt = time.Time{}
	zp := must(s.CreateProvider(ctx, z))(t)
	if zp.CreatedAt.Before(before) || zp.CreatedAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("zero CreatedAt became %v", zp.CreatedAt)
	}
	eq(t, "read zero-time", must(s.GetProvider(ctx, "zero-time"))(t).CreatedAt, zp.CreatedAt)

	// Far past and future values survive.
	for _, tm := range []time.Time{time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(2199, 12, 31, 23, 59, 59, 999999000, time.UTC)} {
		c := must(s.PutCollateral(ctx, collateral(keyA, "t", tm)))(t)
		eq(t, "far time", must(s.GetCollateralByID(ctx, c.ID))(t).FetchedAt, tm)
	}
}

// ---- transactions

func testTxCommit(t *testing.T, s store.Store) {
	ctx := t.Context()
	v0 := changeVersion(t, s)
	err := s.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateProvider(ctx, newProvider("txp")); err != nil {
			return err
		}
		// The transaction reads its own writes.
		if _, err := tx.GetProvider(ctx, "txp"); err != nil {
			return err
		}
		if _, err := tx.SetPolicy(ctx, policy("txp", "SgxEnclave", "p")); err != nil {
			return err
		}
		if _, err := tx.RotateKey(ctx, "txp", key("k1", t0), time.Time{}); err != nil {
			return err
		}
		if _, err := tx.GetPolicy(ctx, "txp", "SgxEnclave"); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit("txp", "provider.create"))
	})
	ok(t, err)
	must(s.GetProvider(ctx, "txp"))(t)
	must(s.GetPolicy(ctx, "txp", "SgxEnclave"))(t)
	must(s.ActiveKey(ctx, "txp"))(t)
	eq(t, "audit", auditCount(t, s, store.AuditFilter{Provider: "txp"}), 1)
	if v := changeVersion(t, s); v <= v0 {
		t.Fatalf("change version %d after commit, was %d", v, v0)
	}
}

var errInjected = errors.New("injected failure")

// seed creates a provider with a policy and a key, and returns a function
// that checks nothing changed since.
func seed(t *testing.T, s store.Store) func() {
	ctx := t.Context()
	createProvider(t, s, "seeded")
	must(s.SetPolicy(ctx, policy("seeded", "SgxEnclave", "original")))(t)
	must(s.RotateKey(ctx, "seeded", key("k1", t0), time.Time{}))(t)
	v := changeVersion(t, s)
	provs := must(s.ListProviders(ctx))(t)
	pols := must(s.ListPolicies(ctx, "seeded"))(t)
	keys := must(s.ListKeys(ctx, "seeded"))(t)
	signers := must(s.ListSigners(ctx, "seeded"))(t)
	toks := must(s.ListAdminTokens(ctx))(t)
	coll := must(s.ListCollateral(ctx))(t)
	nAudit := auditCount(t, s, store.AuditFilter{})
	return func() {
		t.Helper()
		eq(t, "providers", must(s.ListProviders(ctx))(t), provs)
		eq(t, "policies", must(s.ListPolicies(ctx, "seeded"))(t), pols)
		eq(t, "keys", must(s.ListKeys(ctx, "seeded"))(t), keys)
		eq(t, "signers", must(s.ListSigners(ctx, "seeded"))(t), signers)
		eq(t, "tokens", must(s.ListAdminTokens(ctx))(t), toks)
		eq(t, "collateral", must(s.ListCollateral(ctx))(t), coll)
		eq(t, "audit", auditCount(t, s, store.AuditFilter{}), nAudit)
		eq(t, "change version", changeVersion(t, s), v)
	}
}

// changeEverything writes one of every kind of change in tx.
func changeEverything(ctx context.Context, tx store.Tx) error {
	if _, err := tx.CreateProvider(ctx, newProvider("new-one")); err != nil {
		return err
	}
	p, err := tx.GetProvider(ctx, "seeded")
	if err != nil {
		return err
	}
	p.Metadata.Location = "elsewhere"
	if _, err := tx.UpdateProvider(ctx, p); err != nil {
		return err
	}
	if _, err := tx.SetPolicy(ctx, policy("seeded", "SgxEnclave", "replaced")); err != nil {
		return err
	}
	if _, err := tx.AddSigner(ctx, store.Signer{Provider: "seeded", Certificate: cert(1)}); err != nil {
		return err
	}
	if _, err := tx.RotateKey(ctx, "seeded", key("k2", at(time.Hour)), time.Time{}); err != nil {
		return err
	}
	if _, err := tx.CreateAdminToken(ctx, store.AdminToken{ID: "t", Hash: tokenHash("t"), Role: store.RoleOwner}); err != nil {
		return err
	}
	if _, err := tx.PutCollateral(ctx, collateral(keyA, "c", t0)); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, audit("seeded", "policy.set"))
}

func testTxRollback(t *testing.T, s store.Store) {
	ctx := t.Context()
	unchanged := seed(t, s)
	err := s.WithTx(ctx, func(tx store.Tx) error {
		if err := changeEverything(ctx, tx); err != nil {
			return err
		}
		return errInjected
	})
	if err != errInjected {
		t.Fatalf("WithTx returned %v, want fn's error unchanged", err)
	}
	unchanged()

	// The store is usable afterwards.
	createProvider(t, s, "after")
}

func testTxInvalidAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	unchanged := seed(t, s)
	err := s.WithTx(ctx, func(tx store.Tx) error {
		if err := changeEverything(ctx, tx); err != nil {
			return err
		}
		// The store must reject this entry; returning its error rolls back.
		return tx.AppendAudit(ctx, store.AuditEntry{Kind: store.AuditManagement, Provider: "seeded", Outcome: "success"})
	})
	is(t, err, store.ErrInvalid)
	unchanged()

	// The policy and its audit entry land together when both are valid.
	ok(t, s.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.SetPolicy(ctx, policy("seeded", "SgxEnclave", "v2")); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit("seeded", "policy.set"))
	}))
	eq(t, "policy", must(s.GetPolicy(ctx, "seeded", "SgxEnclave"))(t).Text, "v2")
	eq(t, "audit", auditCount(t, s, store.AuditFilter{OperationPrefix: "policy.set"}), 1)
}

func testTxPanic(t *testing.T, s store.Store) {
	ctx := t.Context()
	unchanged := seed(t, s)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the panic to propagate", r)
			}
		}()
		_ = s.WithTx(ctx, func(tx store.Tx) error {
			if err := changeEverything(ctx, tx); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	unchanged()
	createProvider(t, s, "after-panic")
}

// A write that fails inside a transaction writes nothing, even if the
// caller goes on and commits.
func testTxFailedWrite(t *testing.T, s store.Store) {
	ctx := t.Context()
	createProvider(t, s, "fw")
	must(s.RotateKey(ctx, "fw", key("k1", t0), time.Time{}))(t)
	must(s.AddSigner(ctx, store.Signer{Provider: "fw", Certificate: cert(1)}))(t)
	ok(t, s.WithTx(ctx, func(tx store.Tx) error {
		_, err := tx.RotateKey(ctx, "fw", key("k1", at(time.Hour)), time.Time{})
		is(t, err, store.ErrConflict)
		_, err = tx.AddSigner(ctx, store.Signer{Provider: "fw", Certificate: cert(1)})
		is(t, err, store.ErrConflict)
		_, err = tx.CreateProvider(ctx, newProvider("FW"))
		is(t, err, store.ErrConflict)
		p := newProvider("fw")
		p.Version = 7
		_, err = tx.UpdateProvider(ctx, p)
		is(t, err, store.ErrConflict)
		return tx.AppendAudit(ctx, audit("fw", "ignored.failures"))
	}))
	ks := must(s.ListKeys(ctx, "fw"))(t)
	n, act := activeKeys(ks)
	eq(t, "keys", len(ks), 1)
	eq(t, "active", n, 1)
	eq(t, "still k1", act.KID, "k1")
	eq(t, "provider", must(s.GetProvider(ctx, "fw"))(t).Version, int64(1))
	eq(t, "signers", len(must(s.ListSigners(ctx, "fw"))(t)), 1)
}

// ---- change version

func testChangeVersion(t *testing.T, s store.Store) {
	ctx := t.Context()
	last := changeVersion(t, s)
	step := func(what string, bumps bool, fn func() error) {
		t.Helper()
		ok(t, fn())
		v := changeVersion(t, s)
		switch {
		case v < last:
			t.Fatalf("%s: change version went back from %d to %d", what, last, v)
		case bumps && v == last:
			t.Fatalf("%s: change version did not move from %d", what, last)
		case !bumps && v != last:
			t.Fatalf("%s: change version moved from %d to %d", what, last, v)
		}
		last = v
	}
	fails := func(what string, fn func() error) {
		t.Helper()
		if err := fn(); err == nil {
			t.Fatalf("%s: no error", what)
		}
		if v := changeVersion(t, s); v != last {
			t.Fatalf("%s failed but the change version moved from %d to %d", what, last, v)
		}
	}
	var p store.Provider
	step("create provider", true, func() (err error) { p, err = s.CreateProvider(ctx, newProvider("cv")); return err })
	fails("duplicate provider", func() error { _, err := s.CreateProvider(ctx, newProvider("cv")); return err })
	step("update provider", true, func() (err error) { p, err = s.UpdateProvider(ctx, p); return err })
	fails("stale update", func() error { q := p; q.Version--; _, err := s.UpdateProvider(ctx, q); return err })
	step("set policy", true, func() error { _, err := s.SetPolicy(ctx, policy("cv", "SgxEnclave", "x")); return err })
	step("delete policy", true, func() error { return s.DeletePolicy(ctx, "cv", "SgxEnclave") })
	fails("delete missing policy", func() error { return s.DeletePolicy(ctx, "cv", "SgxEnclave") })
	var sg store.Signer
	step("add signer", true, func() (err error) {
		sg, err = s.AddSigner(ctx, store.Signer{Provider: "cv", Certificate: cert(1)})
		return err
	})
	step("remove signer", true, func() error { return s.RemoveSigner(ctx, "cv", sg.Thumbprint) })
	step("rotate", true, func() error { _, err := s.RotateKey(ctx, "cv", key("k1", t0), time.Time{}); return err })
	step("rotate again", true, func() error { _, err := s.RotateKey(ctx, "cv", key("k2", at(time.Hour)), time.Time{}); return err })
	step("prune keys", true, func() error { _, err := s.PruneRetiredKeys(ctx, at(1000*time.Hour)); return err })
	step("create token", true, func() error {
		_, err := s.CreateAdminToken(ctx, store.AdminToken{ID: "t", Hash: tokenHash("t"), Role: store.RoleReader})
		return err
	})
	step("revoke token", true, func() error { return s.RevokeAdminToken(ctx, "t", t0) })
	step("put collateral", true, func() error { _, err := s.PutCollateral(ctx, collateral(keyA, "c", t0)); return err })
	step("append audit", false, func() error { return s.AppendAudit(ctx, audit("cv", "x")) })
	step("prune attestations", false, func() error { _, err := s.PruneAttestations(ctx, at(1000*time.Hour)); return err })
	step("reads", false, func() error {
		_, err := s.GetProvider(ctx, "cv")
		if err == nil {
			_, err = s.ListAudit(ctx, store.AuditFilter{})
		}
		return err
	})
	step("empty tx", false, func() error { return s.WithTx(ctx, func(store.Tx) error { return nil }) })
	step("delete provider", true, func() error { return s.DeleteProvider(ctx, "cv") })
}

func testContextCancelled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	unchanged := seed(t, s)
	if _, err := s.CreateProvider(ctx, newProvider("cancelled")); err == nil {
		t.Fatal("create with a cancelled context succeeded")
	}
	if _, err := s.GetProvider(ctx, "seeded"); err == nil {
		t.Fatal("get with a cancelled context succeeded")
	}
	err := s.WithTx(ctx, func(tx store.Tx) error { return changeEverything(ctx, tx) })
	if err == nil {
		t.Fatal("WithTx with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	unchanged()
}

func testErrorsClientSafe(t *testing.T, s store.Store) {
	ctx := t.Context()
	createProvider(t, s, "safe")
	_, err1 := s.CreateProvider(ctx, newProvider("safe"))
	_, err2 := s.GetProvider(ctx, "missing")
	_, err3 := s.CreateAdminToken(ctx, store.AdminToken{ID: "x", Hash: []byte("x"), Role: store.RoleOwner})
	for _, c := range []struct {
		err  error
		want *errs.Error
	}{{err1, store.ErrConflict}, {err2, store.ErrNotFound}, {err3, store.ErrInvalid}} {
		var e *errs.Error
		if !errors.As(c.err, &e) {
			t.Fatalf("%v is not an *errs.Error", c.err)
		}
		eq(t, "code", e.Code, c.want.Code)
		eq(t, "client message", e.Message, c.want.Message)
		for _, leak := range []string{"SQL", "sql", "UNIQUE", "constraint", "SELECT", "INSERT", "table"} {
			if strings.Contains(e.Message, leak) {
				t.Fatalf("client message %q contains %q", e.Message, leak)
			}
		}
	}
}

// ---- concurrency

func testRaceCreateProvider(t *testing.T, s store.Store) {
	raceCreate(t, []store.Store{s})
}

func raceCreate(t *testing.T, nodes []store.Store) {
	const n = 16
	for round := range 3 {
		name := fmt.Sprintf("race-%d", round)
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			wins     atomic.Int32
			conflict atomic.Int32
			other    = make(chan error, n)
		)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				p := newProvider(name)
				if i%2 == 1 {
					p.Name = strings.ToUpper(name) // same name, other case
				}
				_, err := nodes[i%len(nodes)].CreateProvider(t.Context(), p)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrConflict):
					conflict.Add(1)
				default:
					other <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(other)
		for err := range other {
			t.Fatalf("unexpected error: %v", err)
		}
		eq(t, "winners", wins.Load(), int32(1))
		eq(t, "conflicts", conflict.Load(), int32(n-1))
	}
	eq(t, "providers", len(must(nodes[0].ListProviders(t.Context()))(t)), 3)
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	concurrentWriters(t, []store.Store{s})
}

// concurrentWriters: workers update one provider with optimistic
// concurrency (retrying on conflict) while others write their own rows;
// no update is lost.
func concurrentWriters(t *testing.T, nodes []store.Store) {
	ctx := t.Context()
	const workers, updates = 6, 10
	createProvider(t, nodes[0], "shared")
	var wg sync.WaitGroup
	errc := make(chan error, 3*workers)
	var conflicts atomic.Int64
	for w := range workers {
		s := nodes[w%len(nodes)]
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < updates; {
				p, err := s.GetProvider(ctx, "shared")
				if err != nil {
					errc <- err
					return
				}
				p.Metadata.Tags = map[string]string{"writer": fmt.Sprint(w), "n": fmt.Sprint(i)}
				p.UpdatedAt = time.Time{}
				err = s.WithTx(ctx, func(tx store.Tx) error {
					if _, err := tx.UpdateProvider(ctx, p); err != nil {
						return err
					}
					return tx.AppendAudit(ctx, audit("shared", "provider.update"))
				})
				switch {
				case err == nil:
					i++
				case errors.Is(err, store.ErrConflict):
					conflicts.Add(1)
				default:
					errc <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("own-%d", w)
			if _, err := s.CreateProvider(ctx, newProvider(name)); err != nil {
				errc <- err
				return
			}
			for i := range updates {
				if _, err := s.SetPolicy(ctx, policy(name, "SgxEnclave", fmt.Sprint(i))); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatalf("writer failed: %v", err)
	}
	s := nodes[0]
	eq(t, "no lost update", must(s.GetProvider(ctx, "shared"))(t).Version, int64(1+workers*updates))
	eq(t, "one audit entry per update", auditCount(t, s, store.AuditFilter{Provider: "shared"}), workers*updates)
	for w := range workers {
		eq(t, "policy version", must(s.GetPolicy(ctx, fmt.Sprintf("own-%d", w), "SgxEnclave"))(t).Version, int64(updates))
	}
	t.Logf("%d optimistic conflicts retried", conflicts.Load())
}

func testConcurrentRotate(t *testing.T, s store.Store) {
	concurrentRotate(t, []store.Store{s})
}

// concurrentRotate: rotations from several goroutines all succeed, and a
// reader polling meanwhile always finds exactly one active key.
func concurrentRotate(t *testing.T, nodes []store.Store) {
	ctx := t.Context()
	const workers, rotations = 6, 8
	createProvider(t, nodes[0], "rot")
	must(nodes[0].RotateKey(ctx, "rot", key("k-initial", t0), time.Time{}))(t)

	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	var reads atomic.Int64
	go func() {
		for {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			for _, s := range nodes {
				if _, err := s.ActiveKey(ctx, "rot"); err != nil {
					readerDone <- fmt.Errorf("active key during rotation: %w", err)
					return
				}
				ks, err := s.ListKeys(ctx, "rot")
				if err != nil {
					readerDone <- err
					return
				}
				if n, _ := activeKeys(ks); n != 1 {
					readerDone <- fmt.Errorf("%d active keys during rotation", n)
					return
				}
				reads.Add(1)
			}
		}
	}()

	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		s := nodes[w%len(nodes)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rotations {
				kid := fmt.Sprintf("k-%d-%d", w, i)
				if _, err := s.RotateKey(ctx, "rot", key(kid, time.Time{}), time.Time{}); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	close(errc)
	for err := range errc {
		t.Fatalf("rotation failed: %v", err)
	}
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	ks := must(nodes[0].ListKeys(ctx, "rot"))(t)
	eq(t, "keys", len(ks), 1+workers*rotations)
	n, act := activeKeys(ks)
	eq(t, "active keys", n, 1)
	eq(t, "ActiveKey agrees", must(nodes[0].ActiveKey(ctx, "rot"))(t).KID, act.KID)
	for _, k := range ks {
		if !k.Active && k.RetiredAt.IsZero() {
			t.Fatalf("inactive key %s has no retirement time", k.KID)
		}
	}
	t.Logf("%d consistent reads during rotation", reads.Load())
}

func testConcurrentAudit(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, entries = 8, 25
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range entries {
				e := audit("aud", fmt.Sprintf("attest.%d.%d", w, i))
				e.Kind = store.AuditAttestation
				if err := s.AppendAudit(ctx, e); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	got := must(s.ListAudit(ctx, store.AuditFilter{Limit: store.MaxAuditLimit}))(t)
	eq(t, "entries", len(got), workers*entries)
	ids := map[int64]bool{}
	ops := map[string]bool{}
	for _, e := range got {
		ids[e.ID] = true
		ops[e.Operation] = true
	}
	eq(t, "unique ids", len(ids), workers*entries)
	eq(t, "every entry", len(ops), workers*entries)
}

// ---- two nodes

func testNodesRaceCreate(t *testing.T, newNodes NodesFactory) {
	a, b := newNodes(t)
	raceCreate(t, []store.Store{a, b})
}

func testNodesVisibility(t *testing.T, newNodes NodesFactory) {
	ctx := t.Context()
	a, b := newNodes(t)
	va := changeVersion(t, b)
	createProvider(t, a, "vis")
	must(a.SetPolicy(ctx, policy("vis", "SgxEnclave", "from a")))(t)
	if vb := changeVersion(t, b); vb <= va {
		t.Fatalf("node b's change version %d did not move past %d", vb, va)
	}
	eq(t, "b sees the policy", must(b.GetPolicy(ctx, "vis", "SgxEnclave"))(t).Text, "from a")
	eq(t, "versions agree", changeVersion(t, a), changeVersion(t, b))

	p := must(b.GetProvider(ctx, "vis"))(t)
	must(b.UpdateProvider(ctx, p))(t)
	_, err := a.UpdateProvider(ctx, p) // stale on a now
	is(t, err, store.ErrConflict)
	ok(t, b.DeleteProvider(ctx, "vis"))
	_, err = a.GetPolicy(ctx, "vis", "SgxEnclave")
	is(t, err, store.ErrNotFound)
}

func testNodesRotate(t *testing.T, newNodes NodesFactory) {
	a, b := newNodes(t)
	concurrentRotate(t, []store.Store{a, b})
}

func testNodesWriters(t *testing.T, newNodes NodesFactory) {
	a, b := newNodes(t)
	concurrentWriters(t, []store.Store{a, b})
}

// ---- benchmarks

// Bench runs the benchmarks of the hot paths: the reads on every
// attestation (provider, policy, collateral, active key, change version),
// the admin token lookup of every management request, and the audit
// append of every attestation.
func Bench(b *testing.B, newStore Factory) {
	s := newStore(b)
	ctx := context.Background()
	for i := range 20 {
		name := fmt.Sprintf("bench-%02d", i)
		must(s.CreateProvider(ctx, newProvider(name)))(b)
		for _, typ := range []string{"SgxEnclave", "OpenEnclave", "TdxVm"} {
			p := policy(name, typ, strings.Repeat("c=>issue(c);", 100))
			must(s.SetPolicy(ctx, p))(b)
		}
		must(s.RotateKey(ctx, name, key("k1", t0), time.Time{}))(b)
	}
	bundle := bytes.Repeat([]byte("collateral"), 2000) // 20 KB, like a real bundle
	for i := range 50 {
		k := store.CollateralKey{TEE: "sgx", FMSPC: fmt.Sprintf("00906ed5%04x", i), PCEID: "0000"}
		for j := range 3 {
			c := collateral(k, "", at(time.Duration(j)*time.Hour))
			c.Bundle, c.Source = bundle, "bench"
			must(s.PutCollateral(ctx, c))(b)
		}
	}
	must(s.CreateAdminToken(ctx, store.AdminToken{ID: "bench", Hash: tokenHash("bench"), Role: store.RoleOwner}))(b)
	hot := store.CollateralKey{TEE: "sgx", FMSPC: "00906ed50007", PCEID: "0000"}

	reads := []struct {
		name string
		fn   func() error
	}{
		{"GetProvider", func() error { _, err := s.GetProvider(ctx, "bench-07"); return err }},
		{"GetPolicy", func() error { _, err := s.GetPolicy(ctx, "bench-07", "SgxEnclave"); return err }},
		{"GetCollateral", func() error { _, err := s.GetCollateral(ctx, hot); return err }},
		{"ActiveKey", func() error { _, err := s.ActiveKey(ctx, "bench-07"); return err }},
		{"ChangeVersion", func() error { _, err := s.ChangeVersion(ctx); return err }},
		{"GetAdminTokenByHash", func() error { _, err := s.GetAdminTokenByHash(ctx, tokenHash("bench")); return err }},
	}
	for _, r := range reads {
		b.Run(r.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := r.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(r.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := r.fn(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
	b.Run("AppendAudit", func(b *testing.B) {
		b.ReportAllocs()
		e := store.AuditEntry{Kind: store.AuditAttestation, Provider: "bench-07", Operation: "attest.SgxEnclave",
			Outcome: "success", RequestID: "r", Details: map[string]string{"tcbStatus": "UpToDate", "policyHash": "abc"}}
		for b.Loop() {
			if err := s.AppendAudit(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AppendAudit/batch100", func(b *testing.B) {
		b.ReportAllocs()
		batch := make([]store.AuditEntry, 100)
		for i := range batch {
			batch[i] = store.AuditEntry{Kind: store.AuditAttestation, Provider: "bench-07", Operation: "attest.SgxEnclave",
				Outcome: "success", RequestID: "r", Details: map[string]string{"tcbStatus": "UpToDate"}}
		}
		for b.Loop() {
			if err := s.AppendAudit(ctx, batch...); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/entry")
	})
	b.Run("SetPolicy", func(b *testing.B) {
		b.ReportAllocs()
		p := policy("bench-07", "SgxEnclave", "x")
		for b.Loop() {
			if _, err := s.SetPolicy(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

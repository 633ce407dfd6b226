package store_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
)

type notifying struct{ store.Store }

func (notifying) Changes(ctx context.Context) <-chan int64 { return make(chan int64) }

func TestInstrument(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "avow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var mu sync.Mutex
	ops := map[string]int{}
	errors := map[string]int{}
	s := store.Instrument(st, func(op string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		ops[op]++
		if err != nil {
			errors[op]++
		}
		if d < 0 {
			t.Errorf("%s: negative duration", op)
		}
	})
	if _, err := s.CreateProvider(ctx, store.Provider{Name: "contoso", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetProvider(ctx, "nobody"); err == nil {
		t.Fatal("found nobody")
	}
	if err := s.AppendAudit(ctx, store.AuditEntry{Kind: store.AuditAttestation, Operation: "attest.SgxEnclave"},
		store.AuditEntry{Kind: store.AuditAttestation, Operation: "attest.TdxVm"}); err != nil {
		t.Fatal(err)
	}
	if err := s.WithTx(ctx, func(tx store.Tx) error { _, err := tx.GetProvider(ctx, "contoso"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"create_provider": 1, "get_provider": 1, "append_audit": 1, "tx": 1, "ping": 1}
	for op, n := range want {
		if ops[op] != n {
			t.Errorf("%s observed %d times, want %d (%v)", op, ops[op], n, ops)
		}
	}
	if errors["get_provider"] != 1 || errors["create_provider"] != 0 {
		t.Errorf("errors %v", errors)
	}
	if u, ok := s.(interface{ Unwrap() store.Store }); !ok || u.Unwrap() != store.Store(st) {
		t.Error("Unwrap does not return the store")
	}
	if _, ok := s.(interface {
		Changes(context.Context) <-chan int64
	}); ok {
		t.Error("a store without notifications gained Changes")
	}
	n := store.Instrument(notifying{st}, func(string, time.Duration, error) {})
	if _, ok := n.(interface {
		Changes(context.Context) <-chan int64
	}); !ok {
		t.Error("Instrument hid the store's Changes")
	}
}

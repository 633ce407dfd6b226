package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/store"
)

// TestLease: two stores on one file (two nodes) share a lease; the holder
// renews it, nobody else gets it until it is given up (ttl 0).
func TestLease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "avow.db")
	a, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	v0, _ := a.ChangeVersion(ctx)
	step := func(s *Store, holder string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := s.TryLease(ctx, "collateral-refresh", holder, ttl)
		if err != nil || got != want {
			t.Fatalf("TryLease(%s, %s) = %v, %v; want %v", holder, ttl, got, err, want)
		}
	}
	step(a, "node-a", time.Hour, true)
	step(b, "node-b", time.Hour, false)
	step(a, "node-a", time.Hour, true) // renewal
	step(b, "node-b", time.Hour, false)
	step(a, "node-a", 0, true) // given up
	step(b, "node-b", time.Hour, true)
	step(a, "node-a", time.Hour, false)
	// Other names are independent.
	if ok, err := a.TryLease(ctx, "other-job", "node-a", time.Hour); !ok || err != nil {
		t.Errorf("another lease: %v, %v", ok, err)
	}
	if v, _ := a.ChangeVersion(ctx); v != v0 {
		t.Errorf("leases moved the change version: %d → %d", v0, v)
	}
	if _, err := a.TryLease(ctx, "", "x", time.Hour); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := a.TryLease(ctx, "x", "x", -time.Second); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative ttl: %v", err)
	}
	// Found through an instrumenting wrapper.
	wrapped := store.Instrument(a, func(string, time.Duration, error) {})
	if l, ok := store.LeaserOf(wrapped); !ok || l != store.Leaser(a) {
		t.Errorf("LeaserOf(Instrument(a)) = %v, %v", l, ok)
	}
}

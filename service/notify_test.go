package service

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
)

// notifyingStore is the SQLite store with change notifications pushed by
// the test, as store/postgres pushes them from LISTEN/NOTIFY.
type notifyingStore struct {
	*sqlite.Store
	ch chan int64
}

func (n *notifyingStore) Changes(ctx context.Context) <-chan int64 { return n.ch }

var _ store.Notifier = (*notifyingStore)(nil)

// A notification drops the caches at once, long before the next poll; the
// poll still runs as the fallback when notifications stop.
func TestRunUsesNotifications(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "avow.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	other, err := sqlite.Open(ctx, path) // another node
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ns := &notifyingStore{Store: st, ch: make(chan int64, 1)}
	s, err := New(Config{Store: ns, Types: builtin.Registry(), KEK: make([]byte, 32), PublicURL: "https://avow.test", PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "contoso"}); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { s.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	location := func() string {
		t.Helper()
		p, err := s.provider(ctx, "contoso")
		if err != nil {
			t.Fatal(err)
		}
		return p.Metadata.Location
	}
	location() // cached now
	p, err := other.GetProvider(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	p.Metadata.Location = "elsewhere"
	if _, err := other.UpdateProvider(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got := location(); got == "elsewhere" {
		t.Fatal("the cache did not hold the provider; the test proves nothing")
	}
	v, err := other.ChangeVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ns.ch <- v
	deadline := time.Now().Add(time.Second)
	for location() != "elsewhere" {
		if time.Now().After(deadline) {
			t.Fatal("a change notification did not drop the cache within 1s")
		}
		time.Sleep(5 * time.Millisecond)
	}

	// The notification channel closing (the store stopped notifying)
	// leaves the poll running.
	close(ns.ch)
	time.Sleep(10 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("Run returned when the notification channel closed")
	default:
	}
}

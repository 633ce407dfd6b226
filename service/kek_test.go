package service

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store/sqlite"
)

// TestCheckKEK: two services on one store with different KEKs. The
// first's keys pass its own check; the second sees them all unopened, may
// not seal a key of its own, and a store holding keys of both KEKs fails
// both checks with the count and the providers.
func TestCheckKEK(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "avow.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := func(b byte, source string) *Service {
		s, err := New(Config{Store: st, Types: builtin.Registry(), KEK: bytes.Repeat([]byte{b}, 32), KEKSource: source, PublicURL: "https://avow.test", Clock: &fixedClock{testNow}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := svc(1, "kek-a"), svc(2, "")
	if err := a.CheckKEK(ctx); err != nil || b.CheckKEK(ctx) != nil {
		t.Fatalf("an empty store: %v", err)
	}
	for _, name := range []string{"alpha", "beta"} {
		if _, err := a.CreateProvider(ctx, owner, ProviderRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.CheckKEK(ctx); err != nil {
		t.Fatalf("the KEK that sealed the keys: %v", err)
	}
	err = b.CheckKEK(ctx)
	if !errors.Is(err, ErrKEKMismatch) || !strings.Contains(errs.Detail(err), "it opens 0 of 2 (providers alpha, beta); every node of a store needs the same one") {
		t.Errorf("another KEK: %v", err)
	}
	// b has not opened a stored key: it seals none.
	if _, err := b.CreateProvider(ctx, owner, ProviderRequest{Name: "gamma"}); !errors.Is(err, ErrKEKMismatch) {
		t.Errorf("create a provider with another KEK: %v", err)
	}
	if _, err := b.RotateKey(ctx, owner, "alpha"); !errors.Is(err, ErrKEKMismatch) {
		t.Errorf("rotate with another KEK: %v", err)
	}
	// A store mixed before nodes checked: a key sealed by b (written as a
	// node of an older version would have) fails a's check too.
	c := svc(2, "")
	c.kekChecked.Store(true)
	if _, err := c.RotateKey(ctx, owner, "beta"); err != nil {
		t.Fatal(err)
	}
	err = a.CheckKEK(ctx)
	if !errors.Is(err, ErrKEKMismatch) || !strings.Contains(errs.Detail(err), "kek-a opens 1 of 2 (provider beta)") {
		t.Errorf("a mixed store: %v", err)
	}
}

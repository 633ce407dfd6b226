package service

import (
	"context"
	"strings"
	"testing"

	"github.com/avowhq/avow/store"
)

// TestBootstrapTokenFile is issue 13 item 9(c) in the service: the token
// from --admin-token-file has at least 32 characters; it is registered on
// a new installation and on an existing one, once; a revoked one is not
// registered again and says so (admin_token_revoked), instead of failing
// on the hash's uniqueness (conflict).
func TestBootstrapTokenFile(t *testing.T) {
	ctx := context.Background()
	short := "avow_0123456789abcdef0123456789" // 31 characters
	long := "avow_0123456789abcdef0123456789a" // 32
	for _, secret := range []string{short, "  " + short + "\n", "x"} {
		s := newTestService(t, &fixedClock{testNow})
		if _, err := s.Bootstrap(ctx, secret); codeOf(err) != "admin_token_too_short" {
			t.Errorf("new installation, %q: %v", secret, err)
		}
	}
	s := newTestService(t, &fixedClock{testNow})
	tok, err := s.Bootstrap(ctx, long+"\n")
	if err != nil || tok == nil || tok.Secret != long {
		t.Fatalf("new installation: %+v %v", tok, err)
	}
	// A restart with the same file: nothing to do.
	if tok, err := s.Bootstrap(ctx, long); err != nil || tok != nil {
		t.Errorf("restart: %+v %v", tok, err)
	}
	// A short token is refused on an existing installation too.
	if _, err := s.Bootstrap(ctx, short); codeOf(err) != "admin_token_too_short" {
		t.Errorf("existing installation, short: %v", err)
	}
	// The token is revoked; a restart with the file does not bring it back.
	who := &Principal{ID: tok.ID, Role: store.RoleOwner}
	if err := s.RevokeAdminToken(ctx, who, tok.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Bootstrap(ctx, long)
	if codeOf(err) != "admin_token_revoked" || !strings.Contains(err.Error(), tok.ID) {
		t.Errorf("revoked: %v", err)
	}
	if _, err := s.Authenticate(ctx, long); codeOf(err) != "unauthorized" {
		t.Errorf("the revoked token authenticates: %v", err)
	}
	// Another token from the file is registered on the existing installation.
	other := long + "-new"
	if tok, err := s.Bootstrap(ctx, other); err != nil || tok == nil {
		t.Errorf("new token on an existing installation: %+v %v", tok, err)
	}
}

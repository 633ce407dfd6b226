package service

import (
	"context"
	"errors"
	"testing"

	"github.com/avowhq/avow/oidc"
	"github.com/avowhq/avow/store"
)

// fakeBearer stands for an OpenID issuer's verifier: it knows some JWT-shaped
// bearer tokens (the oidc package tests the real verification).
type fakeBearer map[string]*oidc.Identity

func (f fakeBearer) Verify(_ context.Context, raw string) (*oidc.Identity, error) {
	if id, ok := f[raw]; ok {
		return id, nil
	}
	return nil, oidc.ErrToken.Wrapf("unknown test token")
}

// TestAuthenticateOIDC: a service with an OpenID issuer accepts the issuer's
// JWTs and admin tokens alike; its principals are "oidc:" + subject with the
// mapped role, and they act (and are audited) like any other.
func TestAuthenticateOIDC(t *testing.T) {
	s := newTestService(t, &fixedClock{t: testNow})
	reader, owner := "h.reader.s", "h.owner.s"
	s.oidc = fakeBearer{
		reader: {Subject: "app-123", Role: store.RoleReader},
		owner:  {Subject: "app-123", Role: store.RoleOwner},
	}
	ctx := context.Background()
	admin, err := s.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Authenticate(ctx, admin.Secret)
	if err != nil || p.Role != store.RoleOwner {
		t.Fatalf("admin token: %+v %v", p, err)
	}
	p, err = s.Authenticate(ctx, reader)
	if err != nil || p.Role != store.RoleReader || p.ID != "oidc:app-123" {
		t.Fatalf("JWT: %+v %v", p, err)
	}
	if _, err := s.CreateProvider(ctx, p, ProviderRequest{Name: "contoso"}); !errors.Is(err, ErrForbidden) {
		t.Errorf("a reader JWT created a provider: %v", err)
	}
	if _, err := s.Authenticate(ctx, "h.unknown.s"); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("an unknown JWT: %v", err)
	}
	p, err = s.Authenticate(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, p, ProviderRequest{Name: "contoso"}); err != nil {
		t.Fatalf("an owner JWT: %v", err)
	}
	entries, err := s.st.ListAudit(ctx, store.AuditFilter{Provider: "contoso"})
	if err != nil || len(entries) == 0 || entries[0].Actor != "oidc:app-123" {
		t.Errorf("audit actor: %+v %v", entries, err)
	}
	// Without OIDC, a JWT is just an unknown bearer token.
	s.oidc = nil
	if _, err := s.Authenticate(ctx, owner); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("JWT without OIDC: %v", err)
	}
}

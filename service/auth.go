package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/avowhq/avow/oidc"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
)

// adminTokenPrefix marks avow admin tokens so that they are recognisable
// in configuration files and secret scanners.
const adminTokenPrefix = "avow_"

// BearerVerifier verifies JWT bearer tokens of an identity provider
// (*oidc.Verifier). Its errors carry the codes unauthorized and forbidden.
type BearerVerifier interface {
	Verify(ctx context.Context, raw string) (*oidc.Identity, error)
}

// Authenticate resolves a bearer token to its principal. A JWT goes to the
// configured OpenID issuer's verifier (Config.OIDC), anything else is an
// admin token: the store keeps only SHA-256 hashes; the lookup is by hash
// and the final comparison is in constant time.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	if bearer == "" {
		return nil, ErrUnauthorized.Wrapf("no bearer token")
	}
	if s.oidc != nil && oidc.LooksLikeJWT(bearer) {
		id, err := s.oidc.Verify(ctx, bearer)
		if err != nil {
			return nil, err
		}
		return &Principal{ID: "oidc:" + id.Subject, Role: id.Role, RequestID: RequestIDFrom(ctx)}, nil
	}
	sum := sha256.Sum256([]byte(bearer))
	t, err := s.st.GetAdminTokenByHash(ctx, sum[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthorized.Wrapf("unknown bearer token")
	}
	if err != nil {
		return nil, mapStoreErr(err, "admin token")
	}
	if subtle.ConstantTimeCompare(t.Hash, sum[:]) != 1 || t.Revoked {
		return nil, ErrUnauthorized.Wrapf("the bearer token is revoked")
	}
	return &Principal{ID: t.ID, Role: t.Role, RequestID: RequestIDFrom(ctx)}, nil
}

// NewAdminToken is a freshly created admin token; Secret is shown once.
type NewAdminToken struct {
	ID     string
	Role   store.Role
	Secret string
}

// CreateAdminToken makes an admin token. who may be nil only for the
// bootstrap token of a new installation (see Bootstrap).
func (s *Service) CreateAdminToken(ctx context.Context, who *Principal, role store.Role, description string) (*NewAdminToken, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return nil, err
	}
	return s.createAdminToken(ctx, who, role, description, "")
}

func (s *Service) createAdminToken(ctx context.Context, who *Principal, role store.Role, description, secret string) (*NewAdminToken, error) {
	if !role.Valid() {
		return nil, ErrInvalidRequest.Wrapf("role %q is not reader, policy-admin or owner", role)
	}
	if secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		secret = adminTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	}
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		return nil, err
	}
	id := "tok-" + hex.EncodeToString(idb)
	sum := sha256.Sum256([]byte(secret))
	now := s.clock.Now()
	err := s.st.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.CreateAdminToken(ctx, store.AdminToken{ID: id, Hash: sum[:], Role: role, Description: description, CreatedAt: now}); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, "", "admin_token.create", now, map[string]string{"token_id": id, "role": string(role)}))
	})
	if err != nil {
		return nil, mapStoreErr(err, "admin token")
	}
	return &NewAdminToken{ID: id, Role: role, Secret: secret}, nil
}

// MinAdminTokenLength is the fewest characters an operator-provided admin
// token (--admin-token-file) may have; avow's own have 48.
const MinAdminTokenLength = 32

// Errors of Bootstrap with an operator-provided token.
var (
	ErrAdminTokenTooShort = errs.New("admin_token_too_short", "an admin token from a file must have at least 32 characters")
	ErrAdminTokenRevoked  = errs.New("admin_token_revoked", "the admin token from the file was revoked; a revoked token is not registered again")
)

// Bootstrap creates the first owner token of an installation that has
// none. secret is the token to use (from --admin-token-file; surrounding
// white space is ignored; at least MinAdminTokenLength characters) or
// empty for a random one. With a secret, an existing installation gets it
// as an owner token unless it is registered already (nil, nil); a token
// that was revoked stays revoked (ErrAdminTokenRevoked). Without a secret
// it returns nil when tokens already exist.
func (s *Service) Bootstrap(ctx context.Context, secret string) (*NewAdminToken, error) {
	secret = strings.TrimSpace(secret)
	if n := utf8.RuneCountInString(secret); secret != "" && n < MinAdminTokenLength {
		return nil, ErrAdminTokenTooShort.Wrapf("the token has %d characters, at least %d are required (for example 32 random bytes in base64url, as avow's own tokens)", n, MinAdminTokenLength)
	}
	tokens, err := s.st.ListAdminTokens(ctx)
	if err != nil {
		return nil, mapStoreErr(err, "admin tokens")
	}
	if len(tokens) > 0 {
		if secret == "" {
			return nil, nil
		}
		sum := sha256.Sum256([]byte(secret))
		t, err := s.st.GetAdminTokenByHash(ctx, sum[:])
		switch {
		case err == nil && t.Revoked:
			return nil, ErrAdminTokenRevoked.Wrapf("admin token %s was revoked at %s; remove --admin-token-file, or put a new token in the file to register it as an owner token",
				t.ID, t.RevokedAt.UTC().Format(time.RFC3339))
		case err == nil:
			return nil, nil // registered already
		case !errors.Is(err, store.ErrNotFound):
			return nil, mapStoreErr(err, "admin token")
		}
		// An operator-provided token is made valid even on an existing
		// installation.
		return s.createAdminToken(ctx, &Principal{ID: "bootstrap", Role: store.RoleOwner}, store.RoleOwner, "from --admin-token-file", secret)
	}
	return s.createAdminToken(ctx, &Principal{ID: "bootstrap", Role: store.RoleOwner}, store.RoleOwner, "initial owner token", secret)
}

// ListAdminTokens returns every admin token (never a secret).
func (s *Service) ListAdminTokens(ctx context.Context, who *Principal) ([]store.AdminToken, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return nil, err
	}
	ts, err := s.st.ListAdminTokens(ctx)
	if err != nil {
		return nil, mapStoreErr(err, "admin tokens")
	}
	for i := range ts {
		ts[i].Hash = nil
	}
	return ts, nil
}

// RevokeAdminToken revokes a token by id.
func (s *Service) RevokeAdminToken(ctx context.Context, who *Principal, id string) error {
	if err := require(who, store.RoleOwner); err != nil {
		return err
	}
	now := s.clock.Now()
	err := s.st.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.RevokeAdminToken(ctx, id, now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, "", "admin_token.revoke", now, map[string]string{"token_id": id}))
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.ErrNotFound.Wrapf("admin token %s", id)
	}
	if err != nil {
		return mapStoreErr(err, "admin token")
	}
	s.invalidate(0)
	return nil
}

package server

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/postgres"
	"github.com/avowhq/avow/store/sqlite"
)

// StoreEnv is the environment variable `avow serve` reads the store URL
// from when --store is not given.
const StoreEnv = "AVOW_STORE"

// OpenStore opens a store by URL:
//
//   - "" is the embedded SQLite store in dataDir (dataDir/avow.db);
//   - "sqlite:PATH" (or "sqlite://PATH") is a SQLite file;
//   - "postgres://…" or "postgresql://…" is PostgreSQL, with a pool of at
//     most maxConns connections (0: postgres.DefaultMaxConns).
func OpenStore(ctx context.Context, storeURL, dataDir string, maxConns int, log *slog.Logger) (store.Store, error) {
	switch {
	case storeURL == "":
		if dataDir == "" {
			return nil, ErrConfig.Wrapf("no store: give a data folder or a store URL")
		}
		return sqlite.Open(ctx, filepath.Join(dataDir, "avow.db"))
	case strings.HasPrefix(storeURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(storeURL, "sqlite:"), "//")
		if path == "" {
			return nil, ErrConfig.Wrapf("store URL %q names no file", storeURL)
		}
		return sqlite.Open(ctx, path)
	case strings.HasPrefix(storeURL, "postgres://"), strings.HasPrefix(storeURL, "postgresql://"):
		return postgres.Open(ctx, storeURL, postgres.Options{MaxConns: maxConns, Logger: log})
	}
	return nil, ErrConfig.Wrapf("unknown store %q: want sqlite:PATH or postgres://…", RedactStoreURL(storeURL))
}

// RedactStoreURL returns a store URL fit for logs: without its password.
func RedactStoreURL(storeURL string) string {
	if storeURL == "" {
		return "sqlite (data folder)"
	}
	u, err := url.Parse(storeURL)
	if err != nil || u.Scheme == "sqlite" {
		if strings.HasPrefix(storeURL, "sqlite:") {
			return storeURL
		}
		return "(unparsable store URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// bootstrap is Service.Bootstrap, safe when several nodes start at once on
// an empty shared store with the same --admin-token-file: the nodes that
// lose the race to store the token (a conflict on its hash) find it there
// on a second look. A revoked token from the file is not an error that
// stops the node (its attestations go on): it stays revoked, with a
// warning that says why.
func bootstrap(ctx context.Context, svc *service.Service, secret string, log *slog.Logger) (*service.NewAdminToken, error) {
	t, err := svc.Bootstrap(ctx, secret)
	if secret != "" && errors.Is(err, store.ErrConflict) {
		t, err = svc.Bootstrap(ctx, secret)
	}
	if errors.Is(err, service.ErrAdminTokenRevoked) {
		log.Warn("the token in --admin-token-file is revoked and stays revoked", "detail", errs.Detail(err))
		return nil, nil
	}
	return t, err
}

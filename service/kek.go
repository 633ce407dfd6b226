package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/avowhq/avow/token"
)

// CheckKEK checks that the service's key-encryption key opens every
// provider's active signing key, the keys it signs tokens with: a node
// started with another store's KEK (or a copy of the data folder without
// its kek file) would otherwise start and then answer every attestation
// with 500 key_unsealing_failed. Each check is one AES-GCM authentication
// of the sealed key (token.CheckSealedKey, microseconds, no RSA work), so
// a store of ten thousand providers is checked in one query and tens of
// milliseconds. Retired keys are never unsealed (they are only published)
// and are not checked.
//
// The error is ErrKEKMismatch naming how many keys, and which providers',
// the KEK does not open; it never contains key material. An empty store
// passes: there is nothing to check against yet, and the first key sealed
// (newKey) checks again.
func (s *Service) CheckKEK(ctx context.Context) error {
	keys, err := s.st.ActiveKeys(ctx)
	if err != nil {
		return mapStoreErr(err, "signing keys")
	}
	var bad []string
	for _, k := range keys {
		if token.CheckSealedKey(s.kek, k.SealedKey, token.KeyAAD(k.Provider, k.KID)) != nil {
			bad = append(bad, k.Provider)
		}
	}
	if len(bad) == 0 {
		if len(keys) > 0 {
			s.kekChecked.Store(true)
		}
		return nil
	}
	names := strings.Join(bad[:min(len(bad), 3)], ", ")
	if len(bad) > 3 {
		names += fmt.Sprintf(" and %d more", len(bad)-3)
	}
	providers := "providers"
	if len(bad) == 1 {
		providers = "provider"
	}
	who := "it"
	if s.kekSource != "" {
		who = s.kekSource
	}
	return ErrKEKMismatch.Wrapf("%s opens %d of %d (%s %s); every node of a store needs the same one", who, len(keys)-len(bad), len(keys), providers, names)
}

// checkKEKBeforeSeal runs CheckKEK until it has opened a stored key, so
// that a node whose KEK differs from the store's does not seal new keys
// that the other nodes cannot open (two nodes started together on an empty
// store).
func (s *Service) checkKEKBeforeSeal(ctx context.Context) error {
	if s.kekChecked.Load() {
		return nil
	}
	return s.CheckKEK(ctx)
}

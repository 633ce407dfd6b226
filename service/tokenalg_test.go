package service

import (
	"context"
	"testing"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

func TestES256Provider(t *testing.T) {
	s, p := simSetup(t)
	ctx := context.Background()
	es := token.AlgES256
	v, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "fast", Settings: &ProviderSettings{TokenAlgorithm: &es}})
	if err != nil {
		t.Fatal(err)
	}
	if TokenAlgorithm(v.Settings) != "ES256" {
		t.Fatalf("settings %+v", v.Settings)
	}
	meta, err := s.OpenIDMetadata(ctx, "fast")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := token.ParseOpenIDConfiguration(meta)
	if err != nil || len(cfg.IDTokenSigningAlgValuesSupported) != 1 || cfg.IDTokenSigningAlgValuesSupported[0] != "ES256" || cfg.Issuer != s.AttestURI("fast") {
		t.Errorf("OpenID metadata of an ES256 provider: %s (%v)", meta, err)
	}
	mrsigner := mustHex(t, "e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5")
	q := simQuote(t, p, sgxsim.QuoteOptions{MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 2})
	verify := func(provider, wantAlg string) {
		t.Helper()
		res, err := s.Attest(ctx, provider, AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
		if err != nil {
			t.Fatal(err)
		}
		jwks, err := s.JWKS(ctx, provider)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := token.ParseJWKS(jwks)
		if err != nil {
			t.Fatal(err)
		}
		_, hdr, err := token.Verify(res.Token, keys, token.VerifyOptions{Issuer: s.AttestURI(provider), Now: testNow})
		if err != nil || hdr.Alg != wantAlg {
			t.Fatalf("%s: alg %v, %v", provider, hdr, err)
		}
	}
	verify("fast", "ES256")
	verify("contoso", "RS256")

	// Switching contoso to ES256 rotates its key; the RS256 key stays
	// published for the tokens it signed.
	before, _ := s.ListKeys(ctx, owner, "contoso")
	v, err = s.UpdateProviderSettings(ctx, owner, "contoso", ProviderSettings{TokenAlgorithm: &es})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.ListKeys(ctx, owner, "contoso")
	if len(after) != len(before)+1 || !after[0].Active || TokenAlgorithm(v.Settings) != "ES256" || len(v.Settings.AcceptedTCBStatuses) == 0 {
		t.Fatalf("keys %d -> %d, settings %+v", len(before), len(after), v.Settings)
	}
	verify("contoso", "ES256")
	jwks, _ := s.JWKS(ctx, "contoso")
	if keys, _ := token.ParseJWKS(jwks); len(keys) != 2 {
		t.Errorf("JWKS after the switch has %d keys, want the EC and the retired RSA key", len(keys))
	}
	// Rotation keeps the algorithm; setting the same algorithm does not rotate.
	k, err := s.RotateKey(ctx, owner, "contoso")
	if err != nil || k.Alg() != "ES256" {
		t.Fatalf("rotate: %v %v", k, err)
	}
	n := len(mustKeys(t, s, "contoso"))
	if _, err := s.UpdateProviderSettings(ctx, owner, "contoso", ProviderSettings{TokenAlgorithm: &es}); err != nil {
		t.Fatal(err)
	}
	if len(mustKeys(t, s, "contoso")) != n {
		t.Error("setting the same algorithm rotated the key")
	}
	// Management result tokens are signed with the same key.
	tok, err := s.GetPolicy(ctx, owner, "contoso", sgx.NameSgxEnclave)
	if err != nil {
		t.Fatal(err)
	}
	if _, hdr, _ := token.DecodeUnverified(tok); hdr.Alg != "ES256" {
		t.Errorf("policy result alg %s", hdr.Alg)
	}
	rs := "RS256"
	if _, err := s.UpdateProviderSettings(ctx, owner, "contoso", ProviderSettings{TokenAlgorithm: &rs}); err != nil {
		t.Fatal(err)
	}
	verify("contoso", "RS256")
	bad := "HS256"
	if _, err := s.UpdateProviderSettings(ctx, owner, "contoso", ProviderSettings{TokenAlgorithm: &bad}); err == nil {
		t.Error("HS256 accepted")
	}
	// Audit: the switch is recorded with the new kid.
	entries, _ := s.ListAudit(ctx, owner, store.AuditFilter{Provider: "contoso", OperationPrefix: "provider.update"})
	if len(entries) == 0 || entries[0].Details["token_algorithm"] != "RS256" || entries[0].Details["kid"] == "" {
		t.Errorf("audit %+v", entries)
	}
}

func TestTokenAlgorithmExtraKeepsOtherMembers(t *testing.T) {
	extra, err := withTokenAlgorithm([]byte(`{"other":1}`), "ES256")
	if err != nil || string(extra) != `{"other":1,"tokenAlgorithm":"ES256"}` {
		t.Fatalf("%s %v", extra, err)
	}
	if TokenAlgorithm(store.Settings{Extra: extra}) != "ES256" {
		t.Error("not read back")
	}
	extra, _ = withTokenAlgorithm(extra, "RS256")
	if string(extra) != `{"other":1}` {
		t.Errorf("RS256 leaves %s", extra)
	}
	if extra, _ := withTokenAlgorithm(nil, "RS256"); extra != nil {
		t.Errorf("empty extra became %s", extra)
	}
	if TokenAlgorithm(store.Settings{Extra: []byte(`{"tokenAlgorithm":"none"}`)}) != "RS256" {
		t.Error("an unknown stored algorithm is not RS256")
	}
}

func mustKeys(t *testing.T, s *Service, p string) []store.SigningKey {
	keys, err := s.ListKeys(context.Background(), owner, p)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

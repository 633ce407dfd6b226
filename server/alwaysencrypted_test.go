package server

import (
	"context"
	"crypto/ecdh"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/alwaysencrypted"
	"github.com/avowhq/avow/alwaysencrypted/aesim"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/sgxsim"
)

// aeSession is one enclave session as the client sees it.
type aeSession struct {
	params *alwaysencrypted.Params
	key    *ecdh.PrivateKey
	info   []byte
	s      *aesim.Session
}

// TestAlwaysEncryptedEndToEnd is issue 12's scenario over HTTPS with
// host-named providers: a SQL Server enclave (simulated) is attested by the
// provider the client's attest URL names, with the recommended policy, and
// the client validates the token exactly as the drivers do — keys from the
// URL's authority, iss = that authority — and agrees a session key with
// the enclave. Then every way it must fail.
func TestAlwaysEncryptedEndToEnd(t *testing.T) {
	dir := t.TempDir()
	n, admin := startNode(t, dir, func(c *Config) {
		c.ProviderDomain, c.RootProvider = "avow.localhost", "single"
	})
	hc := mustHTTP(t, n)
	ctx := context.Background()
	port := n.URL[strings.LastIndex(n.URL, ":"):]
	uri := map[string]string{}
	for _, name := range []string{"contoso", "fabrikam", "single"} {
		p, err := admin.CreateProvider(ctx, client.CreateProviderRequest{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		uri[name] = p.AttestURI
		if name == "fabrikam" {
			continue // the default policy: permits any enclave
		}
		if _, err := admin.SetPolicy(ctx, p.AttestURI, client.TypeSgxEnclave, policy.UnsignedDocument(aesim.RecommendedPolicy)); err != nil {
			t.Fatal(err)
		}
	}
	if uri["contoso"] != "https://contoso.avow.localhost"+port || uri["single"] != n.URL {
		t.Fatalf("attest URIs %v (server %s)", uri, n.URL)
	}
	platform, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	anon, _ := client.New("", client.WithHTTPClient(hc))
	enclave := func(id aesim.Identity) *aesim.Enclave {
		e, err := aesim.New(aesim.Options{Platform: platform, Client: anon, Identity: &id})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	sql := enclave(aesim.SQLServerIdentity())
	// session runs the enclave against enclaveURL; the client's parameters
	// name clientURL.
	session := func(enclaveURL, clientURL string) aeSession {
		t.Helper()
		params, key, err := alwaysencrypted.NewParams(enclaveURL)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sql.Attest(ctx, params.Marshal())
		if err != nil {
			t.Fatalf("enclave: %v", err)
		}
		params.URL = clientURL
		return aeSession{params, key, s.Info, s}
	}
	validator := func(opts ...alwaysencrypted.Option) *alwaysencrypted.Validator {
		return alwaysencrypted.NewValidator(append([]alwaysencrypted.Option{alwaysencrypted.WithHTTPClient(hc), alwaysencrypted.WithRetryWait(0)}, opts...)...)
	}
	verify := func(v *alwaysencrypted.Validator, a aeSession, info []byte) (*alwaysencrypted.Report, error) {
		return v.Verify(ctx, a.params, a.key, info)
	}
	// One driver process: its key cache lives across sessions.
	driver := validator()

	// Success, with the attest URL as the Azure SQL docs write it.
	sqlURL := uri["contoso"] + "/attest/SgxEnclave"
	a := session(sqlURL, sqlURL)
	rep, err := verify(driver, a, a.info)
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Checks)
	}
	if string(rep.SessionKey) != string(a.s.Key) || rep.Claims["iss"] != uri["contoso"] || rep.KeysRefreshed {
		t.Errorf("session key agreed %v, iss %v, keys refreshed %v", string(rep.SessionKey) == string(a.s.Key), rep.Claims["iss"], rep.KeysRefreshed)
	}
	// The provider at the server's root, by the server's URL.
	r := session(n.URL+"/attest/SgxEnclave", n.URL+"/attest/SgxEnclave")
	if rep, err := verify(validator(), r, r.info); err != nil {
		t.Errorf("root provider: %v\n%+v", err, rep.Checks)
	}

	// The recommended policy refuses other enclaves: the driver never gets
	// a token.
	for name, edit := range map[string]func(*aesim.Identity){
		"debuggable": func(id *aesim.Identity) { id.Debug = true },
		"svn 1":      func(id *aesim.Identity) { id.SVN = 1 },
	} {
		id := aesim.SQLServerIdentity()
		edit(&id)
		params, _, _ := alwaysencrypted.NewParams(sqlURL)
		if _, err := enclave(id).Attest(ctx, params.Marshal()); !errors.Is(err, aesim.ErrAttestationFailed) || !strings.Contains(err.Error(), "policy_denied") {
			t.Errorf("%s enclave: %v, want policy_denied", name, err)
		}
	}

	// A token of another provider: its key is not in contoso's set, even
	// after the one refresh the drivers allow.
	o := session(uri["fabrikam"], sqlURL)
	if _, err := verify(validator(), o, o.info); !errors.Is(err, alwaysencrypted.ErrTokenValidationFailed) || !errors.Is(err, alwaysencrypted.ErrTokenUnknownKID) {
		t.Errorf("another provider's token: %v", err)
	}
	// Another host with the same keys: single answers at the server's root
	// (its iss) and at single.avow.localhost; a client given the latter
	// gets the right keys and a token whose iss is not its URL.
	h := session(n.URL, "https://single.avow.localhost"+port)
	if _, err := verify(validator(), h, h.info); !errors.Is(err, alwaysencrypted.ErrTokenIssuer) {
		t.Errorf("iss of another host: %v", err)
	}

	// The attestation info SQL Server sends, tampered with.
	parsed, err := alwaysencrypted.ParseInfo(a.info)
	if err != nil {
		t.Fatal(err)
	}
	tamper := func(edit func(*alwaysencrypted.Info)) []byte {
		c := *parsed
		c.Identity, c.DHSignature = slices.Clone(parsed.Identity), slices.Clone(parsed.DHSignature)
		edit(&c)
		return c.Marshal()
	}
	for _, tc := range []struct {
		name string
		info []byte
		want error
	}{
		{"aas-ehd of other bytes", tamper(func(i *alwaysencrypted.Info) { i.Identity[40] ^= 1 }), alwaysencrypted.ErrEHDMismatch},
		{"tampered DH signature", tamper(func(i *alwaysencrypted.Info) { i.DHSignature[7] ^= 1 }), alwaysencrypted.ErrDHSignature},
	} {
		if _, err := verify(driver, a, tc.info); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	// An expired token (the drivers allow 5 minutes of skew; MAA's tokens
	// live 8 hours).
	if _, err := verify(validator(alwaysencrypted.WithClock(func() time.Time { return time.Now().Add(8*time.Hour + 6*time.Minute) })), a, a.info); !errors.Is(err, alwaysencrypted.ErrTokenExpired) {
		t.Errorf("expired token: %v", err)
	}

	// Key rotation while the driver holds contoso's keys: the first
	// validation of a token signed by the new key fails, the driver
	// refreshes its keys once, and the second succeeds.
	if _, err := admin.RotateKey(ctx, "contoso"); err != nil {
		t.Fatal(err)
	}
	b := session(sqlURL, sqlURL)
	rep, err = verify(driver, b, b.info)
	if err != nil {
		t.Fatalf("after key rotation: %v\n%+v", err, rep.Checks)
	}
	var names []string
	for _, c := range rep.Checks {
		names = append(names, c.Name+":"+c.Result)
	}
	if !rep.KeysRefreshed || !slices.Contains(names, "token_signature:failed") || !slices.Contains(names, "signing_keys_refresh:ok") {
		t.Errorf("after key rotation: refreshed %v, checks %v", rep.KeysRefreshed, names)
	}
}

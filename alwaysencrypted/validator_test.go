package alwaysencrypted

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/token"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var (
	signersOnce sync.Once
	signers     [3]*token.SigningKey
)

// signer returns one of three RS256 signing keys shared by the tests.
func signer(t testing.TB, i int) *token.SigningKey {
	t.Helper()
	signersOnce.Do(func() {
		for n := range signers {
			k, err := token.GenerateSigningKey(nil, "fake MAA", testNow.Add(-48*time.Hour))
			if err != nil {
				panic(err)
			}
			signers[n] = k
		}
	})
	return signers[i]
}

// fakeMAA is an attestation instance at the root of an https server:
// OpenID metadata and /certs, with the published keys and documents
// replaceable and the fetches counted.
type fakeMAA struct {
	*httptest.Server
	mu        sync.Mutex
	keys      []*token.SigningKey
	metadata  []byte // nil: token.OpenIDMetadata(URL)
	jwks      []byte // nil: token.JWKS(keys)
	metaHits  int
	jwksHits  int
	metaFails bool
}

func newFakeMAA(t *testing.T, keys ...*token.SigningKey) *fakeMAA {
	t.Helper()
	f := &fakeMAA{keys: keys}
	f.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			f.metaHits++
			if f.metaFails {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			body := f.metadata
			if body == nil {
				body = token.OpenIDMetadata(f.URL)
			}
			w.Write(body)
		case "/certs":
			f.jwksHits++
			body := f.jwks
			if body == nil {
				body = token.JWKS(f.keys)
			}
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeMAA) publish(keys ...*token.SigningKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keys = keys
}

func (f *fakeMAA) hits() (meta, jwks int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.metaHits, f.jwksHits
}

// waits records the validator's waits instead of sleeping.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(_ context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return nil
}

func (w *waits) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.d)
}

// session is one attestation attempt: the client's parameters and key, and
// the enclave's keys that answer it.
type session struct {
	params    *Params
	clientKey *ecdh.PrivateKey
	rsa       *rsa.PrivateKey
	dh        *ecdh.PrivateKey
}

func newSession(t *testing.T, url string) *session {
	t.Helper()
	p, k, err := NewParams(url)
	if err != nil {
		t.Fatal(err)
	}
	dh, err := ecdh.P384().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &session{params: p, clientKey: k, rsa: enclaveRSAKey(t), dh: dh}
}

// wantKey is the session key the enclave derives.
func (s *session) wantKey(t *testing.T) []byte {
	z, err := s.dh.ECDH(s.params.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k := sha256.Sum256(z)
	return k[:]
}

// answer describes the enclave's reply; zero values are the valid reply.
type answer struct {
	typ      EnclaveType
	identity []byte                        // the RSA blob before masking; nil: the session's key
	claims   func(c map[string]any)        // edits the default claims
	signer   *token.SigningKey             // nil: signer 0
	issuer   string                        // "": the instance URL
	iat      time.Time                     // zero: testNow
	rawToken func(c map[string]any) string // builds the token itself
	info     func(i *Info)                 // edits the blob after signing
}

// info builds the attestation info blob a SQL Server enclave would return.
func (s *session) info(t *testing.T, f *fakeMAA, a answer) []byte {
	t.Helper()
	if a.typ == 0 {
		a.typ = EnclaveSGX
	}
	blob := a.identity
	if blob == nil {
		blob = MarshalRSAKeyBlob(&s.rsa.PublicKey)
	}
	identity := blob
	if a.typ == EnclaveSGX {
		identity = MaskIdentity(blob, s.params.Nonce)
	}
	ehd := base64.RawURLEncoding.EncodeToString(identity)
	claims := map[string]any{
		"aas-ehd": ehd, "maa-ehd": ehd, "x-ms-sgx-ehd": ehd,
		"x-ms-attestation-type": "sgx", "x-ms-sgx-is-debuggable": false, "x-ms-sgx-product-id": 4639, "x-ms-sgx-svn": 2,
		"x-ms-ver": "1.0",
	}
	if a.typ == EnclaveVBS {
		claims["rp_data"] = base64.RawURLEncoding.EncodeToString(s.params.Nonce)
	}
	if a.claims != nil {
		a.claims(claims)
	}
	var tok string
	if a.rawToken != nil {
		tok = a.rawToken(claims)
	} else {
		sg, iss, iat := a.signer, a.issuer, a.iat
		if sg == nil {
			sg = signer(t, 0)
		}
		if iss == "" {
			iss = f.URL
		}
		if iat.IsZero() {
			iat = testNow
		}
		var err error
		if tok, err = token.Issue(claims, sg, iss, iat, 8*time.Hour, ""); err != nil {
			t.Fatal(err)
		}
	}
	dhBlob := MarshalECDHKey(s.dh.PublicKey())
	digest := sha256.Sum256(dhBlob)
	sig, err := rsa.SignPKCS1v15(nil, s.rsa, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	info := &Info{EnclaveType: a.typ, Identity: identity, Token: tok, SessionID: 0x1122334455667788, DHKey: dhBlob, DHSignature: sig}
	if a.info != nil {
		a.info(info)
	}
	return info.Marshal()
}

// signJWT signs header and claims with key (RS256) without token.Issue's
// rules, for tokens Issue will not make.
func signJWT(t *testing.T, header, claims map[string]any, key *rsa.PrivateKey) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func newTestValidator(f *fakeMAA, w *waits, now func() time.Time, opts ...Option) *Validator {
	if now == nil {
		now = func() time.Time { return testNow.Add(time.Minute) }
	}
	return NewValidator(append([]Option{WithHTTPClient(f.Client()), WithClock(now), WithRetryWait(0), WithSleep(w.sleep)}, opts...)...)
}

func checkNames(r *Report) string {
	var names []string
	for _, c := range r.Checks {
		names = append(names, c.Name+":"+c.Result)
	}
	return strings.Join(names, " ")
}

func TestVerifySGX(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	s := newSession(t, f.URL+"/attest/SgxEnclave?api-version=2022-08-01")
	w := &waits{}
	v := newTestValidator(f, w, nil)
	rep, err := v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, answer{}))
	if err != nil {
		t.Fatalf("%v\n%s", err, checkNames(rep))
	}
	want := "client_key:ok attestation_info:ok instance_url:ok signing_keys:ok token_format:ok token_signature:ok token_lifetime:ok " +
		"token_issuer:ok claims:ok aas_ehd:ok rp_data:skipped enclave_rsa_key:ok dh_signature:ok session_key:ok"
	if got := checkNames(rep); got != want {
		t.Errorf("checks\n got %s\nwant %s", got, want)
	}
	if !rep.OK() || !bytes.Equal(rep.SessionKey, s.wantKey(t)) || len(rep.SessionKey) != 32 {
		t.Error("the session key differs from the enclave's")
	}
	if rep.SessionID != 0x1122334455667788 || rep.EnclaveType != "sgx" || rep.InstanceURL != f.URL || rep.KeysRefreshed {
		t.Errorf("report %+v", rep)
	}
	if rep.Claims["x-ms-sgx-product-id"] != json.Number("4639") || rep.Header.KID != signer(t, 0).KID {
		t.Errorf("claims %v header %+v", rep.Claims, rep.Header)
	}
	if w.count() != 0 {
		t.Errorf("waited %d times", w.count())
	}
	for _, c := range rep.Checks {
		if c.Driver == "" || c.Detail == "" {
			t.Errorf("check %+v lacks its driver or detail", c)
		}
	}
	// The token is trimmed of white space and quotes as the drivers do.
	s2 := newSession(t, f.URL)
	blob := s2.info(t, f, answer{info: func(i *Info) { i.Token = " \"" + i.Token + "\"\r\n" }})
	if _, err := v.Verify(context.Background(), s2.params, s2.clientKey, blob); err != nil {
		t.Errorf("quoted token: %v", err)
	}
}

func TestVerifyVBS(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	v := newTestValidator(f, &waits{}, nil)
	s := newSession(t, f.URL)
	rep, err := v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, answer{typ: EnclaveVBS}))
	if err != nil || !bytes.Equal(rep.SessionKey, s.wantKey(t)) || rep.EnclaveType != "vbs" {
		t.Fatalf("%v\n%s", err, checkNames(rep))
	}
	if !strings.Contains(checkNames(rep), "rp_data:ok") {
		t.Errorf("checks %s", checkNames(rep))
	}
	for name, c := range map[string]struct {
		edit func(map[string]any)
		want error
	}{
		"rp_data missing":       {func(c map[string]any) { delete(c, "rp_data") }, ErrRPDataMissing},
		"rp_data other nonce":   {func(c map[string]any) { c["rp_data"] = base64.RawURLEncoding.EncodeToString(make([]byte, 256)) }, ErrRPDataMismatch},
		"rp_data padded":        {func(c map[string]any) { c["rp_data"] = base64.URLEncoding.EncodeToString(s.params.Nonce) }, ErrRPDataMismatch},
		"aas-ehd of XOR-ed key": {func(c map[string]any) { c["aas-ehd"] = c["x-ms-sgx-ehd"].(string) + "A" }, ErrEHDMismatch},
	} {
		s := newSession(t, f.URL)
		_, err := v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, answer{typ: EnclaveVBS, claims: c.edit}))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestVerifyFailures: one case per check; each names the error, whether
// SqlClient's key refresh ran, and the cause inside
// ae_token_signature_validation_failed.
func TestVerifyFailures(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	k0 := signer(t, 0)
	tamper := func(i *Info) { i.Token = i.Token[:len(i.Token)-4] + flip(i.Token[len(i.Token)-4:]) }
	k2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	goodHeader := map[string]any{"alg": "RS256", "kid": k0.KID, "typ": "JWT"}
	iat := testNow.Unix()
	cases := []struct {
		name    string
		a       answer
		url     string // "" : f.URL
		want    error
		cause   error // inside ErrTokenValidationFailed
		refresh bool
		check   string // the failing check
	}{
		{name: "tampered token signature", a: answer{info: tamper}, want: ErrTokenValidationFailed, cause: ErrTokenSignature, refresh: true, check: "token_signature"},
		{name: "unknown kid", a: answer{signer: signer(t, 1)}, want: ErrTokenValidationFailed, cause: ErrTokenUnknownKID, refresh: true, check: "token_signature"},
		{name: "no kid", a: answer{rawToken: func(c map[string]any) string {
			c["iss"], c["iat"], c["nbf"], c["exp"] = f.URL, iat, iat, iat+3600
			return signJWT(t, map[string]any{"alg": "RS256", "typ": "JWT"}, c, k0.Private)
		}}, want: ErrTokenValidationFailed, cause: ErrTokenKIDMissing, refresh: true, check: "token_signature"},
		{name: "alg HS256", a: answer{rawToken: func(c map[string]any) string {
			c["iss"], c["exp"] = f.URL, iat+3600
			return signJWT(t, map[string]any{"alg": "HS256", "kid": k0.KID}, c, k0.Private)
		}}, want: ErrTokenValidationFailed, cause: ErrTokenAlgorithm, refresh: true, check: "token_signature"},
		{name: "no exp", a: answer{rawToken: func(c map[string]any) string {
			c["iss"], c["iat"] = f.URL, iat
			return signJWT(t, goodHeader, c, k0.Private)
		}}, want: ErrTokenValidationFailed, cause: ErrTokenExpMissing, refresh: true, check: "token_lifetime"},
		{name: "expired", a: answer{iat: testNow.Add(-8*time.Hour - 6*time.Minute)}, want: ErrTokenExpired, check: "token_lifetime"},
		{name: "nbf in the future", a: answer{iat: testNow.Add(7 * time.Minute)}, want: ErrTokenValidationFailed, cause: ErrTokenNotYetValid, refresh: true, check: "token_lifetime"},
		{name: "iss with a trailing slash", a: answer{issuer: f.URL + "/"}, want: ErrTokenValidationFailed, cause: ErrTokenIssuer, refresh: true, check: "token_issuer"},
		{name: "iss with a path", a: answer{issuer: f.URL + "/providers/contoso"}, want: ErrTokenValidationFailed, cause: ErrTokenIssuer, refresh: true, check: "token_issuer"},
		{name: "iss of another host", a: answer{issuer: "https://other.example"}, want: ErrTokenValidationFailed, cause: ErrTokenIssuer, refresh: true, check: "token_issuer"},
		{name: "iss http", a: answer{issuer: "http" + strings.TrimPrefix(f.URL, "https")}, want: ErrTokenValidationFailed, cause: ErrTokenIssuer, refresh: true, check: "token_issuer"},
		{name: "iss missing", a: answer{rawToken: func(c map[string]any) string {
			c["iat"], c["exp"] = iat, iat+3600
			return signJWT(t, goodHeader, c, k0.Private)
		}}, want: ErrTokenValidationFailed, cause: ErrTokenIssuer, refresh: true, check: "token_issuer"},
		{name: "not a JWT", a: answer{info: func(i *Info) { i.Token = "not-a-token" }}, want: ErrTokenInvalid, check: "token_format"},
		{name: "exp is a string", a: answer{rawToken: func(c map[string]any) string {
			c["iss"], c["exp"] = f.URL, "tomorrow"
			return signJWT(t, goodHeader, c, k0.Private)
		}}, want: ErrTokenInvalid, check: "token_format"},
		{name: "array claim", a: answer{claims: func(c map[string]any) { c["x-ms-sgx-advisory-ids"] = []string{"INTEL-SA-00334", "INTEL-SA-00615"} }}, want: ErrDuplicateClaim, check: "claims"},
		{name: "aas-ehd missing", a: answer{claims: func(c map[string]any) { delete(c, "aas-ehd") }}, want: ErrEHDMissing, check: "aas_ehd"},
		{name: "aas-ehd of other bytes", a: answer{claims: func(c map[string]any) { c["aas-ehd"] = base64.RawURLEncoding.EncodeToString([]byte("other")) }}, want: ErrEHDMismatch, check: "aas_ehd"},
		{name: "aas-ehd padded", a: answer{claims: func(c map[string]any) {
			b, _ := base64.RawURLEncoding.DecodeString(c["aas-ehd"].(string))
			c["aas-ehd"] = base64.URLEncoding.EncodeToString(b)
		}}, want: ErrEHDMismatch, check: "aas_ehd"},
		{name: "aas-ehd not a string", a: answer{claims: func(c map[string]any) { c["aas-ehd"] = 42 }}, want: ErrEHDMismatch, check: "aas_ehd"},
		{name: "tampered DH signature", a: answer{info: func(i *Info) { i.DHSignature[10] ^= 1 }}, want: ErrDHSignature, check: "dh_signature"},
		{name: "DH key changed after signing", a: answer{info: func(i *Info) { i.DHKey[50] ^= 1 }}, want: ErrDHSignature, check: "dh_signature"},
		{name: "RSA key of another shape", a: answer{identity: MarshalRSAKeyBlob(&k2048.PublicKey)}, want: ErrRSAKeyShape, check: "enclave_rsa_key"},
		{name: "identity not an RSA1 blob", a: answer{identity: bytes.Repeat([]byte{1}, 539)}, want: ErrRSAKeyInvalid, check: "enclave_rsa_key"},
		{name: "signature with an extra byte", a: answer{info: func(i *Info) { i.DHSignature = append(i.DHSignature, 0) }}, want: ErrDHSignature, check: "dh_signature"},
		{name: "enclave type 3", a: answer{info: func(i *Info) { i.EnclaveType = 3 }}, want: ErrEnclaveTypeUnsupported, check: "attestation_info"},
		{name: "http attestation URL", url: "http" + strings.TrimPrefix(f.URL, "https"), want: ErrHTTPSRequired, check: "instance_url"},
		{name: "relative attestation URL", url: "/attest/SgxEnclave", want: ErrAttestationURLInvalid, check: "instance_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			url := c.url
			if url == "" {
				url = f.URL + "/attest/SgxEnclave"
			}
			s := newSession(t, url)
			w := &waits{}
			v := newTestValidator(f, w, nil)
			m0, j0 := f.hits()
			rep, err := v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, c.a))
			if !errors.Is(err, c.want) || (c.cause != nil && !errors.Is(err, c.cause)) {
				t.Fatalf("error %v, want %v (cause %v)\n%s", err, c.want, c.cause, checkNames(rep))
			}
			last := rep.Checks[len(rep.Checks)-1]
			if last.Name != c.check || last.Result != CheckFailed || last.Code == "" {
				t.Errorf("last check %+v, want %s failed", last, c.check)
			}
			if want := c.cause; want != nil && last.Code != want.(*errs.Error).Code {
				t.Errorf("last check code %s, want %s", last.Code, want.(*errs.Error).Code)
			}
			if rep.KeysRefreshed != c.refresh || (w.count() == 1) != c.refresh {
				t.Errorf("refreshed %v after %d waits, want %v\n%s", rep.KeysRefreshed, w.count(), c.refresh, checkNames(rep))
			}
			m1, j1 := f.hits()
			if c.check != "instance_url" && c.check != "attestation_info" {
				fetches := 1
				if c.refresh {
					fetches = 2
				}
				if m1-m0 != fetches || j1-j0 != fetches {
					t.Errorf("%d metadata and %d key set fetches, want %d", m1-m0, j1-j0, fetches)
				}
			}
			if rep.SessionKey != nil || rep.OK() {
				t.Error("a session key after a failure")
			}
		})
	}
}

func flip(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// TestVerifyClaimsAsSqlClient: an empty or one-element array is loaded as
// zero or one claim and is accepted; skew of up to 5 minutes is tolerated.
func TestVerifyClaimsAsSqlClient(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	v := newTestValidator(f, &waits{}, nil)
	for name, a := range map[string]answer{
		"empty array":         {claims: func(c map[string]any) { c["x-ms-sgx-advisory-ids"] = []string{} }},
		"one-element array":   {claims: func(c map[string]any) { c["x-ms-sgx-advisory-ids"] = []string{"INTEL-SA-00334"} }},
		"object claim":        {claims: func(c map[string]any) { c["x-ms-sgx-collateral"] = map[string]any{"a": 1, "b": 2} }},
		"expired 4 min ago":   {iat: testNow.Add(-8*time.Hour - 3*time.Minute)},
		"nbf in 4 minutes":    {iat: testNow.Add(5 * time.Minute)},
		"audience is ignored": {claims: func(c map[string]any) { c["aud"] = "someone else" }},
	} {
		s := newSession(t, f.URL)
		if rep, err := v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, a)); err != nil {
			t.Errorf("%s: %v\n%s", name, err, checkNames(rep))
		}
	}
}

func TestVerifySigningKeyFailures(t *testing.T) {
	k0 := signer(t, 0)
	good := token.JWKS([]*token.SigningKey{k0})
	var doc map[string][]map[string]any
	json.Unmarshal(good, &doc)
	without := func(member string) []byte {
		k := map[string]any{}
		for n, v := range doc["keys"][0] {
			if n != member {
				k[n] = v
			}
		}
		b, _ := json.Marshal(map[string]any{"keys": []any{k}})
		return b
	}
	cases := map[string]struct {
		setup func(f *fakeMAA)
		want  error
	}{
		"key without x5c":           {func(f *fakeMAA) { f.jwks = without("x5c") }, ErrSigningKeyInvalid},
		"key without kid":           {func(f *fakeMAA) { f.jwks = without("kid") }, ErrSigningKeyInvalid},
		"key without kty":           {func(f *fakeMAA) { f.jwks = without("kty") }, ErrSigningKeyInvalid},
		"x5c not DER":               {func(f *fakeMAA) { f.jwks = []byte(`{"keys":[{"kid":"a","kty":"RSA","x5c":["AAAA"]}]}`) }, ErrSigningKeyInvalid},
		"key set not JSON":          {func(f *fakeMAA) { f.jwks = []byte(`<html>`) }, ErrSigningKeysUnavailable},
		"metadata down":             {func(f *fakeMAA) { f.metaFails = true }, ErrSigningKeysUnavailable},
		"metadata without jwks_uri": {func(f *fakeMAA) { f.metadata = []byte(`{"issuer":"x"}`) }, ErrSigningKeysUnavailable},
		"jwks_uri http": {func(f *fakeMAA) {
			f.metadata = []byte(`{"jwks_uri":"http` + strings.TrimPrefix(f.URL, "https") + `/certs"}`)
		}, ErrHTTPSRequired},
	}
	for name, c := range cases {
		f := newFakeMAA(t, k0)
		c.setup(f)
		s := newSession(t, f.URL)
		w := &waits{}
		rep, err := newTestValidator(f, w, nil).Verify(context.Background(), s.params, s.clientKey, s.info(t, f, answer{}))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
			continue
		}
		if last := rep.Checks[len(rep.Checks)-1]; last.Name != "signing_keys" || w.count() != 0 {
			t.Errorf("%s: last check %+v, %d waits", name, last, w.count())
		}
	}
	// A server whose certificate the client does not trust.
	f := newFakeMAA(t, k0)
	s := newSession(t, f.URL)
	v := NewValidator(WithClock(func() time.Time { return testNow }), WithRetryWait(0))
	if _, err := v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, answer{})); !errors.Is(err, ErrSigningKeysUnavailable) {
		t.Errorf("untrusted server: %v", err)
	}
}

// TestKeyRotation: keys cached before a rotation fail a token of the new
// key once; SqlClient's forced refresh then finds it. A token no key
// verifies costs exactly one refresh.
func TestKeyRotation(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	w := &waits{}
	v := newTestValidator(f, w, nil, WithRetryWait(3*time.Second))
	verify := func(a answer) (*Report, error) {
		s := newSession(t, f.URL)
		return v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, a))
	}
	if _, err := verify(answer{}); err != nil {
		t.Fatal(err)
	}
	if _, j := f.hits(); j != 1 {
		t.Fatalf("%d key set fetches", j)
	}
	f.publish(signer(t, 1), signer(t, 0)) // rotation: the provider signs with key 1 now
	rep, err := verify(answer{signer: signer(t, 1)})
	if err != nil {
		t.Fatalf("%v\n%s", err, checkNames(rep))
	}
	want := "client_key:ok attestation_info:ok instance_url:ok signing_keys:ok token_format:ok token_signature:failed " +
		"signing_keys_refresh:ok token_signature:ok token_lifetime:ok token_issuer:ok"
	if got := checkNames(rep); !strings.HasPrefix(got, want) || !rep.KeysRefreshed {
		t.Errorf("checks %s", got)
	}
	if rep.Checks[3].Detail == "" || !strings.Contains(rep.Checks[3].Detail, "cached") {
		t.Errorf("first key set not from the cache: %+v", rep.Checks[3])
	}
	if _, j := f.hits(); j != 2 || w.count() != 1 || w.d[0] != 3*time.Second {
		t.Errorf("%d key set fetches, waits %v", j, w.d)
	}
	// The refreshed keys are cached: the next token of key 1 needs no fetch.
	if _, err := verify(answer{signer: signer(t, 1)}); err != nil {
		t.Fatal(err)
	}
	if _, j := f.hits(); j != 2 {
		t.Errorf("%d key set fetches after a cached success", j)
	}
	// A token of an unpublished key: one refresh, then the failure.
	_, err = verify(answer{signer: signer(t, 2)})
	if !errors.Is(err, ErrTokenValidationFailed) || !errors.Is(err, ErrTokenUnknownKID) {
		t.Errorf("unpublished key: %v", err)
	}
	if _, j := f.hits(); j != 3 || w.count() != 2 {
		t.Errorf("%d key set fetches and %d waits, want 3 and 2", j, w.count())
	}
	// An expired token is refused without a refresh.
	if _, err := verify(answer{signer: signer(t, 2), iat: testNow.Add(-9 * time.Hour)}); !errors.Is(err, ErrTokenValidationFailed) {
		t.Errorf("expired token of an unknown key: %v (the signature is checked first)", err)
	}
	if _, err := verify(answer{signer: signer(t, 1), iat: testNow.Add(-9 * time.Hour)}); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("expired token: %v", err)
	}
	if _, j := f.hits(); j != 4 || w.count() != 3 {
		t.Errorf("%d key set fetches and %d waits after the expired tokens, want 4 and 3", j, w.count())
	}
}

// TestKeyCacheLifetime: keys are reused for 24 hours by the injected clock,
// per instance.
func TestKeyCacheLifetime(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	now := testNow
	v := newTestValidator(f, &waits{}, func() time.Time { return now })
	at := func(d time.Duration) {
		t.Helper()
		now = testNow.Add(d)
		s := newSession(t, f.URL)
		if _, err := v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, answer{iat: now})); err != nil {
			t.Fatalf("at +%v: %v", d, err)
		}
	}
	at(0)
	at(23*time.Hour + 59*time.Minute)
	if _, j := f.hits(); j != 1 {
		t.Errorf("%d fetches within the day, want 1", j)
	}
	at(24 * time.Hour)
	if _, j := f.hits(); j != 2 {
		t.Errorf("%d fetches after a day, want 2", j)
	}
	at(30 * time.Hour)
	if _, j := f.hits(); j != 2 {
		t.Errorf("%d fetches, want 2 (the new keys are cached)", j)
	}
	// Another instance has its own cache entry.
	g := newFakeMAA(t, signer(t, 0))
	s := newSession(t, g.URL)
	v2 := NewValidator(WithHTTPClient(g.Client()), WithClock(func() time.Time { return now }), WithRetryWait(0))
	if _, err := v2.Verify(context.Background(), s.params, s.clientKey, s.info(t, g, answer{iat: now})); err != nil {
		t.Fatal(err)
	}
	if _, j := g.hits(); j != 1 {
		t.Errorf("other instance: %d fetches", j)
	}
}

func TestVerifyDefaultsAndArguments(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	w := &waits{}
	v := NewValidator(WithHTTPClient(f.Client()), WithClock(func() time.Time { return testNow }), WithSleep(w.sleep))
	s := newSession(t, f.URL)
	_, err := v.Verify(context.Background(), s.params, s.clientKey, s.info(t, f, answer{signer: signer(t, 1)}))
	if !errors.Is(err, ErrTokenValidationFailed) || len(w.d) != 1 || w.d[0] != DefaultRetryWait || DefaultRetryWait != 3*time.Second {
		t.Errorf("default wait: %v, %v", err, w.d)
	}
	// A cancelled context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v = NewValidator(WithHTTPClient(f.Client()), WithClock(func() time.Time { return testNow }), WithRetryWait(time.Hour))
	v.cache[f.URL] = &keySet{keys: token.PublicKeys([]*token.SigningKey{signer(t, 0)}), jwksURI: f.URL + "/certs", fetched: testNow}
	s = newSession(t, f.URL)
	if _, err := v.Verify(ctx, s.params, s.clientKey, s.info(t, f, answer{signer: signer(t, 1)})); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v", err)
	}
	// The client key must be the parameters' key.
	other := newSession(t, f.URL)
	rep, err := v.Verify(context.Background(), s.params, other.clientKey, s.info(t, f, answer{}))
	if !errors.Is(err, ErrClientKeyMismatch) || len(rep.Checks) != 1 {
		t.Errorf("mismatched client key: %v", err)
	}
	if _, err := v.Verify(context.Background(), nil, nil, nil); !errors.Is(err, ErrClientKeyMismatch) {
		t.Errorf("nil arguments: %v", err)
	}
	// Bytes after the signature.
	rep, err = v.Verify(context.Background(), s.params, s.clientKey, append(s.info(t, f, answer{}), 0))
	if !errors.Is(err, ErrInfoInvalid) || !strings.Contains(err.Error(), "633 bytes follow") || rep.Checks[len(rep.Checks)-1].Name != "attestation_info" {
		t.Errorf("trailing byte: %v", err)
	}
	// The enclave's DH point must be on P-384 even when it is signed.
	bad := append(bytes.Clone(eck3Header), bytes.Repeat([]byte{1}, 96)...)
	blob := s.info(t, f, answer{info: func(i *Info) {
		i.DHKey = bad
		d := sha256.Sum256(bad)
		i.DHSignature, _ = rsa.SignPKCS1v15(nil, s.rsa, crypto.SHA256, d[:])
	}})
	v = newTestValidator(f, &waits{}, nil)
	rep, err = v.Verify(context.Background(), s.params, s.clientKey, blob)
	if !errors.Is(err, ErrDHKeyMalformed) || rep.Checks[len(rep.Checks)-1].Name != "session_key" {
		t.Errorf("off-curve DH key: %v", err)
	}
}

// TestWithIssuer: a path-based provider's metadata and iss are at the
// attest URI, which only an explicit issuer reaches.
func TestWithIssuer(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	s := newSession(t, f.URL+"/providers/contoso")
	blob := s.info(t, f, answer{issuer: f.URL + "/providers/contoso"})
	_, err := newTestValidator(f, &waits{}, nil).Verify(context.Background(), s.params, s.clientKey, blob)
	if !errors.Is(err, ErrTokenIssuer) {
		t.Errorf("driver-faithful: %v", err)
	}
	// The fake serves its metadata at the root only; an explicit issuer with
	// a path needs the metadata there.
	mux := http.NewServeMux()
	mux.Handle("/providers/contoso/", http.StripPrefix("/providers/contoso", f.Config.Handler))
	g := httptest.NewTLSServer(mux)
	defer g.Close()
	iss := g.URL + "/providers/contoso"
	f.mu.Lock()
	f.metadata = token.OpenIDMetadata(iss)
	f.mu.Unlock()
	s = newSession(t, iss)
	blob = s.info(t, f, answer{issuer: iss})
	v := NewValidator(WithHTTPClient(g.Client()), WithClock(func() time.Time { return testNow }), WithRetryWait(0), WithIssuer(iss+"/"))
	rep, err := v.Verify(context.Background(), s.params, s.clientKey, blob)
	if err != nil || rep.InstanceURL != iss || !strings.Contains(rep.Checks[2].Detail, "explicitly") {
		t.Errorf("explicit issuer: %v\n%+v", err, rep.Checks)
	}
	v = NewValidator(WithIssuer("http://x"))
	if _, err := v.Verify(context.Background(), s.params, s.clientKey, blob); !errors.Is(err, ErrHTTPSRequired) {
		t.Errorf("http issuer: %v", err)
	}
}

func TestInstanceURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://x.eus.attest.azure.net/attest/SgxEnclave?api-version=2017-11-01": "https://x.eus.attest.azure.net",
		"https://X.EUS.Attest.Azure.NET":                                          "https://x.eus.attest.azure.net",
		"HTTPS://host:443/a":                                                      "https://host",
		"https://host:8443/providers/contoso":                                     "https://host:8443",
		"https://127.0.0.1:50000":                                                 "https://127.0.0.1:50000",
		"https://[::1]:8443/x":                                                    "https://[::1]:8443",
		"https://[::1]/x":                                                         "https://[::1]",
		" https://host/attest/SgxEnclave#frag ":                                   "https://host",
	} {
		got, err := InstanceURL(in)
		if err != nil || got != want {
			t.Errorf("InstanceURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]error{
		"http://host":         ErrHTTPSRequired,
		"ftp://host":          ErrHTTPSRequired,
		"host/attest":         ErrAttestationURLInvalid,
		"https://":            ErrAttestationURLInvalid,
		"https://u:p@host/":   ErrAttestationURLInvalid,
		"https://host:99999x": ErrAttestationURLInvalid,
	} {
		if _, err := InstanceURL(in); !errors.Is(err, want) {
			t.Errorf("InstanceURL(%q): %v, want %v", in, err, want)
		}
	}
	if got := validIssuers("https://host"); len(got) != 2 || got[1] != "https://host:443" {
		t.Errorf("default port issuers %v", got)
	}
	if got := validIssuers("https://host:8443"); len(got) != 1 {
		t.Errorf("issuers %v", got)
	}
}

// TestVerifyConcurrent: one Validator (and its key cache) serves parallel
// sessions (run with -race).
func TestVerifyConcurrent(t *testing.T) {
	f := newFakeMAA(t, signer(t, 0))
	v := newTestValidator(f, &waits{}, nil)
	blobs := make([][]byte, 8)
	sessions := make([]*session, 8)
	for i := range sessions {
		sessions[i] = newSession(t, f.URL)
		blobs[i] = sessions[i].info(t, f, answer{})
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(sessions))
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := v.Verify(context.Background(), s.params, s.clientKey, blobs[i])
			if err == nil && rep.SessionID != 0x1122334455667788 {
				err = errors.New("wrong session")
			}
			errc <- err
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Error(err)
		}
	}
}

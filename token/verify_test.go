package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
)

// signRaw makes a token from literal header and payload JSON, signed with
// key (RS256) or unsigned when key is nil.
func signRaw(t testing.TB, key *rsa.PrivateKey, hdr, payload string) string {
	t.Helper()
	in := base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	if key == nil {
		return in + "."
	}
	d := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyRoundTrip(t *testing.T) {
	a, b := testKeys(t)
	keys := PublicKeys([]*SigningKey{a, b})
	claims := sgxClaims()
	claims["x-ms-runtime"] = map[string]any{"big": json.Number("12345678901234567890"), "f": 1.5}
	tok, err := Issue(claims, b, testIssuer, t0, AttestationLifetime, "jti-1")
	if err != nil {
		t.Fatal(err)
	}
	got, h, err := Verify(tok, keys, VerifyOptions{Issuer: testIssuer, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if h.Alg != "RS256" || h.KID != b.KID || h.JKU != testIssuer+"/certs" || h.Typ != "JWT" {
		t.Errorf("header %+v", h)
	}
	if got["jti"] != "jti-1" || got["iss"] != testIssuer || got["iat"] != json.Number("1740830400") ||
		got["x-ms-sgx-svn"] != json.Number("3") || got["x-ms-sgx-is-debuggable"] != false {
		t.Errorf("claims %v", got)
	}
	if rt := got["x-ms-runtime"].(map[string]any); rt["big"] != json.Number("12345678901234567890") || rt["f"] != json.Number("1.5") {
		t.Errorf("numbers are not kept exactly: %v", rt)
	}
	// Valid for the whole lifetime.
	for _, now := range []time.Time{t0, t0.Add(AttestationLifetime - time.Second)} {
		if _, _, err := Verify(tok, keys, VerifyOptions{Now: now}); err != nil {
			t.Errorf("at %v: %v", now, err)
		}
	}
	// Unsigned tokens verify when allowed.
	u, _ := IssueUnsigned(claims, testIssuer, t0, AttestationLifetime, "")
	if got, h, err := Verify(u, nil, VerifyOptions{Issuer: testIssuer, Now: t0, AllowUnsigned: true}); err != nil || h.Alg != "none" || got["iss"] != testIssuer {
		t.Errorf("unsigned: %v", err)
	}
}

func TestVerifyKeySelection(t *testing.T) {
	a, b := testKeys(t)
	ka, kb := a.PublicKey(), b.PublicKey()
	opts := VerifyOptions{Now: t0}
	payload := `{"exp":1740834000,"iat":1740830400,"nbf":1740830400}`

	// No kid: every key is tried.
	tok := signRaw(t, b.Private, `{"alg":"RS256"}`, payload)
	if _, _, err := Verify(tok, []PublicKey{ka, kb}, opts); err != nil {
		t.Errorf("no kid: %v", err)
	}
	if _, _, err := Verify(tok, []PublicKey{ka}, opts); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("no kid, wrong key: %v", err)
	}
	if _, _, err := Verify(tok, nil, opts); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("no kid, no keys: %v", err)
	}
	// A kid selects; a second key with the same kid is also tried.
	tok = signRaw(t, b.Private, `{"alg":"RS256","kid":"k"}`, payload)
	if _, _, err := Verify(tok, []PublicKey{{KID: "k", Key: ka.Key}, {KID: "k", Key: kb.Key}}, opts); err != nil {
		t.Errorf("duplicate kid: %v", err)
	}
	// The kid must match even when another key would verify.
	if _, _, err := Verify(tok, []PublicKey{{KID: "k", Key: ka.Key}, {KID: "other", Key: kb.Key}}, opts); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("kid selects: %v", err)
	}
	if _, _, err := Verify(tok, []PublicKey{{KID: "other", Key: kb.Key}}, opts); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("unknown kid: %v", err)
	}
	// A bare public key without certificates works.
	if _, _, err := Verify(tok, []PublicKey{{KID: "k", Key: &b.Private.PublicKey}}, opts); err != nil {
		t.Errorf("bare key: %v", err)
	}
	// A non-RSA key with the kid cannot verify RS256.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, _, err := Verify(tok, []PublicKey{{KID: "k", Key: &ec.PublicKey}}, opts); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("EC key: %v", err)
	}
	// Keys brought by the token itself are never trusted.
	x5c := base64.StdEncoding.EncodeToString(b.Certificate.Raw)
	tok = signRaw(t, b.Private, `{"alg":"RS256","kid":"self","x5c":["`+x5c+`"]}`, payload)
	if _, h, err := Verify(tok, []PublicKey{ka}, opts); !errors.Is(err, ErrUnknownKey) || len(h.X5C) != 1 {
		t.Errorf("header x5c: %v", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	a, _ := testKeys(t)
	keys := []PublicKey{a.PublicKey()}
	hdr := `{"alg":"RS256","kid":"` + a.KID + `"}`
	good := `{"exp":1740834000,"iat":1740830400,"iss":"` + testIssuer + `","nbf":1740830400}`
	tok := signRaw(t, a.Private, hdr, good)
	p := strings.Split(tok, ".")
	opts := VerifyOptions{Issuer: testIssuer, Now: t0}
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	flip := func(s string) string {
		b := []byte(s)
		if b[5] == 'A' {
			b[5] = 'B'
		} else {
			b[5] = 'A'
		}
		return string(b)
	}

	cases := []struct {
		name  string
		token string
		opts  VerifyOptions
		want  error
	}{
		{"empty", "", opts, ErrMalformed},
		{"two parts", p[0] + "." + p[1], opts, ErrMalformed},
		{"four parts", tok + ".x", opts, ErrMalformed},
		{"empty header", "." + p[1] + "." + p[2], opts, ErrMalformed},
		{"empty payload", p[0] + ".." + p[2], opts, ErrMalformed},
		{"padding", p[0] + "=." + p[1] + "." + p[2], opts, ErrMalformed},
		{"std base64 char", p[0] + "." + p[1] + "." + strings.Replace(p[2], p[2][:1], "+", 1), opts, ErrMalformed},
		{"whitespace", tok + "\n", opts, ErrMalformed},
		{"newline inside", p[0] + "." + p[1] + "." + p[2][:10] + "\n" + p[2][10:], opts, ErrMalformed},
		{"header not JSON", b64("nope") + "." + p[1] + "." + p[2], opts, ErrMalformed},
		{"header array", b64(`["alg"]`) + "." + p[1] + "." + p[2], opts, ErrMalformed},
		{"header no alg", signRaw(t, a.Private, `{"kid":"x"}`, good), opts, ErrMalformed},
		{"header alg number", signRaw(t, a.Private, `{"alg":256}`, good), opts, ErrMalformed},
		{"crit", signRaw(t, a.Private, `{"alg":"RS256","crit":["exp"]}`, good), opts, ErrMalformed},
		{"payload not JSON", signRaw(t, a.Private, hdr, `exp`), opts, ErrMalformed},
		{"payload array", signRaw(t, a.Private, hdr, `[1]`), opts, ErrMalformed},
		{"payload trailing", signRaw(t, a.Private, hdr, good+`{}`), opts, ErrMalformed},
		{"no exp", signRaw(t, a.Private, hdr, `{"iat":1740830400}`), opts, ErrMalformed},
		{"exp string", signRaw(t, a.Private, hdr, `{"exp":"1740834000"}`), opts, ErrMalformed},
		{"nbf bool", signRaw(t, a.Private, hdr, `{"exp":1740834000,"nbf":true}`), opts, ErrMalformed},
		{"iat string", signRaw(t, a.Private, hdr, `{"exp":1740834000,"iat":"x"}`), opts, ErrMalformed},
		{"exp huge", signRaw(t, a.Private, hdr, `{"exp":1e300}`), opts, ErrMalformed},
		{"alg none", signRaw(t, nil, `{"alg":"none"}`, good), opts, ErrUnsigned},
		{"alg none with signature", signRaw(t, nil, `{"alg":"none"}`, good) + p[2], VerifyOptions{Now: t0, AllowUnsigned: true}, ErrMalformed},
		{"alg None", signRaw(t, nil, `{"alg":"None"}`, good), VerifyOptions{Now: t0, AllowUnsigned: true}, ErrAlgorithmUnsupported},
		{"alg HS256", signRaw(t, a.Private, `{"alg":"HS256","kid":"`+a.KID+`"}`, good), opts, ErrAlgorithmUnsupported},
		{"alg PS256", signRaw(t, a.Private, `{"alg":"PS256","kid":"`+a.KID+`"}`, good), opts, ErrAlgorithmUnsupported},
		{"alg RSA256", signRaw(t, a.Private, `{"alg":"RSA256","kid":"`+a.KID+`"}`, good), opts, ErrAlgorithmUnsupported},
		{"tampered payload", p[0] + "." + b64(strings.Replace(good, "1740834000", "1999999999", 1)) + "." + p[2], opts, ErrSignatureInvalid},
		{"tampered signature", p[0] + "." + p[1] + "." + flip(p[2]), opts, ErrSignatureInvalid},
		{"empty signature", p[0] + "." + p[1] + ".", opts, ErrSignatureInvalid},
		{"short signature", p[0] + "." + p[1] + "." + p[2][:40], opts, ErrSignatureInvalid},
		{"unknown kid", signRaw(t, a.Private, `{"alg":"RS256","kid":"nope"}`, good), opts, ErrUnknownKey},
		{"expired", tok, VerifyOptions{Now: t0.Add(time.Hour)}, ErrExpired},
		{"expired by a second", tok, VerifyOptions{Now: t0.Add(time.Hour + time.Second)}, ErrExpired},
		{"expired beyond slack", tok, VerifyOptions{Now: t0.Add(time.Hour + time.Minute), Slack: time.Minute}, ErrExpired},
		{"not yet valid", tok, VerifyOptions{Now: t0.Add(-time.Second)}, ErrNotYetValid},
		{"not yet valid beyond slack", tok, VerifyOptions{Now: t0.Add(-2 * time.Second), Slack: time.Second}, ErrNotYetValid},
		{"issuer mismatch", tok, VerifyOptions{Issuer: testIssuer + "/", Now: t0}, ErrIssuerMismatch},
		{"issuer missing", signRaw(t, a.Private, hdr, `{"exp":1740834000}`), opts, ErrIssuerMismatch},
		{"issuer not string", signRaw(t, a.Private, hdr, `{"exp":1740834000,"iss":1}`), opts, ErrIssuerMismatch},
		{"unsigned expired", signRaw(t, nil, `{"alg":"none"}`, good), VerifyOptions{Now: t0.Add(2 * time.Hour), AllowUnsigned: true}, ErrExpired},
		{"unsigned issuer", signRaw(t, nil, `{"alg":"none"}`, good), VerifyOptions{Issuer: "https://x", Now: t0, AllowUnsigned: true}, ErrIssuerMismatch},
		{"zero now", tok, VerifyOptions{}, ErrOptionsInvalid},
		{"negative slack", tok, VerifyOptions{Now: t0, Slack: -time.Second}, ErrOptionsInvalid},
	}
	for _, c := range cases {
		claims, _, err := Verify(c.token, keys, c.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %s", c.name, err, errs.Code(c.want))
			continue
		}
		if claims != nil {
			t.Errorf("%s: claims returned with an error", c.name)
		}
	}

	// Slack accepts what it should.
	for name, o := range map[string]VerifyOptions{
		"exp within slack": {Now: t0.Add(time.Hour + 59*time.Second), Slack: time.Minute},
		"nbf within slack": {Now: t0.Add(-time.Second), Slack: time.Second},
		"fractional exp":   {Now: t0.Add(time.Hour)},
	} {
		tk := tok
		if name == "fractional exp" {
			tk = signRaw(t, a.Private, hdr, `{"exp":1740834000.5,"nbf":1740830399.5}`)
		}
		if _, _, err := Verify(tk, keys, o); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The header comes back with signature and time errors.
	if _, h, err := Verify(tok, keys, VerifyOptions{Now: t0.Add(48 * time.Hour)}); h == nil || h.KID != a.KID || !errors.Is(err, ErrExpired) {
		t.Errorf("header on error: %v %v", h, err)
	}
}

func TestDecodeUnverified(t *testing.T) {
	a, _ := testKeys(t)
	tok, _ := Issue(map[string]any{"n": 1}, a, testIssuer, t0, time.Hour, "j")
	c, h, err := DecodeUnverified(tok)
	if err != nil || h.KID != a.KID || c["n"] != json.Number("1") {
		t.Errorf("%v %v %v", c, h, err)
	}
	if _, _, err := DecodeUnverified("a.b"); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed: %v", err)
	}
}

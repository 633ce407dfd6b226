package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/avowhq/avow/internal/vectors"
)

func TestJWKSShape(t *testing.T) {
	a, b := testKeys(t)
	data := JWKS([]*SigningKey{b, a})
	var doc map[string][]map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc) != 1 || len(doc["keys"]) != 2 {
		t.Fatalf("%s", data)
	}
	for i, k := range []*SigningKey{b, a} {
		j := doc["keys"][i]
		var members []string
		for m := range j {
			members = append(members, m)
		}
		if len(j) != 7 || j["kty"] != "RSA" || j["kid"] != k.KID || j["e"] != "AQAB" || j["alg"] != "RS256" || j["use"] != "sig" {
			t.Errorf("key %d: members %v", i, members)
		}
		x5c := j["x5c"].([]any)
		if len(x5c) != 1 || x5c[0] != base64.StdEncoding.EncodeToString(k.Certificate.Raw) {
			t.Errorf("key %d: x5c is not the standard base64 DER of the certificate", i)
		}
	}
	if !strings.HasPrefix(string(data), `{"keys":[{"kty":"RSA","kid":"`+b.KID+`","x5c":["MII`) {
		t.Errorf("JWKS %.80s", data)
	}
	if string(JWKS(nil)) != `{"keys":[]}` {
		t.Errorf("empty JWKS %s", JWKS(nil))
	}

	// go-jose reads it (it needs n and e) with the same key and kid.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatalf("go-jose: %v", err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("go-jose: %d keys", len(set.Keys))
	}
	for i, k := range []*SigningKey{b, a} {
		jk := set.Keys[i]
		if jk.KeyID != k.KID || !jk.Key.(*rsa.PublicKey).Equal(&k.Private.PublicKey) || len(jk.Certificates) != 1 || !jk.Valid() {
			t.Errorf("go-jose key %d: %+v", i, jk)
		}
	}
	// And go-jose verifies our tokens with it.
	tok, err := Issue(sgxClaims(), a, testIssuer, t0, AttestationLifetime, "")
	if err != nil {
		t.Fatal(err)
	}
	jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(set.Key(a.KID)[0]); err != nil {
		t.Errorf("go-jose cannot verify an avow token: %v", err)
	}

	// Our parser reads our output back.
	keys, err := ParseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].KID != b.KID || !keys[0].Key.(*rsa.PublicKey).Equal(&b.Private.PublicKey) || len(keys[0].Certificates) != 1 {
		t.Errorf("ParseJWKS: %+v", keys)
	}
}

func TestParseJWKSVectors(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	for _, tc := range []struct {
		file  string
		kids  []string
		chain []int
	}{
		{"transcribed/rest-api-specs/Get_Certs_2020-10-01.response.json",
			[]string{"fAFUDjo0GcezSay/DP2z+LcPe4g/yjCUUAg88BXbDGw=", "81dsh2B8UUKHZ2JXSOQn-VwfQMU"}, []int{1, 1}},
		{"ms-samples/validatequotes.net/get.certs.response.body.json",
			[]string{"KQFAHrk1xALKHBD4b4u7TCvCJ1Mw0MlYZe+rxdePOtg=", "ZQzLfoNwhBNCu9r8Fucjn6H4Cdw", "uE9RP97P4k_IaNCi2p_N6ZWZp0s", "wcGHi-SJDOR0XXghydRma0GQQXs", "m6-lSqJc6zdzfpwYs_1EHdf-1Gg"}, []int{1, 3, 3, 3, 3}},
	} {
		data, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		keys, err := ParseJWKS(data)
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if len(keys) != len(tc.kids) {
			t.Errorf("%s: %d keys", tc.file, len(keys))
			continue
		}
		for i, k := range keys {
			pub, ok := k.Key.(*rsa.PublicKey)
			if k.KID != tc.kids[i] || !ok || len(k.Certificates) != tc.chain[i] || !pub.Equal(k.Certificates[0].PublicKey) {
				t.Errorf("%s key %d: kid %q, %T, %d certificates", tc.file, i, k.KID, k.Key, len(k.Certificates))
			}
		}
		// go-jose cannot read MAA's documents (no n/e); ours can.
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(data, &set); err == nil {
			t.Logf("%s: go-jose now reads x5c-only keys", tc.file)
		}
	}
}

func TestParseJWKSEdgeCases(t *testing.T) {
	a, _ := testKeys(t)
	pub := &a.Private.PublicKey
	n := base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
	x5c := base64.StdEncoding.EncodeToString(a.Certificate.Raw)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: t0, NotAfter: CertificateNotAfter}
	ecDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ec.PublicKey, ec)
	if err != nil {
		t.Fatal(err)
	}
	ecX5c := base64.StdEncoding.EncodeToString(ecDER)

	ok := map[string]struct {
		doc  string
		kids []string
	}{
		"empty set":       {`{"keys":[]}`, nil},
		"n/e only":        {`{"keys":[{"kty":"RSA","kid":"ne","n":"` + n + `","e":"AQAB"}]}`, []string{"ne"}},
		"x5c and n/e":     {`{"keys":[{"kty":"RSA","kid":"both","n":"` + n + `","e":"AQAB","x5c":["` + x5c + `"],"use":"sig","alg":"RS256"}]}`, []string{"both"}},
		"no kid":          {`{"keys":[{"kty":"RSA","x5c":["` + x5c + `"]}]}`, []string{""}},
		"EC x5c":          {`{"keys":[{"kty":"EC","kid":"ec","x5c":["` + ecX5c + `"]}]}`, []string{"ec"}},
		"EC coordinates":  {`{"keys":[{"kty":"EC","kid":"ec","crv":"P-256","x":"AA","y":"AA"},{"kty":"RSA","kid":"r","x5c":["` + x5c + `"]}]}`, []string{"r"}},
		"OKP skipped":     {`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}`, nil},
		"extra top-level": {`{"keys":[],"other":1}`, nil},
	}
	for name, tc := range ok {
		keys, err := ParseJWKS([]byte(tc.doc))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var kids []string
		for _, k := range keys {
			kids = append(kids, k.KID)
			if k.Key == nil {
				t.Errorf("%s: key %q without public key", name, k.KID)
			}
		}
		if !reflect.DeepEqual(kids, tc.kids) {
			t.Errorf("%s: kids %q, want %q", name, kids, tc.kids)
		}
	}
	bad := map[string]string{
		"not JSON":        `{`,
		"array":           `[]`,
		"no keys":         `{}`,
		"keys null":       `{"keys":null}`,
		"keys object":     `{"keys":{}}`,
		"null key":        `{"keys":[null]}`,
		"no kty":          `{"keys":[{"x5c":["` + x5c + `"]}]}`,
		"bad base64":      `{"keys":[{"kty":"RSA","x5c":["***"]}]}`,
		"url base64 x5c":  `{"keys":[{"kty":"RSA","x5c":["` + base64.RawURLEncoding.EncodeToString(a.Certificate.Raw) + `"]}]}`,
		"bad certificate": `{"keys":[{"kty":"RSA","x5c":["AAAA"]}]}`,
		"RSA no material": `{"keys":[{"kty":"RSA","kid":"x"}]}`,
		"n/e mismatch":    `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","x5c":["` + x5c + `"]}]}`,
		"kty vs cert":     `{"keys":[{"kty":"RSA","x5c":["` + ecX5c + `"]}]}`,
		"EC kty RSA cert": `{"keys":[{"kty":"EC","x5c":["` + x5c + `"]}]}`,
		"private":         `{"keys":[{"kty":"RSA","n":"` + n + `","e":"AQAB","d":"AQAB"}]}`,
		"symmetric":       `{"keys":[{"kty":"oct","k":"AAAA"}]}`,
		"e even":          `{"keys":[{"kty":"RSA","n":"` + n + `","e":"Ag"}]}`,
		"e too long":      `{"keys":[{"kty":"RSA","n":"` + n + `","e":"AQABAQAB"}]}`,
		"n missing":       `{"keys":[{"kty":"RSA","e":"AQAB"}]}`,
		"kid number":      `{"keys":[{"kty":"RSA","kid":1,"x5c":["` + x5c + `"]}]}`,
	}
	for name, doc := range bad {
		if _, err := ParseJWKS([]byte(doc)); !errors.Is(err, ErrJWKSInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestOpenIDMetadata(t *testing.T) {
	data := OpenIDMetadata(testIssuer)
	want := `{"response_types_supported":["token","none"],"id_token_signing_alg_values_supported":["RS256"],` +
		`"revocation_endpoint":"` + testIssuer + `/revoke","issuer":"` + testIssuer + `","jwks_uri":"` + testIssuer + `/certs",` +
		`"claims_supported":["cnf","nonce","x-ms-ver","x-ms-attestation-type","x-ms-policy-hash","x-ms-policy-signer",` +
		`"x-ms-sgx-is-debuggable","x-ms-sgx-mrenclave","x-ms-sgx-mrsigner","x-ms-sgx-svn","x-ms-sgx-ehd",` +
		`"x-ms-sgx-collateral","is-debuggable","sgx-mrsigner","sgx-mrenclave","product-id","svn","tee","x-ms-sgx-product-id",`
	if !strings.HasPrefix(string(data), want) {
		t.Errorf("metadata\n got %s\nwant prefix %s", data, want)
	}
	cfg, err := ParseOpenIDConfiguration(data)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cfg.ClaimsSupported {
		if seen[c] {
			t.Errorf("claim %q listed twice", c)
		}
		seen[c] = true
	}
	for _, c := range []string{"tdx_mrtd", "tdx_rtmr3", "attester_tcb_status", "eat_profile", "dbgstat", "x-ms-runtime"} {
		if !seen[c] {
			t.Errorf("claims_supported lacks %q", c)
		}
	}
	// The same members as MAA's published metadata.
	dir := vectors.Dir(t, "maa")
	ref, err := os.ReadFile(filepath.Join(dir, "transcribed/rest-api-specs/Get_MetadataConfiguration_2020-10-01.response.json"))
	if err != nil {
		t.Fatal(err)
	}
	var theirs, ours map[string]any
	if err := json.Unmarshal(ref, &theirs); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &ours)
	for m, v := range theirs {
		if _, ok := ours[m]; !ok {
			t.Errorf("member %q missing", m)
		}
		if m == "response_types_supported" || m == "id_token_signing_alg_values_supported" {
			if !reflect.DeepEqual(ours[m], v) {
				t.Errorf("%s = %v, MAA %v", m, ours[m], v)
			}
		}
	}
	if _, err := ParseOpenIDConfiguration(ref); err != nil {
		t.Errorf("MAA's example: %v", err)
	}
	for name, doc := range map[string]string{"not JSON": "x", "no jwks_uri": `{"issuer":"https://a"}`, "ftp jwks_uri": `{"jwks_uri":"ftp://a/certs"}`, "relative": `{"jwks_uri":"/certs"}`} {
		if _, err := ParseOpenIDConfiguration([]byte(doc)); !errors.Is(err, ErrMetadataInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

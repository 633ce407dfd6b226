package policy

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
)

// TestManagementDocumentKinds parses each kind of management document,
// those of MAA's docs and SDK recordings and those avow signs with claims,
// and checks what CheckUse lets it do.
func TestManagementDocumentKinds(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	key := testKey(t, "ecdsa_p256_private.pem")
	cert := selfSigned(t, key, "avow test signer")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	claims := ValidFor(OpAddSigner, now, 10*time.Minute)
	signedPolicy, err := SignDocumentClaims("version=1.0; authorizationrules { => permit(); };", key, []*x509.Certificate{cert}, "", ValidFor("", now, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	reset, err := SignResetDocument(key, []*x509.Certificate{cert}, "", ValidFor("", now, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	add, err := SignObject(map[string]any{"policyCertificate": map[string]any{"kty": "EC", "x5c": []string{b64std(cert.Raw)}}}, claims, key, []*x509.Certificate{cert}, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, jws string
		kind      DocumentKind
		ops       []string // accepted operations
	}{
		{"docs signer add", read("transcribed/azure-docs/add_policy_signer_request.jws"), KindSigner, []string{OpAddSigner, OpRemoveSigner}},
		{"js reset", read("transcribed/sdk-js-recording/reset_policy_sgx_request.jws"), KindReset, []string{OpResetPolicy}},
		{"js set", read("transcribed/sdk-js-recording/set_policy_sgx_request.jws"), KindPolicy, []string{OpSetPolicy}},
		{"docs signed policy", read("transcribed/azure-docs/policy_signed.jws"), KindPolicy, []string{OpSetPolicy}},
		{"avow signed policy", signedPolicy, KindPolicy, []string{OpSetPolicy}},
		{"avow signed reset", reset, KindReset, []string{OpResetPolicy}},
		{"avow add", add, KindSigner, []string{OpAddSigner}},
	} {
		d, err := ParseManagementDocument(tc.jws)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if d.Kind != tc.kind {
			t.Errorf("%s: kind %s, want %s", tc.name, d.Kind, tc.kind)
		}
		for _, op := range []string{OpSetPolicy, OpResetPolicy, OpAddSigner, OpRemoveSigner} {
			want := false
			for _, a := range tc.ops {
				want = want || a == op
			}
			if err := d.CheckUse(op, now, 0); (err == nil) != want || err != nil && !errors.Is(err, ErrDocumentOperation) {
				t.Errorf("%s for %s: %v, want accepted %v", tc.name, op, err, want)
			}
		}
	}
	// Claims read back: a reset keeps an empty payload and carries them in
	// its header.
	if parts := strings.Split(reset, "."); parts[1] != "" {
		t.Errorf("signed reset payload %q", parts[1])
	}
	d, _ := ParseManagementDocument(reset)
	if !d.IssuedAt.Equal(now) || !d.NotBefore.Equal(now) || !d.Expiry.Equal(now.Add(time.Minute)) || !d.Signed {
		t.Errorf("reset claims %+v", d)
	}
	d, _ = ParseManagementDocument(add)
	if d.Operation != OpAddSigner || !d.Expiry.Equal(now.Add(10*time.Minute)) || d.PolicyCertificate == nil || !d.PolicyCertificate.Equal(cert) {
		t.Errorf("add claims %+v", d)
	}
	if err := d.CheckUse(OpAddSigner, now.Add(11*time.Minute), 0); !errors.Is(err, ErrDocumentExpired) {
		t.Errorf("after exp: %v", err)
	}
	if err := d.CheckUse(OpAddSigner, now.Add(-time.Minute), 0); !errors.Is(err, ErrDocumentNotYetValid) {
		t.Errorf("before nbf: %v", err)
	}
	// ParseDocument, for policy documents, reads the claims too.
	if d, err := ParseDocument(signedPolicy); err != nil || d.Kind != KindPolicy || !d.Expiry.Equal(now.Add(time.Minute)) {
		t.Errorf("ParseDocument: %+v %v", d, err)
	}
	// Refused payloads: both kinds at once, neither, not an object, a
	// whitespace payload for a reset.
	for name, payload := range map[string]string{
		"both":    `{"AttestationPolicy":"dmVyc2lvbj0xLjA7","policyCertificate":{"x5c":["` + b64std(cert.Raw) + `"]}}`,
		"neither": `{"x-ms-policy":"x"}`,
		"array":   `[]`,
		"space":   ` `,
		"bad exp": `{"AttestationPolicy":"dmVyc2lvbj0xLjA7","exp":"soon"}`,
		"bad op":  `{"AttestationPolicy":"dmVyc2lvbj0xLjA7","x-avow-operation":1}`,
	} {
		jws := "eyJhbGciOiJub25lIn0." + b64.EncodeToString([]byte(payload)) + "."
		if _, err := ParseManagementDocument(jws); !errors.Is(err, ErrDocumentPayload) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckCertificateTime(t *testing.T) {
	key := testKey(t, "ecdsa_p256_private.pem")
	cert := selfSigned(t, key, "avow test signer")
	if err := CheckCertificateTime(cert, cert.NotBefore.Add(time.Second), "x"); err != nil {
		t.Error(err)
	}
	for _, at := range []time.Time{cert.NotBefore.Add(-time.Second), cert.NotAfter.Add(time.Second)} {
		if err := CheckCertificateTime(cert, at, "x"); !errors.Is(err, ErrSignerExpired) {
			t.Errorf("%s: %v", at, err)
		}
	}
}

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

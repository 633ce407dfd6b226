package service

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"testing"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/attestation/tdx"
	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/sgxsim"
)

// Init-time data is signed into the token only when the quote binds it
// (issue 13, item 4): SHA-256 in CONFIGID[0:32] of a KSS enclave, or in
// MRCONFIGID of a TD. Before, any initTimeData was accepted and signed.
func TestAttestInitTimeDataBinding(t *testing.T) {
	s, p := simSetup(t)
	ctx := context.Background()
	init := []byte(`{"config":"blue"}`)
	sum := sha256.Sum256(init)
	configID := make([]byte, 64)
	copy(configID, sum[:])
	otherID := make([]byte, 64)
	otherID[0] = 1
	s384 := sha512.Sum384(init)
	mrconfig256 := make([]byte, 48)
	copy(mrconfig256, sum[:])
	attest := func(typ string, o sgxsim.QuoteOptions, dataType string) error {
		_, err := s.Attest(ctx, "contoso", AttestRequest{Type: typ, Evidence: simQuote(t, p, o),
			InitTimeData: &Data{Bytes: init, DataType: dataType}, DraftPolicy: ptr("version=1.0; authorizationrules { => permit(); };")})
		return err
	}
	for _, tc := range []struct {
		name string
		typ  string
		o    sgxsim.QuoteOptions
		ok   bool
	}{
		{"SGX without KSS", sgx.NameSgxEnclave, sgxsim.QuoteOptions{}, false},
		{"SGX with KSS, zero CONFIGID", sgx.NameSgxEnclave, sgxsim.QuoteOptions{KSS: true}, false},
		{"SGX with KSS, another CONFIGID", sgx.NameSgxEnclave, sgxsim.QuoteOptions{KSS: true, ConfigID: otherID}, false},
		{"SGX with KSS, CONFIGID binds the data", sgx.NameSgxEnclave, sgxsim.QuoteOptions{KSS: true, ConfigID: configID}, true},
		{"TDX, zero MRCONFIGID", tdx.Name, sgxsim.QuoteOptions{TEE: sgxsim.TDX}, false},
		{"TDX, MRCONFIGID = SHA-384", tdx.Name, sgxsim.QuoteOptions{TEE: sgxsim.TDX, MRConfigID: s384[:]}, true},
		{"TDX, MRCONFIGID = SHA-256 and zeros", tdx.Name, sgxsim.QuoteOptions{TEE: sgxsim.TDX, MRConfigID: mrconfig256}, true},
	} {
		for _, dt := range []string{"Binary", "JSON"} {
			err := attest(tc.typ, tc.o, dt)
			if tc.ok && err != nil {
				t.Errorf("%s, %s: %v", tc.name, dt, err)
			}
			if !tc.ok && !errors.Is(err, claims.ErrInitTimeDataMismatch) {
				t.Errorf("%s, %s: %v, want %s", tc.name, dt, err, claims.ErrInitTimeDataMismatch.Code)
			}
		}
	}
	res, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{KSS: true, ConfigID: configID}),
		InitTimeData: &Data{Bytes: init, DataType: "JSON"}, DraftPolicy: ptr("version=1.0; authorizationrules { => permit(); };")})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := res.Claims["x-ms-inittime"].(map[string]any); !ok || m["config"] != "blue" {
		t.Errorf("x-ms-inittime = %v", res.Claims["x-ms-inittime"])
	}
}

func ptr(s string) *string { return &s }

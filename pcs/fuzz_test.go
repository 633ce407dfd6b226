package pcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Fuzz targets for every parser of the package. Seeds come from the shared
// vectors when present; without them the targets still run on the built-in
// seeds.

func FuzzParseTCBInfo(f *testing.F) {
	for _, c := range seedBundles() {
		f.Add(c.TCBInfo)
	}
	f.Add([]byte(`{"version":2,"issueDate":"2019-09-05T07:47:07Z","nextUpdate":"2029-09-05T07:47:07Z","fmspc":"00707F000000","pceId":"0000","tcbType":0,"tcbEvaluationDataNumber":3,"tcbLevels":[{"tcb":{"sgxtcbcomp01svn":0,"sgxtcbcomp02svn":3,"sgxtcbcomp03svn":0,"sgxtcbcomp04svn":0,"sgxtcbcomp05svn":0,"sgxtcbcomp06svn":1,"sgxtcbcomp07svn":1,"sgxtcbcomp08svn":0,"sgxtcbcomp09svn":0,"sgxtcbcomp10svn":0,"sgxtcbcomp11svn":0,"sgxtcbcomp12svn":0,"sgxtcbcomp13svn":0,"sgxtcbcomp14svn":0,"sgxtcbcomp15svn":0,"sgxtcbcomp16svn":0,"pcesvn":3},"tcbDate":"2019-09-01T00:00:00Z","tcbStatus":"UpToDate"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		info, err := ParseTCBInfo(raw, sig64)
		if err != nil {
			if !errors.Is(err, ErrTCBInfoFormat) {
				t.Fatalf("error without ErrTCBInfoFormat: %v", err)
			}
			return
		}
		if info.ID != "SGX" && info.ID != "TDX" {
			t.Fatalf("id %q", info.ID)
		}
		if (info.ID == "TDX") != (info.TDXModule != nil) || len(info.TCBLevels) == 0 {
			t.Fatal("shape")
		}
		for i := 1; i < len(info.TCBLevels); i++ {
			if CompareTCBLevels(&info.TCBLevels[i-1], &info.TCBLevels[i], info.ID == "TDX") <= 0 {
				t.Fatal("levels not strictly descending")
			}
		}
		if !json.Valid(info.Signed) {
			t.Fatal("Signed is not JSON")
		}
		// Compacting is idempotent: the compact form parses to the same.
		again, err := ParseTCBInfo(info.Signed, sig64)
		if err != nil || !bytes.Equal(again.Signed, info.Signed) || len(again.TCBLevels) != len(info.TCBLevels) {
			t.Fatalf("compact form does not parse the same: %v", err)
		}
	})
}

func FuzzParseQEIdentity(f *testing.F) {
	for _, c := range seedBundles() {
		f.Add(c.QEIdentity)
	}
	f.Add([]byte(`{"id":"QE","version":2,"issueDate":"2025-06-19T10:56:11Z","nextUpdate":"2025-07-19T10:56:11Z","tcbEvaluationDataNumber":17,"miscselect":"00000000","miscselectMask":"FFFFFFFF","attributes":"11000000000000000000000000000000","attributesMask":"FBFFFFFFFFFFFFFF0000000000000000","mrsigner":"8C4F5775D796503E96137F77C68A829A0056AC8DED70140B081B094490C57BFF","isvprodid":1,"tcbLevels":[{"tcb":{"isvsvn":8},"tcbDate":"2024-03-13T00:00:00Z","tcbStatus":"UpToDate"}]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		id, err := ParseQEIdentity(raw, sig64)
		if err != nil {
			if !errors.Is(err, ErrQEIdentityFormat) {
				t.Fatalf("error without ErrQEIdentityFormat: %v", err)
			}
			return
		}
		if id.Version != 2 || len(id.TCBLevels) == 0 || len(id.MRSigner) != 32 || !json.Valid(id.Signed) {
			t.Fatal("shape")
		}
	})
}

func FuzzSplitSigned(f *testing.F) {
	for _, c := range seedBundles() {
		f.Add(tcbBody(c))
		f.Add(qeBody(c))
	}
	f.Add([]byte(`{"tcbInfo":{},"signature":"` + string(bytes.Repeat([]byte("0"), 128)) + `"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, member := range []string{"tcbInfo", "enclaveIdentity"} {
			raw, sig, err := SplitSigned(body, member)
			if err != nil {
				continue
			}
			if len(sig) != 64 || !json.Valid(raw) || raw[0] != '{' {
				t.Fatalf("raw %q sig %d bytes", raw, len(sig))
			}
		}
	})
}

func FuzzParsePCKExtensionValue(f *testing.F) {
	for _, v := range seedPCKExtensionValues(f) {
		f.Add(v)
	}
	f.Add(defaultSpec(f, false).encode(f))
	f.Add(defaultSpec(f, true).encode(f))
	f.Fuzz(func(t *testing.T, der []byte) {
		ext, err := ParsePCKExtensionValue(der)
		if err != nil {
			if !errors.Is(err, ErrPCKExtensions) {
				t.Fatalf("error without ErrPCKExtensions: %v", err)
			}
			return
		}
		if ext.PlatformInstanceID != nil && len(ext.PlatformInstanceID) != 16 {
			t.Fatal("platform instance id length")
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	if d := sharedDCAP(); d != "" {
		dirs, _ := filepath.Glob(filepath.Join(d, "S*"))
		sort.Strings(dirs)
		for _, dir := range dirs {
			if b, err := os.ReadFile(filepath.Join(dir, "collateral.json")); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte(`{"pck_crl_issuer_chain":"","root_ca_crl":"00","pck_crl":"00","tcb_info_issuer_chain":"","tcb_info":"{}","tcb_info_signature":"","qe_identity_issuer_chain":"","qe_identity":"{}","qe_identity_signature":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseBundle(data)
		if err != nil {
			if !errors.Is(err, ErrCollateralFormat) {
				t.Fatalf("error without ErrCollateralFormat: %v", err)
			}
			return
		}
		out, err := c.MarshalBundle()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseBundle(out)
		if err != nil {
			t.Fatalf("MarshalBundle output does not parse: %v", err)
		}
		// A second round trip is stable (JSON string decoding may have
		// replaced invalid UTF-8 the first time).
		out2, _ := back.MarshalBundle()
		if !bytes.Equal(out, out2) {
			t.Fatal("MarshalBundle/ParseBundle round trip is not stable")
		}
		_ = back.Hashes()
	})
}

func FuzzParseCertificates(f *testing.F) {
	for _, c := range seedBundles() {
		f.Add(c.PCKCRLIssuerChain)
		f.Add(append(append([]byte(nil), c.TCBInfoIssuerChain...), 0))
		if blocks, err := splitPEMCertificates(c.TCBInfoIssuerChain); err == nil {
			f.Add(blocks[0].der)
		}
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := ParseCertificates(data)
		if err != nil {
			if !errors.Is(err, ErrCertificateFormat) {
				t.Fatalf("error without ErrCertificateFormat: %v", err)
			}
			return
		}
		if len(certs) == 0 {
			t.Fatal("success without certificates")
		}
		for _, c := range certs {
			_, _ = ParsePCKExtensions(c)
		}
	})
}

// seedPCKExtensionValues returns the SGX extension values of the PCK
// certificates in the vector quotes (none without the vectors).
func seedPCKExtensionValues(tb testing.TB) [][]byte {
	d := sharedDCAP()
	if d == "" {
		return nil
	}
	dirs, _ := filepath.Glob(filepath.Join(d, "S*"))
	sort.Strings(dirs)
	var out [][]byte
	for _, dir := range dirs {
		q, err := os.ReadFile(filepath.Join(dir, "quote.bin"))
		if err != nil {
			continue
		}
		for _, c := range quoteChain(tb, q) {
			for _, e := range c.Extensions {
				if e.Id.Equal(OIDSGXExtensions) {
					out = append(out, e.Value)
				}
			}
		}
	}
	return out
}

func FuzzParseTCBEvaluationDataNumbers(f *testing.F) {
	f.Add([]byte(`{"tcbEvaluationDataNumbers":{"id":"TDX","version":1,"issueDate":"2025-06-05T01:31:32Z","nextUpdate":"2025-07-05T01:31:32Z","tcbEvalNumbers":[{"tcbEvaluationDataNumber":19,"tcbRecoveryEventDate":"2025-05-13T00:00:00Z","tcbDate":"2025-05-14T00:00:00Z"}]},"signature":"` + string(bytes.Repeat([]byte("0"), 128)) + `"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := ParseTCBEvaluationDataNumbers(body)
		if err != nil {
			if !errors.Is(err, ErrCollateralFormat) {
				t.Fatalf("error without ErrCollateralFormat: %v", err)
			}
			return
		}
		if doc.ID != "SGX" && doc.ID != "TDX" || doc.Version != 1 || len(doc.Signature) != 64 || !json.Valid(doc.Raw) {
			t.Fatal("shape")
		}
	})
}

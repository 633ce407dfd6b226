package pcs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
)

// TestDirSourceErrorsQuoteNoFile: a folder or file source that cannot be
// read says so without quoting the files (a provider could once point a
// source at /etc/passwd and read its first characters in the error).
func TestDirSourceErrorsQuoteNoFile(t *testing.T) {
	dir := t.TempDir()
	sig := strings.Repeat("00", 64)
	if err := os.WriteFile(filepath.Join(dir, "tcb.json"), []byte(`{"tcbInfo":{"id":"MARKER-one","version":3},"signature":"`+sig+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:MARKER-two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(t.TempDir(), "bundle.json")
	if err := os.WriteFile(bundle, []byte(`{"tcb_info":"x","tcb_info_signature":"MARKER","tcb_info_issuer_chain":"x","qe_identity":"x","qe_identity_signature":"00","qe_identity_issuer_chain":"x","pck_crl":"00","pck_crl_issuer_chain":"x","root_ca_crl":"00"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, passwd, bundle} {
		src, err := pcs.ParseSource("file:"+path, pcs.SourceOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Fetch(context.Background(), pcs.FetchRequest{TEE: "sgx", FMSPC: "00906ed50000"})
		if !errors.Is(err, pcs.ErrFetch) {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if d := errs.Detail(err); strings.Contains(d, "MARKER") || strings.Contains(d, "'r'") || strings.Contains(d, "'M'") || !strings.Contains(d, path) {
			t.Errorf("%s: the error quotes the file or does not name it: %s", path, d)
		}
	}
}

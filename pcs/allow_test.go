package pcs_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/avowhq/avow/pcs"
)

func TestSourceRules(t *testing.T) {
	for _, c := range []struct {
		rule string
		yes  []string
		no   []string
	}{
		{"pcs", []string{"https://api.trustedservices.intel.com/sgx/certification/v4/tcb", "https://API.trustedservices.intel.com:443/x"},
			[]string{"http://api.trustedservices.intel.com/x", "https://api.trustedservices.intel.com:8443/x", "https://certificates.trustedservices.intel.com/x", "https://u:p@api.trustedservices.intel.com/x"}},
		{"https://pccs.internal:8081/", []string{"https://pccs.internal:8081", "https://pccs.internal:8081/sgx/certification/v4/tcb"},
			[]string{"http://pccs.internal:8081/", "https://pccs.internal/", "https://pccs.internal:8082/", "https://pccs.internal.evil:8081/"}},
		{"http://10.0.0.5/pccs", []string{"http://10.0.0.5:80/pccs", "http://10.0.0.5/pccs/sgx/x"},
			[]string{"http://10.0.0.5/pccsx", "http://10.0.0.5/", "http://10.0.0.5/pccs/../admin", "http://10.0.0.5/pccs/%2e%2e/admin"}},
	} {
		r, err := pcs.ParseSourceRule(c.rule)
		if err != nil {
			t.Fatalf("%s: %v", c.rule, err)
		}
		for _, s := range c.yes {
			if u, _ := url.Parse(s); !r.Allows(u) {
				t.Errorf("%s does not allow %s", c.rule, s)
			}
		}
		for _, s := range c.no {
			if u, _ := url.Parse(s); r.Allows(u) {
				t.Errorf("%s allows %s", c.rule, s)
			}
		}
	}
	for _, bad := range []string{"", "/srv/bundles", "dir:/srv", "file:/etc/passwd", "pccs:https://x", "ftp://x", "https://", "https://x/?q=1", "https://u:p@x/"} {
		if _, err := pcs.ParseSourceRule(bad); err == nil {
			t.Errorf("%q accepted as a rule", bad)
		}
	}
	for spec, local := range map[string]bool{"pcs": false, "pcs:https://x": false, "pccs:http://x": false, "https://x": false,
		"/etc/passwd": true, "dir:/srv": true, "file:x.json": true, "relative": true, "HTTPS://x": true, "": false} {
		if pcs.IsLocalSource(spec) != local {
			t.Errorf("IsLocalSource(%q) = %v", spec, !local)
		}
	}
}

// TestAllowURLBoundsEveryRequest: a Fetcher with AllowURL requests
// nothing outside it, the root CA CRL's distribution point included.
func TestAllowURLBoundsEveryRequest(t *testing.T) {
	rec := record(nil)
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	rule, err := pcs.ParseSourceRule("https://pcs-mirror.example")
	if err != nil {
		t.Fatal(err)
	}
	f := &pcs.Fetcher{Kind: pcs.KindPCS, BaseURL: ts.URL, RootCRLURL: ts.URL + "/IntelSGXRootCA.der", AllowURL: rule.Allows}
	if _, err := f.RootCACRL(context.Background(), nil); !errors.Is(err, pcs.ErrFetch) {
		t.Errorf("root CA CRL outside the rule: %v", err)
	}
	if _, err := f.Fetch(context.Background(), pcs.FetchRequest{TEE: "sgx", FMSPC: "00906ed50000"}); !errors.Is(err, pcs.ErrFetch) {
		t.Errorf("fetch outside the rule: %v", err)
	}
	if total, _ := rec.counts(); len(total) != 0 {
		t.Errorf("requests outside the rule: %v", total)
	}
}

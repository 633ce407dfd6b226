package server

import (
	"net/http"
	"testing"
)

// TestMetricsDefault is issue 13 item 9b: /metrics (provider names,
// failure codes, collateral state, request rates) needs a reader token
// unless the operator says otherwise; development mode (--dev), run on a
// workstation, keeps it public; an explicit setting wins either way.
func TestMetricsDefault(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dev     bool
		metrics string
		anon    int
	}{
		{"production default", false, "", http.StatusUnauthorized},
		{"dev default", true, "", http.StatusOK},
		{"production public", false, "public", http.StatusOK},
		{"dev reader", true, "reader", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, _ := startNode(t, t.TempDir(), func(cfg *Config) { cfg.Dev, cfg.Ops.Metrics = tc.dev, tc.metrics })
			hc := mustHTTP(t, n)
			get := func(token string) int {
				req, _ := http.NewRequest(http.MethodGet, n.URL+"/metrics", nil)
				if token != "" {
					req.Header.Set("Authorization", "Bearer "+token)
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if st := get(""); st != tc.anon {
				t.Errorf("anonymous: %d, want %d", st, tc.anon)
			}
			if st := get(n.AdminToken.Secret); st != http.StatusOK {
				t.Errorf("owner: %d", st)
			}
		})
	}
}

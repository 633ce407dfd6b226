package fakemaa_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/fakemaa"
	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/sgxsim"
)

// contractStep is one request sent to both servers.
type contractStep struct {
	method, path, body string
	reader             bool // with a reader's token instead of the owner's
}

// contractSteps walk the management plane and the data plane a client and
// the CLI use: providers, settings, keys, admin tokens, collateral, OpenID
// metadata, signing keys, policies, and the errors a client must read.
var contractSteps = []contractStep{
	{method: "POST", path: "/management/providers", body: `{"name":"contoso"}`},
	{method: "GET", path: "/management/providers"},
	{method: "GET", path: "/management/providers/contoso"},
	{method: "PATCH", path: "/management/providers/contoso", body: `{"settings":{"collateralGracePeriod":"1h0m0s"}}`},
	{method: "POST", path: "/management/providers/contoso/keys:rotate"},
	{method: "GET", path: "/management/providers/contoso/keys"},
	{method: "GET", path: "/management/providers/nope"},
	{method: "POST", path: "/management/providers", body: `{"name":"fabrikam"}`, reader: true},
	{method: "GET", path: "/management/collateral"},
	{method: "GET", path: "/providers/contoso/.well-known/openid-configuration"},
	{method: "GET", path: "/providers/contoso/certs"},
	{method: "GET", path: "/providers/contoso/certificates"},
	{method: "GET", path: "/providers/contoso/policies/SgxEnclave?api-version=2022-08-01"},
	{method: "POST", path: "/providers/contoso/attest/SgxEnclave?api-version=2022-08-01", body: "QUOTE"},
	{method: "POST", path: "/providers/contoso/attest/SgxEnclave?api-version=2022-08-01", body: `{"quote":"%%%"}`},
}

// intended lists the differences between the fake and the real server that
// are deliberate, by step and JSON path, with the reason.
var intended = map[string]string{
	"GET /management/collateral $.collateral[]": "the fake holds no collateral until a test imports some; the dev server has the simulated platform's",
}

func TestFakeMatchesServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	dir := t.TempDir()
	n, err := server.Start(context.Background(), server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
		Dev: true, SimDir: filepath.Join(dir, "sim")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	realClient, err := n.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	realReader := readerToken(t, realClient, n.URL, n.AdminToken.Secret)
	fake := fakemaa.New(t)
	sim, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := sim.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	quoteBody := `{"quote":"` + base64.RawURLEncoding.EncodeToString(q) + `"}`

	for _, st := range contractSteps {
		name := st.method + " " + st.path
		if st.reader {
			name += " (reader)"
		}
		realTok, fakeTok := n.AdminToken.Secret, fakemaa.OwnerToken
		if st.reader {
			realTok, fakeTok = realReader, fakemaa.ReaderToken
		}
		if st.body == "QUOTE" {
			st.body = quoteBody
		}
		rs, rb := send(t, realClient, n.URL, st, realTok)
		fs, fb := send(t, fake.Client(), fake.URL, st, fakeTok)
		if rs != fs {
			t.Errorf("%s: the server answers %d, the fake %d\nserver: %s\nfake:   %s", name, rs, fs, rb, fb)
			continue
		}
		var diffs []string
		compareShape(&diffs, st.method+" "+st.path, "$", decode(t, name, rb), decode(t, name, fb))
		for _, d := range diffs {
			t.Errorf("%s: %s", name, d)
		}
	}
}

func readerToken(t *testing.T, c *http.Client, base, owner string) string {
	t.Helper()
	status, body := send(t, c, base, contractStep{method: "POST", path: "/management/admin-tokens", body: `{"role":"reader","description":"contract"}`}, owner)
	var out struct{ Token string }
	if status != http.StatusCreated || json.Unmarshal(body, &out) != nil || out.Token == "" {
		t.Fatalf("creating a reader token: %d %s", status, body)
	}
	return out.Token
}

func send(t *testing.T, c *http.Client, base string, st contractStep, tok string) (int, []byte) {
	t.Helper()
	var body io.Reader
	if st.body != "" {
		body = strings.NewReader(st.body)
	}
	req, err := http.NewRequest(st.method, base+st.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if st.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", st.method, st.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func decode(t *testing.T, name string, b []byte) any {
	t.Helper()
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "non-JSON body"
	}
	return v
}

// compareShape records where two JSON values differ in shape: member names
// and JSON types, recursively; arrays by their first elements.
func compareShape(diffs *[]string, step, path string, real, fake any) {
	if _, ok := intended[step+" "+path]; ok {
		return
	}
	if kind(real) != kind(fake) {
		*diffs = append(*diffs, fmt.Sprintf("%s is %s on the server, %s on the fake", path, kind(real), kind(fake)))
		return
	}
	switch r := real.(type) {
	case map[string]any:
		f := fake.(map[string]any)
		for _, k := range union(r, f) {
			rv, rok := r[k]
			fv, fok := f[k]
			switch {
			case !fok:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s is on the server but not on the fake", path, k))
			case !rok:
				*diffs = append(*diffs, fmt.Sprintf("%s.%s is on the fake but not on the server", path, k))
			default:
				compareShape(diffs, step, path+"."+k, rv, fv)
			}
		}
	case []any:
		f := fake.([]any)
		if len(r) > 0 && len(f) > 0 {
			compareShape(diffs, step, path+"[]", r[0], f[0])
		} else if (len(r) == 0) != (len(f) == 0) {
			if _, ok := intended[step+" "+path+"[]"]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s has %d elements on the server, %d on the fake", path, len(r), len(f)))
			}
		}
	}
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func union(a, b map[string]any) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

package console_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/chromedp/chromedp"

	"github.com/avowhq/avow/server"
)

// fakeIssuer is an OpenID provider for one public client: it authorizes
// every request at once (no login page), and insists on PKCE S256.
type fakeIssuer struct {
	t        *testing.T
	srv      *httptest.Server
	key      *rsa.PrivateKey
	clientID string

	mu        sync.Mutex
	codes     map[string]string // code -> code_challenge
	redirects []string
	verified  bool
}

func newFakeIssuer(t *testing.T, clientID string) *fakeIssuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeIssuer{t: t, key: key, clientID: clientID, codes: map[string]string{}}
	mux := http.NewServeMux()
	cors := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Access-Control-Allow-Origin", "*")
			h(w, r)
		}
	}
	mux.HandleFunc("/tenant/.well-known/openid-configuration", cors(func(w http.ResponseWriter, r *http.Request) {
		iss := f.issuer()
		json.NewEncoder(w).Encode(map[string]any{"issuer": iss, "jwks_uri": iss + "/keys",
			"authorization_endpoint": iss + "/authorize", "token_endpoint": iss + "/token",
			"code_challenge_methods_supported": []string{"S256"}})
	}))
	mux.HandleFunc("/tenant/keys", cors(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	}))
	mux.HandleFunc("/tenant/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
			http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		code := fmt.Sprintf("code-%d", time.Now().UnixNano())
		f.mu.Lock()
		f.codes[code] = q.Get("code_challenge")
		f.redirects = append(f.redirects, q.Get("redirect_uri"))
		f.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("/tenant/token", cors(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		f.mu.Lock()
		challenge, ok := f.codes[r.PostForm.Get("code")]
		delete(f.codes, r.PostForm.Get("code"))
		f.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if !ok || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("client_id") != clientID ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		f.mu.Lock()
		f.verified = true
		f.mu.Unlock()
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
		now := time.Now()
		idt, _ := josejwt.Signed(signer).Claims(map[string]any{"iss": f.issuer(), "aud": clientID, "sub": "alice@contoso",
			"roles": []string{"policy-admin"}, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}).Serialize()
		json.NewEncoder(w).Encode(map[string]any{"id_token": idt, "access_token": "opaque", "token_type": "Bearer", "expires_in": 3600})
	}))
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIssuer) issuer() string { return f.srv.URL + "/tenant" }

// TestConsoleOIDCSignIn: with --oidc-issuer and --console-oidc-client-id
// the console signs in through the issuer (authorization code with PKCE)
// and uses the issuer's token as its bearer; the code leaves the address
// bar.
func TestConsoleOIDCSignIn(t *testing.T) {
	bin := needChromium(t)
	idp := newFakeIssuer(t, "avow-console")
	dir := t.TempDir()
	node, err := server.Start(context.Background(), server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
		Dev: true, SimDir: filepath.Join(dir, "sim"), InsecureHTTP: true,
		OIDC: server.OIDCConfig{Issuer: idp.issuer(), Audience: "avow-console", ConsoleClientID: "avow-console", HTTPClient: idp.srv.Client()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Shutdown(context.Background()) })
	// The fake issuer's certificate is the test's own: the browser is told
	// to accept it (the node trusts it through its HTTP client).
	b := newBrowser(t, bin, node.URL, chromedp.Flag("ignore-certificate-errors", true))
	b.do("open the console", chromedp.Navigate(node.URL+"/ui/"))
	b.wait("sign-in page", `document.getElementById('main').dataset.ready === '#/signin'`)
	b.eval(`[...document.querySelectorAll('main button')].find(x => x.textContent.startsWith('Sign in with')).click()`)
	b.wait("signed in", `document.getElementById('main').dataset.ready === '#/providers'`)
	if role := b.text("#role"); role != "policy-admin" {
		t.Errorf("role shown: %q", role)
	}
	if id := b.text("#who .id"); !strings.Contains(id, "alice@contoso") {
		t.Errorf("identity shown: %q", id)
	}
	if href, _ := b.eval(`location.href`).(string); strings.Contains(href, "code=") || strings.Contains(href, "state=") {
		t.Errorf("the authorization code stayed in the address bar: %s", href)
	}
	idp.mu.Lock()
	defer idp.mu.Unlock()
	if !idp.verified || len(idp.redirects) != 1 || idp.redirects[0] != node.URL+"/ui/" {
		t.Errorf("PKCE verified %v, redirect URIs %v", idp.verified, idp.redirects)
	}
}

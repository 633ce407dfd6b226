package aesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/alwaysencrypted"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/token"
)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
)

func identityKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, IdentityKeyBits)
		if err != nil {
			panic(err)
		}
		testKey = k
	})
	return testKey
}

func TestAttestURI(t *testing.T) {
	for in, want := range map[string]string{
		"https://p.eus.attest.azure.net":                                           "https://p.eus.attest.azure.net",
		"https://p.eus.attest.azure.net/attest/SgxEnclave":                         "https://p.eus.attest.azure.net",
		"https://p.eus.attest.azure.net/attest/sgxenclave/?api-version=2017-11-01": "https://p.eus.attest.azure.net",
		"https://127.0.0.1:8443/providers/contoso/attest/SgxEnclave":               "https://127.0.0.1:8443/providers/contoso",
		"https://127.0.0.1:8443/providers/contoso/":                                "https://127.0.0.1:8443/providers/contoso",
	} {
		if got, err := AttestURI(in); err != nil || got != want {
			t.Errorf("AttestURI(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := AttestURI("not a url"); !errors.Is(err, alwaysencrypted.ErrAttestationURLInvalid) {
		t.Errorf("bad URL: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Key: k}); !errors.Is(err, ErrOptions) {
		t.Errorf("RSA-2048 key: %v", err)
	}
	e, err := New(Options{Key: identityKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if b := e.PublicKeyBlob(); len(b) != alwaysencrypted.SqlClientRSABlobSize || alwaysencrypted.CheckSqlClientRSAShape(b) != nil {
		t.Errorf("identity blob of %d bytes", len(b))
	}
	if _, err := e.Attest(context.Background(), []byte("junk")); !errors.Is(err, alwaysencrypted.ErrParamsInvalid) {
		t.Errorf("junk parameters: %v", err)
	}
	id := SQLServerIdentity()
	if id.ProductID != 4639 || id.SVN != 2 || id.Debug || id.MRSigner[0] != 0xe3 || id.MRSigner[31] != 0xe5 {
		t.Errorf("SQL Server identity %+v", id)
	}
}

// hostMAA is an attestation service at the root of an https server, as
// MAA and avow's host-named providers are: it attests any quote whose
// report data binds the runtime data, and puts the data in aas-ehd.
type hostMAA struct {
	*httptest.Server
	key    *token.SigningKey
	quotes [][]byte
	mu     sync.Mutex
}

func newHostMAA(t *testing.T) *hostMAA {
	t.Helper()
	key, err := token.GenerateSigningKey(nil, "host MAA", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	m := &hostMAA{key: key}
	m.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case token.OpenIDConfigurationPath:
			w.Write(token.OpenIDMetadata(m.URL))
		case "/certs":
			w.Write(token.JWKS([]*token.SigningKey{m.key}))
		case "/attest/SgxEnclave":
			var body struct {
				Quote       string `json:"quote"`
				RuntimeData struct {
					Data, DataType string
				} `json:"runtimeData"`
			}
			json.NewDecoder(r.Body).Decode(&body)
			q, _ := base64.RawURLEncoding.DecodeString(body.Quote)
			rd, _ := base64.RawURLEncoding.DecodeString(body.RuntimeData.Data)
			parsed, err := quote.Parse(q)
			sum := sha256.Sum256(rd)
			var reportData [64]byte
			if err == nil {
				reportData = parsed.ReportData()
			}
			if err != nil || body.RuntimeData.DataType != "Binary" || !bytes.Equal(reportData[:32], sum[:]) {
				http.Error(w, `{"error":{"code":"InvalidParameter","message":"runtime data not bound"}}`, http.StatusBadRequest)
				return
			}
			m.mu.Lock()
			m.quotes = append(m.quotes, q)
			m.mu.Unlock()
			ehd := body.RuntimeData.Data
			tok, err := token.Issue(map[string]any{"aas-ehd": ehd, "maa-ehd": ehd, "x-ms-sgx-ehd": ehd, "x-ms-attestation-type": "sgx"},
				m.key, m.URL, time.Now(), 8*time.Hour, "")
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"token": tok})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(m.Close)
	return m
}

// TestRoundTripHostRoot: enclave and client agree on the session key
// through a service at a host root, with the drivers' rules unchanged.
func TestRoundTripHostRoot(t *testing.T) {
	m := newHostMAA(t)
	c, err := client.New("", client.WithHTTPClient(m.Client()))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Client: c, Key: identityKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	params, clientKey, err := alwaysencrypted.NewParams(m.URL + "/attest/SgxEnclave?api-version=2020-10-01")
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.Attest(context.Background(), params.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if s.AttestURI != m.URL || len(s.Key) != 32 || s.ID < 0 {
		t.Errorf("session %+v", s)
	}
	// The quote is the enclave's: SQL Server's identity by default.
	q, _ := quote.Parse(m.quotes[0])
	if q.Enclave.ISVProdID != 4639 || q.Enclave.ISVSVN != 2 || q.Enclave.MRSigner != SQLServerIdentity().MRSigner {
		t.Errorf("enclave report %+v", q.Enclave)
	}
	v := alwaysencrypted.NewValidator(alwaysencrypted.WithHTTPClient(m.Client()), alwaysencrypted.WithRetryWait(0))
	rep, err := v.Verify(context.Background(), params, clientKey, s.Info)
	if err != nil {
		t.Fatalf("%v\n%+v", err, rep.Checks)
	}
	if !bytes.Equal(rep.SessionKey, s.Key) || rep.SessionID != s.ID {
		t.Error("client and enclave disagree on the session")
	}
	// Another client's parameters make another session, and a replayed
	// answer does not fit them: the XOR-ed key no longer matches.
	params2, key2, _ := alwaysencrypted.NewParams(params.URL)
	rep, err = v.Verify(context.Background(), params2, key2, s.Info)
	if !errors.Is(err, alwaysencrypted.ErrRSAKeyInvalid) && !errors.Is(err, alwaysencrypted.ErrDHSignature) {
		t.Errorf("replayed info: %v", err)
	}
}

// TestWithAvow runs the enclave against a real avow node with the
// recommended policy on a path-based provider (whose iss has a path, so
// the validator is given the issuer explicitly).
func TestWithAvow(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	dir := t.TempDir()
	simDir := filepath.Join(dir, "sim")
	n, err := server.Start(context.Background(), server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), Dev: true, SimDir: simDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	hc, err := n.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := client.New(n.URL, client.WithHTTPClient(hc), client.WithToken(n.AdminToken.Secret))
	ctx := context.Background()
	p, err := admin.CreateProvider(ctx, client.CreateProviderRequest{Name: "contoso"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetPolicy(ctx, p.AttestURI, "SgxEnclave", policy.UnsignedDocument(RecommendedPolicy)); err != nil {
		t.Fatal(err)
	}
	platform, err := sgxsim.Open(simDir)
	if err != nil {
		t.Fatal(err)
	}
	anon, _ := client.New("", client.WithHTTPClient(hc))
	attest := func(id Identity) (*alwaysencrypted.Report, *Session, error) {
		e, err := New(Options{Platform: platform, Client: anon, Identity: &id, Key: identityKey(t)})
		if err != nil {
			t.Fatal(err)
		}
		params, key, _ := alwaysencrypted.NewParams(p.AttestURI + "/attest/SgxEnclave")
		s, err := e.Attest(ctx, params.Marshal())
		if err != nil {
			return nil, nil, err
		}
		v := alwaysencrypted.NewValidator(alwaysencrypted.WithHTTPClient(hc), alwaysencrypted.WithRetryWait(0), alwaysencrypted.WithIssuer(p.AttestURI))
		rep, err := v.Verify(ctx, params, key, s.Info)
		return rep, s, err
	}
	rep, s, err := attest(SQLServerIdentity())
	if err != nil {
		if rep != nil {
			t.Fatalf("%v\n%+v", err, rep.Checks)
		}
		t.Fatal(err)
	}
	if !bytes.Equal(rep.SessionKey, s.Key) || rep.Claims["x-ms-sgx-product-id"] != json.Number("4639") || rep.Claims["iss"] != p.AttestURI {
		t.Errorf("claims %v", rep.Claims)
	}
	// Without the explicit issuer the drivers look for the keys at the
	// host root, where a path-based provider has none.
	e, _ := New(Options{Platform: platform, Client: anon, Key: identityKey(t)})
	params, key, _ := alwaysencrypted.NewParams(p.AttestURI)
	s, err = e.Attest(ctx, params.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	_, err = alwaysencrypted.NewValidator(alwaysencrypted.WithHTTPClient(hc), alwaysencrypted.WithRetryWait(0)).Verify(ctx, params, key, s.Info)
	if !errors.Is(err, alwaysencrypted.ErrSigningKeysUnavailable) {
		t.Errorf("path-based provider by the drivers' rules: %v", err)
	}

	// The recommended policy refuses other enclaves; the client gets no token.
	for name, edit := range map[string]func(*Identity){
		"debuggable":     func(id *Identity) { id.Debug = true },
		"svn 1":          func(id *Identity) { id.SVN = 1 },
		"product 1":      func(id *Identity) { id.ProductID = 1 },
		"other mrsigner": func(id *Identity) { id.MRSigner = sgxsim.DefaultMRSigner },
	} {
		id := SQLServerIdentity()
		edit(&id)
		_, _, err := attest(id)
		var ce *client.Error
		if !errors.Is(err, ErrAttestationFailed) || !errors.As(err, &ce) || ce.Status != http.StatusBadRequest {
			t.Errorf("%s: %v", name, err)
		}
	}
	id := SQLServerIdentity()
	id.SVN = 7
	if _, _, err := attest(id); err != nil {
		t.Errorf("svn 7: %v", err)
	}
}

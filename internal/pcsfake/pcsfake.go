// Package pcsfake is an HTTP server that behaves like Intel's PCS or a
// PCCS for tests: the same paths (/sgx|tdx/certification/v4/tcb?fmspc=,
// qe/identity, /sgx/certification/v4/pckcrl?ca=&encoding=der, PCCS
// rootcacrl and crl?uri=, PCS's root CRL distribution point), query
// parameters, URL-encoded issuer-chain headers and status codes (400 for a
// malformed parameter, 404 for an unknown FMSPC), serving the collateral
// it is given. It counts requests and can fail, stall or tamper on demand.
package pcsfake

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/pcs"
)

type doc struct {
	body  []byte
	chain []byte
}

// Server is a PCS- or PCCS-like server.
type Server struct {
	Kind string // pcs.KindPCS or pcs.KindPCCS

	mu  sync.Mutex
	tcb map[string]doc // "tee/fmspc" (lowercase): the standard channel
	qe  map[string]doc // tee
	// byNumber holds the TCB info ("tee/fmspc/N") and QE identity
	// ("tee/N") of every TCB evaluation data number added.
	byNumber map[string]doc
	pckCRL   map[string]doc // ca
	rootCRL  []byte
	early    map[string]uint32 // "tee/fmspc": the highest number added
	numbers  map[string]doc    // tee: the tcbevaluationdatanumbers response
	hits     map[string]int    // path → requests
	total    int

	status        int           // non-zero: every request is answered with it
	delay         time.Duration // every request waits this long first
	tamperTCBInfo bool

	// APIKey, when set, must arrive as Ocp-Apim-Subscription-Key on the
	// API's paths (401 otherwise); CRL distribution points need none.
	APIKey string

	ts *httptest.Server
}

// New returns an empty server of kind pcs.KindPCS or pcs.KindPCCS.
func New(kind string) *Server {
	return &Server{Kind: kind, tcb: map[string]doc{}, qe: map[string]doc{}, byNumber: map[string]doc{}, pckCRL: map[string]doc{}, hits: map[string]int{}}
}

// AddBaseline serves col's TCB info and QE identity for its TCB evaluation
// data number only (tcbEvaluationDataNumber=N, and update=early when it is
// the highest), not as the standard channel's; its CRLs are not served.
func (s *Server) AddBaseline(col *pcs.Collateral) error {
	id, err := pcs.Identify(col)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addNumber(id, col)
	return nil
}

// SetTCBEvaluationDataNumbers serves body (a tcbevaluationdatanumbers
// response) with its issuer chain for tee.
func (s *Server) SetTCBEvaluationDataNumbers(tee string, body, chain []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.numbers == nil {
		s.numbers = map[string]doc{}
	}
	s.numbers[tee] = doc{body, chain}
}

func (s *Server) addNumber(id pcs.Identity, col *pcs.Collateral) {
	n := fmt.Sprint(id.TCBEvaluationDataNumber)
	s.byNumber[id.TEE+"/"+id.FMSPC+"/"+n] = doc{signedBody("tcbInfo", col.TCBInfo, col.TCBInfoSignature), col.TCBInfoIssuerChain}
	s.byNumber[id.TEE+"/"+n] = doc{signedBody("enclaveIdentity", col.QEIdentity, col.QEIdentitySignature), col.QEIdentityIssuerChain}
	if id.TCBEvaluationDataNumber > s.early[id.TEE+"/"+id.FMSPC] {
		if s.early == nil {
			s.early = map[string]uint32{}
		}
		s.early[id.TEE+"/"+id.FMSPC] = id.TCBEvaluationDataNumber
	}
}

// Add serves col: its TCB info for its FMSPC and TEE, and (replacing any
// earlier ones) its QE identity for the TEE, its PCK CRL for its CA and
// its root CA CRL.
func (s *Server) Add(col *pcs.Collateral) error {
	id, err := pcs.Identify(col)
	if err != nil {
		return err
	}
	if id.PCKCA == "" {
		return fmt.Errorf("pcsfake: the PCK CRL issuer chain names no Platform or Processor CA")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tcb[id.TEE+"/"+id.FMSPC] = doc{signedBody("tcbInfo", col.TCBInfo, col.TCBInfoSignature), col.TCBInfoIssuerChain}
	s.qe[id.TEE] = doc{signedBody("enclaveIdentity", col.QEIdentity, col.QEIdentitySignature), col.QEIdentityIssuerChain}
	s.addNumber(id, col)
	s.pckCRL[id.PCKCA] = doc{col.PCKCRL, col.PCKCRLIssuerChain}
	s.rootCRL = col.RootCACRL
	return nil
}

func signedBody(member string, raw, sig []byte) []byte {
	return []byte(`{"` + member + `":` + string(raw) + `,"signature":"` + hex.EncodeToString(sig) + `"}`)
}

// Fail makes every request answer status (0: serve normally again).
func (s *Server) Fail(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// Stall makes every request wait d before answering (0: no wait); a
// client that gives up ends the wait.
func (s *Server) Stall(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// TamperTCBInfo serves TCB info whose signed text differs in one
// character from what was signed.
func (s *Server) TamperTCBInfo(on bool) {
	s.mu.Lock()
	s.tamperTCBInfo = on
	s.mu.Unlock()
}

// Requests returns how many requests the server has answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// Hits returns the requests per path.
func (s *Server) Hits() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.hits))
	for k, v := range s.hits {
		out[k] = v
	}
	return out
}

// Start serves on a loopback port until the test ends and returns the
// base URL (what --collateral-source takes).
func (s *Server) Start(tb testing.TB) string {
	tb.Helper()
	s.ts = httptest.NewServer(s)
	tb.Cleanup(s.ts.Close)
	return s.ts.URL
}

// URL returns the base URL of a started server.
func (s *Server) URL() string { return s.ts.URL }

// Client returns an HTTP client that sends every request, whatever its
// host, to this server: a PCS source fetches the root CA CRL from the
// distribution point in Intel's certificates
// (https://certificates.trustedservices.intel.com/IntelSGXRootCA.der),
// which the server answers.
func (s *Server) Client() *http.Client {
	target, _ := url.Parse(s.ts.URL)
	return &http.Client{Transport: redirect{target: target, rt: http.DefaultTransport}}
}

type redirect struct {
	target *url.URL
	rt     http.RoundTripper
}

func (r redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host, req.Host = r.target.Scheme, r.target.Host, r.target.Host
	return r.rt.RoundTrip(req)
}

// ServeHTTP answers like PCS or PCCS.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.total++
	s.hits[r.URL.Path]++
	status, delay, tamper := s.status, s.delay, s.tamperTCBInfo
	s.mu.Unlock()
	w.Header().Set("Request-ID", fmt.Sprintf("%032x", time.Now().UnixNano()))
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := r.URL.Path
	if strings.HasSuffix(path, ".der") || strings.HasSuffix(path, ".crl") { // a CRL distribution point: no key, as Intel's
		s.serveRootCRL(w, false)
		return
	}
	if s.APIKey != "" && r.Header.Get(pcs.HeaderAPIKey) != s.APIKey {
		http.Error(w, "access denied due to missing or invalid subscription key", http.StatusUnauthorized)
		return
	}
	tee, rest, ok := splitPath(path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	// update=standard|early or tcbEvaluationDataNumber=N, never both (PCS v4).
	number, update := q.Get("tcbEvaluationDataNumber"), q.Get("update")
	if (rest == "tcb" || rest == "qe/identity") && (number != "" && update != "" ||
		update != "" && update != pcs.UpdateStandard && update != pcs.UpdateEarly || number != "" && !isDigits(number)) {
		http.Error(w, "invalid update or tcbEvaluationDataNumber", http.StatusBadRequest)
		return
	}
	switch {
	case rest == "tcb":
		fmspc := strings.ToLower(q.Get("fmspc"))
		if len(fmspc) != 12 || !isHex(fmspc) {
			http.Error(w, "invalid fmspc", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		d, found := s.tcb[tee+"/"+fmspc]
		if update == pcs.UpdateEarly && s.early[tee+"/"+fmspc] != 0 {
			number = fmt.Sprint(s.early[tee+"/"+fmspc])
		}
		if number != "" {
			d, found = s.byNumber[tee+"/"+fmspc+"/"+number]
		}
		s.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		body := d.body
		if tamper {
			body = bytes.Replace(body, []byte(`"issueDate":"2`), []byte(`"issueDate":"3`), 1)
		}
		s.writeSigned(w, pcs.HeaderTCBInfoIssuerChain, d.chain, body)
	case rest == "qe/identity":
		s.mu.Lock()
		d, found := s.qe[tee]
		if number != "" {
			d, found = s.byNumber[tee+"/"+number]
		}
		s.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		s.writeSigned(w, pcs.HeaderQEIdentityIssuerChain, d.chain, d.body)
	case rest == "tcbevaluationdatanumbers":
		s.mu.Lock()
		d, found := s.numbers[tee]
		s.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		s.writeSigned(w, pcs.HeaderTCBEvaluationDataNumbersIssuerChain, d.chain, d.body)
	case rest == "pckcrl" && tee == "sgx":
		ca := q.Get("ca")
		if ca != "processor" && ca != "platform" {
			http.Error(w, "invalid ca", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		d, found := s.pckCRL[ca]
		s.mu.Unlock()
		if !found {
			http.NotFound(w, r)
			return
		}
		w.Header().Set(pcs.HeaderPCKCRLIssuerChain, pcs.EncodeIssuerChain(d.chain))
		if q.Get("encoding") == "der" {
			w.Header().Set("Content-Type", "application/pkix-crl")
			w.Write(d.body)
			return
		}
		// Without encoding=der: PCS answers PEM, PCCS hex text.
		w.Header().Set("Content-Type", "application/x-pem-file")
		if s.Kind == pcs.KindPCCS {
			w.Write([]byte(hex.EncodeToString(d.body)))
			return
		}
		w.Write(pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: d.body}))
	case rest == "rootcacrl" && tee == "sgx" && s.Kind == pcs.KindPCCS:
		s.serveRootCRL(w, true)
	case rest == "crl" && tee == "sgx" && s.Kind == pcs.KindPCCS:
		if q.Get("uri") == "" {
			http.Error(w, "missing uri", http.StatusBadRequest)
			return
		}
		s.serveRootCRL(w, false)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveRootCRL(w http.ResponseWriter, hexText bool) {
	s.mu.Lock()
	crl := s.rootCRL
	s.mu.Unlock()
	if crl == nil {
		http.Error(w, "no root CA CRL", http.StatusNotFound)
		return
	}
	if hexText {
		w.Write([]byte(hex.EncodeToString(crl)))
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Write(crl)
}

func (s *Server) writeSigned(w http.ResponseWriter, header string, chain, body []byte) {
	w.Header().Set(header, pcs.EncodeIssuerChain(chain))
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// splitPath splits /{sgx|tdx}/certification/v4/{rest}.
func splitPath(p string) (tee, rest string, ok bool) {
	parts := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 4)
	if len(parts) != 4 || (parts[0] != "sgx" && parts[0] != "tdx") || parts[1] != "certification" || parts[2] != "v4" {
		return "", "", false
	}
	return parts[0], parts[3], true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != "" && len(s) < 10
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

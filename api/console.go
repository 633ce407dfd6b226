package api

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/avowhq/avow/console"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
)

// ConsoleOptions configure the web console (/ui/) and the management
// endpoints made for it.
type ConsoleOptions struct {
	// Off disables /ui/ (the endpoints below stay: they are API).
	Off bool
	// Dev is avow serve --dev: the console offers the simulated platform.
	Dev bool
	// Sim is the simulated platform of --dev; it makes quotes for
	// POST /management/sim/quote (nil: the route answers 404).
	Sim *sgxsim.Platform
	// OIDC enables sign-in with the configured OpenID issuer (nil: admin
	// tokens only).
	OIDC *console.OIDC
}

// consolePath reports whether path is one of the console's routes: /ui and
// the management endpoints added for it.
func consolePath(path string) bool {
	switch path {
	case "/ui", "/management/whoami", "/management/policy:check", "/management/sim/quote":
		return true
	}
	if strings.HasPrefix(path, "/ui/") {
		return true
	}
	rest, ok := strings.CutPrefix(path, "/management/providers/")
	name, sub, _ := strings.Cut(rest, "/")
	return ok && name != "" && sub == "playground"
}

// serveConsole serves /ui and the console's management endpoints.
func (s *Server) serveConsole(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if path == "/ui" || strings.HasPrefix(path, "/ui/") {
		if s.console == nil {
			s.writeError(w, r, ErrNotFound.Wrapf("the console is disabled (avow serve --console=false)"))
			return
		}
		s.console.ServeHTTP(w, r)
		return
	}
	who, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	switch path {
	case "/management/whoami":
		if s.method(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]string{"id": who.ID, "role": string(who.Role)})
		}
	case "/management/policy:check":
		s.policyCheck(w, r, who)
	case "/management/sim/quote":
		s.simQuote(w, r, who)
	default:
		// The playground attests: a provider whose public network access
		// is disabled answers it only on the private networks, as its
		// data plane.
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/management/providers/"), "/playground")
		if s.networkAllowed(w, r, name) {
			s.playground(w, r, who, name)
		}
	}
}

type positioned struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// policyCheck serves POST /management/policy:check (reader): the CLI's
// policy check as JSON.
func (s *Server) policyCheck(w http.ResponseWriter, r *http.Request, who *service.Principal) {
	if !s.method(w, r, http.MethodPost) || !s.allow(w, r, who, store.RoleReader) {
		return
	}
	var in struct {
		Policy *string `json:"policy"`
		Type   string  `json:"type"`
	}
	if err := decodeJSON(r, MaxPolicyBody, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Policy == nil {
		s.writeError(w, r, ErrBadJSON.Wrapf("the body has no policy"))
		return
	}
	if in.Type != "" {
		if _, err := s.svc.CanonicalType(in.Type); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, checkPolicy(*in.Policy))
}

// checkPolicy checks a policy text, or the policy of a JWS document.
func checkPolicy(text string) map[string]any {
	out := map[string]any{"valid": false, "errors": []positioned{}, "warnings": []positioned{}}
	warnings := []positioned{}
	if policy.LooksLikeDocument(text) {
		doc, err := policy.ParseDocument(strings.TrimSpace(text))
		if err != nil {
			out["errors"] = []positioned{{Code: errs.Code(err), Message: errs.ClientDetail(err)}}
			return out
		}
		out["document"] = map[string]any{"signed": doc.Signed, "tokenHash": doc.TokenHash()}
		for _, wn := range doc.Warnings {
			warnings = append(warnings, positioned{Line: wn.Line, Column: wn.Column, Code: wn.Code, Message: wn.Message})
		}
		text = doc.Text
	}
	p, err := policy.Parse(text)
	if err != nil {
		var e positioned
		if se, ok := err.(*policy.SyntaxError); ok {
			e = positioned{Line: se.Line, Column: se.Column, Code: se.Code, Message: se.Message}
		} else {
			e = positioned{Code: errs.Code(err), Message: errs.ClientDetail(err)}
		}
		out["errors"] = []positioned{e}
		out["warnings"] = warnings
		return out
	}
	for _, wn := range p.Warnings() {
		warnings = append(warnings, positioned{Line: wn.Line, Column: wn.Column, Code: wn.Code, Message: wn.Message})
	}
	out["valid"] = true
	out["warnings"] = warnings
	out["canonical"] = p.Canonical()
	out["condensed"] = p.Condensed()
	out["version"] = p.Version()
	out["hash"] = policy.PolicyHash(text)
	out["rules"] = map[string]int{"configuration": p.RuleCount(policy.Configuration),
		"authorization": p.RuleCount(policy.Authorization), "issuance": p.RuleCount(policy.Issuance)}
	return out
}

// simQuote serves POST /management/sim/quote (policy-admin, --dev only): a
// quote of the server's simulated platform.
func (s *Server) simQuote(w http.ResponseWriter, r *http.Request, who *service.Principal) {
	if s.sim == nil {
		s.writeError(w, r, ErrNotFound.Wrapf("the simulated platform is only served with avow serve --dev"))
		return
	}
	if !s.method(w, r, http.MethodPost) || !s.allow(w, r, who, store.RolePolicyAdmin) {
		return
	}
	var in struct {
		TEE         string `json:"tee"`
		MRSigner    string `json:"mrsigner"`
		MREnclave   string `json:"mrenclave"`
		ProductID   uint16 `json:"productId"`
		SVN         uint16 `json:"svn"`
		Debug       bool   `json:"debug"`
		RuntimeData string `json:"runtimeData"`
	}
	if err := decodeJSON(r, MaxMgmtBody, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	o := sgxsim.QuoteOptions{TEE: sgxsim.SGX, ISVProdID: in.ProductID, ISVSVN: in.SVN, Debug: in.Debug}
	if in.TEE != "" {
		tee, err := sgxsim.ParseTEE(strings.ToLower(in.TEE))
		if err != nil {
			s.writeError(w, r, ErrBadJSON.Wrapf("tee: %s", errs.ClientDetail(err)))
			return
		}
		o.TEE = tee
	}
	for _, f := range []struct {
		name, hex string
		dst       *[]byte
	}{{"mrsigner", in.MRSigner, &o.MRSigner}, {"mrenclave", in.MREnclave, &o.MREnclave}} {
		if f.hex == "" {
			continue
		}
		b, err := hex.DecodeString(strings.TrimSpace(f.hex))
		if err != nil || len(b) != 32 {
			s.writeError(w, r, ErrBadJSON.Wrapf("%s must be 64 hex digits", f.name))
			return
		}
		*f.dst = b
	}
	if in.RuntimeData != "" {
		data, err := b64("runtimeData", in.RuntimeData)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		sum := sha256.Sum256(data)
		o.ReportData = sum[:]
	}
	q, err := s.sim.Quote(o)
	if err != nil {
		s.writeError(w, r, ErrBadJSON.Wrapf("%s", errs.ClientDetail(err)))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"quote": base64.RawURLEncoding.EncodeToString(q)})
}

// playground serves POST /management/providers/{name}/playground (reader):
// the evidence through the real pipeline as a draft attestation, with the
// trace of the policy (service.Playground).
func (s *Server) playground(w http.ResponseWriter, r *http.Request, who *service.Principal, provider string) {
	if !s.method(w, r, http.MethodPost) || !s.allow(w, r, who, store.RoleReader) {
		return
	}
	// The body is an attest request body (decoded by the data plane's own
	// decoder, so every shape the attest route takes works here) with two
	// more members: the type and the policy.
	err := requireJSON(r)
	var raw []byte
	if err == nil {
		raw, err = readBody(r, MaxAttestBody)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		s.writeError(w, r, ErrBadJSON.Wrapf("%v", err))
		return
	}
	var typeName string
	var draft *string
	if err := json.Unmarshal(members["type"], &typeName); err != nil || typeName == "" {
		s.writeError(w, r, ErrBadJSON.Wrapf("the body has no \"type\" (an attestation type such as SgxEnclave)"))
		return
	}
	if p, ok := members["policy"]; ok {
		if err := json.Unmarshal(p, &draft); err != nil {
			s.writeError(w, r, ErrBadJSON.Wrapf("policy must be a string: %v", err))
			return
		}
	}
	delete(members, "type")
	delete(members, "policy")
	typ, err := s.svc.AttestationType(typeName)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, _ := json.Marshal(members)
	req, err := decodeAttest(body, typ)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if draft != nil {
		text := *draft
		if policy.LooksLikeDocument(text) {
			doc, err := policy.ParseDocument(strings.TrimSpace(text))
			if err != nil {
				s.writeError(w, r, ErrBadJSON.Wrapf("policy: %s", errs.ClientDetail(err)))
				return
			}
			text = doc.Text
		}
		req.DraftPolicy = &text
	}
	if !s.acquireAttest(w, r) {
		return
	}
	defer s.releaseAttest()
	res, err := inWorker(s, r.Context(), func() (*service.PlaygroundResult, error) {
		return s.svc.Playground(r.Context(), who, provider, *req)
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := map[string]any{"permitted": res.Permitted, "stage": res.Stage, "policyHash": res.PolicyHash,
		"trace": nonNilSlice(res.Trace), "incomingClaims": nonNilSlice(res.Incoming), "issuedClaims": res.Issued,
		"warnings": nonNilSlice(res.Warnings), "reason": res.Reason}
	if !res.Permitted {
		out["code"], out["message"] = res.Code, res.Message
	} else {
		out["tokenClaims"], out["token"] = res.TokenClaims, res.Token
	}
	if res.Note != "" {
		out["note"] = res.Note
	}
	writeJSON(w, http.StatusOK, out)
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func newConsole(svc *service.Service, o ConsoleOptions) http.Handler {
	if o.Off {
		return nil
	}
	var types []console.Type
	for _, name := range svc.TypeNames() {
		text, err := svc.DefaultPolicy(name)
		if err == nil {
			types = append(types, console.Type{Name: name, DefaultPolicy: text})
		}
	}
	return console.New(console.Config{Dev: o.Dev, ProviderDomain: svc.ProviderDomain(), OIDC: o.OIDC, Types: types})
}

package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// apiVersions are the MAA api-versions avow answers (maa.md §1.1).
var apiVersions = map[string]bool{
	"2018-09-01-preview": true, "2020-10-01": true, "2022-08-01": true,
	"2022-09-01-preview": true, "2023-04-01-preview": true, "2025-06-01": true,
}

func checkAPIVersion(r *http.Request) error {
	v := r.URL.Query().Get("api-version")
	if v == "" {
		return ErrAPIVersion.Wrapf("api-version is required (for example api-version=2022-08-01)")
	}
	if !apiVersions[v] {
		return ErrAPIVersion.Wrapf("api-version %q is not supported", v)
	}
	return nil
}

// dataPlane serves MAA's routes under /providers/{name}/.
func (s *Server) dataPlane(w http.ResponseWriter, r *http.Request, rest string) {
	name, sub, _ := strings.Cut(rest, "/")
	if name == "" {
		s.writeError(w, r, ErrNotFound.Wrapf("no provider in the path"))
		return
	}
	ctx := r.Context()
	switch {
	case sub == "certs":
		if !s.method(w, r, http.MethodGet) {
			return
		}
		body, err := s.svc.JWKS(ctx, name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeRaw(w, http.StatusOK, "application/json; charset=utf-8", body)
	case sub == ".well-known/openid-configuration":
		if !s.method(w, r, http.MethodGet) {
			return
		}
		body, err := s.svc.OpenIDMetadata(ctx, name)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeRaw(w, http.StatusOK, "application/json; charset=utf-8", body)
	case strings.HasPrefix(sub, "attest/"):
		s.attest(w, r, name, strings.TrimPrefix(sub, "attest/"))
	case strings.HasPrefix(sub, "policies/"):
		s.policies(w, r, name, strings.TrimPrefix(sub, "policies/"))
	case strings.HasPrefix(sub, "tcbbaselines/"):
		s.tcbBaselines(w, r, name, strings.TrimPrefix(sub, "tcbbaselines/"))
	case sub == "certificates" || strings.HasPrefix(sub, "certificates:"):
		s.certificates(w, r, name, strings.TrimPrefix(sub, "certificates"))
	default:
		s.writeError(w, r, ErrNotFound.Wrapf("%s", r.URL.Path))
	}
}

func (s *Server) method(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for _, m := range allowed {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	s.writeError(w, r, ErrMethodNotAllowed.Wrapf("%s %s", r.Method, r.URL.Path))
	return false
}

// readBody reads at most limit bytes of the request body.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	b, _, err := readBodyWithin(r, limit, nil)
	return b, err
}

// bodyChunk is the most a body read allocates ahead of the bytes received:
// the declared Content-Length is not trusted, so a client that declares
// 1 MiB and sends a byte a second makes the server hold about what it
// sent.
const bodyChunk = 32 << 10

// readBodyWithin reads at most limit bytes of the request body, reserving
// the memory it holds from budget as it grows (429 when the budget is
// spent). It returns the bytes reserved, which the caller gives back when
// it no longer holds the body.
func readBodyWithin(r *http.Request, limit int64, budget *byteBudget) ([]byte, int64, error) {
	if err := checkEncoding(r); err != nil {
		return nil, 0, err
	}
	if r.ContentLength > limit {
		return nil, 0, ErrTooLarge.Wrapf("%d bytes, the limit is %d", r.ContentLength, limit)
	}
	var held int64
	fail := func(err error) ([]byte, int64, error) {
		budget.give(held)
		return nil, 0, err
	}
	var buf []byte
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return fail(ErrTooLarge.Wrapf("the limit is %d bytes", limit))
			}
			size := int64(max(2*cap(buf), bodyChunk))
			if r.ContentLength >= 0 && int64(cap(buf)) <= r.ContentLength {
				// Up to the declared length, and a byte more to see the end
				// without regrowing.
				size = min(size, r.ContentLength+1)
			}
			size = min(size, limit+1)
			if !budget.take(size - int64(cap(buf))) {
				return fail(ErrRateLimited.Wrapf("attestation bodies being received or attested hold %d bytes, the limit", budget.max))
			}
			held += size - int64(cap(buf))
			grown := make([]byte, len(buf), size)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(ErrBadJSON.Wrapf("reading the body: %v", err))
		}
	}
	if int64(len(buf)) > limit {
		return fail(ErrTooLarge.Wrapf("the limit is %d bytes", limit))
	}
	return buf, held, nil
}

// requireJSON refuses bodies declared as something other than JSON.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return ErrMediaType.Wrapf("Content-Type %q; send application/json", ct)
	}
	return nil
}

// b64 decodes MAA's binary fields: base64url without padding, tolerating
// padding and the standard alphabet.
func b64(field, s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = urlSafe(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadBase64.Wrapf("%s: %v", field, err)
	}
	return b, nil
}

// dataJSON is runtimeData / initTimeData.
type dataJSON struct {
	Data     *string `json:"data"`
	DataType string  `json:"dataType"`
}

// attestBody is the union of MAA's attest request shapes; encoding/json
// matches names case-insensitively, so inittimeData and the legacy
// Quote/EnclaveHeldData match too.
type attestBody struct {
	Quote  *string `json:"quote"`
	Report *string `json:"report"`
	// Evidence is the member of types whose evidence is a JSON value
	// (NvidiaGpu's list of GPUs), handed to the type as it is.
	Evidence        json.RawMessage `json:"evidence"`
	RuntimeData     *dataJSON       `json:"runtimeData"`
	InitTimeData    *dataJSON       `json:"initTimeData"`
	DraftPolicy     *string         `json:"draftPolicyForAttestation"`
	Nonce           *string         `json:"nonce"`
	EnclaveHeldData *string         `json:"enclaveHeldData"`
}

// attest reads the request, then takes an attestation slot and runs the
// pipeline. The body is read first, under the server's read timeout and
// the attestation body budget: a client that sends its body slowly must
// not hold one of the slots that bound the attestations in progress
// (issue 13: four connections trickling a body denied every attestation at
// --attest-concurrency 4).
func (s *Server) attest(w http.ResponseWriter, r *http.Request, provider, attType string) {
	if !s.method(w, r, http.MethodPost) {
		return
	}
	req, held, err := s.parseAttest(r, attType)
	defer s.attestBodies.give(held)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if !s.acquireAttest(w, r) {
		return
	}
	defer s.releaseAttest()
	if s.attestHook != nil {
		s.attestHook()
	}
	res, err := s.runAttest(r.Context(), provider, *req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeToken(w, res.Token)
}

// parseAttest checks an attestation request and reads its body; held is
// what the body reserved of the attestation body budget.
func (s *Server) parseAttest(r *http.Request, attType string) (req *service.AttestRequest, held int64, err error) {
	if err := checkAPIVersion(r); err != nil {
		return nil, 0, err
	}
	t, err := s.svc.AttestationType(attType)
	if err != nil {
		return nil, 0, err
	}
	if err := requireJSON(r); err != nil {
		return nil, 0, err
	}
	raw, held, err := readBodyWithin(r, MaxAttestBody, s.attestBodies)
	if err != nil {
		return nil, 0, err
	}
	req, err = decodeAttest(raw, t)
	return req, held, err
}

// decodeAttest decodes an attestation body of type t: MAA's request, whose
// evidence is in the member the type names (quote or report).
func decodeAttest(raw []byte, t attestation.Type) (*service.AttestRequest, error) {
	var body attestBody
	if err := decodeAttestBody(raw, &body); err != nil {
		return nil, ErrBadJSON.Wrapf("%v", err)
	}
	req := &service.AttestRequest{Type: t.Name(), DraftPolicy: body.DraftPolicy, Nonce: body.Nonce}
	if t.EvidenceField() == "evidence" {
		if err := jsonEvidence(req, body); err != nil {
			return nil, err
		}
		return withData(req, body)
	}
	evidence, field := body.Quote, "quote"
	if t.EvidenceField() == "report" {
		evidence, field = body.Report, "report"
		if t.Name() == "OpenEnclave" && body.Report == nil && body.Quote != nil {
			// The pre-release (2018-09-01-preview) OpenEnclave body: the
			// report under "quote". Deprecated; see docs/azure-sdk.md.
			evidence, field = body.Quote, "quote"
		} else if t.Name() == "OpenEnclave" && body.Report != nil && body.Quote != nil && *body.Report != *body.Quote {
			return nil, ErrBadJSON.Wrapf("the body has both \"report\" and a different \"quote\"; send the OpenEnclave report as \"report\" only")
		}
	}
	if evidence == nil {
		return nil, ErrBadJSON.Wrapf("the body has no %q", field)
	}
	var err error
	if req.Evidence, err = b64(field, *evidence); err != nil {
		return nil, err
	}
	if err := extraMembers(req, raw, t); err != nil {
		return nil, err
	}
	return withData(req, body)
}

// jsonEvidence hands a type whose evidence member is a JSON value the
// object {"evidence": <the member>, "nonce": <the request's nonce>}: the
// nonce of such evidence (NVIDIA's GPU nonce) is part of what the type
// verifies; the service still echoes it in the token's nonce claim.
func jsonEvidence(req *service.AttestRequest, body attestBody) error {
	if len(body.Evidence) == 0 || string(body.Evidence) == "null" {
		return ErrBadJSON.Wrapf("the body has no \"evidence\"")
	}
	v := struct {
		Evidence json.RawMessage `json:"evidence"`
		Nonce    *string         `json:"nonce,omitempty"`
	}{body.Evidence, body.Nonce}
	b, err := json.Marshal(v)
	if err != nil {
		return ErrBadJSON.Wrapf("evidence: %v", err)
	}
	req.Evidence = b
	return nil
}

// extraMembers adds the raw members an attestation.ExtraParser type
// names (matched case-insensitively, as encoding/json does).
func extraMembers(req *service.AttestRequest, raw []byte, t attestation.Type) error {
	xp, ok := t.(attestation.ExtraParser)
	if !ok {
		return nil
	}
	// Most requests carry none: skip the second decode unless a name is
	// in the body (case-insensitively, as the members are matched).
	present := false
	for _, name := range xp.ExtraFields() {
		if containsFold(raw, name) {
			present = true
		}
	}
	if !present {
		return nil
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return ErrBadJSON.Wrapf("%v", err)
	}
	for _, name := range xp.ExtraFields() {
		for k, v := range all {
			if strings.EqualFold(k, name) && string(v) != "null" {
				if req.Extra == nil {
					req.Extra = map[string][]byte{}
				}
				req.Extra[name] = v
			}
		}
	}
	return nil
}

// containsFold reports whether s holds name in any case (ASCII).
func containsFold(s []byte, name string) bool {
	n := len(name)
	if n == 0 {
		return true
	}
	b, c := []byte(name), name[0]|0x20
	for i := 0; i+n <= len(s); i++ {
		if s[i]|0x20 == c && bytes.EqualFold(s[i:i+n], b) {
			return true
		}
	}
	return false
}

// withData adds the request's runtime and init-time data.
func withData(req *service.AttestRequest, body attestBody) (*service.AttestRequest, error) {
	var err error
	if req.RuntimeData, err = data("runtimeData", body.RuntimeData); err != nil {
		return nil, err
	}
	if req.InitTimeData, err = data("initTimeData", body.InitTimeData); err != nil {
		return nil, err
	}
	if body.EnclaveHeldData != nil && req.RuntimeData == nil {
		b, err := b64("enclaveHeldData", *body.EnclaveHeldData)
		if err != nil {
			return nil, err
		}
		req.RuntimeData = &service.Data{Bytes: b, DataType: "Binary"}
	}
	return req, nil
}

// data reads runtimeData or initTimeData. An object that names a dataType
// but carries no data is refused rather than taken as absent: the caller
// meant to send data and would otherwise get a token without its claims
// (azure-security-attestation 1.0.1 sends initTimeData {"dataType":
// "JSON"} and no data for inittime_json). An empty object is absent.
func data(field string, d *dataJSON) (*service.Data, error) {
	if d == nil {
		return nil, nil
	}
	if d.Data == nil {
		if d.DataType != "" {
			return nil, ErrBadJSON.Wrapf("%s has dataType %q but no data", field, d.DataType)
		}
		return nil, nil
	}
	b, err := b64(field+".data", *d.Data)
	if err != nil {
		return nil, err
	}
	return &service.Data{Bytes: b, DataType: d.DataType}, nil
}

// jwsBody reads a JWS sent raw (text/plain, or labelled JSON by the C++
// SDK) or as a JSON string literal.
func jwsBody(r *http.Request) (string, error) {
	raw, err := readBody(r, MaxPolicyBody)
	if err != nil {
		return "", err
	}
	text := strings.TrimSpace(string(raw))
	if strings.HasPrefix(text, `"`) {
		var s string
		if err := json.Unmarshal([]byte(text), &s); err != nil {
			return "", ErrBadJSON.Wrapf("the body is a malformed JSON string: %v", err)
		}
		text = strings.TrimSpace(s)
	}
	if text == "" {
		return "", ErrBadJSON.Wrapf("the body is empty; send a JWS")
	}
	return text, nil
}

func (s *Server) policies(w http.ResponseWriter, r *http.Request, provider, rest string) {
	// The caller first, so that a refused change names its actor in the
	// audit log whatever the reason.
	who, ok := s.dataPlaneCaller(w, r, provider)
	if !ok {
		return
	}
	if err := checkAPIVersion(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	attType, action, _ := strings.Cut(rest, ":")
	var err error
	ctx := r.Context()
	var tok string
	var warnings []policy.Warning
	switch {
	case action == "" && r.Method == http.MethodGet:
		tok, err = s.svc.GetPolicy(ctx, who, provider, attType)
	case action == "" && r.Method == http.MethodPut:
		if !s.allow(w, r, who, store.RolePolicyAdmin) {
			return
		}
		var jws string
		if jws, err = jwsBody(r); err == nil {
			tok, warnings, err = s.svc.SetPolicy(ctx, who, provider, attType, jws)
		}
	case action == "reset" && r.Method == http.MethodPost:
		if !s.allow(w, r, who, store.RolePolicyAdmin) {
			return
		}
		var jws string
		if jws, err = jwsBody(r); err == nil {
			tok, err = s.svc.ResetPolicy(ctx, who, provider, attType, jws)
		}
	case action == "" || action == "reset":
		err = ErrMethodNotAllowed.Wrapf("%s %s", r.Method, r.URL.Path)
	default:
		err = ErrNotFound.Wrapf("%s", r.URL.Path)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(warnings) > 0 {
		// An avow addition: MAA's SDKs read "token" and ignore the rest,
		// and a policy without findings gets MAA's body exactly.
		writeJSON(w, http.StatusOK, policyResultBody{Token: tok, Warnings: warnings})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

// tcbBaselineAPIVersions are the api-versions of MAA's TcbBaselines_Get
// (maa.md §1.1): the 2022-09-01-preview that introduced it and 2025-06-01.
var tcbBaselineAPIVersions = map[string]bool{"2022-09-01-preview": true, "2025-06-01": true}

// tcbBaselines serves GET {attestUri}/tcbbaselines/{type}: the TCB
// baselines the provider's policy can select, with the one it selects
// (docs/tcb-baselines.md). Access as for GET policies/{type}.
func (s *Server) tcbBaselines(w http.ResponseWriter, r *http.Request, provider, attType string) {
	who, ok := s.dataPlaneCaller(w, r, provider)
	if !ok {
		return
	}
	if !s.method(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query()
	if v := q.Get("api-version"); !tcbBaselineAPIVersions[v] {
		s.writeError(w, r, ErrAPIVersion.Wrapf("api-version %q: tcbbaselines answers 2022-09-01-preview and 2025-06-01", v))
		return
	}
	selectedOnly := false
	if v := q.Get("provideCurrentTcbInPolicy"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.writeError(w, r, ErrBadQuery.Wrapf("provideCurrentTcbInPolicy %q is not true or false", v))
			return
		}
		selectedOnly = b
	}
	if attType == "" || strings.Contains(attType, "/") {
		s.writeError(w, r, ErrNotFound.Wrapf("%s", r.URL.Path))
		return
	}
	list, err := s.svc.TCBBaselines(r.Context(), who, provider, attType, selectedOnly)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tcbBaselines": list})
}

// policyResultBody is the answer of a policy set with lint findings: the
// result token and the warnings (code, message, line, column).
type policyResultBody struct {
	Token    string           `json:"token"`
	Warnings []policy.Warning `json:"warnings"`
}

func (s *Server) certificates(w http.ResponseWriter, r *http.Request, provider, action string) {
	who, ok := s.dataPlaneCaller(w, r, provider) // first: see policies
	if !ok {
		return
	}
	if err := checkAPIVersion(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	var err error
	ctx := r.Context()
	var tok string
	switch {
	case action == "" && r.Method == http.MethodGet:
		tok, err = s.svc.Certificates(ctx, who, provider)
	case (action == ":add" || action == ":remove") && r.Method == http.MethodPost:
		if !s.allow(w, r, who, store.RolePolicyAdmin) {
			return
		}
		var jws string
		if jws, err = jwsBody(r); err == nil {
			tok, err = s.svc.ModifySigners(ctx, who, provider, action == ":add", jws)
		}
	case action == "" || action == ":add" || action == ":remove":
		err = ErrMethodNotAllowed.Wrapf("%s %s", r.Method, r.URL.Path)
	default:
		err = ErrNotFound.Wrapf("%s", r.URL.Path)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

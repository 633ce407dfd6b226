package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

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
	if err := checkEncoding(r); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, ErrTooLarge.Wrapf("%d bytes, the limit is %d", r.ContentLength, limit)
	}
	size := int64(512)
	if r.ContentLength > 0 {
		size = r.ContentLength + bytes.MinRead // ReadFrom keeps MinRead free: no regrowth
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	b := buf.Bytes()
	if err != nil {
		return nil, ErrBadJSON.Wrapf("reading the body: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, ErrTooLarge.Wrapf("the limit is %d bytes", limit)
	}
	return b, nil
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
	Quote           *string   `json:"quote"`
	Report          *string   `json:"report"`
	RuntimeData     *dataJSON `json:"runtimeData"`
	InitTimeData    *dataJSON `json:"initTimeData"`
	DraftPolicy     *string   `json:"draftPolicyForAttestation"`
	Nonce           *string   `json:"nonce"`
	EnclaveHeldData *string   `json:"enclaveHeldData"`
}

func (s *Server) attest(w http.ResponseWriter, r *http.Request, provider, attType string) {
	if !s.method(w, r, http.MethodPost) {
		return
	}
	if !s.acquireAttest(w, r) {
		return
	}
	defer s.releaseAttest()
	req, err := parseAttest(r, attType)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.runAttest(r.Context(), provider, *req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeToken(w, res.Token)
}

func parseAttest(r *http.Request, attType string) (*service.AttestRequest, error) {
	if err := checkAPIVersion(r); err != nil {
		return nil, err
	}
	t, err := service.CanonicalType(attType)
	if err != nil {
		return nil, err
	}
	if err := requireJSON(r); err != nil {
		return nil, err
	}
	raw, err := readBody(r, MaxAttestBody)
	if err != nil {
		return nil, err
	}
	var body attestBody
	if err := decodeAttestBody(raw, &body); err != nil {
		return nil, ErrBadJSON.Wrapf("%v", err)
	}
	req := &service.AttestRequest{Type: t, DraftPolicy: body.DraftPolicy, Nonce: body.Nonce}
	evidence, field := body.Quote, "quote"
	if t == service.TypeOpenEnclave {
		evidence, field = body.Report, "report"
	}
	if evidence == nil {
		return nil, ErrBadJSON.Wrapf("the body has no %q", field)
	}
	if req.Evidence, err = b64(field, *evidence); err != nil {
		return nil, err
	}
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

func data(field string, d *dataJSON) (*service.Data, error) {
	if d == nil || d.Data == nil {
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
	who, ok := s.authenticate(w, r)
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
	switch {
	case action == "" && r.Method == http.MethodGet:
		tok, err = s.svc.GetPolicy(ctx, who, provider, attType)
	case action == "" && r.Method == http.MethodPut:
		if !s.allow(w, r, who, store.RolePolicyAdmin) {
			return
		}
		var jws string
		if jws, err = jwsBody(r); err == nil {
			tok, err = s.svc.SetPolicy(ctx, who, provider, attType, jws)
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
	writeJSON(w, http.StatusOK, map[string]string{"token": tok})
}

func (s *Server) certificates(w http.ResponseWriter, r *http.Request, provider, action string) {
	who, ok := s.authenticate(w, r) // first: see policies
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

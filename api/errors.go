package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/avowhq/avow/errs"
)

// API-level errors.
var (
	ErrNotFound         = errs.New("not_found", "there is no such resource")
	ErrMethodNotAllowed = errs.New("method_not_allowed", "the method is not allowed on this resource")
	ErrBadJSON          = errs.New("invalid_json", "the request body is not valid JSON of the expected shape")
	ErrBadBase64        = errs.New("invalid_base64", "a binary field is not base64url")
	ErrTooLarge         = errs.New("request_too_large", "the request body is larger than allowed")
	ErrMediaType        = errs.New("unsupported_media_type", "the content type is not supported for this request")
	ErrAPIVersion       = errs.New("invalid_api_version", "the api-version query parameter is missing or not supported")
	errInternal         = errs.New("internal", "internal error")
)

// statusOf maps a stable error code to its HTTP status. Unknown codes of
// typed errors are client errors (400); untyped errors are 500.
var statusOf = map[string]int{
	"unauthorized":                   http.StatusUnauthorized,
	"forbidden":                      http.StatusForbidden,
	"shared_provider_read_only":      http.StatusForbidden,
	"public_network_access_disabled": http.StatusForbidden,
	"not_found":                      http.StatusNotFound,
	"provider_not_found":             http.StatusNotFound,
	"unknown_attestation_type":       http.StatusNotFound,
	"method_not_allowed":             http.StatusMethodNotAllowed,
	"too_many_requests":              http.StatusTooManyRequests,
	"conflict":                       http.StatusConflict,
	"request_too_large":              http.StatusRequestEntityTooLarge,
	"unsupported_media_type":         http.StatusUnsupportedMediaType,
	"internal":                       http.StatusInternalServerError,
	"store_unavailable":              http.StatusServiceUnavailable,
	"token_issue_failed":             http.StatusInternalServerError,
	"signing_key_invalid":            http.StatusInternalServerError,
	"key_unsealing_failed":           http.StatusInternalServerError,
}

// errorBody is MAA's error body.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		// RequestID repeats x-ms-request-id (an avow addition to MAA's
		// body), so that a logged or pasted error names its request.
		RequestID string `json:"requestId,omitempty"`
	} `json:"error"`
}

// writeError renders err as MAA's error body. Typed errors show their
// message and cause (causes are written for clients: no secrets, no SQL);
// anything else is logged and shown as "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *errs.Error
	status := http.StatusBadRequest
	var body errorBody
	if errors.As(err, &e) {
		body.Error.Code = e.Code
		body.Error.Message = errs.Detail(e) // from the typed error on: its sentence, then the causes, each once
		if st, ok := statusOf[e.Code]; ok {
			status = st
		}
	} else {
		body.Error.Code, body.Error.Message, status = errInternal.Code, errInternal.Message, http.StatusInternalServerError
	}
	if status >= 500 {
		s.log.Error("request failed", "request_id", requestID(r), "method", r.Method, "path", r.URL.Path, "err", err.Error())
		if e != nil {
			body.Error.Message = e.Message // never the internal cause
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="avow"`)
	}
	body.Error.RequestID = requestID(r)
	if status < 500 {
		s.auditRefused(r, err)
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeRaw(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

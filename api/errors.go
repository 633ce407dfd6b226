package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/avowhq/avow/errs"
)

// API-level errors.
var (
	ErrNotFound         = errs.New("not_found", "there is no such resource").WithStatus(http.StatusNotFound)
	ErrMethodNotAllowed = errs.New("method_not_allowed", "the method is not allowed on this resource").WithStatus(http.StatusMethodNotAllowed)
	ErrBadJSON          = errs.New("invalid_json", "the request body is not valid JSON of the expected shape")
	ErrBadBase64        = errs.New("invalid_base64", "a binary field is not base64url")
	ErrTooLarge         = errs.New("request_too_large", "the request body is larger than allowed").WithStatus(http.StatusRequestEntityTooLarge)
	ErrMediaType        = errs.New("unsupported_media_type", "the content type is not supported for this request").WithStatus(http.StatusUnsupportedMediaType)
	ErrAPIVersion       = errs.New("invalid_api_version", "the api-version query parameter is missing or not supported")
	errInternal         = errs.Internal("internal error")
)

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

// writeError renders err as MAA's error body with the status the error
// carries (errs.HTTPStatus). Typed errors show their sentence and the
// causes their authors chose to show (errs.ClientDetail: no driver, system
// or library text); anything else, and every 5xx, is logged and shows
// only its sentence or "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *errs.Error
	status := errs.HTTPStatus(err)
	var body errorBody
	if errors.As(err, &e) {
		body.Error.Code = e.Code
		body.Error.Message = errs.ClientDetail(e) // from the typed error on: its sentence, then the shown causes, each once
	} else {
		body.Error.Code, body.Error.Message = errInternal.Code, errInternal.Message
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

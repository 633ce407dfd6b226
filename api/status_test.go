package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// TestErrorStatuses: the statuses the errors of the packages linked into
// the server carry (errs.WithStatus at their definition) — no code with two
// statuses, and the ones clients rely on as MAA answers them.
func TestErrorStatuses(t *testing.T) {
	want := map[string]int{
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
	for code, status := range want {
		if got, _ := errs.StatusOfCode(code); got != status {
			t.Errorf("%s: status %d, want %d", code, got, status)
		}
	}
	for _, code := range errs.Codes() {
		if _, conflicting := errs.StatusOfCode(code); conflicting {
			t.Errorf("%s is given two different HTTP statuses", code)
		}
	}
}

// TestErrorBodyHidesForeignCauses: an error whose cause is a library's or a
// driver's text is answered with its sentence and status, not that text; a
// detail the code chose to show (Wrapf) is shown.
func TestErrorBodyHidesForeignCauses(t *testing.T) {
	e := newEnv(t, Options{})
	driver := errors.New(`ERROR: duplicate key value violates unique constraint "providers_name_key" (SQLSTATE 23505)`)
	for _, c := range []struct {
		err     error
		status  int
		message string
	}{
		{store.ErrConflict.Wrap(driver), http.StatusConflict, store.ErrConflict.Message},
		{store.ErrConflict.Wrapf("provider %s exists", "contoso"), http.StatusConflict, store.ErrConflict.Message + ": provider contoso exists"},
		{fmt.Errorf("creating: %w", service.ErrInvalidRequest.Wrap(driver)), http.StatusBadRequest, service.ErrInvalidRequest.Message},
	} {
		w := httptest.NewRecorder()
		e.api.writeError(w, httptest.NewRequest("POST", "/management/providers", nil), c.err)
		var b errBody
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		if w.Code != c.status || b.Error.Message != c.message || strings.Contains(w.Body.String(), "SQLSTATE") {
			t.Errorf("%v: %d %s\nwant %d %q", c.err, w.Code, w.Body, c.status, c.message)
		}
	}
}

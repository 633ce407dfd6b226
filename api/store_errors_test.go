package api

import (
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
)

// TestStoreErrorsWithoutDriverText: a unique violation and a driver
// failure raised by a real database reach a client as the store's codes
// and fixed sentences; the driver's text is logged at most.
func TestStoreErrorsWithoutDriverText(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "avow.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	exec := func(q string) {
		t.Helper()
		if _, err := raw.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// A constraint the store does not check first: the database refuses.
	exec(`CREATE UNIQUE INDEX test_one_document ON policies (document)`)
	if _, err := st.CreateProvider(ctx, store.Provider{Name: "p", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetPolicy(ctx, store.Policy{Provider: "p", AttestationType: "SgxEnclave", Document: "same"}); err != nil {
		t.Fatal(err)
	}
	_, unique := st.SetPolicy(ctx, store.Policy{Provider: "p", AttestationType: "OpenEnclave", Document: "same"})
	if !errors.Is(unique, store.ErrConflict) {
		t.Fatalf("unique violation: %v", unique)
	}
	var driver interface{ Code() int }
	if !errors.As(unique, &driver) {
		t.Errorf("the driver's error is not kept as the cause of %v", unique)
	}
	// A driver failure.
	exec(`DROP TABLE admin_tokens`)
	_, failure := st.GetAdminTokenByHash(ctx, make([]byte, 32))
	if !errors.Is(failure, store.ErrStore) {
		t.Fatalf("driver failure: %v", failure)
	}

	leaks := []string{"UNIQUE", "constraint", "policies.document", "no such table", "admin_tokens", "SQL", "(2067)"}
	for _, c := range []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{unique, http.StatusConflict, store.ErrConflict.Code, store.ErrConflict.Message},
		{failure, http.StatusServiceUnavailable, store.ErrStore.Code, store.ErrStore.Message},
	} {
		rec := httptest.NewRecorder()
		e.api.writeError(rec, httptest.NewRequest(http.MethodGet, "/", nil), c.err)
		var b errBody
		if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || b.Error.Code != c.code || !strings.HasPrefix(b.Error.Message, c.msg) {
			t.Errorf("%v rendered as %d %s", c.err, rec.Code, rec.Body)
		}
		for _, leak := range leaks {
			if strings.Contains(rec.Body.String(), leak) {
				t.Errorf("body %s shows the driver's text %q", rec.Body, leak)
			}
		}
	}
	// The operator finds the driver's text of the 5xx in the log.
	if !strings.Contains(e.logs.String(), "no such table") {
		t.Errorf("the driver failure is not logged: %s", e.logs)
	}
}

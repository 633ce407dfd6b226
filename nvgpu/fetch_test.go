package nvgpu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/avowhq/avow/internal/vectors"
)

// fakeNVIDIA serves the complete set's RIMs as NVIDIA's RIM service does
// and its OCSP answers by the request's serial, over HTTP (httptest).
func fakeNVIDIA(t *testing.T) (*httptest.Server, *int) {
	t.Helper()
	set := filepath.Join(vectors.Dir(t, "nvgpu"), complete)
	bySerial := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(set, "ocsp", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		der, err := DecodeOCSP(b)
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := ResponseKeys(der)
		bySerial[keys[0].Serial] = der
	}
	calls := 0
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/rim/{id}", func(w http.ResponseWriter, r *http.Request) {
		calls++
		doc, err := os.ReadFile(filepath.Join(set, "rims", r.PathValue("id")+".xml"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "rim": base64.StdEncoding.EncodeToString(doc)})
	})
	mux.HandleFunc("POST /ocsp", func(w http.ResponseWriter, r *http.Request) {
		calls++
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil || r.Header.Get("Content-Type") != "application/ocsp-request" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		der, ok := bySerial[strings.ToUpper(req.SerialNumber.Text(16))]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(der)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestFetchThenVerifyOffline(t *testing.T) {
	srv, calls := fakeNVIDIA(t)
	s := NewStore()
	f := Fetcher{RIMService: srv.URL + "/v1/rim/", OCSP: srv.URL + "/ocsp"}
	got, err := f.Fetch(context.Background(), []*Evidence{completeEvidence(t), completeEvidence(t)}, s)
	if err != nil {
		t.Fatal(err)
	}
	// 3 device answers, 2 RIMs, 3 answers per RIM chain of which L3 and
	// L2 are shared: asked once each, GPUs deduplicated.
	if len(got.RIMs) != 2 || len(got.OCSP) != 7 || *calls != 9 {
		t.Errorf("fetched %v, %d calls", got, *calls)
	}
	dir := t.TempDir()
	if err := s.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Verify(context.Background(), completeEvidence(t), Options{Now: mustTime(t, "2025-10-24T12:00:00Z"), Nonce: completeNonce(t),
		Collateral: loaded, OCSPMode: OCSPAsOfThisUpdate, MaxRevocationAge: 90 * 24 * time.Hour})
	if err != nil {
		t.Errorf("verify with fetched collateral: %v", err)
	}
	// A RIM the service does not have.
	ev := completeEvidence(t)
	ev.Report.Response.Opaque.Fields[0].Value = []byte{0, 0, 0, 0x99, 1, 0, 0, 0}
	if _, err := f.Fetch(context.Background(), []*Evidence{ev}, NewStore()); err == nil || !strings.Contains(err.Error(), "NV_GPU_VBIOS") {
		t.Errorf("missing VBIOS RIM: %v", err)
	}
}

// TestOnlineSource: verification asking the (fake) services directly,
// each document once while it can be reused.
func TestOnlineSource(t *testing.T) {
	srv, calls := fakeNVIDIA(t)
	now := mustTime(t, "2025-08-21T12:00:00Z")
	on := &Online{Fetcher: Fetcher{RIMService: srv.URL + "/v1/rim/", OCSP: srv.URL + "/ocsp"}, Now: func() time.Time { return now }}
	// The device answers are current at 2025-08-21, the RIM chains' are
	// from 2025-10-24: judged at their own time with a bound, the
	// verification at 2025-10-24 passes.
	opts := Options{Now: mustTime(t, "2025-10-24T12:00:00Z"), Nonce: completeNonce(t), Collateral: on, OCSPMode: OCSPAsOfThisUpdate, MaxRevocationAge: 90 * 24 * time.Hour}
	if _, err := Verify(context.Background(), completeEvidence(t), opts); err != nil {
		t.Fatal(err)
	}
	// 2 RIMs, 3 device answers, the 2 signers' answers and the shared L3
	// and L2 answers once.
	first := *calls
	if first != 9 {
		t.Errorf("%d calls, want 9", first)
	}
	if _, err := Verify(context.Background(), completeEvidence(t), opts); err != nil {
		t.Fatal(err)
	}
	if *calls != first {
		t.Errorf("a second verification asked again: %d calls, then %d", first, *calls)
	}
	// A RIM the service does not have.
	if docs, err := on.RIMs(context.Background(), "NV_GPU_DRIVER_GH100_1.2.3"); err == nil || docs != nil {
		t.Errorf("missing RIM: %v %v", docs, err)
	}
}

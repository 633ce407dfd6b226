package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// benchConn speaks HTTP/1.1 as net/http's server expects it: a prepared
// POST arrives whole, answers of every framing are read completely, and a
// connection the server closes is dialled again.
func TestBenchConn(t *testing.T) {
	for _, tlsOn := range []bool{true, false} {
		var n, conns atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if r.Method != http.MethodPost || r.URL.RequestURI() != "/providers/p/attest/SgxEnclave?api-version=x" ||
				r.Header.Get("Content-Type") != "application/json" || string(body) != `{"quote":"AAAA"}` {
				t.Errorf("request %s %s %q %q", r.Method, r.URL, r.Header.Get("Content-Type"), body)
			}
			switch n.Add(1) % 4 {
			case 0: // chunked
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				io.WriteString(w, `{"token":"`+strings.Repeat("x", 5000)+`"}`)
			case 1: // the server closes the connection after answering
				w.Header().Set("Connection", "close")
				io.WriteString(w, `{"token":"t"}`)
			case 2: // an error body longer than what is kept
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":{"code":"invalid_quote_signature","message":"`+strings.Repeat("m", 200<<10)+`"}}`)
			default:
				io.WriteString(w, `{"token":"t"}`)
			}
		})
		srv := httptest.NewUnstartedServer(h)
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		if tlsOn {
			srv.StartTLS()
		} else {
			srv.Start()
		}
		target, _ := url.Parse(srv.URL + "/providers/p/attest/SgxEnclave?api-version=x")
		c := &benchConn{dial: benchDialer(target, srv.Client()), timeout: 5 * time.Second}
		req := newBenchRequest(target, "application/json", []byte(`{"quote":"AAAA"}`))
		statuses := map[int]int{}
		for i := 0; i < 12; i++ {
			a, err := c.do(context.Background(), req, i%4 == 3)
			if err != nil {
				t.Fatalf("tls %v request %d: %v", tlsOn, i, err)
			}
			statuses[a.status]++
			if a.status == http.StatusBadRequest && (len(a.body) == 0 || !strings.HasPrefix(string(a.body), `{"error":{"code":"invalid_quote_signature"`)) {
				t.Errorf("error body %.60q", a.body)
			}
			if i%4 == 3 && !strings.Contains(string(a.body), `"token":"x`) {
				t.Errorf("kept body %.60q", a.body)
			}
		}
		c.close()
		srv.Close()
		if statuses[200] != 9 || statuses[400] != 3 {
			t.Errorf("tls %v: statuses %v", tlsOn, statuses)
		}
		// One connection, and one more after each of the three closes.
		if got := conns.Load(); got != 4 {
			t.Errorf("tls %v: %d connections, want 4", tlsOn, got)
		}
	}
}

// A server that is gone is a transport error, not a hang.
func TestBenchConnRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	target, _ := url.Parse(srv.URL + "/x")
	srv.Close()
	c := &benchConn{dial: benchDialer(target, http.DefaultClient), timeout: time.Second}
	if _, err := c.do(context.Background(), newBenchRequest(target, "application/json", nil), false); err == nil {
		t.Error("no error from a closed server")
	}
}

// A request whose context ends stops waiting for a server that does not
// answer.
func TestBenchConnCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	target, _ := url.Parse(srv.URL + "/x")
	c := &benchConn{dial: benchDialer(target, http.DefaultClient), timeout: time.Minute}
	defer c.close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.do(ctx, newBenchRequest(target, "application/json", []byte("{}")), false)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("no error after the context ended")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still waiting 10 s after the context ended")
	}
}

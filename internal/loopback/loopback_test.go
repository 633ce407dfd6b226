package loopback

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

func TestDialLocalhostNames(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Host) }))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	hc := &http.Client{Transport: Transport()}
	for _, host := range []string{"contoso.avow.localhost", "LOCALHOST", "a.localhost."} {
		resp, err := hc.Get("http://" + host + ":" + u.Port() + "/")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != host+":"+u.Port() {
			t.Errorf("%s: the server saw Host %q", host, b)
		}
	}
	for _, h := range []string{"localhost.example.com", "example.com", "localhostx"} {
		if Is(h) {
			t.Errorf("%s is not under .localhost", h)
		}
	}
}

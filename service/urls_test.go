package service

import (
	"errors"
	"testing"
)

func TestProviderURLs(t *testing.T) {
	for _, tc := range []struct {
		public, domain, root, name, want string
	}{
		{"https://avow.example", "", "", "contoso", "https://avow.example/providers/contoso"},
		{"https://avow.example/prefix/", "", "", "contoso", "https://avow.example/prefix/providers/contoso"},
		{"https://localhost:8443", "avow.localhost", "", "contoso", "https://contoso.avow.localhost:8443"},
		{"https://avow.example:443", "Attest.Example.", "", "contoso", "https://contoso.attest.example"},
		{"http://127.0.0.1:80", "avow.localhost", "", "contoso", "http://contoso.avow.localhost"},
		{"https://localhost:8443", "avow.localhost", "single", "single", "https://localhost:8443"},
		{"https://localhost:8443", "avow.localhost", "single", "other", "https://other.avow.localhost:8443"},
		{"https://[::1]:8443", "", "single", "single", "https://[::1]:8443"},
		{"https://AVOW.example", "", "single", "other", "https://AVOW.example/providers/other"},
		{"https://AVOW.example", "", "single", "single", "https://avow.example"},
	} {
		u, err := newProviderURLs(tc.public, tc.domain, tc.root)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		if got := u.attestURI(tc.name); got != tc.want {
			t.Errorf("%+v: attest URI %s", tc, got)
		}
	}
	u, _ := newProviderURLs("https://localhost:8443", "avow.localhost", "")
	for host, want := range map[string]string{
		"contoso.avow.localhost:8443": "contoso", "CONTOSO.Avow.Localhost.": "contoso", "contoso.avow.localhost": "contoso",
		"avow.localhost": "", "a.b.avow.localhost": "", "contoso.evil.localhost": "", "": "", "xavow.localhost": "",
	} {
		got, ok := u.providerForHost(host)
		if got != want || ok != (want != "") {
			t.Errorf("host %q: %q %v, want %q", host, got, ok, want)
		}
	}
	for _, bad := range []struct{ public, domain, root string }{
		{"https://avow.example/prefix", "avow.example", ""},
		{"https://avow.example/prefix", "", "single"},
		{"https://localhost", "10.0.0.1", ""},
		{"https://localhost", "bad_label.example", ""},
		{"https://localhost", "", "Not A Name"},
		{"ftp://localhost", "", ""},
	} {
		if _, err := newProviderURLs(bad.public, bad.domain, bad.root); !errors.Is(err, ErrURLConfig) && (err == nil || bad.public != "ftp://localhost") {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
}

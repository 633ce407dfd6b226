package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/testenv"
)

// Issue 13, item 10: the server offered two ECDHE-ECDSA CBC-SHA1 suites in
// TLS 1.2 and generated a self-signed certificate that was a CA.
func TestTLSOffersAEADOnlyAndCertIsNoCA(t *testing.T) {
	dir := t.TempDir()
	n, _ := startNode(t, dir, nil)
	u, _ := url.Parse(n.URL)
	pemBytes, err := os.ReadFile(n.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.IsCA || !cert.BasicConstraintsValid || cert.KeyUsage&x509.KeyUsageCertSign != 0 ||
		len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("generated certificate: CA %v, key usage %v, extended key usage %v", cert.IsCA, cert.KeyUsage, cert.ExtKeyUsage)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	dial := func(suites []uint16) error {
		c, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: "localhost",
			MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: suites})
		if err == nil {
			c.Close()
		}
		return err
	}
	for _, s := range tls.CipherSuites() {
		if !strings.Contains(s.Name, "_CBC_") {
			continue
		}
		if err := dial([]uint16{s.ID}); err == nil {
			t.Errorf("the server accepts %s", s.Name)
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		if err := dial([]uint16{s.ID}); err == nil {
			t.Errorf("the server accepts %s", s.Name)
		}
	}
	if err := dial([]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}); err != nil {
		t.Errorf("TLS 1.2 with AES-GCM: %v", err)
	}
	if c, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: pool, ServerName: "localhost", MinVersion: tls.VersionTLS13}); err != nil {
		t.Errorf("TLS 1.3: %v", err)
	} else {
		c.Close()
	}
}

// An existing data folder that others can read gets a warning at start.
func TestLooseDataFolderWarned(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(data, 0o755)
	var logs testenv.SyncBuffer
	startNode(t, dir, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	if !strings.Contains(logs.String(), "chmod 0700") || !strings.Contains(logs.String(), "mode=0755") {
		t.Errorf("no warning about the data folder's mode:\n%s", logs.String())
	}
	var quiet testenv.SyncBuffer
	dir2 := t.TempDir()
	startNode(t, dir2, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&quiet, nil)) })
	if strings.Contains(quiet.String(), "chmod") {
		t.Errorf("a new data folder is warned about:\n%s", quiet.String())
	}
}

package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"slices"
	"time"
)

// aeadSuites are the TLS 1.2 cipher suites the server offers: ECDHE with
// AEAD ciphers only (Go's defaults also offer ECDHE with CBC and SHA-1).
// TLS 1.3's suites are all AEAD and not configurable.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// selfSignedCN names the certificates avow generates; a certificate with
// another subject is the operator's and never replaced.
const selfSignedCN = "avow (self-signed)"

// ensureSelfSigned makes sure certFile holds a self-signed certificate
// for localhost, 127.0.0.1, ::1, the machine's hostname and names (the
// public URL's host, *.{provider domain} and the domain itself). It creates
// one when there is none, and replaces one avow generated earlier that
// lacks a name or is a CA (avow's certificates were CAs before).
func ensureSelfSigned(certFile, keyFile string, names []string, log *slog.Logger) error {
	all := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		all = append(all, h)
	}
	for _, n := range names {
		if n != "" && net.ParseIP(n) == nil && !slices.Contains(all, n) {
			all = append(all, n)
		}
	}
	if b, err := os.ReadFile(certFile); err == nil {
		why := replaceReason(b, names)
		if why == "" {
			return nil
		}
		log.Warn("replacing the self-signed TLS certificate avow generated earlier: "+why+"; clients that trust the old one must trust the new one",
			"path", certFile)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: selfSignedCN, Organization: []string{"avow"}},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    all,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		// Not a CA: trusting this certificate (AVOW_CA_CERT,
		// NODE_EXTRA_CA_CERTS, curl --cacert) trusts this server and
		// nothing it could sign. Go, OpenSSL (curl, Node.js, Python) and
		// the Azure SDKs accept a self-signed end-entity certificate as
		// its own trust anchor.
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// replaceReason says why a certificate file avow generated must be
// replaced, or "" to keep it (also for any certificate avow did not make).
func replaceReason(pemBytes []byte, names []string) string {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return ""
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.Subject.CommonName != selfSignedCN {
		return ""
	}
	if cert.IsCA {
		return "it is a CA certificate"
	}
	for _, n := range names {
		if n != "" && net.ParseIP(n) == nil && !slices.Contains(cert.DNSNames, n) {
			return "it does not name " + n
		}
	}
	return ""
}

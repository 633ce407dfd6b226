package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/avowhq/avow/errs"
)

// ErrCertificateFormat reports certificate data that cannot be parsed at all.
// Its code is "certificate_invalid": which chain it was (PCK chain in a
// quote, an issuer chain of the collateral) is the caller's context, and
// callers re-map the code where the verification result needs another
// (for example pck_chain_invalid).
var ErrCertificateFormat = errs.New("certificate_invalid", "the certificate chain cannot be parsed")

var pemCertBegin = []byte("-----BEGIN CERTIFICATE-----")

// ParseCertificates parses a certificate chain given either as PEM
// CERTIFICATE blocks or as concatenated DER certificates, and returns the
// certificates in the order found.
//
// PEM: surrounding whitespace and trailing NUL bytes are ignored (type-5
// quote certification data is a C string); only whitespace may separate the
// blocks; every block must be a CERTIFICATE without headers. DER: the data
// must be one or more complete DER certificates and nothing else (S22's quote
// carries its chain this way). Empty input is an error.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		return parsePEMCertificates(trimmed)
	}
	if len(bytes.TrimSpace(bytes.TrimRight(data, "\x00"))) == 0 {
		return nil, ErrCertificateFormat.Wrapf("no certificate data")
	}
	certs, err := x509.ParseCertificates(data)
	if err != nil {
		return nil, ErrCertificateFormat.Wrapf("neither PEM nor DER certificates: %v", err)
	}
	if len(certs) == 0 {
		return nil, ErrCertificateFormat.Wrapf("no certificate data")
	}
	return certs, nil
}

func parsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	blocks, err := splitPEMCertificates(data)
	if err != nil {
		return nil, ErrCertificateFormat.Wrap(err)
	}
	certs := make([]*x509.Certificate, 0, len(blocks))
	for i, b := range blocks {
		c, err := x509.ParseCertificate(b.der)
		if err != nil {
			return nil, ErrCertificateFormat.Wrapf("PEM block %d: %v", i, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// pemCert is one CERTIFICATE block: its exact text (from "-----BEGIN" to
// the end of the "-----END CERTIFICATE-----" line including its line break,
// if any) and its DER.
type pemCert struct {
	text []byte
	der  []byte
}

// splitPEMCertificates splits PEM text into CERTIFICATE blocks, keeping the
// exact text of each. Only whitespace may surround or separate the blocks;
// trailing NUL bytes are ignored.
func splitPEMCertificates(data []byte) ([]pemCert, error) {
	rest := bytes.TrimRight(data, "\x00")
	var out []pemCert
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("unexpected text after PEM block %d", len(out))
		}
		block, after := pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("PEM block %d cannot be decoded", len(out))
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, not CERTIFICATE", len(out), block.Type)
		}
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("PEM block %d has headers", len(out))
		}
		text := rest[:len(rest)-len(after)]
		if bytes.Count(text, []byte("-----BEGIN")) != 1 { // pem.Decode skipped a broken block
			return nil, fmt.Errorf("PEM block %d cannot be decoded", len(out))
		}
		out = append(out, pemCert{text: text, der: block.Bytes})
		rest = after
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out, nil
}

package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
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
	out := make([]pemCert, 0, 3) // a PCK chain; issuer chains have 2
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("unexpected text after PEM block %d", len(out))
		}
		if text, der, after, ok := decodePEMCertificate(rest); ok {
			out = append(out, pemCert{text: text, der: der})
			rest = after
			continue
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

const (
	pemCertBeginLine = "-----BEGIN CERTIFICATE-----\n"
	pemCertEndLine   = "\n-----END CERTIFICATE-----"
)

// decodePEMCertificate decodes the CERTIFICATE block at the start of b when
// it has the plain form PEM writers produce: the BEGIN line ending in "\n",
// base64 lines, and the END line ending in "\n" or at the end of b. It
// returns what pem.Decode(b) would (the block's text, its DER and the rest
// after the END line) without pem.Decode's generic search for the lines. For
// any other form, ok is false and the caller uses pem.Decode.
//
// Equivalence with pem.Decode: the END line is the first "\n-----END " in b,
// as for pem.Decode; base64 decoding ignores line breaks, as pem.Decode's
// does, so the body is decoded without them; and a body that decodes has no
// '-', ':', space or tab, so pem.Decode sees no other BEGIN line, no header
// and nothing to remove either.
func decodePEMCertificate(b []byte) (text, der, rest []byte, ok bool) {
	if !bytes.HasPrefix(b, []byte(pemCertBeginLine)) {
		return nil, nil, nil, false
	}
	end := bytes.Index(b, []byte("\n-----END "))
	if end < len(pemCertBeginLine) || !bytes.HasPrefix(b[end:], []byte(pemCertEndLine)) {
		return nil, nil, nil, false
	}
	textEnd := end + len(pemCertEndLine)
	switch {
	case textEnd == len(b):
	case b[textEnd] == '\n':
		textEnd++
	default:
		return nil, nil, nil, false
	}
	// The base64 text without line breaks, on the stack for a certificate of
	// the usual size.
	var buf [2048]byte
	body := buf[:0]
	for line := b[len(pemCertBeginLine):end]; len(line) > 0; {
		i := bytes.IndexByte(line, '\n')
		if i < 0 {
			body = append(body, line...)
			break
		}
		body = append(body, line[:i]...)
		line = line[i+1:]
	}
	if len(body) == 0 || bytes.IndexByte(body, '\r') >= 0 {
		return nil, nil, nil, false
	}
	der = make([]byte, base64.StdEncoding.DecodedLen(len(body)))
	n, err := base64.StdEncoding.Decode(der, body)
	if err != nil {
		return nil, nil, nil, false
	}
	return b[:textEnd], der[:n], b[textEnd:], true
}

package nvgpu

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"strings"
	"time"
)

// Arch is a GPU architecture as NVIDIA's clients name it.
type Arch string

const (
	Hopper    Arch = "HOPPER"
	Blackwell Arch = "BLACKWELL"
)

// ParseArch accepts HOPPER or BLACKWELL in any case.
func ParseArch(s string) (Arch, error) {
	switch a := Arch(strings.ToUpper(strings.TrimSpace(s))); a {
	case Hopper, Blackwell:
		return a, nil
	}
	return "", ErrUnsupportedArch.Wrapf("%q", s)
}

const maxChainCerts = 8

// ParseChain reads a PEM certificate chain, leaf first (NVIDIA's order).
// Text outside PEM blocks is ignored; a block that is not a certificate is
// an error.
func ParseChain(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, ErrMalformedChain.Wrapf("a %q PEM block", blk.Type)
		}
		if len(certs) == maxChainCerts {
			return nil, ErrMalformedChain.Wrapf("more than %d certificates", maxChainCerts)
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, ErrMalformedChain.Wrap(err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, ErrMalformedChain.Wrapf("no PEM certificate")
	}
	return certs, nil
}

// oidFWID is the extension NVIDIA's device certificates carry the FWID in
// (TCG DICE, 2.23.133.5.4.1).
var (
	oidFWID   = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
)

// CertFWID returns the SHA-384 FWID of a device certificate, or nil. The
// extension holds, somewhere in its structure, a SEQUENCE {hash OID, OCTET
// STRING digest}; the digest with the SHA-384 OID is the FWID.
func CertFWID(c *x509.Certificate) []byte {
	for _, e := range c.Extensions {
		if e.Id.Equal(oidFWID) {
			return findFWID(e.Value, 0)
		}
	}
	return nil
}

type fwidSeq struct {
	Alg    asn1.ObjectIdentifier
	Digest []byte
}

func findFWID(b []byte, depth int) []byte {
	if depth > 6 {
		return nil
	}
	for len(b) > 0 {
		var raw asn1.RawValue
		rest, err := asn1.Unmarshal(b, &raw)
		if err != nil {
			return nil
		}
		if raw.IsCompound {
			var f fwidSeq
			if r, err := asn1.Unmarshal(raw.FullBytes, &f); err == nil && len(r) == 0 && f.Alg.Equal(oidSHA384) && len(f.Digest) == 48 {
				return f.Digest
			}
			if d := findFWID(raw.Bytes, depth+1); d != nil {
				return d
			}
		}
		b = rest
	}
	return nil
}

// verifyChain checks that every certificate is signed by the next, that
// the last one is the pinned root (byte for byte) and that every
// certificate is valid at t. NVIDIA's device certificates are not CA-shaped
// for Go's x509.Verify (the leaf's issuer is itself a device certificate),
// so the links are checked one by one.
func verifyChain(chain []*x509.Certificate, roots []*x509.Certificate, t time.Time, errChain, errRoot error) error {
	last := chain[len(chain)-1]
	pinned := false
	for _, r := range roots {
		if bytes.Equal(r.Raw, last.Raw) {
			pinned = true
		}
	}
	if !pinned {
		return wrap(errRoot, "the chain ends at %q", last.Subject.String())
	}
	for i, c := range chain {
		if t.Before(c.NotBefore) || t.After(c.NotAfter) {
			return wrap(errChain, "%q is not valid at %s (valid %s to %s)", c.Subject.String(), t.UTC().Format(time.RFC3339), c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
		if i == len(chain)-1 {
			if err := checkSignedBy(c, c); err != nil {
				return wrap(errChain, "root %q is not self-signed: %v", c.Subject.String(), err)
			}
			break
		}
		issuer := chain[i+1]
		if !bytes.Equal(c.RawIssuer, issuer.RawSubject) {
			return wrap(errChain, "%q is not issued by %q", c.Subject.String(), issuer.Subject.String())
		}
		if err := checkSignedBy(c, issuer); err != nil {
			return wrap(errChain, "%q is not signed by %q: %v", c.Subject.String(), issuer.Subject.String(), err)
		}
	}
	return nil
}

func p384(c *x509.Certificate) (*ecdsa.PublicKey, bool) {
	k, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || k.Curve.Params().BitSize != 384 {
		return nil, false
	}
	return k, true
}

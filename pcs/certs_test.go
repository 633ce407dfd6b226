package pcs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestParseCertificatesVectors(t *testing.T) {
	for _, s := range loadSets(t) {
		t.Run(s.name, func(t *testing.T) {
			for name, chain := range map[string][]byte{
				"pck_crl_issuer_chain":     s.c.PCKCRLIssuerChain,
				"tcb_info_issuer_chain":    s.c.TCBInfoIssuerChain,
				"qe_identity_issuer_chain": s.c.QEIdentityIssuerChain,
			} {
				certs, err := ParseCertificates(chain)
				if err != nil || len(certs) != 2 {
					t.Errorf("%s: %d certificates, %v", name, len(certs), err)
				}
			}
			chain := quoteChain(t, s.quote)
			switch s.setID() {
			case "S21":
				if chain != nil {
					t.Error("S21 carries no chain (certification data type 1)")
				}
				return
			case "S22":
				// Concatenated DER in root, intermediate, PCK order.
				if len(chain) != 3 || chain[0].Subject.CommonName != "Intel SGX Root CA" || chain[2].Subject.CommonName != "Intel SGX PCK Certificate" {
					t.Errorf("S22 DER chain: %d certificates", len(chain))
				}
				return
			}
			if len(chain) != 3 || chain[0].Subject.CommonName != "Intel SGX PCK Certificate" {
				t.Errorf("PEM chain: %d certificates", len(chain))
			}
		})
	}
}

func TestParseCertificatesForms(t *testing.T) {
	s := loadSets(t)[0]
	chain := s.c.PCKCRLIssuerChain
	blocks, err := splitPEMCertificates(chain)
	if err != nil || len(blocks) != 2 {
		t.Fatal(err)
	}
	derChain := append(append([]byte(nil), blocks[0].der...), blocks[1].der...)
	good := map[string][]byte{
		"PEM":                     chain,
		"PEM with NUL (C string)": append(append([]byte(nil), chain...), 0),
		"PEM with NULs and space": append(append([]byte("\n  "), chain...), '\n', 0, 0, 0),
		"PEM CRLF":                bytes.ReplaceAll(chain, []byte("\n"), []byte("\r\n")),
		"PEM blank line between":  append(append(append([]byte(nil), blocks[0].text...), "\n\n"...), blocks[1].text...),
		"PEM no final newline":    bytes.TrimRight(chain, "\n"),
		"DER concatenated":        derChain,
		"DER single":              blocks[0].der,
	}
	for name, data := range good {
		certs, err := ParseCertificates(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if certs[0].Subject.CommonName == "" || !bytes.Equal(certs[0].Raw, blocks[0].der) {
			t.Errorf("%s: first certificate differs", name)
		}
	}
	crlPEM := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: s.c.RootCACRL})
	bad := map[string][]byte{
		"empty":              nil,
		"whitespace":         []byte(" \n"),
		"NULs":               {0, 0},
		"text between":       append(append(append([]byte(nil), blocks[0].text...), "junk\n"...), blocks[1].text...),
		"text after":         append(append([]byte(nil), chain...), "trailing text"...),
		"CRL block":          crlPEM,
		"certificate + CRL":  append(append([]byte(nil), chain...), crlPEM...),
		"headers":            []byte("-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nAAAA\n-----END CERTIFICATE-----\n"),
		"broken base64":      []byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
		"broken then good":   append([]byte("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"), blocks[0].text...),
		"not a certificate":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{0x30, 0x00}}),
		"DER truncated":      derChain[:len(derChain)-1],
		"DER with trailing":  append(append([]byte(nil), derChain...), 0),
		"garbage":            []byte("hello"),
		"unterminated block": []byte("-----BEGIN CERTIFICATE-----\nMIIB\n"),
	}
	for name, data := range bad {
		if _, err := ParseCertificates(data); !errors.Is(err, ErrCertificateFormat) {
			t.Errorf("%s: got %v, want ErrCertificateFormat", name, err)
		}
	}
	if ErrCertificateFormat.Code != "certificate_invalid" {
		t.Error("code")
	}
}

func TestHashes(t *testing.T) {
	for _, s := range loadSets(t) {
		var b map[string]string
		if err := json.Unmarshal(s.bundle, &b); err != nil {
			t.Fatal(err)
		}
		sum := func(x []byte) string { h := sha256.Sum256(x); return hex.EncodeToString(h[:]) }
		root, _ := hex.DecodeString(b["root_ca_crl"])
		h := s.c.Hashes()
		want := CollateralHashes{
			TCBInfoHash:      sum([]byte(b["tcb_info"])),
			TCBInfoCertsHash: sum([]byte(b["tcb_info_issuer_chain"])),
			TCBInfoCRLHash:   sum(root),
			QEIDHash:         sum([]byte(b["qe_identity"])),
			QEIDCertsHash:    sum([]byte(b["qe_identity_issuer_chain"])),
			QEIDCRLHash:      sum(root),
		}
		if h != want {
			t.Errorf("%s: %+v, want %+v", s.name, h, want)
		}
	}
	// JSON member names are exactly MAA's.
	out, err := json.Marshal(CollateralHashes{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	_ = json.Unmarshal(out, &m)
	for _, k := range []string{"tcbinfohash", "tcbinfocertshash", "tcbinfocrlhash", "qeidhash", "qeidcertshash", "qeidcrlhash"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	if len(m) != 6 {
		t.Errorf("%d members: %s", len(m), out)
	}
}

// The TCB-Info-Issuer-Chain header value that go-tdx-guest recorded (the
// 2023 chain, URL-decoded) hashes to the tcbinfocerthash that an Intel Trust
// Authority token of that time shows (b2ca71b8…, Intel's SGX tutorial,
// token of 2024-04-30): evidence that attestation services hash the issuer
// chain as the URL-decoded header text, which is what Hashes does.
func TestHashesChainFormMatchesPublishedToken(t *testing.T) {
	path := filepath.Join(dcapVectors(t), "raw", "google-go-tdx-guest", "tcbinfo_issuer_chain.pem")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Skip(err)
	}
	c := &Collateral{TCBInfoIssuerChain: data, QEIdentityIssuerChain: data}
	h := c.Hashes()
	const ita = "b2ca71b8e849d5e799451b4bfe43159a0ee548032cecb2c0e479bf6ee3f39fd1"
	if h.TCBInfoCertsHash != ita || h.QEIDCertsHash != ita {
		t.Errorf("certs hash %s, published %s", h.TCBInfoCertsHash, ita)
	}
}

package nvgpu

import (
	"bytes"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
)

var (
	//go:embed roots/nvidia_device_identity_ca.pem
	deviceRootPEM []byte
	//go:embed roots/nvidia_corim_signing_root_ca.pem
	rimRootPEM []byte
)

// DeviceRoots returns NVIDIA's Device Identity CA, the pinned root of GPU
// device chains.
func DeviceRoots() []*x509.Certificate { return mustRoots(deviceRootPEM) }

// RIMRoots returns NVIDIA's CoRIM signing Root CA, the pinned root of RIM
// signer chains.
func RIMRoots() []*x509.Certificate { return mustRoots(rimRootPEM) }

func mustRoots(b []byte) []*x509.Certificate {
	c, err := ParseChain(b)
	if err != nil {
		panic(err)
	}
	return c
}

// Evidence is one GPU's evidence: its architecture, report and device
// certificate chain (leaf first).
type Evidence struct {
	Arch   Arch
	Report *Report
	Chain  []*x509.Certificate
}

// ParseEvidence reads one GPU's evidence as NVIDIA's and ITA's clients
// send it: the architecture, the certificate chain (PEM, or base64 of PEM)
// and the report (binary, hex text, or base64 of either).
func ParseEvidence(arch string, certificate, report []byte) (*Evidence, error) {
	a, err := ParseArch(arch)
	if err != nil {
		return nil, err
	}
	pemb := certificate
	if !bytes.Contains(pemb, []byte("-----BEGIN")) {
		if pemb, err = decodeB64(certificate); err != nil {
			return nil, ErrMalformedChain.Wrapf("neither PEM nor base64 of PEM")
		}
	}
	chain, err := ParseChain(pemb)
	if err != nil {
		return nil, err
	}
	raw := reportBytes(report)
	rep, err := ParseReport(raw)
	if err != nil {
		return nil, err
	}
	return &Evidence{Arch: a, Report: rep, Chain: chain}, nil
}

// reportBytes accepts the report as binary, hex text or base64.
func reportBytes(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == SPDMVersion11 {
		return b
	}
	if h, err := hex.DecodeString(string(t)); err == nil {
		return h
	}
	if d, err := decodeB64(t); err == nil {
		return reportBytes(d)
	}
	return b
}

func decodeB64(b []byte) ([]byte, error) {
	s := strings.Join(strings.Fields(string(b)), "")
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(s); err == nil {
			return d, nil
		}
	}
	return nil, ErrMalformedEvidence.Wrapf("not base64")
}

// Item is one entry of the evidence list NVIDIA's clients send:
// {"arch":"HOPPER","certificate":base64(PEM chain),"evidence":base64(report)}.
type Item struct {
	Arch        string `json:"arch"`
	Certificate string `json:"certificate"`
	Evidence    string `json:"evidence"`
}

const maxGPUs = 16

// ParseList reads an evidence list: either a JSON array of Items or an
// object with an "evidence_list" or "evidence" member holding one.
func ParseList(b []byte) ([]*Evidence, error) {
	var items []Item
	if err := json.Unmarshal(b, &items); err != nil {
		var obj struct {
			EvidenceList []Item `json:"evidence_list"`
			Evidence     []Item `json:"evidence"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, ErrMalformedEvidence.Wrapf("not a JSON evidence list: %v", err)
		}
		items = append(obj.EvidenceList, obj.Evidence...)
	}
	return ParseItems(items)
}

// ParseItems parses each Item.
func ParseItems(items []Item) ([]*Evidence, error) {
	if len(items) == 0 {
		return nil, ErrMalformedEvidence.Wrapf("no GPU evidence")
	}
	if len(items) > maxGPUs {
		return nil, ErrMalformedEvidence.Wrapf("%d GPUs, more than %d", len(items), maxGPUs)
	}
	out := make([]*Evidence, len(items))
	for i, it := range items {
		ev, err := ParseEvidence(it.Arch, []byte(it.Certificate), []byte(it.Evidence))
		if err != nil {
			return nil, err
		}
		out[i] = ev
	}
	return out, nil
}

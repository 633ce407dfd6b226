package snp

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
)

// MaxEvidence bounds the evidence Parse reads: a report, a handful of
// certificates and runtime data fit many times over.
const MaxEvidence = 1 << 20

// Evidence kinds, as Parse tells them apart.
const (
	KindReport       = "snp-report"      // a raw 1184-byte ATTESTATION_REPORT
	KindHCL          = "azure-snp-hcl"   // Azure's HCL report (vTPM NV index)
	KindReportJSON   = "snp-report-json" // MAA's {"SnpReport","VcekCertChain"} (the decoded "report" of a request)
	KindRequest      = "maa-sevsnpvm-request"
	KindTrusteeAzSNP = "trustee-az-snp-vtpm" // Trustee's Azure SNP vTPM evidence {"hcl_report","vcek",…}
)

// Data is runtime or init-time data.
type Data struct {
	Bytes    []byte
	DataType string // "JSON" or "Binary"
}

// Evidence is SEV-SNP evidence as received: the report, the certificates
// that came with it and the data the report must bind.
type Evidence struct {
	Kind   string
	Report *Report
	// Certs holds the DER certificates that came with the report (VCEK or
	// VLEK, and possibly ASK/ASVK and ARK, which are ignored: the chain ends
	// in the pinned roots).
	Certs        [][]byte
	RuntimeData  *Data // MAA runtimeData, or the HCL runtime JSON
	InitTimeData *Data
	// Request-only members.
	Nonce       *string
	DraftPolicy *string
	// HCL is the HCL report the evidence came in, if any.
	HCL *HCLReport
}

// Parse reads SNP evidence of any kind, told apart by content: an HCL
// report starts with "HCLA", JSON is a request body (a "report" member), a
// decoded request report ({"SnpReport", …}) or Trustee's Azure evidence
// ("hcl_report"); anything else must be a raw report.
func Parse(b []byte) (*Evidence, error) {
	if len(b) > MaxEvidence {
		return nil, ErrUnsupportedReport.Wrapf("the evidence is %d bytes, more than the %d read", len(b), MaxEvidence)
	}
	switch {
	case bytes.HasPrefix(b, hclMagic):
		h, err := ParseHCL(b)
		if err != nil {
			return nil, err
		}
		return h.Evidence()
	case len(b) != ReportSize && looksJSON(b):
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, ErrUnsupportedReport.Wrapf("the evidence is neither a report nor JSON: %v", err)
		}
		switch {
		case member(probe, "report") != nil:
			return ParseRequest(b)
		case member(probe, "SnpReport") != nil:
			return ParseReportJSON(b)
		case member(probe, "hcl_report") != nil:
			return parseTrustee(b)
		}
		return nil, ErrUnsupportedReport.Wrapf("JSON evidence needs a \"report\" (SevSnpVm request), \"SnpReport\" or \"hcl_report\" member")
	}
	r, err := ParseReport(b)
	if err != nil {
		return nil, err
	}
	return &Evidence{Kind: KindReport, Report: r}, nil
}

func looksJSON(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// member finds a JSON object member case-insensitively, as MAA (ASP.NET
// Core) does.
func member(m map[string]json.RawMessage, name string) json.RawMessage {
	if v, ok := m[name]; ok {
		return v
	}
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func stringMember(m map[string]json.RawMessage, name string) (*string, error) {
	raw := member(m, name)
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, ErrUnsupportedReport.Wrapf("%s is not a string", name)
	}
	return &s, nil
}

// DecodeBase64 decodes MAA's binary fields: base64url with or without
// padding, tolerating the standard alphabet.
func DecodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	return base64.RawURLEncoding.DecodeString(s)
}

func b64Member(m map[string]json.RawMessage, name string) ([]byte, error) {
	s, err := stringMember(m, name)
	if err != nil || s == nil {
		return nil, err
	}
	b, err := DecodeBase64(*s)
	if err != nil {
		return nil, ErrUnsupportedReport.Wrapf("%s is not base64url: %v", name, err)
	}
	return b, nil
}

// ParseRequest reads the body of MAA's POST /attest/SevSnpVm: "report" is
// base64url of the JSON {"SnpReport", "VcekCertChain"}; "runtimeData" and
// "initTimeData" are {"data", "dataType"}; "nonce" and
// "draftPolicyForAttestation" are strings. Member names match
// case-insensitively; unknown members are ignored.
func ParseRequest(b []byte) (*Evidence, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, ErrUnsupportedReport.Wrapf("the request is not a JSON object: %v", err)
	}
	inner, err := b64Member(m, "report")
	if err != nil {
		return nil, err
	}
	if inner == nil {
		return nil, ErrUnsupportedReport.Wrapf("the request has no report")
	}
	ev, err := ParseReportJSON(inner)
	if err != nil {
		return nil, err
	}
	ev.Kind = KindRequest
	if ev.RuntimeData, err = dataMember(m, "runtimeData"); err != nil {
		return nil, err
	}
	if ev.InitTimeData, err = dataMember(m, "initTimeData"); err != nil {
		return nil, err
	}
	if ev.Nonce, err = stringMember(m, "nonce"); err != nil {
		return nil, err
	}
	if ev.DraftPolicy, err = stringMember(m, "draftPolicyForAttestation"); err != nil {
		return nil, err
	}
	return ev, nil
}

func dataMember(m map[string]json.RawMessage, name string) (*Data, error) {
	raw := member(m, name)
	if raw == nil || string(raw) == "null" {
		return nil, nil
	}
	var d map[string]json.RawMessage
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, ErrUnsupportedReport.Wrapf("%s is not an object {\"data\", \"dataType\"}", name)
	}
	data, err := b64Member(d, "data")
	if err != nil {
		return nil, err
	}
	if data == nil {
		return nil, ErrUnsupportedReport.Wrapf("%s has no data", name)
	}
	dt, err := stringMember(d, "dataType")
	if err != nil {
		return nil, err
	}
	out := &Data{Bytes: data, DataType: "Binary"}
	if dt != nil && *dt != "" {
		out.DataType = *dt
	}
	return out, nil
}

// ParseReportJSON reads MAA's report JSON {"SnpReport": base64url(report),
// "VcekCertChain": base64url(PEM chain)}; further members (endorsements)
// are ignored.
func ParseReportJSON(b []byte) (*Evidence, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, ErrUnsupportedReport.Wrapf("the report is not the JSON {\"SnpReport\", \"VcekCertChain\"}: %v", err)
	}
	raw, err := b64Member(m, "SnpReport")
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, ErrUnsupportedReport.Wrapf("the report JSON has no SnpReport")
	}
	r, err := ParseReport(raw)
	if err != nil {
		return nil, err
	}
	ev := &Evidence{Kind: KindReportJSON, Report: r}
	chain, err := b64Member(m, "VcekCertChain")
	if err != nil {
		return nil, err
	}
	if len(chain) > 0 {
		if ev.Certs, err = ParseCertificates(chain); err != nil {
			return nil, err
		}
	}
	return ev, nil
}

// MaxCertificates bounds the certificates evidence may carry (a VCEK or
// VLEK, its intermediate and the ARK, and room for a CSP's extras).
const MaxCertificates = 8

// ParseCertificates reads one DER certificate or up to MaxCertificates PEM
// CERTIFICATE blocks; it returns the DER bytes without parsing them.
func ParseCertificates(b []byte) ([][]byte, error) {
	if !bytes.Contains(b, []byte("-----BEGIN")) {
		if len(b) == 0 {
			return nil, ErrUnsupportedReport.Wrapf("an empty certificate")
		}
		return [][]byte{bytes.Clone(b)}, nil
	}
	var out [][]byte
	rest := b
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			if len(out) == MaxCertificates {
				return nil, ErrUnsupportedReport.Wrapf("more than %d certificates", MaxCertificates)
			}
			out = append(out, block.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, ErrUnsupportedReport.Wrapf("no PEM CERTIFICATE block")
	}
	return out, nil
}

// parseTrustee reads Trustee's Azure SNP vTPM evidence (version 1):
// {"version":1, "hcl_report": base64url, "tpm_quote": {…}, "vcek": base64url DER}.
// The vTPM quote is not checked here (MAA's SevSnpVm does not take one).
func parseTrustee(b []byte) (*Evidence, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, ErrUnsupportedReport.Wrap(err)
	}
	hclBytes, err := b64Member(m, "hcl_report")
	if err != nil {
		return nil, err
	}
	h, err := ParseHCL(hclBytes)
	if err != nil {
		return nil, err
	}
	ev, err := h.Evidence()
	if err != nil {
		return nil, err
	}
	ev.Kind = KindTrusteeAzSNP
	vcek, err := b64Member(m, "vcek")
	if err != nil {
		return nil, err
	}
	if vcek != nil {
		ev.Certs = [][]byte{vcek}
	}
	return ev, nil
}

var hclMagic = []byte("HCLA")

// HCL report layout (Azure confidential VMs, vTPM NV index 0x01400001).
const (
	hclHeaderSize   = 32
	hclRuntimeStart = hclHeaderSize + ReportSize // 1216: the IGVM request data header
	hclRuntimeData  = hclRuntimeStart + 20       // 1236: the runtime JSON
	// HCL report types (the hardware report at offset 32).
	HCLTypeSNP    = 2
	HCLTypeTDX    = 4
	hclHashSHA256 = 1
)

// HCLReport is Azure's HCL report: a 32-byte header, the hardware report
// and the runtime data (JSON with HCLAkPub/HCLEkPub) whose SHA-256 is
// REPORT_DATA[0:32].
type HCLReport struct {
	Version     uint32
	RequestType uint32
	ReportType  uint32 // HCLTypeSNP or HCLTypeTDX
	HashType    uint32 // 1 = SHA-256
	Hardware    []byte // the 1184 bytes at offset 32
	RuntimeData []byte // the runtime JSON
}

// ParseHCL reads an HCL report. Only SNP hardware reports with SHA-256
// runtime-data binding are accepted.
func ParseHCL(b []byte) (*HCLReport, error) {
	if len(b) < hclRuntimeData || !bytes.HasPrefix(b, hclMagic) {
		return nil, ErrUnsupportedReport.Wrapf("an HCL report starts with \"HCLA\" and holds at least %d bytes", hclRuntimeData)
	}
	le := binary.LittleEndian
	h := &HCLReport{Version: le.Uint32(b[4:8]), RequestType: le.Uint32(b[12:16])}
	h.Hardware = b[hclHeaderSize:hclRuntimeStart]
	rd := b[hclRuntimeStart:]
	dataSize, reportType, hashType, runtimeSize := le.Uint32(rd[0:4]), le.Uint32(rd[8:12]), le.Uint32(rd[12:16]), le.Uint32(rd[16:20])
	h.ReportType, h.HashType = reportType, hashType
	switch reportType {
	case HCLTypeSNP:
	case HCLTypeTDX:
		return nil, ErrUnsupportedReport.Wrapf("the HCL report holds a TDX report; attest it as TdxVm")
	default:
		return nil, ErrUnsupportedReport.Wrapf("the HCL report type %d is unknown", reportType)
	}
	if hashType != hclHashSHA256 {
		return nil, ErrUnsupportedReport.Wrapf("the HCL runtime data hash type %d is not SHA-256 (1)", hashType)
	}
	if uint64(runtimeSize) > uint64(len(b)-hclRuntimeData) || uint64(dataSize) < uint64(runtimeSize) {
		return nil, ErrUnsupportedReport.Wrapf("the HCL runtime data (%d bytes) overruns the report (%d bytes)", runtimeSize, len(b))
	}
	h.RuntimeData = b[hclRuntimeData : hclRuntimeData+int(runtimeSize)]
	return h, nil
}

// Evidence returns the HCL report as evidence: its hardware report, with
// the runtime JSON as runtime data (type JSON).
func (h *HCLReport) Evidence() (*Evidence, error) {
	r, err := ParseReport(h.Hardware)
	if err != nil {
		return nil, err
	}
	return &Evidence{
		Kind:        KindHCL,
		Report:      r,
		RuntimeData: &Data{Bytes: bytes.Clone(h.RuntimeData), DataType: "JSON"},
		HCL:         h,
	}, nil
}

// RequestBody builds MAA's SevSnpVm request body from a report, its
// certificate chain (PEM) and optional runtime data, as Azure's attestation
// tools send it.
func RequestBody(report []byte, chainPEM []byte, runtime *Data, nonce string) ([]byte, error) {
	inner, err := json.Marshal(map[string]string{
		"SnpReport":     base64.RawURLEncoding.EncodeToString(report),
		"VcekCertChain": base64.RawURLEncoding.EncodeToString(chainPEM),
	})
	if err != nil {
		return nil, err
	}
	body := map[string]any{"report": base64.RawURLEncoding.EncodeToString(inner)}
	if runtime != nil {
		body["runtimeData"] = map[string]string{"data": base64.RawURLEncoding.EncodeToString(runtime.Bytes), "dataType": runtime.DataType}
	}
	if nonce != "" {
		body["nonce"] = nonce
	}
	out, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("snp: %w", err)
	}
	return out, nil
}

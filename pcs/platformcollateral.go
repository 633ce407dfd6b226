package pcs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// platformCollateralsJSON is the file Intel's PCS client tool (`pcsclient
// fetch`) and older PCCS admin tools (`pccsadmin fetch`) write, and PCCS's
// PUT /platformcollateral takes: {"platforms": [...], "collaterals": {...}}.
// Only the members a verifier needs are read.
type platformCollateralsJSON struct {
	Collaterals *struct {
		PCKCerts []struct {
			Certs []struct {
				Cert string `json:"cert"`
			} `json:"certs"`
		} `json:"pck_certs"`
		TCBInfos     []map[string]json.RawMessage `json:"tcbinfos"`
		PCKCACRL     json.RawMessage              `json:"pckcacrl"`
		QEIdentity   json.RawMessage              `json:"qeidentity"`
		TDQEIdentity json.RawMessage              `json:"tdqeidentity"`
		QEEarly      json.RawMessage              `json:"qeidentity_early"`
		TDQEEarly    json.RawMessage              `json:"tdqeidentity_early"`
		Certificates map[string]json.RawMessage   `json:"certificates"`
		RootCACRL    string                       `json:"rootcacrl"`
	} `json:"collaterals"`
}

// ParsePlatformCollaterals reads a platform collateral file of Intel's PCS
// client tool or PCCS admin tool and returns one collateral set per FMSPC
// and TEE it holds TCB info for. Where the file differs from the bundle:
//
//   - TCB infos are embedded as JSON objects (sgx_tcbinfo, tdx_tcbinfo, or
//     tcbinfo for API v3), re-serialised by the tool; the signed tcbInfo
//     member is taken in compact form, which is the form Intel signed. The
//     standard update is used; an *_early variant only when the standard
//     one is absent.
//   - QE identities (qeidentity, tdqeidentity) are response bodies as
//     strings, or JSON objects; issuer chains are the URL-encoded header
//     values under "certificates" (TCB-Info-Issuer-Chain or
//     SGX-TCB-Info-Issuer-Chain, SGX-Enclave-Identity-Issuer-Chain, and per
//     CA SGX-PCK-Certificate-Issuer-Chain, which is also the PCK CRL's
//     issuer chain).
//   - CRLs (pckcacrl.processorCrl / platformCrl, rootcacrl) are hex of DER
//     (API v3/v4) or PEM (v2).
//   - The PCK CRL of an FMSPC is that of the CA which issued the file's PCK
//     certificates for that FMSPC; without such certificates, the only CA
//     the file has a chain and CRL for; with both, platform for TDX and
//     processor for SGX.
//
// Errors wrap ErrCollateralFormat.
func ParsePlatformCollaterals(data []byte) ([]*Collateral, error) {
	var f platformCollateralsJSON
	if err := json.Unmarshal(bytes.TrimRight(data, "\x00 \t\r\n"), &f); err != nil {
		return nil, ErrCollateralFormat.Wrapf("platform collateral file: %v", err)
	}
	c := f.Collaterals
	if c == nil {
		return nil, ErrCollateralFormat.Wrapf("platform collateral file: no \"collaterals\" member")
	}
	str := func(raw json.RawMessage) (string, bool) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, s != ""
		}
		return "", false
	}
	chainOf := func(names ...string) ([]byte, error) {
		for _, n := range names {
			if s, ok := str(c.Certificates[n]); ok {
				return DecodeIssuerChain(s)
			}
		}
		return nil, fmt.Errorf("certificates.%s is missing", names[0])
	}
	tcbChain, err := chainOf(HeaderTCBInfoIssuerChain, HeaderTCBInfoIssuerChainV3)
	if err != nil {
		return nil, ErrCollateralFormat.Wrapf("platform collateral file: %v", err)
	}
	qeChain, err := chainOf(HeaderQEIdentityIssuerChain, headerQEIdentityIssuerChain2)
	if err != nil {
		return nil, ErrCollateralFormat.Wrapf("platform collateral file: %v", err)
	}
	pckChains := map[string][]byte{}
	if raw, ok := c.Certificates["SGX-PCK-Certificate-Issuer-Chain"]; ok {
		var byCA map[string]string
		if s, isStr := str(raw); isStr {
			if dec, err := DecodeIssuerChain(s); err == nil {
				if ca := PCKCAOf(dec); ca != "" {
					pckChains[ca] = dec
				}
			}
		} else if json.Unmarshal(raw, &byCA) == nil {
			for ca, v := range byCA {
				if dec, err := DecodeIssuerChain(v); err == nil && v != "" {
					pckChains[strings.ToLower(ca)] = dec
				}
			}
		}
	}
	pckCRLs := map[string][]byte{}
	var crls map[string]string
	if len(c.PCKCACRL) > 0 && json.Unmarshal(c.PCKCACRL, &crls) == nil {
		for name, v := range crls {
			if v == "" {
				continue
			}
			der, err := CRLBytes([]byte(v))
			if err != nil {
				return nil, ErrCollateralFormat.Wrapf("platform collateral file: pckcacrl.%s: %v", name, err)
			}
			switch strings.ToLower(name) {
			case "processorcrl", "processor":
				pckCRLs["processor"] = der
			case "platformcrl", "platform":
				pckCRLs["platform"] = der
			}
		}
	}
	if c.RootCACRL == "" {
		return nil, ErrCollateralFormat.Wrapf("platform collateral file: rootcacrl is missing")
	}
	rootCRL, err := CRLBytes([]byte(c.RootCACRL))
	if err != nil {
		return nil, ErrCollateralFormat.Wrapf("platform collateral file: rootcacrl: %v", err)
	}
	// The CA of each FMSPC, from the PCK certificates in the file.
	caOfFMSPC := map[string]string{}
	for _, p := range c.PCKCerts {
		for _, cert := range p.Certs {
			pemText, err := DecodeIssuerChain(cert.Cert)
			if err != nil {
				continue
			}
			certs, err := ParseCertificates(pemText)
			if err != nil || len(certs) == 0 {
				continue
			}
			ext, err := ParsePCKExtensions(certs[0])
			if err != nil {
				continue
			}
			issuer := certs[0].Issuer.CommonName
			switch {
			case strings.Contains(issuer, "Platform CA"):
				caOfFMSPC[fmt.Sprintf("%x", ext.FMSPC)] = "platform"
			case strings.Contains(issuer, "Processor CA"):
				caOfFMSPC[fmt.Sprintf("%x", ext.FMSPC)] = "processor"
			}
		}
	}
	identity := func(tee string) ([]byte, []byte, error) {
		std, early := c.QEIdentity, c.QEEarly
		if tee == "tdx" {
			std, early = c.TDQEIdentity, c.TDQEEarly
		}
		for _, raw := range []json.RawMessage{std, early} {
			body, ok := signedBody(raw)
			if !ok {
				continue
			}
			return SplitSigned(body, "enclaveIdentity")
		}
		return nil, nil, fmt.Errorf("no %s identity", map[string]string{"sgx": "QE", "tdx": "TD_QE"}[tee])
	}

	var out []*Collateral
	for i, entry := range c.TCBInfos {
		var fmspc string
		_ = json.Unmarshal(entry["fmspc"], &fmspc)
		for _, tee := range []string{"sgx", "tdx"} {
			names := []string{tee + "_tcbinfo", tee + "_tcbinfo_early"}
			if tee == "sgx" {
				names = []string{"sgx_tcbinfo", "tcbinfo", "sgx_tcbinfo_early", "tcbinfo_early"}
			}
			var body []byte
			for _, n := range names {
				if b, ok := signedBody(entry[n]); ok {
					body = b
					break
				}
			}
			if body == nil {
				continue
			}
			where := fmt.Sprintf("tcbinfos[%d] (FMSPC %s, %s)", i, fmspc, strings.ToUpper(tee))
			raw, sig, err := SplitSigned(body, "tcbInfo")
			if err != nil {
				return nil, ErrCollateralFormat.Wrapf("platform collateral file: %s: %v", where, err)
			}
			qeRaw, qeSig, err := identity(tee)
			if err != nil {
				return nil, ErrCollateralFormat.Wrapf("platform collateral file: %s: %v", where, err)
			}
			ca := caOfFMSPC[strings.ToLower(fmspc)]
			if ca == "" {
				ca = onlyCA(pckChains, pckCRLs)
			}
			if ca == "" {
				ca = "processor"
				if tee == "tdx" {
					ca = "platform"
				}
			}
			chain, crl := pckChains[ca], pckCRLs[ca]
			if chain == nil || crl == nil {
				return nil, ErrCollateralFormat.Wrapf("platform collateral file: %s: no %s CA CRL and issuer chain (pckcacrl, certificates.SGX-PCK-Certificate-Issuer-Chain)", where, ca)
			}
			out = append(out, &Collateral{
				PCKCRLIssuerChain: chain, RootCACRL: rootCRL, PCKCRL: crl,
				TCBInfoIssuerChain: tcbChain, TCBInfo: raw, TCBInfoSignature: sig,
				QEIdentityIssuerChain: qeChain, QEIdentity: qeRaw, QEIdentitySignature: qeSig,
			})
		}
	}
	if len(out) == 0 {
		return nil, ErrCollateralFormat.Wrapf("platform collateral file: no TCB info in collaterals.tcbinfos")
	}
	return out, nil
}

// signedBody returns a signed document's response body from a platform
// collateral member: the string itself, or the JSON object compacted (the
// tools re-serialise objects with spaces; Intel signs the compact form).
func signedBody(raw json.RawMessage) ([]byte, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
			return nil, false
		}
		return []byte(s), true
	}
	if raw[0] != '{' {
		return nil, false
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// onlyCA returns the CA when the file has a chain and CRL for exactly one.
func onlyCA(chains, crls map[string][]byte) string {
	var have []string
	for ca := range chains {
		if crls[ca] != nil {
			have = append(have, ca)
		}
	}
	sort.Strings(have)
	if len(have) == 1 {
		return have[0]
	}
	return ""
}

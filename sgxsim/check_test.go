package sgxsim_test

// A compact re-statement of the QVL rules of ../shared/spec/dcap.md §2,
// enough to check that the simulator's output and its defect table agree
// with them. It is deliberately independent of package dcap: it checks the
// simulator, the dcap tests check the verifier.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

type outcome struct {
	result     string // "ok" or error class
	status     string
	advisories []string
	expired    bool
	detail     string
}

func fail(class, format string, args ...any) outcome {
	return outcome{result: class, detail: fmt.Sprintf(format, args...)}
}

func verifyRS(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(msg)
	return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

func parsePEMs(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Minimal JSON views of the collateral documents.
type tcbInfoDoc struct {
	ID         string `json:"id"`
	Version    int    `json:"version"`
	IssueDate  string `json:"issueDate"`
	NextUpdate string `json:"nextUpdate"`
	FMSPC      string `json:"fmspc"`
	PCEID      string `json:"pceId"`
	TCBType    int    `json:"tcbType"`
	TDXModule  *struct {
		MRSigner   string `json:"mrsigner"`
		Attributes string `json:"attributes"`
	} `json:"tdxModule"`
	TDXModuleIdentities []struct {
		ID         string `json:"id"`
		MRSigner   string `json:"mrsigner"`
		Attributes string `json:"attributes"`
		TCBLevels  []struct {
			TCB struct {
				ISVSVN int `json:"isvsvn"`
			} `json:"tcb"`
			TCBStatus string `json:"tcbStatus"`
		} `json:"tcbLevels"`
	} `json:"tdxModuleIdentities"`
	TCBLevels []struct {
		TCB struct {
			SGX    []struct{ SVN int } `json:"sgxtcbcomponents"`
			PCESVN int                 `json:"pcesvn"`
			TDX    []struct{ SVN int } `json:"tdxtcbcomponents"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs"`
	} `json:"tcbLevels"`
}

type qeIdentityDoc struct {
	ID             string `json:"id"`
	Version        int    `json:"version"`
	IssueDate      string `json:"issueDate"`
	NextUpdate     string `json:"nextUpdate"`
	MiscSelect     string `json:"miscselect"`
	MiscSelectMask string `json:"miscselectMask"`
	Attributes     string `json:"attributes"`
	AttributesMask string `json:"attributesMask"`
	MRSigner       string `json:"mrsigner"`
	ISVProdID      int    `json:"isvprodid"`
	TCBLevels      []struct {
		TCB struct {
			ISVSVN int `json:"isvsvn"`
		} `json:"tcb"`
		TCBStatus string `json:"tcbStatus"`
	} `json:"tcbLevels"`
}

// pckExt is the decoded SGX extension of a PCK certificate.
type pckExt struct {
	entries int
	ppid    []byte
	comps   [16]int
	pcesvn  int
	cpusvn  []byte
	pceid   []byte
	fmspc   []byte
	sgxType int
	tcbLen  int
}

var oidSGX = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

type oidValue struct {
	OID   asn1.ObjectIdentifier
	Value asn1.RawValue
}

func decodePCKExt(cert *x509.Certificate) (*pckExt, error) {
	var raw []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidSGX) {
			raw = e.Value
		}
	}
	if raw == nil {
		return nil, fmt.Errorf("no SGX extension")
	}
	var top []oidValue
	if rest, err := asn1.Unmarshal(raw, &top); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("SGX extension: %v", err)
	}
	x := &pckExt{entries: len(top)}
	for _, e := range top {
		if len(e.OID) != len(oidSGX)+1 || !e.OID[:len(oidSGX)].Equal(oidSGX) {
			return nil, fmt.Errorf("unexpected OID %v", e.OID)
		}
		switch e.OID[len(oidSGX)] {
		case 1:
			x.ppid = octets(e.Value)
		case 2:
			var tcb []oidValue
			if _, err := asn1.Unmarshal(e.Value.FullBytes, &tcb); err != nil {
				return nil, err
			}
			x.tcbLen = len(tcb)
			for _, c := range tcb {
				n := c.OID[len(c.OID)-1]
				switch {
				case n >= 1 && n <= 16:
					if c.Value.Tag != asn1.TagInteger {
						return nil, fmt.Errorf("comp %d is not an INTEGER", n)
					}
					var v int
					asn1.Unmarshal(c.Value.FullBytes, &v)
					x.comps[n-1] = v
				case n == 17:
					if c.Value.Tag != asn1.TagInteger {
						return nil, fmt.Errorf("PCESVN is not an INTEGER")
					}
					asn1.Unmarshal(c.Value.FullBytes, &x.pcesvn)
				case n == 18:
					x.cpusvn = octets(c.Value)
				}
			}
		case 3:
			x.pceid = octets(e.Value)
		case 4:
			x.fmspc = octets(e.Value)
		case 5:
			if e.Value.Tag != asn1.TagEnum {
				return nil, fmt.Errorf("SGX type is not ENUMERATED")
			}
			var v asn1.Enumerated
			asn1.Unmarshal(e.Value.FullBytes, &v)
			x.sgxType = int(v)
		}
	}
	return x, nil
}

func octets(v asn1.RawValue) []byte {
	if v.Tag != asn1.TagOctetString {
		return nil
	}
	return v.Bytes
}

func dateOf(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05Z", s)
	return t
}

// check verifies raw against col at now with root as the trust anchor,
// following QVL's order of checks. It returns the first failure's class.
func check(raw []byte, col *pcs.Collateral, root *x509.Certificate, now time.Time) outcome {
	q, err := quote.Parse(raw)
	if err != nil {
		return fail("unsupported_quote_format", "%v", err)
	}
	if q.CertificationDataType != 5 {
		return fail("unsupported_certification_data", "type %d", q.CertificationDataType)
	}
	chain, err := parsePEMs(bytes.TrimRight(q.CertificationData, "\x00"))
	if err != nil || len(chain) != 3 {
		return fail("pck_chain_invalid", "chain: %v (%d certs)", err, len(chain))
	}
	var qroot, inter, pck *x509.Certificate
	for _, c := range chain {
		self := bytes.Equal(c.RawIssuer, c.RawSubject)
		switch {
		case self && strings.Contains(c.Subject.CommonName, "SGX Root CA"):
			qroot = c
		case strings.Contains(c.Subject.CommonName, "SGX PCK Certificate"):
			pck = c
		case !self && strings.Contains(c.Subject.CommonName, "CA"):
			inter = c
		}
	}
	if qroot == nil || inter == nil || pck == nil {
		return fail("pck_chain_invalid", "missing a certificate")
	}
	if !qroot.PublicKey.(*ecdsa.PublicKey).Equal(root.PublicKey) {
		return fail("pck_chain_untrusted", "root key")
	}
	if qroot.CheckSignatureFrom(qroot) != nil || inter.CheckSignatureFrom(qroot) != nil || pck.CheckSignatureFrom(inter) != nil ||
		!bytes.Equal(inter.RawIssuer, qroot.RawSubject) || !bytes.Equal(pck.RawIssuer, inter.RawSubject) {
		return fail("pck_chain_invalid", "links")
	}
	var times, expiries []time.Time
	for _, c := range chain {
		times, expiries = append(times, c.NotBefore), append(expiries, c.NotAfter)
	}
	// CRLs.
	rootCRL, err := x509.ParseRevocationList(col.RootCACRL)
	if err != nil {
		return fail("crl_invalid", "root CRL: %v", err)
	}
	pckCRL, err := x509.ParseRevocationList(col.PCKCRL)
	if err != nil {
		return fail("crl_invalid", "PCK CRL: %v", err)
	}
	if !bytes.Equal(rootCRL.RawIssuer, qroot.RawSubject) || !bytes.Equal(pckCRL.RawIssuer, inter.RawSubject) {
		return fail("unknown_crl_issuer", "CRL issuer")
	}
	if rootCRL.CheckSignatureFrom(qroot) != nil || pckCRL.CheckSignatureFrom(inter) != nil {
		return fail("crl_invalid", "CRL signature")
	}
	revoked := func(crl *x509.RevocationList, c *x509.Certificate) bool {
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return true
			}
		}
		return false
	}
	if revoked(rootCRL, inter) || revoked(pckCRL, pck) {
		return fail("pck_revoked", "PCK chain")
	}
	times = append(times, rootCRL.ThisUpdate, pckCRL.ThisUpdate)
	expiries = append(expiries, rootCRL.NextUpdate, pckCRL.NextUpdate)
	// Signing chains, TCB info, QE identity.
	for _, ch := range [][]byte{col.TCBInfoIssuerChain, col.QEIdentityIssuerChain} {
		certs, err := parsePEMs(ch)
		if err != nil || len(certs) != 2 || !strings.Contains(certs[0].Subject.CommonName, "SGX TCB Signing") ||
			certs[0].CheckSignatureFrom(certs[1]) != nil || !certs[1].PublicKey.(*ecdsa.PublicKey).Equal(root.PublicKey) {
			return fail("tcb_signing_chain_invalid", "signing chain")
		}
		if revoked(rootCRL, certs[0]) {
			return fail("pck_revoked", "TCB signing certificate")
		}
	}
	signer := func() *ecdsa.PublicKey {
		c, _ := parsePEMs(col.TCBInfoIssuerChain)
		return c[0].PublicKey.(*ecdsa.PublicKey)
	}()
	var ti tcbInfoDoc
	if err := json.Unmarshal(col.TCBInfo, &ti); err != nil {
		return fail("tcb_info_invalid", "%v", err)
	}
	if !verifyRS(signer, col.TCBInfo, col.TCBInfoSignature) {
		return fail("tcb_info_invalid", "signature")
	}
	var qi qeIdentityDoc
	if err := json.Unmarshal(col.QEIdentity, &qi); err != nil {
		return fail("qe_identity_invalid", "%v", err)
	}
	if !verifyRS(signer, col.QEIdentity, col.QEIdentitySignature) {
		return fail("qe_identity_invalid", "signature")
	}
	times = append(times, dateOf(ti.IssueDate), dateOf(qi.IssueDate))
	expiries = append(expiries, dateOf(ti.NextUpdate), dateOf(qi.NextUpdate))
	expired := false
	for _, e := range expiries {
		if !e.After(now) {
			expired = true
		}
	}
	// Quote checks.
	ext, err := decodePCKExt(pck)
	if err != nil {
		return fail("pck_chain_invalid", "%v", err)
	}
	if (ti.ID == "TDX") != q.IsTDX() || !strings.EqualFold(ti.FMSPC, hex.EncodeToString(ext.fmspc)) ||
		!strings.EqualFold(ti.PCEID, hex.EncodeToString(ext.pceid)) {
		return fail("tcb_info_mismatch", "kind/fmspc/pceid")
	}
	if q.IsTDX() {
		signerHex, attrs := ti.TDXModule.MRSigner, ti.TDXModule.Attributes
		if major := q.TD.TEETCBSVN[1]; major > 0 {
			found := false
			for _, m := range ti.TDXModuleIdentities {
				if strings.ToUpper(m.ID) == fmt.Sprintf("TDX_%02X", major) {
					signerHex, attrs, found = m.MRSigner, m.Attributes, true
				}
			}
			if !found {
				return fail("tdx_module_mismatch", "no module identity")
			}
		}
		wantAttrs, _ := hex.DecodeString(attrs)
		if !strings.EqualFold(hex.EncodeToString(q.TD.MRSignerSeam[:]), signerHex) ||
			!bytes.Equal(q.TD.SeamAttributes[:], wantAttrs) {
			return fail("tdx_module_mismatch", "mrsignerseam/attributes")
		}
	}
	if !verifyRS(pck.PublicKey.(*ecdsa.PublicKey), q.QEReportRaw, q.QEReportSignature[:]) {
		return fail("invalid_qe_report_signature", "")
	}
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	if !bytes.Equal(h.Sum(nil), q.QEReport.ReportData[:32]) {
		return fail("invalid_qe_report_data", "")
	}
	wantID := "QE"
	if q.IsTDX() {
		wantID = "TD_QE"
	}
	mask, _ := hex.DecodeString(qi.AttributesMask)
	attr, _ := hex.DecodeString(qi.Attributes)
	for i := range 16 {
		if q.QEReport.Attributes[i]&mask[i] != attr[i] {
			return fail("qe_identity_mismatch", "attributes")
		}
	}
	if qi.ID != wantID || !strings.EqualFold(qi.MRSigner, hex.EncodeToString(q.QEReport.MRSigner[:])) ||
		qi.ISVProdID != int(q.QEReport.ISVProdID) || qi.MiscSelect != "00000000" || q.QEReport.MiscSelect != 0 {
		return fail("qe_identity_mismatch", "identity")
	}
	qeStatus := ""
	for _, l := range qi.TCBLevels {
		if l.TCB.ISVSVN <= int(q.QEReport.ISVSVN) {
			qeStatus = l.TCBStatus
			break
		}
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...))
	if err != nil || !verifyRS(pub, q.SignedRegion, q.Signature[:]) {
		return fail("invalid_quote_signature", "")
	}
	// TCB level (levels are in QVL order in the simulator's documents).
	var sgxLevel, tdxLevel = -1, -1
	for i, l := range ti.TCBLevels {
		ok := ext.pcesvn >= l.TCB.PCESVN
		for j := range 16 {
			ok = ok && ext.comps[j] >= l.TCB.SGX[j].SVN
		}
		if !ok {
			continue
		}
		if sgxLevel < 0 {
			sgxLevel = i
		}
		if q.IsTDX() {
			start := 0
			if q.TD.TEETCBSVN[1] > 0 {
				start = 2
			}
			for j := start; j < 16; j++ {
				ok = ok && int(q.TD.TEETCBSVN[j]) >= l.TCB.TDX[j].SVN
			}
			if ok && tdxLevel < 0 {
				tdxLevel = i
			}
		}
	}
	sel := sgxLevel
	if q.IsTDX() {
		sel = tdxLevel
	}
	if sgxLevel < 0 || sel < 0 {
		return fail("tcb_not_supported", "no level")
	}
	status := ti.TCBLevels[sel].TCBStatus
	if q.IsTDX() && q.TD.TEETCBSVN[1] > 0 {
		mod := ""
		for _, m := range ti.TDXModuleIdentities {
			if strings.ToUpper(m.ID) == fmt.Sprintf("TDX_%02X", q.TD.TEETCBSVN[1]) {
				for _, l := range m.TCBLevels {
					if l.TCB.ISVSVN <= int(q.TD.TEETCBSVN[0]) {
						mod = l.TCBStatus
						break
					}
				}
			}
		}
		switch mod {
		case "":
			return fail("tcb_not_supported", "module level")
		case "OutOfDate":
			status = outOfDate(status)
		case "Revoked":
			status = "Revoked"
		}
	}
	switch qeStatus {
	case "":
		return fail("tcb_not_supported", "QE level")
	case "UpToDate":
	case "Revoked":
		status = "Revoked"
	default:
		status = outOfDate(status)
	}
	if status == "Revoked" {
		return fail("tcb_revoked", "")
	}
	return outcome{result: "ok", status: status, advisories: ti.TCBLevels[sel].AdvisoryIDs, expired: expired}
}

func outOfDate(s string) string {
	switch s {
	case "UpToDate", "SWHardeningNeeded":
		return "OutOfDate"
	case "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded":
		return "OutOfDateConfigurationNeeded"
	}
	return s
}

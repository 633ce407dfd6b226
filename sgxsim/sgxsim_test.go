package sgxsim_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/sgxsim"
)

var now = time.Date(2025, 7, 1, 12, 0, 0, 0, time.UTC)

func collateral(t testing.TB, p *sgxsim.Platform, o sgxsim.CollateralOptions) *pcs.Collateral {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = now
	}
	c, err := p.Collateral(o)
	if err != nil {
		t.Fatalf("Collateral(%+v): %v", o, err)
	}
	return c
}

func makeQuote(t testing.TB, p *sgxsim.Platform, o sgxsim.QuoteOptions) []byte {
	t.Helper()
	q, err := p.Quote(o)
	if err != nil {
		t.Fatalf("Quote(%+v): %v", o, err)
	}
	return q
}

// The five extensions QVL's certificate parser requires of every certificate.
var requiredExtensions = map[string]asn1.ObjectIdentifier{
	"authority key identifier": {2, 5, 29, 35},
	"CRL distribution points":  {2, 5, 29, 31},
	"subject key identifier":   {2, 5, 29, 14},
	"key usage":                {2, 5, 29, 15},
	"basic constraints":        {2, 5, 29, 19},
}

func checkExtensions(t *testing.T, c *x509.Certificate) {
	t.Helper()
	for name, oid := range requiredExtensions {
		found := false
		for _, e := range c.Extensions {
			found = found || e.Id.Equal(oid)
		}
		if !found {
			t.Errorf("%s: no %s extension", c.Subject.CommonName, name)
		}
	}
	if c.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("%s: signature algorithm %v", c.Subject.CommonName, c.SignatureAlgorithm)
	}
	if !c.NotBefore.Equal(sgxsim.CertNotBefore) || !c.NotAfter.Equal(sgxsim.CertNotAfter) {
		t.Errorf("%s: validity %v – %v", c.Subject.CommonName, c.NotBefore, c.NotAfter)
	}
	if len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != sgxsim.Organization {
		t.Errorf("%s: organization %q", c.Subject.CommonName, c.Subject.Organization)
	}
}

func chainOf(t *testing.T, raw []byte) []*x509.Certificate {
	t.Helper()
	q, err := quote.Parse(raw)
	if err != nil {
		t.Fatalf("quote.Parse: %v", err)
	}
	if q.CertificationDataType != 5 {
		t.Fatalf("certification data type %d", q.CertificationDataType)
	}
	if !bytes.HasSuffix(q.CertificationData, []byte("-----END CERTIFICATE-----\n\x00")) {
		t.Errorf("PEM chain is not NUL-terminated")
	}
	certs, err := parsePEMs(q.CertificationData)
	if err != nil || len(certs) != 3 {
		t.Fatalf("PEM chain: %v, %d certificates", err, len(certs))
	}
	return certs
}

func TestPKI(t *testing.T) {
	p := sgxsim.Default()
	root, ca, tcb := p.Root(), p.PlatformCA(), p.TCBSigning()
	for _, c := range []*x509.Certificate{root, ca, tcb} {
		checkExtensions(t, c)
	}
	if !strings.Contains(root.Subject.CommonName, "SGX Root CA") || !bytes.Equal(root.RawIssuer, root.RawSubject) {
		t.Errorf("root: %s issued by %s", root.Subject, root.Issuer)
	}
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Errorf("root self-signature: %v", err)
	}
	if !bytes.Equal(root.AuthorityKeyId, root.SubjectKeyId) {
		t.Errorf("root AKI %x != SKI %x", root.AuthorityKeyId, root.SubjectKeyId)
	}
	if !root.IsCA || root.MaxPathLen != 1 || root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("root: CA %v pathlen %d usage %v", root.IsCA, root.MaxPathLen, root.KeyUsage)
	}
	for _, c := range []*x509.Certificate{ca, tcb} {
		if err := c.CheckSignatureFrom(root); err != nil || !bytes.Equal(c.RawIssuer, root.RawSubject) {
			t.Errorf("%s not issued by the root: %v", c.Subject.CommonName, err)
		}
		if !bytes.Equal(c.AuthorityKeyId, root.SubjectKeyId) {
			t.Errorf("%s: AKI %x", c.Subject.CommonName, c.AuthorityKeyId)
		}
	}
	if !strings.Contains(ca.Subject.CommonName, "CA") || !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("platform CA: %s CA %v pathlen %d", ca.Subject.CommonName, ca.IsCA, ca.MaxPathLen)
	}
	if !strings.Contains(tcb.Subject.CommonName, "SGX TCB Signing") || tcb.IsCA {
		t.Errorf("TCB signing: %s CA %v", tcb.Subject.CommonName, tcb.IsCA)
	}
	// Every PCK certificate, and the chain inside quotes.
	for _, pr := range sgxsim.Presets() {
		pck, err := p.PCKCertificate(pr.TCB)
		if err != nil {
			t.Fatal(err)
		}
		checkExtensions(t, pck)
		if !strings.Contains(pck.Subject.CommonName, "SGX PCK Certificate") || pck.IsCA {
			t.Errorf("PCK: %s", pck.Subject.CommonName)
		}
		if err := pck.CheckSignatureFrom(ca); err != nil || !bytes.Equal(pck.RawIssuer, ca.RawSubject) {
			t.Errorf("PCK %s not issued by the platform CA: %v", pr.Name, err)
		}
		if pck.SerialNumber.Cmp(p.PCKSerial(pr.TCB)) != 0 {
			t.Errorf("PCK %s serial %x != PCKSerial %x", pr.Name, pck.SerialNumber, p.PCKSerial(pr.TCB))
		}
		if !pck.PublicKey.(*ecdsa.PublicKey).Equal(p.PCKPublicKey()) {
			t.Errorf("PCK %s: unexpected key", pr.Name)
		}
	}
	for _, d := range []sgxsim.Defect{sgxsim.NoDefect, sgxsim.UntrustedRoot} {
		chain := chainOf(t, makeQuote(t, p, sgxsim.QuoteOptions{Defect: d}))
		for _, c := range chain {
			checkExtensions(t, c)
		}
		if !bytes.Equal(chain[1].RawSubject, ca.RawSubject) || !bytes.Equal(chain[2].RawSubject, root.RawSubject) {
			t.Errorf("%s: chain order/names wrong", d)
		}
		if same := bytes.Equal(chain[2].Raw, root.Raw); same != (d == sgxsim.NoDefect) {
			t.Errorf("%s: chain root identical to Root(): %v", d, same)
		}
	}
}

func TestPCKExtension(t *testing.T) {
	p := sgxsim.Default()
	id := p.Identity()
	for _, pr := range sgxsim.Presets() {
		pck, err := p.PCKCertificate(pr.TCB)
		if err != nil {
			t.Fatal(err)
		}
		x, err := decodePCKExt(pck)
		if err != nil {
			t.Fatalf("%s: %v", pr.Name, err)
		}
		if x.entries != 7 || x.tcbLen != 18 {
			t.Errorf("%s: %d entries, TCB sequence of %d", pr.Name, x.entries, x.tcbLen)
		}
		for i := range 16 {
			if x.comps[i] != int(pr.TCB.Components[i]) {
				t.Errorf("%s: comp%02d = %d, want %d", pr.Name, i+1, x.comps[i], pr.TCB.Components[i])
			}
		}
		cpusvn := pr.TCB.CPUSVN()
		if x.pcesvn != int(pr.TCB.PCESVN) || !bytes.Equal(x.cpusvn, cpusvn[:]) {
			t.Errorf("%s: pcesvn %d cpusvn %x", pr.Name, x.pcesvn, x.cpusvn)
		}
		if !bytes.Equal(x.ppid, id.PPID[:]) || !bytes.Equal(x.fmspc, id.FMSPC[:]) || !bytes.Equal(x.pceid, id.PCEID[:]) || x.sgxType != 1 {
			t.Errorf("%s: ppid %x fmspc %x pceid %x type %d", pr.Name, x.ppid, x.fmspc, x.pceid, x.sgxType)
		}
	}
	if p.FMSPC() != strings.ToUpper(hex.EncodeToString(id.FMSPC[:])) {
		t.Errorf("FMSPC() = %s", p.FMSPC())
	}
}

func TestCRLs(t *testing.T) {
	p := sgxsim.Default()
	oidCRLNumber := asn1.ObjectIdentifier{2, 5, 29, 20}
	oidAKI := asn1.ObjectIdentifier{2, 5, 29, 35}
	for _, d := range []sgxsim.Defect{sgxsim.NoDefect, sgxsim.RevokedPCK, sgxsim.RevokedIntermediate, sgxsim.RevokedTCBSigning} {
		col := collateral(t, p, sgxsim.CollateralOptions{Defect: d})
		for _, c := range []struct {
			name   string
			der    []byte
			issuer *x509.Certificate
		}{{"root CA CRL", col.RootCACRL, p.Root()}, {"PCK CRL", col.PCKCRL, p.PlatformCA()}} {
			crl, err := x509.ParseRevocationList(c.der)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var num, aki bool
			for _, e := range crl.Extensions {
				num = num || e.Id.Equal(oidCRLNumber)
				aki = aki || e.Id.Equal(oidAKI)
			}
			if !num || !aki || crl.Number == nil || !bytes.Equal(crl.AuthorityKeyId, c.issuer.SubjectKeyId) {
				t.Errorf("%s: CRL Number %v, AKI %v", c.name, num, aki)
			}
			if !bytes.Equal(crl.RawIssuer, c.issuer.RawSubject) {
				t.Errorf("%s: issuer %s", c.name, crl.Issuer)
			}
			if err := crl.CheckSignatureFrom(c.issuer); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			if !crl.ThisUpdate.Equal(now) || !crl.NextUpdate.Equal(now.Add(sgxsim.DefaultValidity)) {
				t.Errorf("%s: %v – %v", c.name, crl.ThisUpdate, crl.NextUpdate)
			}
		}
		rootCRL, _ := x509.ParseRevocationList(col.RootCACRL)
		pckCRL, _ := x509.ParseRevocationList(col.PCKCRL)
		lists := func(crl *x509.RevocationList, c *x509.Certificate) bool {
			return slices.ContainsFunc(crl.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool {
				return e.SerialNumber.Cmp(c.SerialNumber) == 0
			})
		}
		pck, _ := p.PCKCertificate(sgxsim.Presets()[0].TCB)
		if got := lists(pckCRL, pck); got != (d == sgxsim.RevokedPCK) {
			t.Errorf("%s: PCK revoked = %v", d, got)
		}
		if got := lists(rootCRL, p.PlatformCA()); got != (d == sgxsim.RevokedIntermediate) {
			t.Errorf("%s: platform CA revoked = %v", d, got)
		}
		if got := lists(rootCRL, p.TCBSigning()); got != (d == sgxsim.RevokedTCBSigning) {
			t.Errorf("%s: TCB signing revoked = %v", d, got)
		}
		if len(pckCRL.RevokedCertificateEntries) < 2 {
			t.Errorf("%s: the PCK CRL should list unrelated serials too", d)
		}
	}
	// Extra serials.
	custom := sgxsim.TCB{Components: [16]uint8{99, 99}, PCESVN: 99}
	col := collateral(t, p, sgxsim.CollateralOptions{RevokedSerials: []*big.Int{p.PCKSerial(custom)}})
	pckCRL, _ := x509.ParseRevocationList(col.PCKCRL)
	if !slices.ContainsFunc(pckCRL.RevokedCertificateEntries, func(e x509.RevocationListEntry) bool {
		return e.SerialNumber.Cmp(p.PCKSerial(custom)) == 0
	}) {
		t.Errorf("RevokedSerials not in the PCK CRL")
	}
}

func TestCollateralDocuments(t *testing.T) {
	p := sgxsim.Default()
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		t.Run(string(tee), func(t *testing.T) {
			col := collateral(t, p, sgxsim.CollateralOptions{TEE: tee, Validity: 10 * 24 * time.Hour})
			signer := p.TCBSigning().PublicKey.(*ecdsa.PublicKey)
			for _, doc := range []struct {
				name      string
				body, sig []byte
			}{{"TCB info", col.TCBInfo, col.TCBInfoSignature}, {"QE identity", col.QEIdentity, col.QEIdentitySignature}} {
				if !verifyRS(signer, doc.body, doc.sig) {
					t.Errorf("%s signature does not verify over the exact bytes", doc.name)
				}
				var compact bytes.Buffer
				if err := json.Compact(&compact, doc.body); err != nil || !bytes.Equal(compact.Bytes(), doc.body) {
					t.Errorf("%s is not compact JSON: %v", doc.name, err)
				}
			}
			for _, chain := range [][]byte{col.TCBInfoIssuerChain, col.QEIdentityIssuerChain, col.PCKCRLIssuerChain} {
				certs, err := parsePEMs(chain)
				if err != nil || len(certs) != 2 || !bytes.Equal(certs[1].Raw, p.Root().Raw) {
					t.Errorf("issuer chain: %v, %d certs", err, len(certs))
				}
			}

			var ti tcbInfoDoc
			if err := json.Unmarshal(col.TCBInfo, &ti); err != nil {
				t.Fatal(err)
			}
			wantID := map[sgxsim.TEE]string{sgxsim.SGX: "SGX", sgxsim.TDX: "TDX"}[tee]
			if ti.ID != wantID || ti.Version != 3 || ti.TCBType != 0 || ti.FMSPC != p.FMSPC() || ti.PCEID != "0000" {
				t.Errorf("TCB info header: %+v", ti)
			}
			if ti.IssueDate != "2025-07-01T12:00:00Z" || ti.NextUpdate != "2025-07-11T12:00:00Z" {
				t.Errorf("TCB info dates %s – %s", ti.IssueDate, ti.NextUpdate)
			}
			statuses := map[string]bool{}
			for i, l := range ti.TCBLevels {
				statuses[l.TCBStatus] = true
				if len(l.TCB.SGX) != 16 || (tee == sgxsim.TDX) != (len(l.TCB.TDX) == 16) {
					t.Errorf("level %d: %d SGX, %d TDX components", i, len(l.TCB.SGX), len(l.TCB.TDX))
				}
				if (l.TCBStatus == "UpToDate") != (len(l.AdvisoryIDs) == 0) {
					t.Errorf("level %d (%s): advisories %v", i, l.TCBStatus, l.AdvisoryIDs)
				}
				if i > 0 && compareLevels(ti.TCBLevels[i-1].TCB.SGX, ti.TCBLevels[i-1].TCB.PCESVN, l.TCB.SGX, l.TCB.PCESVN) <= 0 {
					t.Errorf("level %d is not below level %d in QVL order", i, i-1)
				}
			}
			for _, s := range []string{"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "OutOfDate"} {
				if !statuses[s] {
					t.Errorf("no %s level", s)
				}
			}
			if tee == sgxsim.TDX {
				if ti.TDXModule == nil || ti.TDXModule.MRSigner != strings.Repeat("0", 96) {
					t.Errorf("tdxModule %+v", ti.TDXModule)
				}
				if !slices.ContainsFunc(ti.TDXModuleIdentities, func(m struct {
					ID         string `json:"id"`
					MRSigner   string `json:"mrsigner"`
					Attributes string `json:"attributes"`
					TCBLevels  []struct {
						TCB struct {
							ISVSVN int `json:"isvsvn"`
						} `json:"tcb"`
						TCBStatus string `json:"tcbStatus"`
					} `json:"tcbLevels"`
				}) bool {
					return m.ID == "TDX_01" && len(m.TCBLevels) > 0
				}) {
					t.Errorf("no TDX_01 module identity")
				}
			} else if ti.TDXModule != nil || ti.TDXModuleIdentities != nil {
				t.Errorf("SGX TCB info with TDX members")
			}

			var qi qeIdentityDoc
			if err := json.Unmarshal(col.QEIdentity, &qi); err != nil {
				t.Fatal(err)
			}
			wantQE, wantProd := "QE", 1
			if tee == sgxsim.TDX {
				wantQE, wantProd = "TD_QE", 2
			}
			signerHash := sgxsim.QEMRSigner(tee)
			if qi.ID != wantQE || qi.Version != 2 || qi.ISVProdID != wantProd ||
				qi.MRSigner != strings.ToUpper(hex.EncodeToString(signerHash[:])) ||
				qi.TCBLevels[0].TCB.ISVSVN != int(sgxsim.DefaultQESVN) || qi.TCBLevels[0].TCBStatus != "UpToDate" {
				t.Errorf("QE identity %+v", qi)
			}

			// The bundle round trip keeps every member byte for byte.
			b, err := col.MarshalBundle()
			if err != nil {
				t.Fatal(err)
			}
			back, err := pcs.ParseBundle(b)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(*back) != fmt.Sprint(*col) {
				t.Errorf("bundle round trip changed the collateral")
			}
		})
	}
}

func compareLevels(a []struct{ SVN int }, ap int, b []struct{ SVN int }, bp int) int {
	for i := range a {
		if a[i].SVN != b[i].SVN {
			return a[i].SVN - b[i].SVN
		}
	}
	return ap - bp
}

func TestCollateralOptions(t *testing.T) {
	p := sgxsim.Default()
	if _, err := p.Collateral(sgxsim.CollateralOptions{}); !errors.Is(err, sgxsim.ErrInvalidOptions) {
		t.Errorf("no Now: %v", err)
	}
	if _, err := p.Collateral(sgxsim.CollateralOptions{Now: now, TEE: "sev"}); errs.Code(err) != "invalid_options" {
		t.Errorf("bad TEE: %v", err)
	}
	// Sub-second Now is truncated, never rounded up past Now.
	col := collateral(t, p, sgxsim.CollateralOptions{Now: now.Add(999 * time.Millisecond)})
	var ti tcbInfoDoc
	json.Unmarshal(col.TCBInfo, &ti)
	if ti.IssueDate != "2025-07-01T12:00:00Z" {
		t.Errorf("issueDate %s", ti.IssueDate)
	}
}

type quoteCase struct {
	tee     sgxsim.TEE
	version int
}

var quoteCases = []quoteCase{{sgxsim.SGX, 3}, {sgxsim.SGX, 4}, {sgxsim.SGX, 5}, {sgxsim.TDX, 4}, {sgxsim.TDX, 5}}

func TestQuoteLayouts(t *testing.T) {
	p := sgxsim.Default()
	att := p.AttestationPublicKey()
	for _, c := range quoteCases {
		t.Run(fmt.Sprintf("%s-v%d", c.tee, c.version), func(t *testing.T) {
			raw := makeQuote(t, p, sgxsim.QuoteOptions{TEE: c.tee, Version: c.version, ReportData: []byte("hello")})
			q, err := quote.Parse(raw)
			if err != nil {
				t.Fatalf("quote.Parse: %v", err)
			}
			h := q.Header
			if int(h.Version) != c.version || h.AttestationKeyType != 2 || h.QEVendorID != sgxsim.QEVendorID || q.TrailingBytes != 0 {
				t.Errorf("header %+v, trailing %d", h, q.TrailingBytes)
			}
			id := p.Identity()
			if !bytes.Equal(h.UserData[:16], id.QEID[:]) {
				t.Errorf("user data %x", h.UserData)
			}
			if q.IsTDX() != (c.tee == sgxsim.TDX) {
				t.Errorf("TEE type 0x%x", h.TEEType)
			}
			wantBody := map[quoteCase]uint16{{sgxsim.SGX, 3}: quote.BodySGX, {sgxsim.SGX, 4}: quote.BodySGX, {sgxsim.SGX, 5}: quote.BodySGX,
				{sgxsim.TDX, 4}: quote.BodyTDX10, {sgxsim.TDX, 5}: quote.BodyTDX15}[c]
			if q.BodyType != wantBody {
				t.Errorf("body type %d, want %d", q.BodyType, wantBody)
			}
			// Standard offsets of dcap.md §1.6.
			switch c {
			case quoteCase{sgxsim.SGX, 3}:
				if !bytes.Equal(raw[884:916], q.QEReport.ReportData[:32]) || le16(raw[1046:]) != 5 {
					t.Errorf("v3 offsets differ from Intel's")
				}
			case quoteCase{sgxsim.TDX, 4}:
				if le16(raw[764:]) != 6 || !bytes.Equal(raw[1090:1122], q.QEReport.ReportData[:32]) || le16(raw[1252:]) != 5 {
					t.Errorf("v4 TDX offsets differ from Intel's")
				}
			case quoteCase{sgxsim.TDX, 5}:
				if le16(raw[48:]) != 3 || le16(raw[834:]) != 6 || le16(raw[1322:]) != 5 {
					t.Errorf("v5 TDX offsets differ from Intel's")
				}
			}
			// Signatures and the QE report binding.
			if q.AttestationKey != rawKey(att) {
				t.Errorf("attestation key differs")
			}
			if !verifyRS(att, q.SignedRegion, q.Signature[:]) {
				t.Errorf("quote signature does not verify")
			}
			chain := chainOf(t, raw)
			if !verifyRS(chain[0].PublicKey.(*ecdsa.PublicKey), q.QEReportRaw, q.QEReportSignature[:]) {
				t.Errorf("QE report signature does not verify under the PCK key")
			}
			binding := sha256.Sum256(append(append([]byte(nil), q.AttestationKey[:]...), q.QEAuthData...))
			if !bytes.Equal(binding[:], q.QEReport.ReportData[:32]) || len(q.QEAuthData) != 32 {
				t.Errorf("QE report data does not bind the attestation key")
			}
			wantProd := map[sgxsim.TEE]uint16{sgxsim.SGX: 1, sgxsim.TDX: 2}[c.tee]
			if q.QEReport.ISVProdID != wantProd || q.QEReport.ISVSVN != sgxsim.DefaultQESVN ||
				q.QEReport.MRSigner != sgxsim.QEMRSigner(c.tee) || q.QEReport.Attributes[0] != 0x15 {
				t.Errorf("QE report %+v", q.QEReport)
			}
			up := sgxsim.Presets()[0].TCB
			if q.QEReport.CPUSVN != up.CPUSVN() {
				t.Errorf("QE report CPUSVN %x", q.QEReport.CPUSVN)
			}
			rd := q.ReportData()
			if !bytes.Equal(rd[:5], []byte("hello")) || rd[5] != 0 {
				t.Errorf("report data %x", rd)
			}
			if c.version == 3 && (h.QESVN != sgxsim.DefaultQESVN || h.PCESVN != up.PCESVN) {
				t.Errorf("v3 header qe_svn %d pce_svn %d", h.QESVN, h.PCESVN)
			}
			if c.tee == sgxsim.SGX {
				e := q.Enclave
				if e.MREnclave != sgxsim.DefaultMREnclave || e.MRSigner != sgxsim.DefaultMRSigner || e.Debug() || e.CPUSVN != up.CPUSVN() {
					t.Errorf("enclave report %+v", e)
				}
			} else {
				td := q.TD
				if td.TEETCBSVN != sgxsim.DefaultTEETCBSVN || td.MRTD != sgxsim.DefaultMRTD || td.MRSeam != sgxsim.DefaultMRSeam ||
					td.MRSignerSeam != [48]byte{} || td.SeamAttributes != [8]byte{} || td.Debug() || td.TDAttributes[3] != 0x10 {
					t.Errorf("TD report %+v", td)
				}
				if c.version == 5 && td.TEETCBSVN2 != td.TEETCBSVN {
					t.Errorf("TEE_TCB_SVN2 %x", td.TEETCBSVN2)
				}
			}
			// And the whole thing verifies under QVL's rules.
			if got := check(raw, collateral(t, p, sgxsim.CollateralOptions{TEE: c.tee}), p.Root(), now); got.result != "ok" || got.status != "UpToDate" || got.expired {
				t.Errorf("check: %+v", got)
			}
		})
	}
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }

func rawKey(pub *ecdsa.PublicKey) [64]byte {
	var k [64]byte
	b, _ := pub.Bytes()
	copy(k[:], b[1:])
	return k
}

func TestQuoteOptions(t *testing.T) {
	p := sgxsim.Default()
	fill := func(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }
	raw := makeQuote(t, p, sgxsim.QuoteOptions{
		MREnclave: fill(32, 1), MRSigner: fill(32, 2), ISVProdID: 7, ISVSVN: 9, Debug: true, KSS: true,
		ConfigID: fill(64, 3), ConfigSVN: 4, ISVExtProdID: fill(16, 5), ISVFamilyID: fill(16, 6), MiscSelect: 1,
		ReportData: fill(64, 0xaa),
	})
	q, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	e := q.Enclave
	if e.MREnclave != [32]byte(fill(32, 1)) || e.MRSigner != [32]byte(fill(32, 2)) || e.ISVProdID != 7 || e.ISVSVN != 9 ||
		!e.Debug() || !e.KSS() || e.ConfigID != [64]byte(fill(64, 3)) || e.ConfigSVN != 4 ||
		e.ISVExtProdID != [16]byte(fill(16, 5)) || e.ISVFamilyID != [16]byte(fill(16, 6)) || e.MiscSelect != 1 ||
		e.ReportData != [64]byte(fill(64, 0xaa)) || e.Attributes[0] != 0x87 {
		t.Errorf("enclave report %+v", e)
	}

	attrs, xfam := uint64(0), uint64(0x3)
	raw = makeQuote(t, p, sgxsim.QuoteOptions{
		TEE: sgxsim.TDX, Version: 5, MRTD: fill(48, 1), RTMR: [4][]byte{fill(48, 2), fill(48, 3), fill(48, 4), fill(48, 5)},
		MRConfigID: fill(48, 6), MROwner: fill(48, 7), MROwnerConfig: fill(48, 8), TDAttributes: &attrs, XFAM: &xfam,
		Debug: true, TEETCBSVN: []byte{3, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, TEETCBSVN2: fill(16, 9),
		MRSeam: fill(48, 10), MRServiceTD: fill(48, 11), ReportData: []byte{1, 2, 3},
	})
	q, err = quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	td := q.TD
	if td.MRTD != [48]byte(fill(48, 1)) || td.RTMR[0] != [48]byte(fill(48, 2)) || td.RTMR[3] != [48]byte(fill(48, 5)) ||
		td.MRConfigID != [48]byte(fill(48, 6)) || td.MROwner != [48]byte(fill(48, 7)) || td.MROwnerConfig != [48]byte(fill(48, 8)) ||
		td.TDAttributes != [8]byte{1} || td.XFAM != [8]byte{3} || !td.Debug() || td.TEETCBSVN[0] != 3 ||
		td.TEETCBSVN2 != [16]byte(fill(16, 9)) || td.MRSeam != [48]byte(fill(48, 10)) || td.MRServiceTD != [48]byte(fill(48, 11)) ||
		td.ReportData[2] != 3 {
		t.Errorf("TD report %+v", td)
	}

	for name, o := range map[string]sgxsim.QuoteOptions{
		"short mrenclave":     {MREnclave: []byte{1}},
		"long report data":    {ReportData: make([]byte, 65)},
		"sgx version 6":       {Version: 6},
		"tdx version 3":       {TEE: sgxsim.TDX, Version: 3},
		"unknown tee":         {TEE: "sev"},
		"svn2 in v4":          {TEE: sgxsim.TDX, TEETCBSVN2: make([]byte, 16)},
		"module defect, sgx":  {Defect: sgxsim.TDXModuleMismatch},
		"unknown defect":      {Defect: sgxsim.Defect(1000)},
		"short TEE_TCB_SVN":   {TEE: sgxsim.TDX, TEETCBSVN: []byte{1}},
		"short MRSIGNERSEAM":  {TEE: sgxsim.TDX, MRSignerSeam: []byte{1}},
		"short ISV_FAMILY_ID": {ISVFamilyID: []byte{1}},
	} {
		if _, err := p.Quote(o); !errors.Is(err, sgxsim.ErrInvalidOptions) {
			t.Errorf("%s: err = %v, want invalid_options", name, err)
		}
	}
}

// TestPresets checks that every preset gives its documented outcome, for
// SGX and TDX, under the QVL rules.
func TestPresets(t *testing.T) {
	p := sgxsim.Default()
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		col := collateral(t, p, sgxsim.CollateralOptions{TEE: tee})
		for _, pr := range sgxsim.Presets() {
			tcb := pr.TCB
			got := check(makeQuote(t, p, sgxsim.QuoteOptions{TEE: tee, TCB: &tcb}), col, p.Root(), now)
			if got.result != pr.Result || string(pr.Status) != got.status || !slices.Equal(got.advisories, pr.AdvisoryIDs) {
				t.Errorf("%s %s: got %+v, want %s %s %v", tee, pr.Name, got, pr.Result, pr.Status, pr.AdvisoryIDs)
			}
		}
	}
	if _, ok := sgxsim.LookupPreset("Up-To-Date"); !ok {
		t.Errorf("LookupPreset is not lenient")
	}
	if _, ok := sgxsim.LookupPreset("nope"); ok {
		t.Errorf("LookupPreset(nope) found something")
	}
}

// TestTDXAndQEStatuses covers the outcomes selected by TEE_TCB_SVN and the
// QE SVN rather than by the PCK TCB.
func TestTDXAndQEStatuses(t *testing.T) {
	p := sgxsim.Default()
	tdxCol := collateral(t, p, sgxsim.CollateralOptions{TEE: sgxsim.TDX})
	sgxCol := collateral(t, p, sgxsim.CollateralOptions{TEE: sgxsim.SGX})
	svn := func(b ...byte) []byte { return append(b, make([]byte, 16-len(b))...) }
	cfg, _ := sgxsim.LookupPreset(sgxsim.PresetConfigurationNeeded)
	for _, c := range []struct {
		name   string
		o      sgxsim.QuoteOptions
		col    *pcs.Collateral
		result string
		status string
	}{
		{"module out of date", sgxsim.QuoteOptions{TEE: sgxsim.TDX, TEETCBSVN: svn(3, 1, 3)}, tdxCol, "ok", "OutOfDate"},
		{"module out of date, config needed", sgxsim.QuoteOptions{TEE: sgxsim.TDX, TEETCBSVN: svn(3, 1, 3), TCB: &cfg.TCB}, tdxCol, "ok", "OutOfDateConfigurationNeeded"},
		{"module below every level", sgxsim.QuoteOptions{TEE: sgxsim.TDX, TEETCBSVN: svn(2, 1, 3)}, tdxCol, "tcb_not_supported", ""},
		{"late microcode below", sgxsim.QuoteOptions{TEE: sgxsim.TDX, TEETCBSVN: svn(5, 1, 2)}, tdxCol, "tcb_not_supported", ""},
		{"no module identity TDX_02", sgxsim.QuoteOptions{TEE: sgxsim.TDX, TEETCBSVN: svn(5, 2, 3)}, tdxCol, "tdx_module_mismatch", ""},
		{"major 0 uses tdxtcbcomponents", sgxsim.QuoteOptions{TEE: sgxsim.TDX, TEETCBSVN: svn(5, 0, 3)}, tdxCol, "ok", "UpToDate"},
		{"QE out of date", sgxsim.QuoteOptions{QESVN: 6}, sgxCol, "ok", "OutOfDate"},
		{"QE not supported", sgxsim.QuoteOptions{QESVN: 5}, sgxCol, "tcb_not_supported", ""},
		{"TD QE out of date", sgxsim.QuoteOptions{TEE: sgxsim.TDX, QESVN: 7}, tdxCol, "ok", "OutOfDate"},
		{"SGX quote, TDX collateral", sgxsim.QuoteOptions{}, tdxCol, "tcb_info_mismatch", ""},
		{"TDX quote, SGX collateral", sgxsim.QuoteOptions{TEE: sgxsim.TDX}, sgxCol, "tcb_info_mismatch", ""},
	} {
		got := check(makeQuote(t, p, c.o), c.col, p.Root(), now)
		if got.result != c.result || got.status != c.status {
			t.Errorf("%s: got %+v, want %s %s", c.name, got, c.result, c.status)
		}
	}
}

// TestDefects makes every defect for SGX and TDX and checks that the pair
// gives exactly ExpectedResult under the QVL rules, and that each side
// alone is what the table says.
func TestDefects(t *testing.T) {
	p := sgxsim.Default()
	if len(sgxsim.AllDefects()) < 19 {
		t.Errorf("only %d defects", len(sgxsim.AllDefects()))
	}
	seen := map[string]bool{}
	for _, d := range append([]sgxsim.Defect{sgxsim.NoDefect}, sgxsim.AllDefects()...) {
		if seen[d.String()] {
			t.Errorf("duplicate name %s", d)
		}
		seen[d.String()] = true
		if back, err := sgxsim.ParseDefect(d.String()); err != nil || back != d {
			t.Errorf("ParseDefect(%s) = %v, %v", d, back, err)
		}
		if d.ExpectedResult() == "" || d.Description() == "" {
			t.Errorf("%s: no expected result or description", d)
		}
		for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
			if !d.Applies(tee) {
				if _, err := p.Quote(sgxsim.QuoteOptions{TEE: tee, Defect: d}); err == nil {
					t.Errorf("%s/%s: not applicable but Quote succeeded", d, tee)
				}
				continue
			}
			raw := makeQuote(t, p, sgxsim.QuoteOptions{TEE: tee, Defect: d})
			col := collateral(t, p, sgxsim.CollateralOptions{TEE: tee, Defect: d})
			got := check(raw, col, p.Root(), now)
			if got.result != d.ExpectedResult() || got.expired != d.CollateralExpired() {
				t.Errorf("%s/%s: got %+v, want %s (expired %v)", d, tee, got, d.ExpectedResult(), d.CollateralExpired())
			}
			if got.result == "ok" && got.status != "UpToDate" {
				t.Errorf("%s/%s: status %s", d, tee, got.status)
			}
			// The side that does not carry the defect is unaffected.
			cleanQuote := makeQuote(t, p, sgxsim.QuoteOptions{TEE: tee})
			cleanCol := collateral(t, p, sgxsim.CollateralOptions{TEE: tee})
			switch d.Side() {
			case sgxsim.SideQuote:
				if got := check(cleanQuote, col, p.Root(), now); got.result != "ok" {
					t.Errorf("%s/%s: collateral affected: %+v", d, tee, got)
				}
				if got := check(raw, cleanCol, p.Root(), now); got.result != d.ExpectedResult() {
					t.Errorf("%s/%s: quote alone gives %+v", d, tee, got)
				}
			case sgxsim.SideCollateral:
				if got := check(raw, cleanCol, p.Root(), now); got.result != "ok" {
					t.Errorf("%s/%s: quote affected: %+v", d, tee, got)
				}
				if got := check(cleanQuote, col, p.Root(), now); got.result != d.ExpectedResult() {
					t.Errorf("%s/%s: collateral alone gives %+v", d, tee, got)
				}
			}
		}
	}
	if _, err := sgxsim.ParseDefect("nope"); err == nil {
		t.Errorf("ParseDefect(nope) succeeded")
	}
	if d, err := sgxsim.ParseDefect("BAD_QUOTE_SIGNATURE"); err != nil || d != sgxsim.BadQuoteSignature {
		t.Errorf("ParseDefect is not lenient: %v %v", d, err)
	}
}

// TestExpiredCollateral pins the dates of the ExpiredCollateral defect.
func TestExpiredCollateral(t *testing.T) {
	p := sgxsim.Default()
	col := collateral(t, p, sgxsim.CollateralOptions{Defect: sgxsim.ExpiredCollateral})
	var ti tcbInfoDoc
	json.Unmarshal(col.TCBInfo, &ti)
	var qi qeIdentityDoc
	json.Unmarshal(col.QEIdentity, &qi)
	crl, _ := x509.ParseRevocationList(col.PCKCRL)
	for _, next := range []time.Time{dateOf(ti.NextUpdate), dateOf(qi.NextUpdate), crl.NextUpdate} {
		if !next.Before(now) {
			t.Errorf("nextUpdate %v not before %v", next, now)
		}
	}
	if got := check(makeQuote(t, p, sgxsim.QuoteOptions{}), col, p.Root(), now.Add(-2*time.Hour)); got.expired {
		t.Errorf("expired before nextUpdate")
	}
}

func TestNewIsDeterministic(t *testing.T) {
	a, err := sgxsim.New([]byte("seed"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := sgxsim.New([]byte("seed"))
	c, _ := sgxsim.New([]byte("other seed"))
	if !bytes.Equal(a.Root().RawTBSCertificate, b.Root().RawTBSCertificate) || a.Identity() != b.Identity() {
		t.Errorf("same seed, different platform")
	}
	if a.Root().PublicKey.(*ecdsa.PublicKey).Equal(c.Root().PublicKey) || a.Identity().PPID == c.Identity().PPID {
		t.Errorf("different seeds, same platform")
	}
	if sgxsim.Default() != sgxsim.Default() {
		t.Errorf("Default is not cached")
	}
	r, _ := sgxsim.New(nil)
	if r.Root().PublicKey.(*ecdsa.PublicKey).Equal(a.Root().PublicKey) {
		t.Errorf("New(nil) is not random")
	}
	// A platform's quotes do not verify against another platform's root.
	if got := check(makeQuote(t, a, sgxsim.QuoteOptions{}), collateral(t, a, sgxsim.CollateralOptions{}), c.Root(), now); got.result != "pck_chain_untrusted" {
		t.Errorf("foreign root: %+v", got)
	}
}

func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sim", "platform")
	p1, err := sgxsim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := sgxsim.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p1.Root().Raw, p2.Root().Raw) || !bytes.Equal(p1.PlatformCA().Raw, p2.PlatformCA().Raw) || p1.Identity() != p2.Identity() {
		t.Errorf("reopened platform differs")
	}
	up := sgxsim.Presets()[0].TCB
	if p1.PCKSerial(up).Cmp(p2.PCKSerial(up)) != 0 {
		t.Errorf("PCK serial not stable")
	}
	// A quote from one process verifies with collateral from the next,
	// and a revocation made later applies to the earlier quote.
	raw := makeQuote(t, p1, sgxsim.QuoteOptions{})
	if got := check(raw, collateral(t, p2, sgxsim.CollateralOptions{}), p1.Root(), now); got.result != "ok" {
		t.Errorf("cross-process: %+v", got)
	}
	if got := check(raw, collateral(t, p2, sgxsim.CollateralOptions{Defect: sgxsim.RevokedPCK}), p1.Root(), now); got.result != "pck_revoked" {
		t.Errorf("cross-process revocation: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		info, _ := e.Info()
		if strings.HasSuffix(e.Name(), ".key") && info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v", e.Name(), info.Mode().Perm())
		}
	}
	if len(entries) != 9 {
		t.Errorf("%d files in the platform directory", len(entries))
	}
	// root-ca.pem is the Root().
	pemBytes, _ := os.ReadFile(filepath.Join(dir, "root-ca.pem"))
	if !bytes.Equal(pemBytes, p1.RootPEM()) {
		t.Errorf("root-ca.pem differs from RootPEM()")
	}

	// An existing empty directory is used; a foreign non-empty one is refused.
	empty := t.TempDir()
	if _, err := sgxsim.Open(empty); err != nil {
		t.Errorf("empty dir: %v", err)
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "x"), nil, 0o644)
	if _, err := sgxsim.Open(foreign); !errors.Is(err, sgxsim.ErrPlatformDir) {
		t.Errorf("foreign dir: %v", err)
	}
	// A tampered key is detected.
	os.WriteFile(filepath.Join(dir, "root-ca.key"), []byte("junk"), 0o600)
	if _, err := sgxsim.Open(dir); !errors.Is(err, sgxsim.ErrPlatformDir) {
		t.Errorf("tampered key: %v", err)
	}
	if _, err := sgxsim.Open(""); err == nil {
		t.Errorf("Open(\"\") succeeded")
	}
}

// TestOpenConcurrent: first uses racing on one directory agree.
func TestOpenConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "p")
	roots := make(chan []byte, 4)
	for range 4 {
		go func() {
			p, err := sgxsim.Open(dir)
			if err != nil {
				t.Error(err)
				roots <- nil
				return
			}
			roots <- p.Root().Raw
		}()
	}
	first := <-roots
	for range 3 {
		if r := <-roots; !bytes.Equal(r, first) {
			t.Errorf("concurrent Open gave different roots")
		}
	}
}

// TestConcurrentUse: a Platform is shared by parallel tests.
func TestConcurrentUse(t *testing.T) {
	p, err := sgxsim.New([]byte("concurrent"))
	if err != nil {
		t.Fatal(err)
	}
	presets := sgxsim.Presets()
	done := make(chan outcome, 8)
	for i := range 8 {
		go func() {
			tee := []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX}[i%2]
			tcb := presets[i%4].TCB
			raw, err := p.Quote(sgxsim.QuoteOptions{TEE: tee, TCB: &tcb})
			if err != nil {
				done <- outcome{result: err.Error()}
				return
			}
			col, err := p.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: now})
			if err != nil {
				done <- outcome{result: err.Error()}
				return
			}
			done <- check(raw, col, p.Root(), now)
		}()
	}
	for range 8 {
		if got := <-done; got.result != "ok" {
			t.Errorf("concurrent: %+v", got)
		}
	}
}

// TestRecoveredBaseline: the same quotes against the two published TCB
// evaluation data numbers. A platform that was UpToDate becomes OutOfDate
// with the recovery's advisory under the recovered number; the recovered
// preset is UpToDate under both; every level below the new top lists the
// advisory.
func TestRecoveredBaseline(t *testing.T) {
	p := sgxsim.Default()
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		old := collateral(t, p, sgxsim.CollateralOptions{TEE: tee})
		rec := collateral(t, p, sgxsim.CollateralOptions{TEE: tee, TCBEvaluationDataNumber: sgxsim.RecoveredTCBEvaluationDataNumber})
		for _, c := range []struct {
			preset string
			col    *pcs.Collateral
			status string
			adv    []string
		}{
			{sgxsim.PresetUpToDate, old, "UpToDate", nil},
			{sgxsim.PresetUpToDate, rec, "OutOfDate", []string{sgxsim.RecoveryAdvisoryID}},
			{sgxsim.PresetRecovered, old, "UpToDate", nil},
			{sgxsim.PresetRecovered, rec, "UpToDate", nil},
			{sgxsim.PresetConfigurationNeeded, rec, "OutOfDateConfigurationNeeded", []string{"INTEL-SA-00289", sgxsim.RecoveryAdvisoryID}},
		} {
			pr, _ := sgxsim.LookupPreset(c.preset)
			got := check(makeQuote(t, p, sgxsim.QuoteOptions{TEE: tee, TCB: &pr.TCB}), c.col, p.Root(), now)
			if got.result != "ok" || got.status != c.status || !slices.Equal(got.advisories, c.adv) {
				t.Errorf("%s %s with TCB info %d: got %+v, want %s %v", tee, c.preset, numberOf(t, c.col), got, c.status, c.adv)
			}
		}
		if n := numberOf(t, rec); n != sgxsim.RecoveredTCBEvaluationDataNumber {
			t.Errorf("%s recovered TCB info number %d", tee, n)
		}
		if qe, err := pcs.ParseQEIdentity(rec.QEIdentity, rec.QEIdentitySignature); err != nil || qe.TCBEvaluationDataNumber != sgxsim.RecoveredTCBEvaluationDataNumber {
			t.Errorf("%s recovered QE identity: %v, %v", tee, qe, err)
		}
	}
	if _, err := p.Collateral(sgxsim.CollateralOptions{Now: now, TCBEvaluationDataNumber: 16}); !errors.Is(err, sgxsim.ErrInvalidOptions) {
		t.Errorf("number 16: %v, want invalid_options", err)
	}
	for i, l := range sgxsim.RecoveredLevels()[1:] {
		if l.Status != pcs.StatusRevoked && !slices.Contains(l.AdvisoryIDs, sgxsim.RecoveryAdvisoryID) {
			t.Errorf("recovered level %d (%s) lacks the recovery advisory", i+1, l.Status)
		}
	}
}

func numberOf(t *testing.T, col *pcs.Collateral) uint32 {
	t.Helper()
	info, err := pcs.ParseTCBInfo(col.TCBInfo, col.TCBInfoSignature)
	if err != nil {
		t.Fatal(err)
	}
	return info.TCBEvaluationDataNumber
}

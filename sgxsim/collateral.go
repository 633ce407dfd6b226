package sgxsim

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/avowhq/avow/pcs"
)

// DefaultValidity is the collateral validity when CollateralOptions.Validity
// is zero: TCB info, QE identity and CRLs are valid for 30 days from Now.
const DefaultValidity = 30 * 24 * time.Hour

// TCBEvaluationDataNumber is the tcbEvaluationDataNumber of the simulated
// TCB info and QE identity by default: the baseline before the simulated
// TCB recovery.
const TCBEvaluationDataNumber = 17

// RecoveredTCBEvaluationDataNumber is the tcbEvaluationDataNumber of the
// simulated TCB recovery (CollateralOptions.TCBEvaluationDataNumber): its
// TCB info adds a level above the default top level (RecoveredLevels), and
// platforms that were UpToDate under TCBEvaluationDataNumber become
// OutOfDate with RecoveryAdvisoryID.
const RecoveredTCBEvaluationDataNumber = 18

// CollateralOptions describe the collateral to make.
type CollateralOptions struct {
	TEE TEE // SGX (default) or TDX
	// Now is the issue time: issueDate of TCB info and QE identity and
	// thisUpdate of both CRLs (truncated to whole seconds). Required: the
	// library never reads the wall clock.
	Now time.Time
	// Validity is the time from issue to nextUpdate; 0 means DefaultValidity.
	Validity time.Duration
	// RevokedSerials are added to the PCK CRL (for example
	// PCKSerial(tcb) of a custom TCB).
	RevokedSerials []*big.Int
	// Defect injects one collateral-side defect (quote-side defects are
	// ignored here).
	Defect Defect
	// TCBEvaluationDataNumber is the TCB baseline to publish:
	// TCBEvaluationDataNumber (the default, 0) or
	// RecoveredTCBEvaluationDataNumber (the TCB info after the simulated
	// recovery). Other numbers are refused.
	TCBEvaluationDataNumber int
}

// Collateral makes the collateral that verifies this platform's quotes of
// the given TEE: TCB info v3 and QE identity v2 signed by the TCB signing
// key, the root CA CRL and PCK CRL (DER), and the issuer chains (PEM).
func (p *Platform) Collateral(o CollateralOptions) (*pcs.Collateral, error) {
	if o.TEE == "" {
		o.TEE = SGX
	}
	if _, err := ParseTEE(string(o.TEE)); err != nil {
		return nil, err
	}
	if o.Now.IsZero() {
		return nil, ErrInvalidOptions.Wrapf("collateral needs an issue time (CollateralOptions.Now)")
	}
	if o.Validity == 0 {
		o.Validity = DefaultValidity
	}
	if o.Validity < time.Second {
		return nil, ErrInvalidOptions.Wrapf("collateral validity %v is too short", o.Validity)
	}
	if !o.Defect.valid() {
		return nil, ErrInvalidOptions.Wrapf("unknown defect %d", int(o.Defect))
	}
	if o.TCBEvaluationDataNumber == 0 {
		o.TCBEvaluationDataNumber = TCBEvaluationDataNumber
	}
	if o.TCBEvaluationDataNumber != TCBEvaluationDataNumber && o.TCBEvaluationDataNumber != RecoveredTCBEvaluationDataNumber {
		return nil, ErrInvalidOptions.Wrapf("TCB evaluation data number %d: the simulated platform publishes %d and %d",
			o.TCBEvaluationDataNumber, TCBEvaluationDataNumber, RecoveredTCBEvaluationDataNumber)
	}
	issued := o.Now.UTC().Truncate(time.Second)
	next := issued.Add(o.Validity).Truncate(time.Second)
	if o.Defect == ExpiredCollateral {
		next = issued.Add(-time.Hour)
		issued = next.Add(-o.Validity).Truncate(time.Second)
	}

	tcbInfo, err := p.tcbInfoJSON(o.TEE, issued, next, o.Defect == WrongFMSPC, o.TCBEvaluationDataNumber)
	if err != nil {
		return nil, err
	}
	qeID, err := p.qeIdentityJSON(o.TEE, issued, next, o.Defect == QEIdentityMismatch, o.TCBEvaluationDataNumber)
	if err != nil {
		return nil, err
	}
	tcbSig, err := signRS(p.tcbSigningKey, tcbInfo)
	if err != nil {
		return nil, err
	}
	qeSig, err := signRS(p.tcbSigningKey, qeID)
	if err != nil {
		return nil, err
	}
	if o.Defect == BadTCBInfoSignature {
		tcbSig[10] ^= 0x01
	}
	if o.Defect == BadQEIdentitySignature {
		qeSig[10] ^= 0x01
	}

	var rootRevoked []*big.Int
	switch o.Defect {
	case RevokedIntermediate:
		rootRevoked = append(rootRevoked, p.platformCA.SerialNumber)
	case RevokedTCBSigning:
		rootRevoked = append(rootRevoked, p.tcbSigning.SerialNumber)
	}
	rootCRL, err := createCRL(p.root, p.rootKey, rootRevoked, issued, next)
	if err != nil {
		return nil, fmt.Errorf("sgxsim: root CA CRL: %w", err)
	}
	// The PCK CRL always lists two unrelated serials, so verifiers do a real
	// lookup, as in Intel's CRLs.
	pckRevoked := []*big.Int{deriveSerial(p.aux, "revoked/1"), deriveSerial(p.aux, "revoked/2")}
	pckRevoked = append(pckRevoked, o.RevokedSerials...)
	if o.Defect == RevokedPCK {
		for _, t := range presetTCBs() {
			pckRevoked = append(pckRevoked, p.PCKSerial(t))
		}
	}
	pckCRL, err := createCRL(p.platformCA, p.platformCAKey, pckRevoked, issued, next)
	if err != nil {
		return nil, fmt.Errorf("sgxsim: PCK CRL: %w", err)
	}
	if o.Defect == BadRootCRLSignature {
		rootCRL = corrupt(rootCRL)
	}
	if o.Defect == BadPCKCRLSignature {
		pckCRL = corrupt(pckCRL)
	}

	tcbChain := append(append([]byte(nil), p.tcbSigningPEM...), p.rootPEM...)
	return &pcs.Collateral{
		PCKCRLIssuerChain:     append(append([]byte(nil), p.platformCAPEM...), p.rootPEM...),
		RootCACRL:             rootCRL,
		PCKCRL:                pckCRL,
		TCBInfoIssuerChain:    tcbChain,
		TCBInfo:               tcbInfo,
		TCBInfoSignature:      tcbSig[:],
		QEIdentityIssuerChain: append([]byte(nil), tcbChain...),
		QEIdentity:            qeID,
		QEIdentitySignature:   qeSig[:],
	}, nil
}

// JSON shapes of TCB info v3 and QE identity v2, members in Intel's order.
type (
	tcbInfoJSON struct {
		ID                      string                  `json:"id"`
		Version                 int                     `json:"version"`
		IssueDate               string                  `json:"issueDate"`
		NextUpdate              string                  `json:"nextUpdate"`
		FMSPC                   string                  `json:"fmspc"`
		PCEID                   string                  `json:"pceId"`
		TCBType                 int                     `json:"tcbType"`
		TCBEvaluationDataNumber int                     `json:"tcbEvaluationDataNumber"`
		TDXModule               *tdxModuleJSON          `json:"tdxModule,omitempty"`
		TDXModuleIdentities     []tdxModuleIdentityJSON `json:"tdxModuleIdentities,omitempty"`
		TCBLevels               []tcbLevelJSON          `json:"tcbLevels"`
	}
	tdxModuleJSON struct {
		MRSigner       string `json:"mrsigner"`
		Attributes     string `json:"attributes"`
		AttributesMask string `json:"attributesMask"`
	}
	tdxModuleIdentityJSON struct {
		ID             string         `json:"id"`
		MRSigner       string         `json:"mrsigner"`
		Attributes     string         `json:"attributes"`
		AttributesMask string         `json:"attributesMask"`
		TCBLevels      []isvLevelJSON `json:"tcbLevels"`
	}
	tcbLevelJSON struct {
		TCB struct {
			SGX    []componentJSON `json:"sgxtcbcomponents"`
			PCESVN uint16          `json:"pcesvn"`
			TDX    []componentJSON `json:"tdxtcbcomponents,omitempty"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
	}
	componentJSON struct {
		SVN      int    `json:"svn"`
		Category string `json:"category,omitempty"`
		Type     string `json:"type,omitempty"`
	}
	isvLevelJSON struct {
		TCB struct {
			ISVSVN int `json:"isvsvn"`
		} `json:"tcb"`
		TCBDate     string   `json:"tcbDate"`
		TCBStatus   string   `json:"tcbStatus"`
		AdvisoryIDs []string `json:"advisoryIDs,omitempty"`
	}
	qeIdentityJSON struct {
		ID                      string         `json:"id"`
		Version                 int            `json:"version"`
		IssueDate               string         `json:"issueDate"`
		NextUpdate              string         `json:"nextUpdate"`
		TCBEvaluationDataNumber int            `json:"tcbEvaluationDataNumber"`
		MiscSelect              string         `json:"miscselect"`
		MiscSelectMask          string         `json:"miscselectMask"`
		Attributes              string         `json:"attributes"`
		AttributesMask          string         `json:"attributesMask"`
		MRSigner                string         `json:"mrsigner"`
		ISVProdID               uint16         `json:"isvprodid"`
		TCBLevels               []isvLevelJSON `json:"tcbLevels"`
	}
)

// Component descriptions, as Intel labels them (informational only).
var (
	sgxCategories = [16][2]string{
		{"BIOS", "Early Microcode Update"}, {"OS/VMM", "SGX Late Microcode Update"}, {"OS/VMM", "TXT SINIT"},
		{"BIOS", ""}, {"BIOS", ""}, {"BIOS", ""}, {"", ""}, {"OS/VMM", "SEAMLDR ACM"},
	}
	tdxCategories = [16][2]string{
		{"OS/VMM", "TDX Module"}, {"OS/VMM", "TDX Module"}, {"OS/VMM", "TDX Late Microcode Update"},
	}
)

func components(svns [16]uint8, labels [16][2]string) []componentJSON {
	out := make([]componentJSON, 16)
	for i, s := range svns {
		out[i] = componentJSON{SVN: int(s), Category: labels[i][0], Type: labels[i][1]}
	}
	return out
}

// timeFormat is the strict date format of TCB info and QE identity.
const timeFormat = "2006-01-02T15:04:05Z"

func hexUpper(b []byte) string { return strings.ToUpper(fmt.Sprintf("%x", b)) }

func isvLevel(isvsvn int, date string, status pcs.TCBStatus, adv []string) isvLevelJSON {
	var l isvLevelJSON
	l.TCB.ISVSVN = isvsvn
	l.TCBDate, l.TCBStatus, l.AdvisoryIDs = date, string(status), adv
	return l
}

// tcbInfoJSON returns the compact tcbInfo object (the exact signed bytes).
func (p *Platform) tcbInfoJSON(tee TEE, issued, next time.Time, wrongFMSPC bool, number int) ([]byte, error) {
	fmspc := p.id.FMSPC
	if wrongFMSPC {
		fmspc[5] ^= 0x01
	}
	t := tcbInfoJSON{
		ID:                      "SGX",
		Version:                 3,
		IssueDate:               issued.Format(timeFormat),
		NextUpdate:              next.Format(timeFormat),
		FMSPC:                   hexUpper(fmspc[:]),
		PCEID:                   hexUpper(p.id.PCEID[:]),
		TCBType:                 0,
		TCBEvaluationDataNumber: number,
	}
	zeroSigner := hexUpper(make([]byte, 48))
	if tee == TDX {
		t.ID = "TDX"
		t.TDXModule = &tdxModuleJSON{MRSigner: zeroSigner, Attributes: "0000000000000000", AttributesMask: "FFFFFFFFFFFFFFFF"}
		for _, m := range []struct {
			id     string
			levels []moduleLevel
		}{{"TDX_03", tdx03Levels}, {"TDX_01", tdx01Levels}} {
			mi := tdxModuleIdentityJSON{ID: m.id, MRSigner: zeroSigner, Attributes: "0000000000000000", AttributesMask: "FFFFFFFFFFFFFFFF"}
			for _, l := range m.levels {
				mi.TCBLevels = append(mi.TCBLevels, isvLevel(int(l.isvsvn), l.date, l.status, l.advisories))
			}
			t.TDXModuleIdentities = append(t.TDXModuleIdentities, mi)
		}
	}
	published := levels
	if number == RecoveredTCBEvaluationDataNumber {
		published = recoveredLevels
	}
	for _, l := range published {
		var j tcbLevelJSON
		j.TCB.SGX = components(l.TCB.Components, sgxCategories)
		j.TCB.PCESVN = l.TCB.PCESVN
		if tee == TDX {
			j.TCB.TDX = components(tdxComponents, tdxCategories)
		}
		j.TCBDate = l.TCBDate.UTC().Format(timeFormat)
		j.TCBStatus = string(l.Status)
		j.AdvisoryIDs = l.AdvisoryIDs
		t.TCBLevels = append(t.TCBLevels, j)
	}
	return json.Marshal(t)
}

// qeIdentityJSON returns the compact enclaveIdentity object.
func (p *Platform) qeIdentityJSON(tee TEE, issued, next time.Time, otherSigner bool, number int) ([]byte, error) {
	id := "QE"
	if tee == TDX {
		id = "TD_QE"
	}
	mrsigner := qeMRSigner(tee)
	if otherSigner {
		mrsigner = sha256.Sum256([]byte("avow simulated other quoting enclave signer"))
	}
	var misc, miscMask [4]byte
	le.PutUint32(misc[:], qeMiscSelect)
	le.PutUint32(miscMask[:], qeMiscSelectMask)
	q := qeIdentityJSON{
		ID:                      id,
		Version:                 2,
		IssueDate:               issued.Format(timeFormat),
		NextUpdate:              next.Format(timeFormat),
		TCBEvaluationDataNumber: number,
		MiscSelect:              hexUpper(misc[:]),
		MiscSelectMask:          hexUpper(miscMask[:]),
		Attributes:              hexUpper(qeIDAttributes[:]),
		AttributesMask:          hexUpper(qeIDAttrMask[:]),
		MRSigner:                hexUpper(mrsigner[:]),
		ISVProdID:               qeProdID(tee),
	}
	for _, l := range qeLevels {
		q.TCBLevels = append(q.TCBLevels, isvLevel(int(l.isvsvn), l.date, l.status, l.advisories))
	}
	return json.Marshal(q)
}

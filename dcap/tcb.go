package dcap

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

// moduleIdentityID is QVL's "TDX_%02X" name of the module identity for a
// TDX module major version.
func moduleIdentityID(major byte) string { return fmt.Sprintf("TDX_%02X", major) }

func findModuleIdentity(tcb *pcs.TCBInfo, major byte) *pcs.TDXModuleIdentity {
	want := moduleIdentityID(major)
	for i := range tcb.TDXModuleIdentities {
		if strings.ToUpper(tcb.TDXModuleIdentities[i].ID) == want {
			return &tcb.TDXModuleIdentities[i]
		}
	}
	return nil
}

// checkTDXModule is QVL step 7: MRSIGNERSEAM and SEAMATTRIBUTES against the
// TCB info's module identity (the attributes mask is not applied, as in QVL).
func checkTDXModule(td *quote.TDReport, tcb *pcs.TCBInfo) error {
	if tcb.TDXModule == nil {
		return ErrTDXModuleMismatch.Wrapf("the TCB info has no tdxModule")
	}
	mrsigner, attributes := tcb.TDXModule.MRSigner, tcb.TDXModule.Attributes
	if major := td.TEETCBSVN[1]; major > 0 {
		id := findModuleIdentity(tcb, major)
		if id == nil {
			return ErrTDXModuleMismatch.Wrapf("the TCB info has no TDX module identity %s for TEE_TCB_SVN[1] = %d", moduleIdentityID(major), major)
		}
		mrsigner, attributes = id.MRSigner, id.Attributes
	}
	if !bytes.Equal(td.MRSignerSeam[:], mrsigner) {
		return ErrTDXModuleMismatch.Wrapf("MRSIGNERSEAM %x differs from the module identity's mrsigner %x", td.MRSignerSeam, mrsigner)
	}
	for i, b := range td.SeamAttributes {
		if b != 0 || b != attributes[i] {
			return ErrTDXModuleMismatch.Wrapf("SEAMATTRIBUTES %x differ from the module identity's attributes %x", td.SeamAttributes, attributes)
		}
	}
	return nil
}

// qeTCB is the outcome of matching the QE's ISVSVN against the QE identity's levels.
type qeTCB int

const (
	qeOK qeTCB = iota
	qeOutOfDate
	qeRevoked
	qeNotSupported
)

// checkQEIdentity is QVL step 10: the QE report against the QE identity,
// then the QE's TCB level (first level in JSON order with isvsvn <= ISVSVN).
func checkQEIdentity(q *quote.Quote, id *pcs.QEIdentity) (qeTCB, error) {
	want := "QE"
	if q.IsTDX() {
		want = "TD_QE"
	}
	if id.ID != want {
		return 0, ErrQEIdentityMismatch.Wrapf("the QE identity is for %s, the quote needs %s", id.ID, want)
	}
	r := &q.QEReport
	var misc [4]byte
	binary.LittleEndian.PutUint32(misc[:], r.MiscSelect)
	for i := range misc {
		if misc[i]&id.MiscSelectMask[i] != id.MiscSelect[i] {
			return 0, ErrQEIdentityMismatch.Wrapf("the QE's MISCSELECT %x does not match the QE identity", misc)
		}
	}
	for i := range r.Attributes {
		if r.Attributes[i]&id.AttributesMask[i] != id.Attributes[i] {
			return 0, ErrQEIdentityMismatch.Wrapf("the QE's ATTRIBUTES %x do not match the QE identity", r.Attributes)
		}
	}
	if len(id.MRSigner) > 0 && !bytes.Equal(r.MRSigner[:], id.MRSigner) {
		return 0, ErrQEIdentityMismatch.Wrapf("the QE's MRSIGNER %x differs from the QE identity's %x", r.MRSigner, id.MRSigner)
	}
	if r.ISVProdID != id.ISVProdID {
		return 0, ErrQEIdentityMismatch.Wrapf("the QE's ISVPRODID %d differs from the QE identity's %d", r.ISVProdID, id.ISVProdID)
	}
	for _, l := range id.TCBLevels {
		if l.ISVSVN <= r.ISVSVN {
			switch l.Status {
			case pcs.StatusUpToDate:
				return qeOK, nil
			case pcs.StatusRevoked:
				return qeRevoked, nil
			default:
				return qeOutOfDate, nil
			}
		}
	}
	return qeNotSupported, nil
}

// sgxMatches reports whether the platform's PCK TCB is at or above level.
func sgxMatches(l *pcs.TCBLevel, ext *pcs.PCKExtensions) bool {
	for i, svn := range l.SGXComponents {
		if ext.TCBComponents[i] < svn {
			return false
		}
	}
	return ext.PCESVN >= l.PCESVN
}

// tdxMatches compares TEE_TCB_SVN with the level's TDX components; bytes 0
// and 1 are judged by the module identity when one is in use.
func tdxMatches(l *pcs.TCBLevel, svn [16]byte) bool {
	start := 0
	if svn[1] > 0 {
		start = 2
	}
	for i := start; i < 16; i++ {
		if svn[i] < l.TDXComponents[i] {
			return false
		}
	}
	return true
}

// tcbStatus selects the TCB level and converges the platform, TDX module
// and QE statuses as QVL does (dcap.md §2.6-2.7).
func (v *verification) tcbStatus(qe qeTCB) error {
	q, tcb, res := v.q, v.tcb.doc, v.res
	var sgxLevel, selected *pcs.TCBLevel
	for i := range tcb.TCBLevels {
		l := &tcb.TCBLevels[i]
		if !sgxMatches(l, v.pckFacts.ext) {
			continue
		}
		if sgxLevel == nil {
			sgxLevel = l
		}
		if !q.IsTDX() || tdxMatches(l, q.TD.TEETCBSVN) {
			selected = l
			break
		}
	}
	if sgxLevel == nil || selected == nil {
		return ErrTCBNotSupported.Wrapf("the platform's TCB is below every level of the TCB info (FMSPC %x)", tcb.FMSPC)
	}
	status := selected.Status
	if q.IsTDX() {
		module, err := moduleStatus(q.TD, tcb)
		if err != nil {
			return err
		}
		res.TDXModuleStatus = module
		switch module {
		case pcs.StatusOutOfDate:
			status = outOfDate(status)
		case pcs.StatusRevoked:
			status = pcs.StatusRevoked
		}
		if q.BodyType == quote.BodyTDX15 && qe == qeOK && module == pcs.StatusOutOfDate && status != pcs.StatusRevoked {
			if status, err = relaunch(q.TD, tcb, sgxLevel.Status, status); err != nil {
				return err
			}
		}
	}
	res.QEStatus = pcs.StatusUpToDate
	switch qe {
	case qeOutOfDate:
		res.QEStatus = pcs.StatusOutOfDate
		status = outOfDate(status)
	case qeRevoked:
		res.QEStatus = pcs.StatusRevoked
		status = pcs.StatusRevoked
	case qeNotSupported:
		return ErrTCBNotSupported.Wrapf("the QE's ISVSVN %d is below every level of the QE identity", q.QEReport.ISVSVN)
	}
	if status == pcs.StatusRevoked {
		return ErrTCBRevoked.Wrapf("the matched TCB level (tcbDate %s) is revoked", selected.TCBDate.Format("2006-01-02"))
	}
	res.TCBStatus = status
	res.AdvisoryIDs = selected.AdvisoryIDs
	res.TCBDate = selected.TCBDate
	return nil
}

// outOfDate is QVL's convergence with an out-of-date QE or TDX module.
func outOfDate(s pcs.TCBStatus) pcs.TCBStatus {
	switch s {
	case pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded:
		return pcs.StatusOutOfDate
	case pcs.StatusConfigurationNeeded, pcs.StatusConfigurationAndSWHardeningNeeded:
		return pcs.StatusOutOfDateConfigurationNeeded
	}
	return s
}

// moduleStatus is the TDX module's TCB status from its module identity.
func moduleStatus(td *quote.TDReport, tcb *pcs.TCBInfo) (pcs.TCBStatus, error) {
	major := td.TEETCBSVN[1]
	if major == 0 {
		return pcs.StatusUpToDate, nil
	}
	id := findModuleIdentity(tcb, major)
	if id == nil {
		return "", ErrTDXModuleMismatch.Wrapf("the TCB info has no TDX module identity %s", moduleIdentityID(major))
	}
	for _, l := range id.TCBLevels {
		if l.ISVSVN <= uint16(td.TEETCBSVN[0]) {
			switch l.Status {
			case pcs.StatusUpToDate, pcs.StatusOutOfDate, pcs.StatusRevoked:
				return l.Status, nil
			}
			// QVL: TCB_UNRECOGNIZED_STATUS.
			return "", ErrTCBInfoInvalid.Wrapf("module identity %s has a level with status %q; only UpToDate, OutOfDate and Revoked are defined", id.ID, l.Status)
		}
	}
	return "", ErrTCBNotSupported.Wrapf("the TDX module's SVN %d is below every level of module identity %s", td.TEETCBSVN[0], id.ID)
}

// relaunch is QVL's TD relaunch check for TDX 1.5 bodies: an out-of-date
// module whose TD-preserving update (TEE_TCB_SVN2) is current only needs the
// TD relaunched.
func relaunch(td *quote.TDReport, tcb *pcs.TCBInfo, sgxStatus, tdxStatus pcs.TCBStatus) (pcs.TCBStatus, error) {
	switch sgxStatus {
	case pcs.StatusUpToDate, pcs.StatusSWHardeningNeeded, pcs.StatusConfigurationNeeded, pcs.StatusConfigurationAndSWHardeningNeeded:
	default:
		return tdxStatus, nil
	}
	if tdxStatus != pcs.StatusOutOfDate && tdxStatus != pcs.StatusOutOfDateConfigurationNeeded {
		return tdxStatus, nil
	}
	top := &tcb.TCBLevels[0]
	svn2 := td.TEETCBSVN2
	var advised bool
	if svn2[1] == 0 {
		advised = svn2[0] >= top.TDXComponents[0] && svn2[2] >= top.TDXComponents[2]
	} else {
		id := findModuleIdentity(tcb, svn2[1])
		if id == nil {
			return "", ErrTDXModuleMismatch.Wrapf("the TCB info has no TDX module identity %s for TEE_TCB_SVN2[1]", moduleIdentityID(svn2[1]))
		}
		advised = len(id.TCBLevels) > 0 && uint16(svn2[0]) >= id.TCBLevels[0].ISVSVN && svn2[2] >= top.TDXComponents[2]
	}
	if !advised {
		return tdxStatus, nil
	}
	if configurationNeeded(sgxStatus) || configurationNeeded(tdxStatus) {
		return pcs.StatusTDRelaunchAdvisedConfigurationNeeded, nil
	}
	return pcs.StatusTDRelaunchAdvised, nil
}

func configurationNeeded(s pcs.TCBStatus) bool {
	return strings.Contains(string(s), "ConfigurationNeeded") || s == pcs.StatusConfigurationAndSWHardeningNeeded
}

// QVResult is QvE's sgx_ql_qv_result_t for a successful verification's
// status (dcap.md §2.9).
func QVResult(s pcs.TCBStatus) uint16 {
	switch s {
	case pcs.StatusUpToDate:
		return 0x0000
	case pcs.StatusConfigurationNeeded:
		return 0xA001
	case pcs.StatusOutOfDate:
		return 0xA002
	case pcs.StatusOutOfDateConfigurationNeeded:
		return 0xA003
	case pcs.StatusSWHardeningNeeded:
		return 0xA007
	case pcs.StatusConfigurationAndSWHardeningNeeded:
		return 0xA008
	case pcs.StatusTDRelaunchAdvised:
		return 0xA009
	case pcs.StatusTDRelaunchAdvisedConfigurationNeeded:
		return 0xA00A
	}
	return 0xA006
}

package pcs

import (
	"bytes"
	"fmt"

	"github.com/avowhq/avow/errs"
)

// ErrQEIdentityFormat reports an enclave identity document that breaks QVL's
// parse rules (QvE SGX_QL_QEIDENTITY_CHAIN_ERROR family, 0xE039).
var ErrQEIdentityFormat = errs.New("qe_identity_invalid", "the QE identity is malformed")

// qeIdentityStatuses are the tcbStatus values QVL's EnclaveIdentityV2
// accepts (parseStringToTcbStatus). SWHardeningNeeded and the other
// TCB-info-only statuses are not among them.
var qeIdentityStatuses = map[string]TCBStatus{
	"UpToDate":                     StatusUpToDate,
	"ConfigurationNeeded":          StatusConfigurationNeeded,
	"OutOfDate":                    StatusOutOfDate,
	"OutOfDateConfigurationNeeded": StatusOutOfDateConfigurationNeeded,
	"Revoked":                      StatusRevoked,
}

// ParseQEIdentity parses an enclave identity document (QE, TD_QE or QVE).
// raw is the exact text of the signed "enclaveIdentity" object and signature
// the 64-byte r‖s. The rules are QVL's (dcap.md §2.4, EnclaveIdentityV2):
//
//   - version 2 only (QVL of the pinned commit rejects any other version);
//   - id "QE", "QVE" or "TD_QE"; issueDate and nextUpdate exactly
//     YYYY-MM-DDThh:mm:ssZ; tcbEvaluationDataNumber unsigned;
//   - miscselect and miscselectMask 8 hex digits, attributes and
//     attributesMask 32, mrsigner 64 (either case); isvprodid unsigned;
//   - tcbLevels a non-empty array of {tcb:{isvsvn}, tcbDate, tcbStatus}
//     with tcbStatus one of UpToDate, ConfigurationNeeded, OutOfDate,
//     OutOfDateConfigurationNeeded, Revoked.
//
// advisoryIDs of a level are not read by this QVL version; they are returned
// when they are an array of strings and otherwise ignored, never rejected.
// Levels are kept in JSON order (QVL walks them in that order).
//
// Deviation from QVL, unreachable with Intel-signed data: QVL keeps isvprodid
// and isvsvn as 32-bit values; ParseQEIdentity rejects values above 65535
// (the QE report fields they are compared with are 16-bit, so such a value
// could never match).
func ParseQEIdentity(raw, signature []byte) (*QEIdentity, error) {
	if len(signature) != 64 {
		return nil, ErrQEIdentityFormat.Wrapf("signature must be 64 bytes (r‖s), got %d", len(signature))
	}
	root, signed, err := parseSignedJSON(raw)
	if err != nil {
		return nil, ErrQEIdentityFormat.Wrapf("enclaveIdentity is not valid JSON: %v", err)
	}
	defer root.release()
	if root.kind() != jObject {
		return nil, ErrQEIdentityFormat.Wrapf("enclaveIdentity is a %s, not an object", root.kind())
	}
	id := &QEIdentity{Signed: signed, Signature: bytes.Clone(signature)}
	if err := parseQEIdentityBody(root, id); err != nil {
		return nil, ErrQEIdentityFormat.Wrap(err)
	}
	return id, nil
}

func parseQEIdentityBody(obj jval, id *QEIdentity) error {
	version, err := obj.intField("version")
	if err != nil {
		return err
	}
	if version != 2 {
		return fmt.Errorf("version %d is not supported (want 2)", version)
	}
	id.Version = int(version)
	if id.IssueDate, err = obj.dateField("issueDate"); err != nil {
		return err
	}
	if id.NextUpdate, err = obj.dateField("nextUpdate"); err != nil {
		return err
	}
	if err := hexInto(obj, "miscselect", id.MiscSelect[:]); err != nil {
		return err
	}
	if err := hexInto(obj, "miscselectMask", id.MiscSelectMask[:]); err != nil {
		return err
	}
	if err := hexInto(obj, "attributes", id.Attributes[:]); err != nil {
		return err
	}
	if err := hexInto(obj, "attributesMask", id.AttributesMask[:]); err != nil {
		return err
	}
	if id.MRSigner, err = obj.hexField("mrsigner", 64); err != nil {
		return err
	}
	prod, err := obj.uintField("isvprodid")
	if err != nil {
		return err
	}
	if prod > 0xFFFF {
		return fmt.Errorf("isvprodid %d is above 65535", prod)
	}
	id.ISVProdID = uint16(prod)
	if id.ID, err = obj.stringField("id"); err != nil {
		return err
	}
	switch id.ID {
	case "QE", "QVE", "TD_QE":
	default:
		return fmt.Errorf("id %q is not supported (want QE, QVE or TD_QE)", id.ID)
	}
	if id.TCBEvaluationDataNumber, err = obj.uintField("tcbEvaluationDataNumber"); err != nil {
		return err
	}
	levels, err := obj.arrayField("tcbLevels")
	if err != nil {
		return err
	}
	if levels.len() == 0 {
		return fmt.Errorf("tcbLevels is empty")
	}
	id.TCBLevels = make([]ISVSVNLevel, levels.len())
	for i, lv := range levels.elems() {
		if err := parseQELevel(lv, &id.TCBLevels[i]); err != nil {
			return fmt.Errorf("tcbLevels[%d]: %w", i, err)
		}
	}
	return nil
}

func parseQELevel(v jval, l *ISVSVNLevel) error {
	if v.kind() != jObject {
		return fmt.Errorf("level is a %s, not an object", v.kind())
	}
	var err error
	if l.TCBDate, err = v.dateField("tcbDate"); err != nil {
		return err
	}
	status, err := v.bytesField("tcbStatus")
	if err != nil {
		return err
	}
	tcb, err := v.objectField("tcb")
	if err != nil {
		return err
	}
	isvsvn, err := tcb.uintField("isvsvn")
	if err != nil {
		return fmt.Errorf("tcb.%w", err)
	}
	if isvsvn > 0xFFFF {
		return fmt.Errorf("tcb.isvsvn %d is above 65535", isvsvn)
	}
	l.ISVSVN = uint16(isvsvn)
	st, ok := qeIdentityStatuses[string(status)]
	if !ok {
		return fmt.Errorf("tcbStatus %q is not a QE identity status", status)
	}
	l.Status = st
	if ids, _, err := v.stringArray("advisoryIDs"); err == nil {
		l.AdvisoryIDs = ids
	}
	return nil
}

package pcs

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/avowhq/avow/errs"
)

// ErrTCBInfoFormat reports a TCB info document that breaks QVL's parse
// rules (QvE SGX_QL_TCBINFO_UNSUPPORTED_FORMAT, 0xE023). The cause names the
// offending member.
var ErrTCBInfoFormat = errs.New("tcb_info_invalid", "the TCB info is malformed")

// tcbInfoStatuses are the tcbStatus values QVL accepts in TCB info levels.
var tcbInfoStatuses = map[string]TCBStatus{
	"UpToDate":                          StatusUpToDate,
	"SWHardeningNeeded":                 StatusSWHardeningNeeded,
	"ConfigurationNeeded":               StatusConfigurationNeeded,
	"ConfigurationAndSWHardeningNeeded": StatusConfigurationAndSWHardeningNeeded,
	"OutOfDate":                         StatusOutOfDate,
	"OutOfDateConfigurationNeeded":      StatusOutOfDateConfigurationNeeded,
	"Revoked":                           StatusRevoked,
}

// v2ComponentNames are the TCB info version 2 SGX component members.
var v2ComponentNames = [16]string{
	"sgxtcbcomp01svn", "sgxtcbcomp02svn", "sgxtcbcomp03svn", "sgxtcbcomp04svn",
	"sgxtcbcomp05svn", "sgxtcbcomp06svn", "sgxtcbcomp07svn", "sgxtcbcomp08svn",
	"sgxtcbcomp09svn", "sgxtcbcomp10svn", "sgxtcbcomp11svn", "sgxtcbcomp12svn",
	"sgxtcbcomp13svn", "sgxtcbcomp14svn", "sgxtcbcomp15svn", "sgxtcbcomp16svn",
}

// ParseTCBInfo parses a TCB info document. raw is the exact text of the
// signed "tcbInfo" object (see SplitSigned) and signature the 64-byte r‖s
// from the response's "signature" member. It enforces the parse rules of
// QVL (dcap.md §2.3):
//
//   - version 2 or 3; version 3 needs id "SGX" or "TDX", version 2 means SGX;
//   - issueDate, nextUpdate and every tcbDate exactly YYYY-MM-DDThh:mm:ssZ;
//   - fmspc 12 and pceId 4 hex digits (either case); tcbType 0;
//     tcbEvaluationDataNumber an unsigned integer;
//   - version 3 SGX must not have tdxModule or tdxModuleIdentities; TDX must
//     have tdxModule; tdxModuleIdentities is optional but, if present, a
//     non-empty array whose entries each have a non-empty tcbLevels array;
//   - tcbLevels a non-empty array; each level has tcb, tcbDate, one of the
//     seven tcbStatus values and optionally advisoryIDs (array of strings);
//     version 2 levels have sgxtcbcomp01svn…sgxtcbcomp16svn and pcesvn,
//     version 3 levels have sgxtcbcomponents (exactly 16 {svn}) and pcesvn,
//     TDX levels also tdxtcbcomponents (exactly 16 {svn});
//   - every component svn is an unsigned 32-bit integer, truncated to uint8
//     as QVL does;
//   - two levels that compare equal under the sort order are duplicates.
//
// Members are case-sensitive; for a duplicated member name the first
// occurrence counts (RapidJSON). Unknown members are ignored.
//
// TCBLevels are returned sorted as QVL stores them: descending by the 16 SGX
// components (lexicographically), then PCESVN, then, for TDX, the 16 TDX
// components. TDX module identity levels are sorted descending by isvsvn
// (QVL keeps them in a set); a duplicated isvsvn is rejected.
//
// Deviation from QVL, unreachable with Intel-signed data: QVL keeps pcesvn as
// a 32-bit value; ParseTCBInfo rejects a pcesvn above 65535 (TCBLevel.PCESVN
// is uint16, and such a level could never match a PCK PCESVN anyway).
//
// Signed is set to the compact re-serialisation of raw (json.Compact: member
// order and escapes kept, whitespace dropped), which is what QVL verifies the
// signature over.
func ParseTCBInfo(raw, signature []byte) (*TCBInfo, error) {
	if len(signature) != 64 {
		return nil, ErrTCBInfoFormat.Wrapf("signature must be 64 bytes (r‖s), got %d", len(signature))
	}
	// One pass validates the JSON as json.Compact would and parses it;
	// signed is the compact text QVL signs over.
	root, signed, err := parseSignedJSON(raw)
	if err != nil {
		return nil, ErrTCBInfoFormat.Wrapf("tcbInfo is not valid JSON: %v", err)
	}
	defer root.release()
	if root.kind() != jObject {
		return nil, ErrTCBInfoFormat.Wrapf("tcbInfo is a %s, not an object", root.kind())
	}
	info := &TCBInfo{Signed: signed, Signature: bytes.Clone(signature)}
	if err := parseTCBInfoBody(root, info); err != nil {
		return nil, ErrTCBInfoFormat.Wrap(err)
	}
	return info, nil
}

func parseTCBInfoBody(obj jval, info *TCBInfo) error {
	version, err := obj.uintField("version")
	if err != nil {
		return err
	}
	if version != 2 && version != 3 {
		return fmt.Errorf("version %d is not supported (want 2 or 3)", version)
	}
	info.Version = int(version)
	info.ID = "SGX"
	if version == 3 {
		id, err := obj.stringField("id")
		if err != nil {
			return err
		}
		if id != "SGX" && id != "TDX" {
			return fmt.Errorf("id %q is not supported (want SGX or TDX)", id)
		}
		info.ID = id
	}
	tdx := info.ID == "TDX"
	if info.IssueDate, err = obj.dateField("issueDate"); err != nil {
		return err
	}
	if info.NextUpdate, err = obj.dateField("nextUpdate"); err != nil {
		return err
	}
	fmspc, err := obj.hexField("fmspc", 12)
	if err != nil {
		return err
	}
	copy(info.FMSPC[:], fmspc)
	pceID, err := obj.hexField("pceId", 4)
	if err != nil {
		return err
	}
	copy(info.PCEID[:], pceID)
	if !obj.has("tcbLevels") {
		return fmt.Errorf("tcbLevels is %w", errMissing)
	}
	tcbType, err := obj.intField("tcbType")
	if err != nil {
		return err
	}
	if tcbType != 0 {
		return fmt.Errorf("tcbType %d is not supported (want 0)", tcbType)
	}
	info.TCBType = int(tcbType)
	if info.TCBEvaluationDataNumber, err = obj.uintField("tcbEvaluationDataNumber"); err != nil {
		return err
	}
	if version == 3 {
		if err := parseTDXParts(obj, info); err != nil {
			return err
		}
	}

	levels, err := obj.arrayField("tcbLevels")
	if err != nil {
		return err
	}
	if levels.len() == 0 {
		return fmt.Errorf("tcbLevels is empty")
	}
	info.TCBLevels = make([]TCBLevel, levels.len())
	for i, lv := range levels.elems() {
		if err := parseTCBLevel(lv, info.Version, tdx, &info.TCBLevels[i]); err != nil {
			return fmt.Errorf("tcbLevels[%d]: %w", i, err)
		}
	}
	slices.SortStableFunc(info.TCBLevels, func(a, b TCBLevel) int {
		return -CompareTCBLevels(&a, &b, tdx)
	})
	for i := 1; i < len(info.TCBLevels); i++ {
		if CompareTCBLevels(&info.TCBLevels[i-1], &info.TCBLevels[i], tdx) == 0 {
			return fmt.Errorf("tcbLevels holds duplicate levels (same components and pcesvn)")
		}
	}
	return nil
}

func parseTDXParts(obj jval, info *TCBInfo) error {
	hasModule := obj.has("tdxModule")
	hasIdentities := obj.has("tdxModuleIdentities")
	if info.ID == "SGX" {
		if hasModule {
			return fmt.Errorf("an SGX TCB info must not have tdxModule")
		}
		if hasIdentities {
			return fmt.Errorf("an SGX TCB info must not have tdxModuleIdentities")
		}
		return nil
	}
	mod, err := obj.objectField("tdxModule")
	if err != nil {
		return fmt.Errorf("a TDX TCB info needs tdxModule: %w", err)
	}
	info.TDXModule = &TDXModule{}
	if info.TDXModule.MRSigner, err = mod.hexField("mrsigner", 96); err != nil {
		return fmt.Errorf("tdxModule.%w", err)
	}
	if err := hexInto(mod, "attributes", info.TDXModule.Attributes[:]); err != nil {
		return fmt.Errorf("tdxModule.%w", err)
	}
	if err := hexInto(mod, "attributesMask", info.TDXModule.AttributesMask[:]); err != nil {
		return fmt.Errorf("tdxModule.%w", err)
	}
	if !hasIdentities {
		return nil
	}
	ids, err := obj.arrayField("tdxModuleIdentities")
	if err != nil {
		return err
	}
	if ids.len() == 0 {
		return fmt.Errorf("tdxModuleIdentities is empty")
	}
	info.TDXModuleIdentities = make([]TDXModuleIdentity, ids.len())
	for i, e := range ids.elems() {
		if err := parseModuleIdentity(e, &info.TDXModuleIdentities[i]); err != nil {
			return fmt.Errorf("tdxModuleIdentities[%d].%w", i, err)
		}
	}
	return nil
}

func hexInto(obj jval, name string, dst []byte) error {
	b, err := obj.hexField(name, 2*len(dst))
	if err != nil {
		return err
	}
	copy(dst, b)
	return nil
}

func parseModuleIdentity(v jval, id *TDXModuleIdentity) error {
	if v.kind() != jObject {
		return fmt.Errorf("entry is a %s, not an object", v.kind())
	}
	var err error
	if id.ID, err = v.stringField("id"); err != nil {
		return err
	}
	if id.MRSigner, err = v.hexField("mrsigner", 96); err != nil {
		return err
	}
	if err := hexInto(v, "attributes", id.Attributes[:]); err != nil {
		return err
	}
	if err := hexInto(v, "attributesMask", id.AttributesMask[:]); err != nil {
		return err
	}
	levels, err := v.arrayField("tcbLevels")
	if err != nil {
		return err
	}
	if levels.len() == 0 {
		return fmt.Errorf("tcbLevels is empty")
	}
	id.TCBLevels = make([]ISVSVNLevel, levels.len())
	for i, lv := range levels.elems() {
		if err := parseModuleLevel(lv, &id.TCBLevels[i]); err != nil {
			return fmt.Errorf("tcbLevels[%d]: %w", i, err)
		}
	}
	// QVL keeps module levels in a std::set ordered by isvsvn, descending,
	// and rejects a second level with the same isvsvn.
	slices.SortStableFunc(id.TCBLevels, func(a, b ISVSVNLevel) int {
		return int(b.ISVSVN) - int(a.ISVSVN)
	})
	for i := 1; i < len(id.TCBLevels); i++ {
		if id.TCBLevels[i-1].ISVSVN == id.TCBLevels[i].ISVSVN {
			return fmt.Errorf("tcbLevels has two levels with isvsvn %d", id.TCBLevels[i].ISVSVN)
		}
	}
	return nil
}

// parseModuleLevel reads a TDX module identity level. QVL checks at parse
// time only that tcbStatus is a string; whether the status is one it can
// evaluate (UpToDate, OutOfDate, Revoked) is decided by the verifier when
// the level is selected (dcap.md §2.6).
func parseModuleLevel(v jval, l *ISVSVNLevel) error {
	if v.kind() != jObject {
		return fmt.Errorf("level is a %s, not an object", v.kind())
	}
	tcb, err := v.objectField("tcb")
	if err != nil {
		return err
	}
	isvsvn, err := tcb.intField("isvsvn")
	if err != nil {
		return fmt.Errorf("tcb.%w", err)
	}
	if isvsvn < 0 || isvsvn > 0xFFFF {
		return fmt.Errorf("tcb.isvsvn %d is outside 0…65535", isvsvn)
	}
	l.ISVSVN = uint16(isvsvn)
	if l.TCBDate, err = v.dateField("tcbDate"); err != nil {
		return err
	}
	status, err := v.stringField("tcbStatus")
	if err != nil {
		return err
	}
	l.Status = TCBStatus(status)
	if l.AdvisoryIDs, _, err = v.stringArray("advisoryIDs"); err != nil {
		return err
	}
	return nil
}

func parseTCBLevel(v jval, version int, tdx bool, l *TCBLevel) error {
	if v.kind() != jObject {
		return fmt.Errorf("level is a %s, not an object", v.kind())
	}
	var err error
	if l.TCBDate, err = v.dateField("tcbDate"); err != nil {
		return err
	}
	if l.AdvisoryIDs, _, err = v.stringArray("advisoryIDs"); err != nil {
		return err
	}
	status, err := v.bytesField("tcbStatus")
	if err != nil {
		return err
	}
	st, ok := tcbInfoStatuses[string(status)]
	if !ok {
		return fmt.Errorf("tcbStatus %q is not a TCB info status", status)
	}
	l.Status = st
	tcb, err := v.objectField("tcb")
	if err != nil {
		return err
	}
	if version == 2 {
		for i, name := range v2ComponentNames {
			svn, err := tcb.uintField(name)
			if err != nil {
				return fmt.Errorf("tcb.%w", err)
			}
			l.SGXComponents[i] = uint8(svn) // QVL: static_cast<uint8_t>
		}
	}
	pcesvn, err := tcb.uintField("pcesvn")
	if err != nil {
		return fmt.Errorf("tcb.%w", err)
	}
	if pcesvn > 0xFFFF {
		return fmt.Errorf("tcb.pcesvn %d is above 65535", pcesvn)
	}
	l.PCESVN = uint16(pcesvn)
	if version == 3 {
		if err := parseComponents(tcb, "sgxtcbcomponents", &l.SGXComponents); err != nil {
			return fmt.Errorf("tcb.%w", err)
		}
		if tdx {
			if err := parseComponents(tcb, "tdxtcbcomponents", &l.TDXComponents); err != nil {
				return fmt.Errorf("tcb.%w", err)
			}
		}
	}
	return nil
}

func parseComponents(tcb jval, name string, dst *[16]uint8) error {
	arr, err := tcb.arrayField(name)
	if err != nil {
		return err
	}
	if arr.len() != 16 {
		return fmt.Errorf("%s must have exactly 16 entries, has %d", name, arr.len())
	}
	for i, c := range arr.elems() {
		if c.kind() != jObject {
			return fmt.Errorf("%s[%d] is a %s, not an object", name, i, c.kind())
		}
		svn, err := c.uintField("svn")
		if err != nil {
			return fmt.Errorf("%s[%d].%w", name, i, err)
		}
		dst[i] = uint8(svn) // QVL: static_cast<uint8_t>
		if err := c.checkOptionalString("category"); err != nil {
			return fmt.Errorf("%s[%d].%w", name, i, err)
		}
		if err := c.checkOptionalString("type"); err != nil {
			return fmt.Errorf("%s[%d].%w", name, i, err)
		}
	}
	return nil
}

// CompareTCBLevels orders TCB levels as QVL does (TcbLevel::operator>): by
// the 16 SGX components compared lexicographically, then PCESVN, then, only
// when tdx is true, by the 16 TDX components. It returns -1, 0 or +1;
// ParseTCBInfo sorts levels in descending order of this comparison.
func CompareTCBLevels(a, b *TCBLevel, tdx bool) int {
	if c := bytes.Compare(a.SGXComponents[:], b.SGXComponents[:]); c != 0 {
		return c
	}
	if a.PCESVN != b.PCESVN {
		if a.PCESVN < b.PCESVN {
			return -1
		}
		return 1
	}
	if tdx {
		return bytes.Compare(a.TDXComponents[:], b.TDXComponents[:])
	}
	return 0
}

package pcs

import (
	"bytes"
	"slices"
)

// The direct readers (fastjson.go) of TCB info and QE identity documents:
// the rules of parseTCBInfoBody and parseQEIdentityBody, checked only for
// success (any failure: !ok, and the caller takes the general path for the
// error). Member names are matched on their first occurrence, later ones are
// only checked and skipped, as get does.

// Members of a TCB info read by parseTCBInfoFast, by index.
const (
	tiVersion = iota
	tiID
	tiIssueDate
	tiNextUpdate
	tiFMSPC
	tiPCEID
	tiTCBType
	tiEvaluationDataNumber
	tiTCBLevels
	tiTDXModule
	tiTDXModuleIdentities
	tiCount
)

func tcbInfoMember(k []byte) int {
	switch string(k) {
	case "version":
		return tiVersion
	case "id":
		return tiID
	case "issueDate":
		return tiIssueDate
	case "nextUpdate":
		return tiNextUpdate
	case "fmspc":
		return tiFMSPC
	case "pceId":
		return tiPCEID
	case "tcbType":
		return tiTCBType
	case "tcbEvaluationDataNumber":
		return tiEvaluationDataNumber
	case "tcbLevels":
		return tiTCBLevels
	case "tdxModule":
		return tiTDXModule
	case "tdxModuleIdentities":
		return tiTDXModuleIdentities
	}
	return -1
}

// countArray checks and skips an array and returns its length.
func (d *fdec) countArray() (int, bool) {
	empty, ok := d.open('[', ']')
	if !ok {
		return 0, false
	}
	n := 0
	for more := !empty; more; n++ {
		if !d.skip(2) {
			return 0, false
		}
		if more, ok = d.more(']'); !ok {
			return 0, false
		}
	}
	return n, true
}

// fastTCBInfoKind decodes the version and, for version 3, the id of a TCB info
// whose members are at at.
func fastTCBInfoKind(raw []byte, at *[tiCount]int) (version int, tdx, ok bool) {
	if at[tiVersion] == 0 {
		return 0, false, false
	}
	d := fdec{data: raw, pos: at[tiVersion]}
	v, ok := d.uint32()
	if !ok || v != 2 && v != 3 {
		return 0, false, false
	}
	if v == 2 {
		return 2, false, true
	}
	if at[tiID] == 0 {
		return 0, false, false
	}
	d.pos = at[tiID]
	id, ok := d.str()
	if !ok || string(id) != "SGX" && string(id) != "TDX" {
		return 0, false, false
	}
	return 3, string(id) == "TDX", true
}

// parseTCBInfoFast is parseTCBInfoBody's success path (see fastjson.go);
// Signature is left to the caller.
func parseTCBInfoFast(raw []byte) (*TCBInfo, bool) {
	// One pass over the root object: where each member is; the levels are
	// read on the way when the version and id come before them (Intel's
	// order), or afterwards.
	var at [tiCount]int
	var levelBuf [24]TCBLevel
	var levels []TCBLevel
	ok := rootMembers(raw, at[:], tcbInfoMember, func(d *fdec, m int) (read, ok bool) {
		if m != tiTCBLevels {
			return false, true
		}
		version, tdx, known := fastTCBInfoKind(raw, &at)
		if !known {
			return false, true
		}
		levels, ok = d.tcbLevels(levelBuf[:0], version, tdx)
		return true, ok
	})
	if !ok {
		return nil, false
	}

	version, tdx, ok := fastTCBInfoKind(raw, &at)
	if !ok || at[tiIssueDate] == 0 || at[tiNextUpdate] == 0 || at[tiFMSPC] == 0 || at[tiPCEID] == 0 ||
		at[tiTCBType] == 0 || at[tiEvaluationDataNumber] == 0 || at[tiTCBLevels] == 0 {
		return nil, false
	}
	member := func(m int) *fdec { return &fdec{data: raw, pos: at[m]} }
	info := &TCBInfo{ID: "SGX", Version: version}
	if tdx {
		info.ID = "TDX"
	}
	if info.IssueDate, ok = member(tiIssueDate).date(); !ok {
		return nil, false
	}
	if info.NextUpdate, ok = member(tiNextUpdate).date(); !ok {
		return nil, false
	}
	if !member(tiFMSPC).hexInto(info.FMSPC[:]) || !member(tiPCEID).hexInto(info.PCEID[:]) {
		return nil, false
	}
	if tcbType, ok := member(tiTCBType).int32(); !ok || tcbType != 0 {
		return nil, false
	}
	if info.TCBEvaluationDataNumber, ok = member(tiEvaluationDataNumber).uint32(); !ok {
		return nil, false
	}
	if version == 3 {
		hasModule, hasIdentities := at[tiTDXModule] != 0, at[tiTDXModuleIdentities] != 0
		if !tdx && (hasModule || hasIdentities) || tdx && !hasModule {
			return nil, false
		}
		if tdx {
			if info.TDXModule, ok = member(tiTDXModule).tdxModule(); !ok {
				return nil, false
			}
			if hasIdentities {
				if info.TDXModuleIdentities, ok = member(tiTDXModuleIdentities).moduleIdentities(); !ok {
					return nil, false
				}
			}
		}
	}
	if levels == nil {
		if levels, ok = member(tiTCBLevels).tcbLevels(levelBuf[:0], version, tdx); !ok {
			return nil, false
		}
	}
	info.TCBLevels = append(make([]TCBLevel, 0, len(levels)), levels...)
	if !sortTCBLevels(info.TCBLevels, tdx) {
		return nil, false
	}
	info.Signed = bytes.Clone(raw)
	return info, true
}

// tcbLevels reads a non-empty array of TCB levels, appending to buf.
func (d *fdec) tcbLevels(buf []TCBLevel, version int, tdx bool) ([]TCBLevel, bool) {
	empty, ok := d.open('[', ']')
	if !ok || empty {
		return nil, false
	}
	for more := true; more; {
		buf = append(buf, TCBLevel{})
		if !d.tcbLevel(version, tdx, &buf[len(buf)-1]) {
			return nil, false
		}
		if more, ok = d.more(']'); !ok {
			return nil, false
		}
	}
	return buf, true
}

// sortTCBLevels sorts levels as QVL does and reports false for two equal
// levels.
func sortTCBLevels(levels []TCBLevel, tdx bool) bool {
	slices.SortStableFunc(levels, func(a, b TCBLevel) int {
		return -CompareTCBLevels(&a, &b, tdx)
	})
	for i := 1; i < len(levels); i++ {
		if CompareTCBLevels(&levels[i-1], &levels[i], tdx) == 0 {
			return false
		}
	}
	return true
}

// sortISVSVNLevels sorts module levels by isvsvn, descending, and reports
// false for a repeated isvsvn.
func sortISVSVNLevels(levels []ISVSVNLevel) bool {
	slices.SortStableFunc(levels, func(a, b ISVSVNLevel) int {
		return int(b.ISVSVN) - int(a.ISVSVN)
	})
	for i := 1; i < len(levels); i++ {
		if levels[i-1].ISVSVN == levels[i].ISVSVN {
			return false
		}
	}
	return true
}

// object reads an object member by member: f is called with each name and
// must consume the value and return true, or return false to fail. It
// returns false when the object is malformed or f fails.
func (d *fdec) object(f func(k []byte) bool) bool {
	empty, ok := d.open('{', '}')
	if !ok {
		return false
	}
	for more := !empty; more; {
		k, ok := d.key()
		if !ok || !f(k) {
			return false
		}
		if more, ok = d.more('}'); !ok {
			return false
		}
	}
	return true
}

func (d *fdec) tdxModule() (*TDXModule, bool) {
	m := &TDXModule{}
	var seen uint8
	ok := d.object(func(k []byte) bool {
		switch {
		case string(k) == "mrsigner" && seen&1 == 0:
			seen |= 1
			var ok bool
			m.MRSigner, ok = d.hexBytes(48)
			return ok
		case string(k) == "attributes" && seen&2 == 0:
			seen |= 2
			return d.hexInto(m.Attributes[:])
		case string(k) == "attributesMask" && seen&4 == 0:
			seen |= 4
			return d.hexInto(m.AttributesMask[:])
		}
		return d.skip(2)
	})
	return m, ok && seen == 7
}

func (d *fdec) moduleIdentities() ([]TDXModuleIdentity, bool) {
	start := d.pos
	n, ok := d.countArray()
	if !ok || n == 0 {
		return nil, false
	}
	ids := make([]TDXModuleIdentity, n)
	d.pos = start + 1
	for i := range ids {
		if !d.moduleIdentity(&ids[i]) {
			return nil, false
		}
		d.pos++ // ',' or ']'
	}
	return ids, true
}

func (d *fdec) moduleIdentity(id *TDXModuleIdentity) bool {
	var seen uint8
	ok := d.object(func(k []byte) bool {
		switch {
		case string(k) == "id" && seen&1 == 0:
			seen |= 1
			s, ok := d.str()
			id.ID = string(s)
			return ok
		case string(k) == "mrsigner" && seen&2 == 0:
			seen |= 2
			var ok bool
			id.MRSigner, ok = d.hexBytes(48)
			return ok
		case string(k) == "attributes" && seen&4 == 0:
			seen |= 4
			return d.hexInto(id.Attributes[:])
		case string(k) == "attributesMask" && seen&8 == 0:
			seen |= 8
			return d.hexInto(id.AttributesMask[:])
		case string(k) == "tcbLevels" && seen&16 == 0:
			seen |= 16
			start := d.pos
			n, ok := d.countArray()
			if !ok || n == 0 {
				return false
			}
			end := d.pos
			id.TCBLevels = make([]ISVSVNLevel, n)
			d.pos = start + 1
			for i := range id.TCBLevels {
				if !d.moduleLevel(&id.TCBLevels[i]) {
					return false
				}
				d.pos++
			}
			d.pos = end
			return sortISVSVNLevels(id.TCBLevels)
		}
		return d.skip(3)
	})
	return ok && seen == 31
}

// moduleLevel is parseModuleLevel's success path.
func (d *fdec) moduleLevel(l *ISVSVNLevel) bool {
	var seen uint8
	ok := d.object(func(k []byte) bool {
		switch {
		case string(k) == "tcb" && seen&1 == 0:
			seen |= 1
			var has bool
			ok := d.object(func(k []byte) bool {
				if string(k) == "isvsvn" && !has {
					has = true
					v, ok := d.int32()
					l.ISVSVN = uint16(v)
					return ok && v >= 0 && v <= 0xFFFF
				}
				return d.skip(5)
			})
			return ok && has
		case string(k) == "tcbDate" && seen&2 == 0:
			seen |= 2
			var ok bool
			l.TCBDate, ok = d.date()
			return ok
		case string(k) == "tcbStatus" && seen&4 == 0:
			seen |= 4
			s, ok := d.str()
			l.Status = TCBStatus(s)
			return ok
		case string(k) == "advisoryIDs" && seen&8 == 0:
			seen |= 8
			var ok bool
			l.AdvisoryIDs, ok = d.stringArray()
			return ok
		}
		return d.skip(4)
	})
	return ok && seen&7 == 7
}

// tcbLevel is parseTCBLevel's success path.
func (d *fdec) tcbLevel(version int, tdx bool, l *TCBLevel) bool {
	empty, ok := d.open('{', '}')
	if !ok || empty {
		return false
	}
	var seen uint8
	for more := true; more; {
		k, ok := d.key()
		if !ok {
			return false
		}
		switch {
		case string(k) == "tcb" && seen&1 == 0:
			seen |= 1
			if version == 2 {
				ok = d.tcbV2(l)
			} else {
				ok = d.tcbV3(tdx, l)
			}
		case string(k) == "tcbDate" && seen&2 == 0:
			seen |= 2
			l.TCBDate, ok = d.date()
		case string(k) == "tcbStatus" && seen&4 == 0:
			seen |= 4
			var s []byte
			if s, ok = d.str(); ok {
				l.Status, ok = tcbInfoStatuses[string(s)]
			}
		case string(k) == "advisoryIDs" && seen&8 == 0:
			seen |= 8
			l.AdvisoryIDs, ok = d.stringArray()
		default:
			ok = d.skip(3)
		}
		if !ok {
			return false
		}
		if more, ok = d.more('}'); !ok {
			return false
		}
	}
	return seen&7 == 7
}

// v2Component returns the index of a version 2 member sgxtcbcompNNsvn
// (NN 01…16), or -1.
func v2Component(k []byte) int {
	if len(k) != len("sgxtcbcomp01svn") || string(k[:10]) != "sgxtcbcomp" || string(k[12:]) != "svn" {
		return -1
	}
	if k[10] < '0' || k[10] > '1' || k[11] < '0' || k[11] > '9' {
		return -1
	}
	n := int(k[10]-'0')*10 + int(k[11]-'0')
	if n < 1 || n > 16 {
		return -1
	}
	return n - 1
}

func (d *fdec) tcbV2(l *TCBLevel) bool {
	var seen uint32 // bits 0–15 components, 16 pcesvn
	ok := d.object(func(k []byte) bool {
		i := v2Component(k)
		if i < 0 && string(k) == "pcesvn" {
			i = 16
		}
		if i < 0 || seen&(1<<i) != 0 {
			return d.skip(4)
		}
		seen |= 1 << i
		v, ok := d.uint32()
		if i == 16 {
			l.PCESVN = uint16(v)
			return ok && v <= 0xFFFF
		}
		l.SGXComponents[i] = uint8(v) // QVL: static_cast<uint8_t>
		return ok
	})
	return ok && seen == 1<<17-1
}

func (d *fdec) tcbV3(tdx bool, l *TCBLevel) bool {
	empty, ok := d.open('{', '}')
	if !ok || empty {
		return false
	}
	var seen uint8
	for more := true; more; {
		k, ok := d.key()
		if !ok {
			return false
		}
		switch {
		case string(k) == "pcesvn" && seen&1 == 0:
			seen |= 1
			var v uint32
			v, ok = d.uint32()
			l.PCESVN = uint16(v)
			ok = ok && v <= 0xFFFF
		case string(k) == "sgxtcbcomponents" && seen&2 == 0:
			seen |= 2
			ok = d.components(&l.SGXComponents)
		case tdx && string(k) == "tdxtcbcomponents" && seen&4 == 0:
			seen |= 4
			ok = d.components(&l.TDXComponents)
		default:
			ok = d.skip(4)
		}
		if !ok {
			return false
		}
		if more, ok = d.more('}'); !ok {
			return false
		}
	}
	if tdx {
		return seen == 7
	}
	return seen == 3
}

// components is parseComponents' success path: exactly 16 {svn, category?,
// type?} objects.
func (d *fdec) components(dst *[16]uint8) bool {
	if !d.lit('[') {
		return false
	}
	for i := range dst {
		svn, ok := d.component()
		if !ok {
			return false
		}
		dst[i] = uint8(svn) // QVL: static_cast<uint8_t>
		if more, ok := d.more(']'); !ok || more != (i < 15) {
			return false
		}
	}
	return true
}

func (d *fdec) component() (svn uint32, ok bool) {
	var seen uint8
	more := true
	if len(d.data)-d.pos > 7 && string(d.data[d.pos:d.pos+7]) == `{"svn":` {
		// Intel's form: svn first, often alone.
		d.pos += 7
		seen = 1
		if svn, ok = d.uint32(); !ok {
			return 0, false
		}
		if more, ok = d.more('}'); !ok {
			return 0, false
		}
	} else {
		empty, ok := d.open('{', '}')
		if !ok || empty {
			return 0, false
		}
	}
	for more {
		k, ok := d.key()
		if !ok {
			return 0, false
		}
		switch {
		case string(k) == "svn" && seen&1 == 0:
			seen |= 1
			svn, ok = d.uint32()
		case string(k) == "category" && seen&2 == 0:
			seen |= 2
			ok = d.anyString()
		case string(k) == "type" && seen&4 == 0:
			seen |= 4
			ok = d.anyString()
		default:
			ok = d.skip(6)
		}
		if !ok {
			return 0, false
		}
		if more, ok = d.more('}'); !ok {
			return 0, false
		}
	}
	return svn, seen&1 != 0
}

// Members of a QE identity read by parseQEIdentityFast, by index.
const (
	qiVersion = iota
	qiID
	qiIssueDate
	qiNextUpdate
	qiEvaluationDataNumber
	qiMiscSelect
	qiMiscSelectMask
	qiAttributes
	qiAttributesMask
	qiMRSigner
	qiISVProdID
	qiTCBLevels
	qiCount
)

func qeIdentityMember(k []byte) int {
	switch string(k) {
	case "version":
		return qiVersion
	case "id":
		return qiID
	case "issueDate":
		return qiIssueDate
	case "nextUpdate":
		return qiNextUpdate
	case "tcbEvaluationDataNumber":
		return qiEvaluationDataNumber
	case "miscselect":
		return qiMiscSelect
	case "miscselectMask":
		return qiMiscSelectMask
	case "attributes":
		return qiAttributes
	case "attributesMask":
		return qiAttributesMask
	case "mrsigner":
		return qiMRSigner
	case "isvprodid":
		return qiISVProdID
	case "tcbLevels":
		return qiTCBLevels
	}
	return -1
}

// parseQEIdentityFast is parseQEIdentityBody's success path (see
// fastjson.go); Signature is left to the caller.
func parseQEIdentityFast(raw []byte) (*QEIdentity, bool) {
	var at [qiCount]int
	var levelBuf [16]ISVSVNLevel
	var levels []ISVSVNLevel
	ok := rootMembers(raw, at[:], qeIdentityMember, func(d *fdec, m int) (read, ok bool) {
		if m != qiTCBLevels {
			return false, true
		}
		levels, ok = d.qeLevels(levelBuf[:0])
		return true, ok
	})
	if !ok {
		return nil, false
	}
	for _, p := range at {
		if p == 0 {
			return nil, false
		}
	}
	member := func(m int) *fdec { return &fdec{data: raw, pos: at[m]} }
	id := &QEIdentity{Version: 2}
	if version, ok := member(qiVersion).int32(); !ok || version != 2 {
		return nil, false
	}
	if id.IssueDate, ok = member(qiIssueDate).date(); !ok {
		return nil, false
	}
	if id.NextUpdate, ok = member(qiNextUpdate).date(); !ok {
		return nil, false
	}
	if !member(qiMiscSelect).hexInto(id.MiscSelect[:]) || !member(qiMiscSelectMask).hexInto(id.MiscSelectMask[:]) ||
		!member(qiAttributes).hexInto(id.Attributes[:]) || !member(qiAttributesMask).hexInto(id.AttributesMask[:]) {
		return nil, false
	}
	if id.MRSigner, ok = member(qiMRSigner).hexBytes(32); !ok {
		return nil, false
	}
	prod, ok := member(qiISVProdID).uint32()
	if !ok || prod > 0xFFFF {
		return nil, false
	}
	id.ISVProdID = uint16(prod)
	name, ok := member(qiID).str()
	if !ok {
		return nil, false
	}
	switch string(name) {
	case "QE":
		id.ID = "QE"
	case "QVE":
		id.ID = "QVE"
	case "TD_QE":
		id.ID = "TD_QE"
	default:
		return nil, false
	}
	if id.TCBEvaluationDataNumber, ok = member(qiEvaluationDataNumber).uint32(); !ok {
		return nil, false
	}
	id.TCBLevels = append(make([]ISVSVNLevel, 0, len(levels)), levels...)
	id.Signed = bytes.Clone(raw)
	return id, true
}

// qeLevels reads a non-empty array of QE identity levels, appending to buf.
func (d *fdec) qeLevels(buf []ISVSVNLevel) ([]ISVSVNLevel, bool) {
	empty, ok := d.open('[', ']')
	if !ok || empty {
		return nil, false
	}
	for more := true; more; {
		buf = append(buf, ISVSVNLevel{})
		if !d.qeLevel(&buf[len(buf)-1]) {
			return nil, false
		}
		if more, ok = d.more(']'); !ok {
			return nil, false
		}
	}
	return buf, true
}

// qeLevel is parseQELevel's success path.
func (d *fdec) qeLevel(l *ISVSVNLevel) bool {
	empty, ok := d.open('{', '}')
	if !ok || empty {
		return false
	}
	var seen uint8
	for more := true; more; {
		k, ok := d.key()
		if !ok {
			return false
		}
		switch {
		case string(k) == "tcb" && seen&1 == 0:
			seen |= 1
			var v uint32
			v, ok = d.isvsvn()
			l.ISVSVN = uint16(v)
			ok = ok && v <= 0xFFFF
		case string(k) == "tcbDate" && seen&2 == 0:
			seen |= 2
			l.TCBDate, ok = d.date()
		case string(k) == "tcbStatus" && seen&4 == 0:
			seen |= 4
			var s []byte
			if s, ok = d.str(); ok {
				l.Status, ok = qeIdentityStatuses[string(s)]
			}
		case string(k) == "advisoryIDs" && seen&8 == 0:
			seen |= 8
			// Kept when an array of strings, otherwise ignored
			// (parseQELevel).
			start := d.pos
			var ids []string
			if ids, ok = d.stringArray(); ok {
				l.AdvisoryIDs = ids
			} else {
				d.pos = start
				ok = !d.isStringArray() && d.skip(4)
			}
		default:
			ok = d.skip(3)
		}
		if !ok {
			return false
		}
		if more, ok = d.more('}'); !ok {
			return false
		}
	}
	return seen&7 == 7
}

// isvsvn reads the object {isvsvn} of a QE identity level as an unsigned
// 32-bit integer.
func (d *fdec) isvsvn() (v uint32, ok bool) {
	empty, ok := d.open('{', '}')
	if !ok || empty {
		return 0, false
	}
	has := false
	for more := true; more; {
		k, ok := d.key()
		if !ok {
			return 0, false
		}
		if string(k) == "isvsvn" && !has {
			has = true
			v, ok = d.uint32()
		} else {
			ok = d.skip(5)
		}
		if !ok {
			return 0, false
		}
		if more, ok = d.more('}'); !ok {
			return 0, false
		}
	}
	return v, has
}

// isStringArray reports whether the value at d.pos is an array of strings
// (with or without escapes); d.pos is left unchanged.
func (d *fdec) isStringArray() bool {
	start := d.pos
	defer func() { d.pos = start }()
	empty, ok := d.open('[', ']')
	if !ok {
		return false
	}
	for more := !empty; more; {
		if !d.anyString() {
			return false
		}
		if more, ok = d.more(']'); !ok {
			return false
		}
	}
	return true
}

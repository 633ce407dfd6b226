package pcs

// This file is a frozen copy of the parsers as they were before the
// allocation-free rewrite (JSON tree built after json.Compact, PCK
// extension read with encoding/asn1, PEM read with encoding/pem). The
// differential tests in differential_test.go check that the current
// parsers accept, reject and return exactly what these did.
// Generated mechanically; do not edit except to keep it compiling.

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

type oldJkind uint8

const (
	oldJNull oldJkind = iota
	oldJBool
	oldJNumber
	oldJString
	oldJArray
	oldJObject
)

func (k oldJkind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

type oldJval struct {
	kind oldJkind
	s    []byte // string content (unescaped) or the literal text of a number
	b    bool
	keys [][]byte   // object member names in document order (duplicates kept)
	vals []*oldJval // object member values (parallel to keys) or array elements
}

func oldParseJSON(data []byte) (*oldJval, error) {
	if !json.Valid(data) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return nil, errors.New("invalid JSON")
	}
	return oldParseValidJSON(data)
}

func oldParseValidJSON(data []byte) (*oldJval, error) {
	p := oldJparser{data: data}
	return p.value()
}

type oldJparser struct {
	data []byte
	pos  int
	slab []oldJval
}

func (p *oldJparser) newVal(k oldJkind) *oldJval {
	if len(p.slab) == 0 {
		p.slab = make([]oldJval, 64)
	}
	v := &p.slab[0]
	p.slab = p.slab[1:]
	v.kind = k
	return v
}

func (p *oldJparser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *oldJparser) value() (*oldJval, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, errors.New("unexpected end of JSON")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		p.pos++
		v := p.newVal(oldJObject)
		p.skipSpace()
		if p.data[p.pos] == '}' {
			p.pos++
			return v, nil
		}
		for {
			p.skipSpace()
			key, err := p.string()
			if err != nil {
				return nil, err
			}
			p.skipSpace()
			p.pos++
			e, err := p.value()
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, key)
			v.vals = append(v.vals, e)
			p.skipSpace()
			if p.data[p.pos] == '}' {
				p.pos++
				return v, nil
			}
			p.pos++
		}
	case '[':
		p.pos++
		v := p.newVal(oldJArray)
		p.skipSpace()
		if p.data[p.pos] == ']' {
			p.pos++
			return v, nil
		}
		for {
			e, err := p.value()
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, e)
			p.skipSpace()
			if p.data[p.pos] == ']' {
				p.pos++
				return v, nil
			}
			p.pos++
		}
	case '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		v := p.newVal(oldJString)
		v.s = s
		return v, nil
	case 't':
		p.pos += 4
		v := p.newVal(oldJBool)
		v.b = true
		return v, nil
	case 'f':
		p.pos += 5
		return p.newVal(oldJBool), nil
	case 'n':
		p.pos += 4
		return p.newVal(oldJNull), nil
	default:
		start := p.pos
	digits:
		for p.pos < len(p.data) {
			switch p.data[p.pos] {
			case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				p.pos++
			default:
				break digits
			}
		}
		v := p.newVal(oldJNumber)
		v.s = p.data[start:p.pos]
		return v, nil
	}
}

func (p *oldJparser) string() ([]byte, error) {
	start := p.pos
	p.pos++
	escaped := false
	for {
		c := p.data[p.pos]
		if c == '\\' {
			escaped = true
			p.pos += 2
			continue
		}
		p.pos++
		if c == '"' {
			break
		}
	}
	if !escaped {
		return p.data[start+1 : p.pos-1], nil
	}
	var s string
	if err := json.Unmarshal(p.data[start:p.pos], &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func (v *oldJval) get(name string) *oldJval {
	for i, k := range v.keys {
		if string(k) == name {
			return v.vals[i]
		}
	}
	return nil
}

var oldErrMissing = errors.New("missing")

func (v *oldJval) field(name string) (*oldJval, error) {
	f := v.get(name)
	if f == nil {
		return nil, fmt.Errorf("%s is %w", name, oldErrMissing)
	}
	return f, nil
}

func (v *oldJval) objectField(name string) (*oldJval, error) {
	f, err := v.field(name)
	if err != nil {
		return nil, err
	}
	if f.kind != oldJObject {
		return nil, fmt.Errorf("%s is a %s, not an object", name, f.kind)
	}
	return f, nil
}

func (v *oldJval) arrayField(name string) (*oldJval, error) {
	f, err := v.field(name)
	if err != nil {
		return nil, err
	}
	if f.kind != oldJArray {
		return nil, fmt.Errorf("%s is a %s, not an array", name, f.kind)
	}
	return f, nil
}

func (v *oldJval) stringField(name string) (string, error) {
	b, err := v.bytesField(name)
	return string(b), err
}

func (v *oldJval) bytesField(name string) ([]byte, error) {
	f, err := v.field(name)
	if err != nil {
		return nil, err
	}
	if f.kind != oldJString {
		return nil, fmt.Errorf("%s is a %s, not a string", name, f.kind)
	}
	return f.s, nil
}

func (v *oldJval) checkOptionalString(name string) error {
	if f := v.get(name); f != nil && f.kind != oldJString {
		return fmt.Errorf("%s is a %s, not a string", name, f.kind)
	}
	return nil
}

func (v *oldJval) uintField(name string) (uint32, error) {
	f, err := v.field(name)
	if err != nil {
		return 0, err
	}
	n, ok := f.uint32()
	if !ok {
		return 0, fmt.Errorf("%s is not an unsigned 32-bit integer (%s)", name, f.describe())
	}
	return n, nil
}

func (v *oldJval) intField(name string) (int32, error) {
	f, err := v.field(name)
	if err != nil {
		return 0, err
	}
	n, ok := f.int32()
	if !ok {
		return 0, fmt.Errorf("%s is not a 32-bit integer (%s)", name, f.describe())
	}
	return n, nil
}

func (v *oldJval) uint32() (uint32, bool) {
	if v.kind != oldJNumber {
		return 0, false
	}
	if string(v.s) == "-0" {
		return 0, true
	}
	if !oldAllDigits(v.s) || len(v.s) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range v.s {
		n = n*10 + uint64(c-'0')
	}
	return uint32(n), n <= 0xFFFFFFFF
}

func (v *oldJval) int32() (int32, bool) {
	if v.kind != oldJNumber {
		return 0, false
	}
	s := v.s
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if !oldAllDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v.s), 10, 32)
	return int32(n), err == nil
}

func oldAllDigits(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (v *oldJval) describe() string {
	switch v.kind {
	case oldJNumber:
		return string(v.s)
	case oldJString:
		return strconv.Quote(string(v.s))
	}
	return "a " + v.kind.String()
}

func (v *oldJval) hexField(name string, hexLen int) ([]byte, error) {
	s, err := v.bytesField(name)
	if err != nil {
		return nil, err
	}
	if len(s) != hexLen {
		return nil, fmt.Errorf("%s must be %d hex digits, has %d characters", name, hexLen, len(s))
	}
	b := make([]byte, hexLen/2)
	if _, err := hex.Decode(b, s); err != nil {
		return nil, fmt.Errorf("%s is not hex: %v", name, err)
	}
	return b, nil
}

func (v *oldJval) dateField(name string) (time.Time, error) {
	s, err := v.bytesField(name)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := oldParseDate(s)
	if !ok {
		return time.Time{}, fmt.Errorf("%s %q is not a date of the form YYYY-MM-DDThh:mm:ssZ", name, s)
	}
	return t, nil
}

func oldParseDate(s []byte) (time.Time, bool) {
	const shape = "dddd-dd-ddTdd:dd:ddZ"
	if len(s) != len(shape) {
		return time.Time{}, false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return time.Time{}, false
			}
		} else if s[i] != shape[i] {
			return time.Time{}, false
		}
	}
	num := func(i, n int) int {
		v := 0
		for _, c := range s[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec := num(11, 2), num(14, 2), num(17, 2)
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

func (v *oldJval) stringArray(name string) (out []string, present bool, err error) {
	f := v.get(name)
	if f == nil {
		return nil, false, nil
	}
	if f.kind != oldJArray {
		return nil, true, fmt.Errorf("%s is a %s, not an array", name, f.kind)
	}
	out = make([]string, 0, len(f.vals))
	for i, e := range f.vals {
		if e.kind != oldJString {
			return nil, true, fmt.Errorf("%s[%d] is a %s, not a string", name, i, e.kind)
		}
		out = append(out, string(e.s))
	}
	return out, true, nil
}

func oldCompactJSON(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var oldTcbInfoStatuses = map[string]TCBStatus{
	"UpToDate":                          StatusUpToDate,
	"SWHardeningNeeded":                 StatusSWHardeningNeeded,
	"ConfigurationNeeded":               StatusConfigurationNeeded,
	"ConfigurationAndSWHardeningNeeded": StatusConfigurationAndSWHardeningNeeded,
	"OutOfDate":                         StatusOutOfDate,
	"OutOfDateConfigurationNeeded":      StatusOutOfDateConfigurationNeeded,
	"Revoked":                           StatusRevoked,
}

var oldV2ComponentNames = [16]string{
	"sgxtcbcomp01svn", "sgxtcbcomp02svn", "sgxtcbcomp03svn", "sgxtcbcomp04svn",
	"sgxtcbcomp05svn", "sgxtcbcomp06svn", "sgxtcbcomp07svn", "sgxtcbcomp08svn",
	"sgxtcbcomp09svn", "sgxtcbcomp10svn", "sgxtcbcomp11svn", "sgxtcbcomp12svn",
	"sgxtcbcomp13svn", "sgxtcbcomp14svn", "sgxtcbcomp15svn", "sgxtcbcomp16svn",
}

func oldParseTCBInfo(raw, signature []byte) (*TCBInfo, error) {
	if len(signature) != 64 {
		return nil, ErrTCBInfoFormat.Wrapf("signature must be 64 bytes (r‖s), got %d", len(signature))
	}

	signed, err := oldCompactJSON(raw)
	if err != nil {
		return nil, ErrTCBInfoFormat.Wrapf("tcbInfo is not valid JSON: %v", err)
	}
	root, err := oldParseValidJSON(signed)
	if err != nil {
		return nil, ErrTCBInfoFormat.Wrapf("tcbInfo is not valid JSON: %v", err)
	}
	if root.kind != oldJObject {
		return nil, ErrTCBInfoFormat.Wrapf("tcbInfo is a %s, not an object", root.kind)
	}
	info := &TCBInfo{Signed: signed, Signature: bytes.Clone(signature)}
	if err := oldParseTCBInfoBody(root, info); err != nil {
		return nil, ErrTCBInfoFormat.Wrap(err)
	}
	return info, nil
}

func oldParseTCBInfoBody(obj *oldJval, info *TCBInfo) error {
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
	if obj.get("tcbLevels") == nil {
		return fmt.Errorf("tcbLevels is %w", oldErrMissing)
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
		if err := oldParseTDXParts(obj, info); err != nil {
			return err
		}
	}

	levels, err := obj.arrayField("tcbLevels")
	if err != nil {
		return err
	}
	if len(levels.vals) == 0 {
		return fmt.Errorf("tcbLevels is empty")
	}
	info.TCBLevels = make([]TCBLevel, len(levels.vals))
	for i, lv := range levels.vals {
		if err := oldParseTCBLevel(lv, info.Version, tdx, &info.TCBLevels[i]); err != nil {
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

func oldParseTDXParts(obj *oldJval, info *TCBInfo) error {
	hasModule := obj.get("tdxModule") != nil
	hasIdentities := obj.get("tdxModuleIdentities") != nil
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
	if err := oldHexInto(mod, "attributes", info.TDXModule.Attributes[:]); err != nil {
		return fmt.Errorf("tdxModule.%w", err)
	}
	if err := oldHexInto(mod, "attributesMask", info.TDXModule.AttributesMask[:]); err != nil {
		return fmt.Errorf("tdxModule.%w", err)
	}
	if !hasIdentities {
		return nil
	}
	ids, err := obj.arrayField("tdxModuleIdentities")
	if err != nil {
		return err
	}
	if len(ids.vals) == 0 {
		return fmt.Errorf("tdxModuleIdentities is empty")
	}
	info.TDXModuleIdentities = make([]TDXModuleIdentity, len(ids.vals))
	for i, e := range ids.vals {
		if err := oldParseModuleIdentity(e, &info.TDXModuleIdentities[i]); err != nil {
			return fmt.Errorf("tdxModuleIdentities[%d].%w", i, err)
		}
	}
	return nil
}

func oldHexInto(obj *oldJval, name string, dst []byte) error {
	b, err := obj.hexField(name, 2*len(dst))
	if err != nil {
		return err
	}
	copy(dst, b)
	return nil
}

func oldParseModuleIdentity(v *oldJval, id *TDXModuleIdentity) error {
	if v.kind != oldJObject {
		return fmt.Errorf("entry is a %s, not an object", v.kind)
	}
	var err error
	if id.ID, err = v.stringField("id"); err != nil {
		return err
	}
	if id.MRSigner, err = v.hexField("mrsigner", 96); err != nil {
		return err
	}
	if err := oldHexInto(v, "attributes", id.Attributes[:]); err != nil {
		return err
	}
	if err := oldHexInto(v, "attributesMask", id.AttributesMask[:]); err != nil {
		return err
	}
	levels, err := v.arrayField("tcbLevels")
	if err != nil {
		return err
	}
	if len(levels.vals) == 0 {
		return fmt.Errorf("tcbLevels is empty")
	}
	id.TCBLevels = make([]ISVSVNLevel, len(levels.vals))
	for i, lv := range levels.vals {
		if err := oldParseModuleLevel(lv, &id.TCBLevels[i]); err != nil {
			return fmt.Errorf("tcbLevels[%d]: %w", i, err)
		}
	}

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

func oldParseModuleLevel(v *oldJval, l *ISVSVNLevel) error {
	if v.kind != oldJObject {
		return fmt.Errorf("level is a %s, not an object", v.kind)
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

func oldParseTCBLevel(v *oldJval, version int, tdx bool, l *TCBLevel) error {
	if v.kind != oldJObject {
		return fmt.Errorf("level is a %s, not an object", v.kind)
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
	st, ok := oldTcbInfoStatuses[string(status)]
	if !ok {
		return fmt.Errorf("tcbStatus %q is not a TCB info status", status)
	}
	l.Status = st
	tcb, err := v.objectField("tcb")
	if err != nil {
		return err
	}
	if version == 2 {
		for i, name := range oldV2ComponentNames {
			svn, err := tcb.uintField(name)
			if err != nil {
				return fmt.Errorf("tcb.%w", err)
			}
			l.SGXComponents[i] = uint8(svn)
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
		if err := oldParseComponents(tcb, "sgxtcbcomponents", &l.SGXComponents); err != nil {
			return fmt.Errorf("tcb.%w", err)
		}
		if tdx {
			if err := oldParseComponents(tcb, "tdxtcbcomponents", &l.TDXComponents); err != nil {
				return fmt.Errorf("tcb.%w", err)
			}
		}
	}
	return nil
}

func oldParseComponents(tcb *oldJval, name string, dst *[16]uint8) error {
	arr, err := tcb.arrayField(name)
	if err != nil {
		return err
	}
	if len(arr.vals) != 16 {
		return fmt.Errorf("%s must have exactly 16 entries, has %d", name, len(arr.vals))
	}
	for i, c := range arr.vals {
		if c.kind != oldJObject {
			return fmt.Errorf("%s[%d] is a %s, not an object", name, i, c.kind)
		}
		svn, err := c.uintField("svn")
		if err != nil {
			return fmt.Errorf("%s[%d].%w", name, i, err)
		}
		dst[i] = uint8(svn)
		if err := c.checkOptionalString("category"); err != nil {
			return fmt.Errorf("%s[%d].%w", name, i, err)
		}
		if err := c.checkOptionalString("type"); err != nil {
			return fmt.Errorf("%s[%d].%w", name, i, err)
		}
	}
	return nil
}

var oldQeIdentityStatuses = map[string]TCBStatus{
	"UpToDate":                     StatusUpToDate,
	"ConfigurationNeeded":          StatusConfigurationNeeded,
	"OutOfDate":                    StatusOutOfDate,
	"OutOfDateConfigurationNeeded": StatusOutOfDateConfigurationNeeded,
	"Revoked":                      StatusRevoked,
}

func oldParseQEIdentity(raw, signature []byte) (*QEIdentity, error) {
	if len(signature) != 64 {
		return nil, ErrQEIdentityFormat.Wrapf("signature must be 64 bytes (r‖s), got %d", len(signature))
	}
	signed, err := oldCompactJSON(raw)
	if err != nil {
		return nil, ErrQEIdentityFormat.Wrapf("enclaveIdentity is not valid JSON: %v", err)
	}
	root, err := oldParseValidJSON(signed)
	if err != nil {
		return nil, ErrQEIdentityFormat.Wrapf("enclaveIdentity is not valid JSON: %v", err)
	}
	if root.kind != oldJObject {
		return nil, ErrQEIdentityFormat.Wrapf("enclaveIdentity is a %s, not an object", root.kind)
	}
	id := &QEIdentity{Signed: signed, Signature: bytes.Clone(signature)}
	if err := oldParseQEIdentityBody(root, id); err != nil {
		return nil, ErrQEIdentityFormat.Wrap(err)
	}
	return id, nil
}

func oldParseQEIdentityBody(obj *oldJval, id *QEIdentity) error {
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
	if err := oldHexInto(obj, "miscselect", id.MiscSelect[:]); err != nil {
		return err
	}
	if err := oldHexInto(obj, "miscselectMask", id.MiscSelectMask[:]); err != nil {
		return err
	}
	if err := oldHexInto(obj, "attributes", id.Attributes[:]); err != nil {
		return err
	}
	if err := oldHexInto(obj, "attributesMask", id.AttributesMask[:]); err != nil {
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
	if len(levels.vals) == 0 {
		return fmt.Errorf("tcbLevels is empty")
	}
	id.TCBLevels = make([]ISVSVNLevel, len(levels.vals))
	for i, lv := range levels.vals {
		if err := oldParseQELevel(lv, &id.TCBLevels[i]); err != nil {
			return fmt.Errorf("tcbLevels[%d]: %w", i, err)
		}
	}
	return nil
}

func oldParseQELevel(v *oldJval, l *ISVSVNLevel) error {
	if v.kind != oldJObject {
		return fmt.Errorf("level is a %s, not an object", v.kind)
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
	st, ok := oldQeIdentityStatuses[string(status)]
	if !ok {
		return fmt.Errorf("tcbStatus %q is not a QE identity status", status)
	}
	l.Status = st
	if ids, _, err := v.stringArray("advisoryIDs"); err == nil {
		l.AdvisoryIDs = ids
	}
	return nil
}

func oldParsePCKExtensions(cert *x509.Certificate) (*PCKExtensions, error) {
	if cert == nil {
		return nil, ErrPCKExtensions.Wrapf("no certificate")
	}
	var value []byte
	found := false
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(OIDSGXExtensions) {
			value, found = ext.Value, true
			break
		}
	}
	if !found {
		return nil, ErrPCKExtensions.Wrapf("certificate %q has no SGX extension %s", cert.Subject.CommonName, OIDSGXExtensions)
	}
	ext, entries, err := oldPCKExtensionEntries(value)
	if err != nil {
		return nil, ErrPCKExtensions.Wrap(err)
	}
	if strings.Contains(cert.Issuer.CommonName, "Platform CA") {
		if entries != 7 || ext.PlatformInstanceID == nil || ext.Configuration == nil {
			return nil, ErrPCKExtensions.Wrapf("a Platform-CA PCK certificate needs 7 SGX extension entries including the platform instance ID and configuration")
		}
	}
	return ext, nil
}

func oldParsePCKExtensionValue(der []byte) (*PCKExtensions, error) {
	ext, _, err := oldPCKExtensionEntries(der)
	if err != nil {
		return nil, ErrPCKExtensions.Wrap(err)
	}
	return ext, nil
}

func oldPCKExtensionEntries(der []byte) (*PCKExtensions, int, error) {
	entries, err := oldParseSequence(der, "SGX extension")
	if err != nil {
		return nil, 0, err
	}
	if len(entries) != 5 && len(entries) != 7 {
		return nil, 0, fmt.Errorf("SGX extension has %d entries, want 5 or 7", len(entries))
	}
	ext := &PCKExtensions{}
	seen := make(map[int]bool)
	for i, e := range entries {
		oid, val, err := oldParsePair(e)
		if err != nil {
			return nil, 0, fmt.Errorf("SGX extension entry %d: %w", i, err)
		}
		n, ok := oldSubOID(oid, OIDSGXExtensions)
		if !ok {
			continue
		}
		name := fmt.Sprintf("SGX extension .%d", n)
		switch n {
		case sgxExtPPID:
			err = oldOctets(val, name+" (PPID)", ext.PPID[:])
		case sgxExtTCB:
			err = oldParsePCKTCB(val, ext)
		case sgxExtPCEID:
			err = oldOctets(val, name+" (PCE-ID)", ext.PCEID[:])
		case sgxExtFMSPC:
			err = oldOctets(val, name+" (FMSPC)", ext.FMSPC[:])
		case sgxExtSGXType:
			ext.SGXType, err = oldEnumerated(val, name+" (SGX type)")
		case sgxExtPlatformInstanceID:
			ext.PlatformInstanceID = make([]byte, 16)
			err = oldOctets(val, name+" (platform instance ID)", ext.PlatformInstanceID)
		case sgxExtConfiguration:
			ext.Configuration, err = oldParseConfiguration(val)
		default:
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		seen[n] = true
	}
	for _, n := range []int{sgxExtPPID, sgxExtTCB, sgxExtPCEID, sgxExtFMSPC, sgxExtSGXType} {
		if !seen[n] {
			return nil, 0, fmt.Errorf("SGX extension .%d (%s) is missing", n, [...]string{"", "PPID", "TCB", "PCE-ID", "FMSPC", "SGX type"}[n])
		}
	}
	return ext, len(entries), nil
}

func oldParsePCKTCB(val asn1.RawValue, ext *PCKExtensions) error {
	if !oldIsUniversal(val, tagSequence, true) {
		return fmt.Errorf("SGX extension .2 (TCB) is not a SEQUENCE")
	}
	entries, err := oldParseSequence(val.FullBytes, "TCB")
	if err != nil {
		return err
	}
	if len(entries) != 18 {
		return fmt.Errorf("TCB has %d entries, want 18", len(entries))
	}
	tcbOID := append(append(asn1.ObjectIdentifier{}, OIDSGXExtensions...), sgxExtTCB)
	seen := make(map[int]bool)
	for i, e := range entries {
		oid, v, err := oldParsePair(e)
		if err != nil {
			return fmt.Errorf("TCB entry %d: %w", i, err)
		}
		n, ok := oldSubOID(oid, tcbOID)
		if !ok || n < 1 || n > 18 {
			continue
		}
		name := fmt.Sprintf("TCB .2.%d", n)
		switch {
		case n <= 16:
			svn, err := oldInteger(v, name, 0, 255)
			if err != nil {
				return err
			}
			ext.TCBComponents[n-1] = uint8(svn)
		case n == 17:
			svn, err := oldInteger(v, name+" (PCESVN)", 0, 0xFFFF)
			if err != nil {
				return err
			}
			ext.PCESVN = uint16(svn)
		case n == 18:
			if err := oldOctets(v, name+" (CPUSVN)", ext.CPUSVN[:]); err != nil {
				return err
			}
		}
		seen[n] = true
	}
	for n := 1; n <= 18; n++ {
		if !seen[n] {
			return fmt.Errorf("TCB .2.%d is missing", n)
		}
	}
	return nil
}

func oldParseConfiguration(val asn1.RawValue) (*PlatformConfiguration, error) {
	if !oldIsUniversal(val, tagSequence, true) {
		return nil, fmt.Errorf("SGX extension .7 (configuration) is not a SEQUENCE")
	}
	entries, err := oldParseSequence(val.FullBytes, "configuration")
	if err != nil {
		return nil, err
	}
	confOID := append(append(asn1.ObjectIdentifier{}, OIDSGXExtensions...), sgxExtConfiguration)
	c := &PlatformConfiguration{}
	seen := make(map[int]bool)
	for i, e := range entries {
		oid, v, err := oldParsePair(e)
		if err != nil {
			return nil, fmt.Errorf("configuration entry %d: %w", i, err)
		}
		n, ok := oldSubOID(oid, confOID)
		if !ok || n < 1 || n > 3 {
			continue
		}
		b, err := oldBoolean(v, fmt.Sprintf("configuration .7.%d", n))
		if err != nil {
			return nil, err
		}
		switch n {
		case 1:
			c.DynamicPlatform = b
		case 2:
			c.CachedKeys = b
		case 3:
			c.SMTEnabled = b
		}
		seen[n] = true
	}
	for n := 1; n <= 3; n++ {
		if !seen[n] {
			return nil, fmt.Errorf("configuration .7.%d is missing", n)
		}
	}
	return c, nil
}

func oldParseSequence(der []byte, what string) ([]asn1.RawValue, error) {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		return nil, fmt.Errorf("%s is not DER: %v", what, err)
	}
	if !oldIsUniversal(seq, tagSequence, true) {
		return nil, fmt.Errorf("%s is not a SEQUENCE", what)
	}
	var out []asn1.RawValue
	rest := seq.Bytes
	for len(rest) > 0 {
		var e asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &e); err != nil {
			return nil, fmt.Errorf("%s element %d is not DER: %v", what, len(out), err)
		}
		out = append(out, e)
	}
	return out, nil
}

func oldParsePair(e asn1.RawValue) (asn1.ObjectIdentifier, asn1.RawValue, error) {
	if !oldIsUniversal(e, tagSequence, true) {
		return nil, asn1.RawValue{}, fmt.Errorf("not a SEQUENCE")
	}
	elems, err := oldParseSequence(e.FullBytes, "entry")
	if err != nil {
		return nil, asn1.RawValue{}, err
	}
	if len(elems) != 2 {
		return nil, asn1.RawValue{}, fmt.Errorf("has %d elements, want 2 (OID, value)", len(elems))
	}
	if !oldIsUniversal(elems[0], tagOID, false) {
		return nil, asn1.RawValue{}, fmt.Errorf("first element is not an OBJECT IDENTIFIER")
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(elems[0].FullBytes, &oid); err != nil {
		return nil, asn1.RawValue{}, fmt.Errorf("bad OBJECT IDENTIFIER: %v", err)
	}
	return oid, elems[1], nil
}

func oldSubOID(oid, parent asn1.ObjectIdentifier) (int, bool) {
	if len(oid) != len(parent)+1 || !oid[:len(parent)].Equal(parent) {
		return 0, false
	}
	return oid[len(parent)], true
}

func oldIsUniversal(v asn1.RawValue, tag int, compound bool) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag && v.IsCompound == compound
}

func oldOctets(v asn1.RawValue, what string, dst []byte) error {
	if !oldIsUniversal(v, tagOctetString, false) {
		return fmt.Errorf("%s is not an OCTET STRING", what)
	}
	if len(v.Bytes) != len(dst) {
		return fmt.Errorf("%s has %d bytes, want %d", what, len(v.Bytes), len(dst))
	}
	copy(dst, v.Bytes)
	return nil
}

func oldInteger(v asn1.RawValue, what string, lo, hi int64) (int64, error) {
	if !oldIsUniversal(v, tagInteger, false) {
		return 0, fmt.Errorf("%s is not an INTEGER", what)
	}
	var n int64
	if _, err := asn1.Unmarshal(v.FullBytes, &n); err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s is %d, outside %d…%d", what, n, lo, hi)
	}
	return n, nil
}

func oldEnumerated(v asn1.RawValue, what string) (int, error) {
	if !oldIsUniversal(v, tagEnumerated, false) {
		return 0, fmt.Errorf("%s is not an ENUMERATED", what)
	}
	var n asn1.Enumerated
	if _, err := asn1.Unmarshal(v.FullBytes, &n); err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	return int(n), nil
}

func oldBoolean(v asn1.RawValue, what string) (bool, error) {
	if !oldIsUniversal(v, tagBoolean, false) || len(v.Bytes) != 1 {
		return false, fmt.Errorf("%s is not a BOOLEAN", what)
	}
	return v.Bytes[0] != 0, nil
}

var oldPemCertBegin = []byte("-----BEGIN CERTIFICATE-----")

func oldParseCertificates(data []byte) ([]*x509.Certificate, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) {
		return oldParsePEMCertificates(trimmed)
	}
	if len(bytes.TrimSpace(bytes.TrimRight(data, "\x00"))) == 0 {
		return nil, ErrCertificateFormat.Wrapf("no certificate data")
	}
	certs, err := x509.ParseCertificates(data)
	if err != nil {
		return nil, ErrCertificateFormat.Wrapf("neither PEM nor DER certificates: %v", err)
	}
	if len(certs) == 0 {
		return nil, ErrCertificateFormat.Wrapf("no certificate data")
	}
	return certs, nil
}

func oldParsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	blocks, err := oldSplitPEMCertificates(data)
	if err != nil {
		return nil, ErrCertificateFormat.Wrap(err)
	}
	certs := make([]*x509.Certificate, 0, len(blocks))
	for i, b := range blocks {
		c, err := x509.ParseCertificate(b.der)
		if err != nil {
			return nil, ErrCertificateFormat.Wrapf("PEM block %d: %v", i, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

type oldPemCert struct {
	text []byte
	der  []byte
}

func oldSplitPEMCertificates(data []byte) ([]oldPemCert, error) {
	rest := bytes.TrimRight(data, "\x00")
	var out []oldPemCert
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		if len(rest) == 0 {
			break
		}
		if !bytes.HasPrefix(rest, []byte("-----BEGIN ")) {
			return nil, fmt.Errorf("unexpected text after PEM block %d", len(out))
		}
		block, after := pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("PEM block %d cannot be decoded", len(out))
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("PEM block %d is %q, not CERTIFICATE", len(out), block.Type)
		}
		if len(block.Headers) != 0 {
			return nil, fmt.Errorf("PEM block %d has headers", len(out))
		}
		text := rest[:len(rest)-len(after)]
		if bytes.Count(text, []byte("-----BEGIN")) != 1 {
			return nil, fmt.Errorf("PEM block %d cannot be decoded", len(out))
		}
		out = append(out, oldPemCert{text: text, der: block.Bytes})
		rest = after
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out, nil
}

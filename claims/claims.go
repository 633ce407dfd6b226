// Package claims derives Microsoft Azure Attestation (MAA) claims from a
// parsed quote and from the runtime and init-time data of an attestation
// request (maa.md §1.4, §2.3, §2.4).
//
// The claims made here describe the quote as parsed; nothing is verified.
// The verifier and the service add the claims that need verification or
// configuration: x-ms-sgx-collateral (and maa-attestationcollateral),
// attester_tcb_status, x-ms-compliance-status, x-ms-policy-hash,
// x-ms-policy, nonce and the JWT time claims.
//
// Claim values have the JSON types MAA emits: Go int for integers, bool,
// lower-case hex strings for byte arrays, and for runtime/init-time JSON the
// decoded value (objects as map[string]any, numbers as json.Number so that
// they survive re-serialisation exactly).
package claims

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/quote"
)

var (
	// ErrRuntimeDataMismatch: SHA-256 of the runtime data is not the first
	// 32 bytes of the report's REPORTDATA.
	ErrRuntimeDataMismatch = errs.New("runtime_data_mismatch", "the runtime data does not match the report data of the quote")
	// ErrInvalidRuntimeData: runtime data of type JSON that is not JSON, or
	// an unknown data type.
	ErrInvalidRuntimeData = errs.New("invalid_runtime_data", "the runtime data is not valid for its data type")
	// ErrInvalidInitTimeData: the same for init-time data.
	ErrInvalidInitTimeData = errs.New("invalid_inittime_data", "the init-time data is not valid for its data type")
	// ErrInitTimeDataMismatch: the quote does not bind the init-time data
	// (CheckInitTimeDataBinding).
	ErrInitTimeDataMismatch = errs.New("inittime_data_mismatch", "the init-time data is not bound by the quote")
)

// Attestation types (x-ms-attestation-type).
const (
	TypeSGX = "sgx"
	TypeTDX = "tdxvm"
	// TypeSevSnpVm is the x-ms-attestation-type of AMD SEV-SNP VMs (package snp).
	TypeSevSnpVm = "sevsnpvm"
)

// EATProfileTDX is the eat_profile of MAA's TDX tokens.
const EATProfileTDX = "https://aka.ms/maa-eat-profile-tdxvm"

// Data types of runtimeData / initTimeData (matched case-insensitively).
const (
	DataTypeBinary = "Binary"
	DataTypeJSON   = "JSON"
)

// FromQuote returns the claims MAA derives from the quote itself: the SGX
// claims of maa.md §2.3 (with their legacy copies) for SGX quotes, the TDX
// EAT-profile claims of §2.4 for TDX quotes. A nil quote gives an empty map.
func FromQuote(q *quote.Quote) map[string]any {
	switch {
	case q == nil:
		return map[string]any{}
	case q.TD != nil:
		return tdxClaims(q)
	case q.Enclave != nil:
		return sgxClaims(q.Enclave)
	}
	return map[string]any{}
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

func sgxClaims(r *quote.EnclaveReport) map[string]any {
	c := map[string]any{
		"x-ms-ver":               "1.0",
		"x-ms-attestation-type":  TypeSGX,
		"x-ms-sgx-is-debuggable": r.Debug(),
		"x-ms-sgx-product-id":    int(r.ISVProdID),
		"x-ms-sgx-svn":           int(r.ISVSVN),
		"x-ms-sgx-mrenclave":     hexs(r.MREnclave[:]),
		"x-ms-sgx-mrsigner":      hexs(r.MRSigner[:]),
		"x-ms-sgx-report-data":   hexs(r.ReportData[:]),

		// Legacy names, still emitted by MAA (maa.md §2.3).
		"is-debuggable": r.Debug(),
		"product-id":    int(r.ISVProdID),
		"svn":           int(r.ISVSVN),
		"sgx-mrenclave": hexs(r.MREnclave[:]),
		"sgx-mrsigner":  hexs(r.MRSigner[:]),
		"tee":           TypeSGX,
	}
	// The KSS fields are only defined when the enclave was launched with
	// Key Separation and Sharing; without KSS the CPU reports them as zero
	// and MAA does not emit them (the SDK vectors, non-KSS enclaves, carry
	// none). Emitting zeros would let a policy match a value the enclave
	// never chose.
	if r.KSS() {
		c["x-ms-sgx-config-id"] = hexs(r.ConfigID[:])
		c["x-ms-sgx-config-svn"] = int(r.ConfigSVN)
		c["x-ms-sgx-isv-extended-product-id"] = hexs(r.ISVExtProdID[:])
		c["x-ms-sgx-isv-family-id"] = hexs(r.ISVFamilyID[:])
	}
	return c
}

// TD attribute bits (dcap.md §1.5), as bit numbers of the u64 LE field.
const (
	tdAttrDebug          = 0
	tdAttrSEPTVEDisable  = 28
	tdAttrProtectionKeys = 30 // PKS
	tdAttrKeyLocker      = 31 // KL
	tdAttrPerfmon        = 63
)

func bit(b [8]byte, n uint) bool { return b[n/8]&(1<<(n%8)) != 0 }

func tdxClaims(q *quote.Quote) map[string]any {
	r := q.TD
	dbg := "disabled"
	if r.Debug() {
		dbg = "enabled"
	}
	c := map[string]any{
		"x-ms-ver":              "1.0",
		"x-ms-attestation-type": TypeTDX,
		"eat_profile":           EATProfileTDX,
		"intuse":                "generic",
		"dbgstat":               dbg,

		"tdx_mrtd":            hexs(r.MRTD[:]),
		"tdx_rtmr0":           hexs(r.RTMR[0][:]),
		"tdx_rtmr1":           hexs(r.RTMR[1][:]),
		"tdx_rtmr2":           hexs(r.RTMR[2][:]),
		"tdx_rtmr3":           hexs(r.RTMR[3][:]),
		"tdx_mrseam":          hexs(r.MRSeam[:]),
		"tdx_mrsignerseam":    hexs(r.MRSignerSeam[:]),
		"tdx_mrconfigid":      hexs(r.MRConfigID[:]),
		"tdx_mrowner":         hexs(r.MROwner[:]),
		"tdx_mrownerconfig":   hexs(r.MROwnerConfig[:]),
		"tdx_report_data":     hexs(r.ReportData[:]),
		"tdx_seam_attributes": hexs(r.SeamAttributes[:]),
		"tdx_td_attributes":   hexs(r.TDAttributes[:]),
		"tdx_xfam":            hexs(r.XFAM[:]),
		"tdx_tee_tcb_svn":     hexs(r.TEETCBSVN[:]),
		// TDX module SVN: TEE_TCB_SVN bytes 0 (minor) and 1 (major) read as
		// a u16 LE — MAA's example token has tee_tcb_svn 0300… and
		// tdx_seamsvn 3; Intel Trust Authority shows 0d01… as 269.
		"tdx_seamsvn": int(r.TEETCBSVN[0]) | int(r.TEETCBSVN[1])<<8,

		"tdx_td_attributes_debug":           bit(r.TDAttributes, tdAttrDebug),
		"tdx_td_attributes_septve_disable":  bit(r.TDAttributes, tdAttrSEPTVEDisable),
		"tdx_td_attributes_protection_keys": bit(r.TDAttributes, tdAttrProtectionKeys),
		"tdx_td_attributes_key_locker":      bit(r.TDAttributes, tdAttrKeyLocker),
		"tdx_td_attributes_perfmon":         bit(r.TDAttributes, tdAttrPerfmon),
	}
	if q.BodyType == quote.BodyTDX15 {
		// avow additions: TDX 1.5 fields that MAA's profile does not name.
		c["tdx_mrservicetd"] = hexs(r.MRServiceTD[:])
		c["tdx_tee_tcb_svn2"] = hexs(r.TEETCBSVN2[:])
	}
	return c
}

// AddRuntimeData adds the claims of the request's runtimeData to c, which
// must come from FromQuote.
//
//   - "Binary" on an SGX quote: x-ms-sgx-ehd = base64url (no padding) of
//     data, and the legacy copies aas-ehd and maa-ehd.
//   - "JSON": x-ms-runtime = the decoded JSON value; data that is not JSON
//     is refused with ErrInvalidRuntimeData. Trailing NUL bytes (C strings)
//     and surrounding whitespace are ignored.
//   - "Binary" on a TDX quote adds nothing: MAA's TDX profile has no
//     enclave-held-data claim, only x-ms-runtime for JSON. The data is still
//     bound to the quote by CheckRuntimeDataBinding.
//
// The data type is matched case-insensitively; any other value is refused.
// Binding the data to the quote is a separate step (CheckRuntimeDataBinding).
func AddRuntimeData(c map[string]any, data []byte, dataType string) error {
	if c == nil {
		return errors.New("claims: AddRuntimeData on a nil claims map")
	}
	switch {
	case strings.EqualFold(dataType, DataTypeBinary):
		if c["x-ms-attestation-type"] == TypeTDX {
			return nil
		}
		ehd := base64.RawURLEncoding.EncodeToString(data)
		c["x-ms-sgx-ehd"] = ehd
		c["aas-ehd"] = ehd
		c["maa-ehd"] = ehd
		return nil
	case strings.EqualFold(dataType, DataTypeJSON):
		v, err := parseJSON(data)
		if err != nil {
			return ErrInvalidRuntimeData.Wrap(err)
		}
		if _, ok := v.([]any); ok {
			return ErrInvalidRuntimeData.Wrapf("%s", topLevelArray)
		}
		c["x-ms-runtime"] = v
		return nil
	}
	return ErrInvalidRuntimeData.Wrapf("data type %q is neither Binary nor JSON", dataType)
}

// AddInitTimeData adds the claims of the request's initTimeData to c.
//
//   - "JSON": x-ms-inittime = the decoded JSON value (as AddRuntimeData).
//   - "Binary": no claim; the CONFIGID (MRCONFIGID) that binds it is in
//     x-ms-sgx-config-id (tdx_mrconfigid).
//
// Binding the data to the quote is a separate step
// (CheckInitTimeDataBinding).
func AddInitTimeData(c map[string]any, data []byte, dataType string) error {
	if c == nil {
		return errors.New("claims: AddInitTimeData on a nil claims map")
	}
	switch {
	case strings.EqualFold(dataType, DataTypeBinary):
		return nil
	case strings.EqualFold(dataType, DataTypeJSON):
		v, err := parseJSON(data)
		if err != nil {
			return ErrInvalidInitTimeData.Wrap(err)
		}
		if _, ok := v.([]any); ok {
			return ErrInvalidInitTimeData.Wrapf("%s", topLevelArray)
		}
		c["x-ms-inittime"] = v
		return nil
	}
	return ErrInvalidInitTimeData.Wrapf("data type %q is neither Binary nor JSON", dataType)
}

// topLevelArray says why JSON data that is an array is refused: it would be
// a top-level array claim (see attestation.ForToken).
const topLevelArray = "data of type JSON is an array, which cannot be a token claim (relying parties such as the .NET drivers load claims into a dictionary); send a JSON object"

// parseJSON decodes exactly one JSON value, numbers as json.Number.
func parseJSON(data []byte) (any, error) {
	d := bytes.TrimRight(data, "\x00")
	d = bytes.TrimSpace(d)
	dec := json.NewDecoder(bytes.NewReader(d))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("data of type JSON is not JSON: " + err.Error())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data of type JSON has content after the JSON value")
	}
	return v, nil
}

// CheckInitTimeDataBinding checks that the quote binds init-time data, as
// MAA requires before it signs x-ms-inittime ("MAA will verify that the
// init data was known to the enclave. Note that InitTimeData is invalid for
// CoffeeLake processors", maa.md §1.4):
//
//   - SGX and OpenEnclave: the enclave was launched with KSS and SHA-256 of
//     the data equals CONFIGID[0:32] (the last 32 bytes are not checked).
//     Without KSS the CPU reports CONFIGID as zero and nothing is bound.
//   - TDX: MRCONFIGID, which the host sets when it creates the TD, equals
//     SHA-384 of the data, or SHA-256 of the data followed by 16 zero bytes
//     (avow's rule — MAA publishes none for TDX; it is how Confidential
//     Containers' initdata binds to a TD).
func CheckInitTimeDataBinding(q *quote.Quote, data []byte) error {
	switch {
	case q == nil:
		return ErrInitTimeDataMismatch.Wrapf("no quote")
	case q.TD != nil:
		id := q.TD.MRConfigID
		s256, s384 := sha256.Sum256(data), sha512.Sum384(data)
		if bytes.Equal(id[:], s384[:]) || (bytes.Equal(id[:32], s256[:]) && allZero(id[32:])) {
			return nil
		}
		if allZero(id[:]) {
			return ErrInitTimeDataMismatch.Wrapf("the TD binds no init-time data: its MRCONFIGID is zero")
		}
		return ErrInitTimeDataMismatch.Wrapf("MRCONFIGID is %x; it is neither SHA-384 of the %d bytes of init-time data (%x) nor their SHA-256 (%x) followed by zeros", id, len(data), s384, s256)
	case q.Enclave != nil:
		r := q.Enclave
		if !r.KSS() {
			return ErrInitTimeDataMismatch.Wrapf("the enclave binds no init-time data: it was not launched with KSS, so its CONFIGID is zero")
		}
		sum := sha256.Sum256(data)
		if !bytes.Equal(sum[:], r.ConfigID[:32]) {
			return ErrInitTimeDataMismatch.Wrapf("SHA-256 of the %d bytes of init-time data is %x, CONFIGID[0:32] is %x", len(data), sum, r.ConfigID[:32])
		}
		return nil
	}
	return ErrInitTimeDataMismatch.Wrapf("the quote has no report body")
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// CheckRuntimeDataBinding checks that SHA-256(data) equals the first 32
// bytes of the quote's REPORTDATA (MAA's binding rule for SGX, and for TDX
// against the TD report's REPORTDATA). The last 32 bytes are not checked.
func CheckRuntimeDataBinding(q *quote.Quote, data []byte) error {
	if q == nil {
		return ErrRuntimeDataMismatch.Wrapf("no quote")
	}
	sum := sha256.Sum256(data)
	rd := q.ReportData()
	if !bytes.Equal(sum[:], rd[:32]) {
		return ErrRuntimeDataMismatch.Wrapf("SHA-256 of the %d bytes of runtime data is %x, report data[0:32] is %x", len(data), sum, rd[:32])
	}
	return nil
}

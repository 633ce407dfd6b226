package nvgpu

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// Opaque field types (NVIDIA's OPAQUE_FIELD_ID_*).
const (
	FieldCertIssuerName      = 1
	FieldCertAuthorityKeyID  = 2
	FieldDriverVersion       = 3
	FieldGPUInfo             = 4
	FieldSKU                 = 5
	FieldVBIOSVersion        = 6
	FieldManufacturerID      = 7
	FieldTamperDetection     = 8
	FieldSMC                 = 9
	FieldVPR                 = 10
	FieldNVDEC0Status        = 11
	FieldMSRSCount           = 12
	FieldCPRInfo             = 13
	FieldBoardID             = 14
	FieldChipSKU             = 15
	FieldChipSKUMod          = 16
	FieldProject             = 17
	FieldProjectSKU          = 18
	FieldProjectSKUMod       = 19
	FieldFWID                = 20
	FieldProtectedPCIeStatus = 21
	FieldSwitchPDI           = 22
	FieldFloorsweptPorts     = 23
	FieldPositionID          = 24
	FieldLockSwitchStatus    = 25
	FieldGPULinkConn         = 32
	FieldSysEnableStatus     = 33
	FieldOpaqueDataVersion   = 34
	FieldChipInfo            = 35
	FieldFeatureFlag         = 36
	FieldFSPUcodeSVN         = 37
	FieldInvalid             = 255
	nvdaodMagic              = "NVDAOD"
	nvdaodHeaderLen          = 12
	maxNVDAODMajor           = 2
	maxOpaqueFields          = 512
)

var fieldNames = map[uint16]string{
	1: "CERT_ISSUER_NAME", 2: "CERT_AUTHORITY_KEY_IDENTIFIER", 3: "DRIVER_VERSION", 4: "GPU_INFO",
	5: "SKU", 6: "VBIOS_VERSION", 7: "MANUFACTURER_ID", 8: "TAMPER_DETECTION", 9: "SMC", 10: "VPR",
	11: "NVDEC0_STATUS", 12: "MSRSCNT", 13: "CPRINFO", 14: "BOARD_ID", 15: "CHIP_SKU", 16: "CHIP_SKU_MOD",
	17: "PROJECT", 18: "PROJECT_SKU", 19: "PROJECT_SKU_MOD", 20: "FWID", 21: "PROTECTED_PCIE_STATUS",
	22: "SWITCH_PDI", 23: "FLOORSWEPT_PORTS", 24: "POSITION_ID", 25: "LOCK_SWITCH_STATUS",
	32: "GPU_LINK_CONN", 33: "SYS_ENABLE_STATUS", 34: "OPAQUE_DATA_VERSION", 35: "CHIP_INFO",
	36: "FEATURE_FLAG", 37: "FSP_UCODE_SVN", 255: "INVALID",
}

// FieldName returns NVIDIA's name of an opaque field type, or TYPE_<n>.
func FieldName(t uint16) string {
	if n, ok := fieldNames[t]; ok {
		return n
	}
	return fmt.Sprintf("TYPE_%d", t)
}

// OpaqueField is one entry of the opaque data.
type OpaqueField struct {
	Type      uint16
	ValueType uint16 // NVDAOD only; 0 in the legacy format
	Value     []byte
}

// Opaque is the opaque data of a MEASUREMENTS response, in either of
// NVIDIA's formats: the legacy TLV list ([type u16][size u16][value]) or the
// versioned NVDAOD format of newer drivers ("NVDAOD", profile u16 = 0, major
// u8, minor u8, reserved u16, then [type u16][value type u16][size u16][value]).
type Opaque struct {
	Versioned    bool // NVDAOD header present
	Major, Minor uint8
	Fields       []OpaqueField
}

// ParseOpaque parses opaque data in either format.
func ParseOpaque(b []byte) (*Opaque, error) {
	o := &Opaque{}
	entryHeader := 4
	if len(b) >= len(nvdaodMagic) && string(b[:len(nvdaodMagic)]) == nvdaodMagic {
		if len(b) < nvdaodHeaderLen {
			return nil, ErrMalformedOpaque.Wrapf("NVDAOD header truncated")
		}
		if profile := binary.LittleEndian.Uint16(b[6:8]); profile != 0 {
			return nil, ErrMalformedOpaque.Wrapf("NVDAOD profile %d, want 0", profile)
		}
		o.Versioned, o.Major, o.Minor = true, b[8], b[9]
		if o.Major > maxNVDAODMajor {
			return nil, ErrMalformedOpaque.Wrapf("NVDAOD format %d.%d is newer than %d.x", o.Major, o.Minor, maxNVDAODMajor)
		}
		b = b[nvdaodHeaderLen:]
		entryHeader = 6
	}
	for len(b) > 0 {
		if len(o.Fields) >= maxOpaqueFields {
			return nil, ErrMalformedOpaque.Wrapf("more than %d fields", maxOpaqueFields)
		}
		if len(b) < entryHeader {
			return nil, ErrMalformedOpaque.Wrapf("field header truncated (%d bytes left)", len(b))
		}
		f := OpaqueField{Type: binary.LittleEndian.Uint16(b)}
		size := int(binary.LittleEndian.Uint16(b[entryHeader-2:]))
		if entryHeader == 6 {
			f.ValueType = binary.LittleEndian.Uint16(b[2:])
		}
		if len(b) < entryHeader+size {
			return nil, ErrMalformedOpaque.Wrapf("field %s: %d bytes exceed the opaque data", FieldName(f.Type), size)
		}
		f.Value = b[entryHeader : entryHeader+size]
		b = b[entryHeader+size:]
		o.Fields = append(o.Fields, f)
	}
	return o, nil
}

// Field returns the value of the first field of type t.
func (o *Opaque) Field(t uint16) ([]byte, bool) {
	for _, f := range o.Fields {
		if f.Type == t {
			return f.Value, true
		}
	}
	return nil, false
}

// Version is the opaque data format version: the NVDAOD header's major, or
// the legacy OPAQUE_DATA_VERSION field (0 when absent).
func (o *Opaque) Version() int {
	if o.Versioned {
		return int(o.Major)
	}
	if v, ok := o.Field(FieldOpaqueDataVersion); ok && len(v) >= 2 {
		return int(binary.LittleEndian.Uint16(v))
	}
	return 0
}

func cstring(v []byte) string {
	if i := bytes.IndexByte(v, 0); i >= 0 {
		v = v[:i]
	}
	return string(v)
}

// String returns a field as text: NUL-terminated strings for the
// version, project and SKU fields, NVIDIA's dotted form for VBIOS_VERSION,
// one character for the status bytes, lower-case hex otherwise.
func (o *Opaque) String(t uint16) string {
	v, ok := o.Field(t)
	if !ok {
		return ""
	}
	switch t {
	case FieldDriverVersion, FieldChipSKU, FieldChipSKUMod, FieldProject, FieldProjectSKU, FieldProjectSKUMod, FieldSKU:
		return cstring(v)
	case FieldVBIOSVersion:
		return formatVBIOS(v)
	case FieldNVDEC0Status, FieldProtectedPCIeStatus:
		if len(v) == 1 && v[0] >= 0x20 && v[0] < 0x7f {
			return string(v)
		}
	}
	return hex.EncodeToString(v)
}

// formatVBIOS renders the 8-byte VBIOS_VERSION as NVIDIA does:
// 009f009601000000 → 96.00.9f.00.01.
func formatVBIOS(v []byte) string {
	if len(v) < 5 {
		return hex.EncodeToString(v)
	}
	w := fmt.Sprintf("%08x", binary.LittleEndian.Uint32(v))
	return fmt.Sprintf("%s.%s.%s.%s.%02x", w[0:2], w[2:4], w[4:6], w[6:8], v[4])
}

// Map returns the opaque data as NVIDIA's field names → text, the shape of
// Trustee's "config" claims and the vectors' expected.json.
func (o *Opaque) Map() map[string]string {
	m := make(map[string]string, len(o.Fields))
	for _, f := range o.Fields {
		if f.Type == FieldMSRSCount {
			continue
		}
		m[FieldName(f.Type)] = o.String(f.Type)
	}
	return m
}

// DriverVersion is the driver version ("550.90.07").
func (o *Opaque) DriverVersion() string { return o.String(FieldDriverVersion) }

// VBIOSVersion is the VBIOS version in lower case ("96.00.9f.00.01").
func (o *Opaque) VBIOSVersion() string { return o.String(FieldVBIOSVersion) }

// FWID is the firmware ID the device certificate must carry.
func (o *Opaque) FWID() []byte { v, _ := o.Field(FieldFWID); return v }

// VBIOSRIMID is the RIM service id of the GPU's VBIOS RIM:
// NV_GPU_VBIOS_<project>_<project sku>_<chip sku>_<version without dots, upper case>.
func (o *Opaque) VBIOSRIMID() string {
	return "NV_GPU_VBIOS_" + o.String(FieldProject) + "_" + o.String(FieldProjectSKU) + "_" +
		o.String(FieldChipSKU) + "_" + strings.ToUpper(strings.ReplaceAll(o.VBIOSVersion(), ".", ""))
}

// DriverRIMID is the RIM service id of the driver RIM for an architecture
// and chip: NV_GPU_DRIVER_GH100_<version> (Hopper),
// NV_GPU_CC_DRIVER_<chip>_<version> (Blackwell).
func (o *Opaque) DriverRIMID(arch Arch, chip string) string {
	if arch == Blackwell {
		return "NV_GPU_CC_DRIVER_" + chip + "_" + o.DriverVersion()
	}
	return "NV_GPU_DRIVER_GH100_" + o.DriverVersion()
}

// FSPUcodeSVN returns the FSP microcode SVN of the NVDAOD format, if present.
func (o *Opaque) FSPUcodeSVN() (int, bool) {
	v, ok := o.Field(FieldFSPUcodeSVN)
	if !ok || len(v) < 2 {
		return 0, false
	}
	return int(binary.LittleEndian.Uint16(v)), true
}

package nvgpu

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func nvdaod(major, minor byte, entries ...[]byte) []byte {
	b := []byte("NVDAOD")
	b = append(b, 0, 0, major, minor, 0, 0)
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

func entry(typ, vt uint16, v []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, typ)
	b = binary.LittleEndian.AppendUint16(b, vt)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

func TestOpaqueNVDAOD(t *testing.T) {
	b := nvdaod(2, 1,
		entry(FieldDriverVersion, 0x86, []byte("595.10.01\x00")),
		entry(FieldVBIOSVersion, 0x80, []byte{0x00, 0x9f, 0x00, 0x97, 0x02, 0, 0, 0}),
		entry(FieldFSPUcodeSVN, 0x87, []byte{5, 0}),
		entry(200, 0, []byte{0xde, 0xad}),
	)
	o, err := ParseOpaque(b)
	if err != nil {
		t.Fatal(err)
	}
	if !o.Versioned || o.Major != 2 || o.Minor != 1 || o.Version() != 2 {
		t.Errorf("header %+v", o)
	}
	if o.DriverVersion() != "595.10.01" || o.VBIOSVersion() != "97.00.9f.00.02" {
		t.Errorf("%q %q", o.DriverVersion(), o.VBIOSVersion())
	}
	if svn, ok := o.FSPUcodeSVN(); !ok || svn != 5 {
		t.Errorf("svn %d %v", svn, ok)
	}
	if v, ok := o.Field(200); !ok || !bytes.Equal(v, []byte{0xde, 0xad}) || o.Fields[3].ValueType != 0 {
		t.Error("unknown type not kept by its id")
	}
	if m := o.Map(); m["TYPE_200"] != "dead" || m["FSP_UCODE_SVN"] != "0500" {
		t.Errorf("map %v", m)
	}
	for name, bad := range map[string][]byte{
		"profile":   append([]byte("NVDAOD"), 1, 0, 0, 2, 0, 0),
		"too new":   nvdaod(3, 0),
		"truncated": []byte("NVDAOD\x00\x00"),
		"overrun":   nvdaod(0, 2, entry(3, 0, []byte("x"))[:5]),
	} {
		if _, err := ParseOpaque(bad); !errors.Is(err, ErrMalformedOpaque) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Legacy TLV: the version comes from OPAQUE_DATA_VERSION.
	legacy := append(binary.LittleEndian.AppendUint16(nil, FieldOpaqueDataVersion), 2, 0, 1, 0)
	if o, err := ParseOpaque(legacy); err != nil || o.Versioned || o.Version() != 1 {
		t.Errorf("legacy %+v %v", o, err)
	}
}

func TestSVNFloor(t *testing.T) {
	ev := completeEvidence(t) // legacy opaque data: no FSP_UCODE_SVN
	_, err := Verify(t.Context(), ev, Options{Now: mustTime(t, "2025-08-21T12:00:00Z"), Nonce: completeNonce(t), MinFSPUcodeSVN: 1})
	if !errors.Is(err, ErrSVNBelowFloor) {
		t.Errorf("floor without an SVN in the report: %v", err)
	}
}

func TestParseReportRefuses(t *testing.T) {
	good := reportBytes(vec(t, complete, "evidence/hopperAttestationReport.txt"))
	for name, mut := range map[string]func([]byte) []byte{
		"short":        func(b []byte) []byte { return b[:40] },
		"version":      func(b []byte) []byte { b[0] = 0x10; return b },
		"no signature": func(b []byte) []byte { b[2] = 0; return b },
		"one block":    func(b []byte) []byte { b[3] = 1; return b },
		"resp code":    func(b []byte) []byte { b[RequestLen+1] = 0x61; return b },
		"record len":   func(b []byte) []byte { b[RequestLen+7] = 0xff; return b },
		"cut sig":      func(b []byte) []byte { return b[:len(b)-1] },
		"blocks":       func(b []byte) []byte { b[RequestLen+4] = 65; return b },
	} {
		if _, err := ParseReport(mut(bytes.Clone(good))); !errors.Is(err, ErrMalformedReport) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseReport(f *testing.F) {
	for _, p := range [][2]string{{complete, "evidence/test_raw_gpu_attestation_report.dat"}} {
		f.Add(vec(f, p[0], p[1]))
	}
	f.Add(reportBytes(vec(f, coco, "evidence/hopper_coco_report1.txt")))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if err != nil {
			return
		}
		if r.SignedLen+SignatureLen+r.Trailing != len(b) || len(r.Response.Signature) != SignatureLen {
			t.Fatalf("lengths %d+%d+%d != %d", r.SignedLen, SignatureLen, r.Trailing, len(b))
		}
		_ = r.Response.Opaque.Map()
	})
}

func FuzzParseOpaque(f *testing.F) {
	r, _ := ParseReport(vec(f, complete, "evidence/test_raw_gpu_attestation_report.dat"))
	f.Add(r.Response.OpaqueRaw)
	f.Add(nvdaod(2, 0, entry(3, 0x86, []byte("1.2\x00")), entry(37, 0x87, []byte{1, 0})))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ParseOpaque(b)
		if err != nil {
			return
		}
		_ = o.Map()
		_ = o.VBIOSRIMID()
		_ = o.DriverRIMID(Blackwell, "GB100")
		_, _ = o.FSPUcodeSVN()
	})
}

func FuzzParseRIM(f *testing.F) {
	f.Add(vec(f, complete, "rims/NV_GPU_VBIOS_1010_0200_882_96009F0001.xml"))
	f.Add([]byte(`<SoftwareIdentity xmlns="http://standards.iso.org/iso/19770/-2/2015/schema.xsd"/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRIM(b)
		if err != nil {
			return
		}
		_ = r.VerifySignature()
	})
}

func FuzzParseChain(f *testing.F) {
	f.Add(vec(f, complete, "evidence/hopperCertChain.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		chain, err := ParseChain(b)
		if err != nil {
			return
		}
		_ = CertFWID(chain[0])
	})
}

func FuzzOCSP(f *testing.F) {
	f.Add(vec(f, complete, "ocsp/test_gpu_certificate_l2_base64encoded_ocsp_response.dat"))
	f.Fuzz(func(t *testing.T, b []byte) {
		der, err := DecodeOCSP(b)
		if err != nil {
			return
		}
		_, _ = ResponseKeys(der)
	})
}

func FuzzParseList(f *testing.F) {
	f.Add([]byte(`[{"arch":"HOPPER","certificate":"","evidence":""}]`))
	f.Add([]byte(`{"evidence_list":[{"arch":"BLACKWELL","certificate":"LS0t","evidence":"EeA="}]}`))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = ParseList(b) })
}

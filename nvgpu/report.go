// Package nvgpu verifies NVIDIA confidential-GPU (Hopper, Blackwell)
// attestation evidence offline: the SPDM 1.1 GET_MEASUREMENTS transcript,
// its signature, the device certificate chain to NVIDIA's pinned root, OCSP
// answers for the chains' intermediates, and NVIDIA's reference measurements
// (RIMs, signed SWID XML). Parsing makes no trust decision; Verify takes the
// time, the roots and the collateral explicitly (see docs/gpu.md).
package nvgpu

import (
	"encoding/binary"
	"fmt"
)

// SPDM constants of the transcript NVIDIA's GPUs produce.
const (
	SPDMVersion11          = 0x11
	codeGetMeasurements    = 0xE0
	codeMeasurements       = 0x60
	RequestLen             = 37
	NonceLen               = 32
	SignatureLen           = 96 // ECDSA P-384 raw r‖s
	maxReportLen           = 1 << 16
	measurementSpecDMTF    = 0x01
	paramSignatureRequired = 0x01
	paramAllBlocks         = 0xFF
)

// Request is the verifier's SPDM GET_MEASUREMENTS request (37 bytes).
type Request struct {
	Version, Code, Param1, Param2 byte
	Nonce                         [NonceLen]byte
	SlotID                        byte
}

// Block is one SPDM measurement block in DMTF format.
type Block struct {
	Index     byte
	Spec      byte
	DMTFType  byte   // DMTFSpecMeasurementValueType
	Value     []byte // the digest (48 bytes for SHA-384)
	rawLength int
}

// Response is the GPU's SPDM MEASUREMENTS response.
type Response struct {
	Version, Code, Param1, Param2 byte
	NumberOfBlocks                int
	RecordLength                  int
	Blocks                        []Block
	Nonce                         [NonceLen]byte
	OpaqueRaw                     []byte
	Opaque                        *Opaque
	Signature                     []byte
}

// Report is a parsed GPU attestation report: request ‖ response.
type Report struct {
	Raw       []byte // the whole input, trailing bytes included
	Request   Request
	Response  Response
	SignedLen int // bytes covered by the signature: request ‖ response up to the signature
	Trailing  int // bytes after the signature (CoCo's reports carry one 0x00)
}

// Signed returns the bytes the GPU signed.
func (r *Report) Signed() []byte { return r.Raw[:r.SignedLen] }

// Measurement returns the value of SPDM measurement block index (1-based),
// or nil.
func (r *Report) Measurement(index int) []byte {
	for _, b := range r.Response.Blocks {
		if int(b.Index) == index {
			return b.Value
		}
	}
	return nil
}

// ParseReport parses a GPU attestation report (binary). It checks the
// structure only: SPDM 1.1, GET_MEASUREMENTS with a signature requested,
// MEASUREMENTS, lengths. The signed length is computed from the structure;
// bytes after the 96-byte signature are counted in Trailing, not refused
// here (Verify decides).
func ParseReport(b []byte) (*Report, error) {
	if len(b) > maxReportLen {
		return nil, ErrMalformedReport.Wrapf("%d bytes, more than %d", len(b), maxReportLen)
	}
	if len(b) < RequestLen+8 {
		return nil, ErrMalformedReport.Wrapf("%d bytes is too short", len(b))
	}
	r := &Report{Raw: b}
	q := &r.Request
	q.Version, q.Code, q.Param1, q.Param2 = b[0], b[1], b[2], b[3]
	copy(q.Nonce[:], b[4:4+NonceLen])
	q.SlotID = b[36]
	if q.Version != SPDMVersion11 {
		return nil, ErrMalformedReport.Wrapf("request SPDM version %#x, want 0x11", q.Version)
	}
	if q.Code != codeGetMeasurements {
		return nil, ErrMalformedReport.Wrapf("request code %#x is not GET_MEASUREMENTS", q.Code)
	}
	if q.Param1&paramSignatureRequired == 0 {
		return nil, ErrMalformedReport.Wrapf("the request asks for no signature")
	}
	if q.Param2 != paramAllBlocks {
		return nil, ErrMalformedReport.Wrapf("the request asks for block %d, not all blocks", q.Param2)
	}
	p := b[RequestLen:]
	s := &r.Response
	s.Version, s.Code, s.Param1, s.Param2 = p[0], p[1], p[2], p[3]
	if s.Version != SPDMVersion11 {
		return nil, ErrMalformedReport.Wrapf("response SPDM version %#x, want 0x11", s.Version)
	}
	if s.Code != codeMeasurements {
		return nil, ErrMalformedReport.Wrapf("response code %#x is not MEASUREMENTS", s.Code)
	}
	s.NumberOfBlocks = int(p[4])
	s.RecordLength = int(p[5]) | int(p[6])<<8 | int(p[7])<<16
	off := 8
	if len(p) < off+s.RecordLength {
		return nil, ErrMalformedReport.Wrapf("measurement record of %d bytes exceeds the report", s.RecordLength)
	}
	blocks, err := parseBlocks(p[off:off+s.RecordLength], s.NumberOfBlocks)
	if err != nil {
		return nil, err
	}
	s.Blocks = blocks
	off += s.RecordLength
	if len(p) < off+NonceLen+2 {
		return nil, ErrMalformedReport.Wrapf("the response ends before its nonce and opaque length")
	}
	copy(s.Nonce[:], p[off:off+NonceLen])
	off += NonceLen
	opaqueLen := int(binary.LittleEndian.Uint16(p[off:]))
	off += 2
	if len(p) < off+opaqueLen {
		return nil, ErrMalformedReport.Wrapf("opaque data of %d bytes exceeds the report", opaqueLen)
	}
	s.OpaqueRaw = p[off : off+opaqueLen]
	off += opaqueLen
	if len(p) < off+SignatureLen {
		return nil, ErrMalformedReport.Wrapf("the report ends before its %d-byte signature", SignatureLen)
	}
	r.SignedLen = RequestLen + off
	s.Signature = p[off : off+SignatureLen]
	r.Trailing = len(p) - off - SignatureLen
	op, err := ParseOpaque(s.OpaqueRaw)
	if err != nil {
		return nil, err
	}
	s.Opaque = op
	return r, nil
}

func parseBlocks(rec []byte, n int) ([]Block, error) {
	blocks := make([]Block, 0, n)
	for i := 0; i < n; i++ {
		if len(rec) < 4 {
			return nil, ErrMalformedReport.Wrapf("measurement block %d: header truncated", i+1)
		}
		size := int(binary.LittleEndian.Uint16(rec[2:4]))
		if len(rec) < 4+size {
			return nil, ErrMalformedReport.Wrapf("measurement block %d: %d bytes exceed the record", i+1, size)
		}
		blk := Block{Index: rec[0], Spec: rec[1], rawLength: size}
		m := rec[4 : 4+size]
		if blk.Spec != measurementSpecDMTF {
			return nil, ErrMalformedReport.Wrapf("measurement block %d: specification %#x is not DMTF", rec[0], blk.Spec)
		}
		if len(m) < 3 {
			return nil, ErrMalformedReport.Wrapf("measurement block %d: DMTF header truncated", rec[0])
		}
		vlen := int(binary.LittleEndian.Uint16(m[1:3]))
		if vlen != len(m)-3 {
			return nil, ErrMalformedReport.Wrapf("measurement block %d: value of %d bytes in a %d-byte measurement", rec[0], vlen, len(m))
		}
		blk.DMTFType = m[0]
		blk.Value = m[3:]
		for _, prev := range blocks {
			if prev.Index == blk.Index {
				return nil, ErrMalformedReport.Wrapf("measurement block index %d appears twice", blk.Index)
			}
		}
		blocks = append(blocks, blk)
		rec = rec[4+size:]
	}
	if len(rec) != 0 {
		return nil, ErrMalformedReport.Wrapf("%d bytes follow the last measurement block in the record", len(rec))
	}
	return blocks, nil
}

func (b Block) String() string { return fmt.Sprintf("block %d (%x)", b.Index, b.Value) }

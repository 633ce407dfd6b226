package snp

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/avowhq/avow/errs"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// ReportSize is the size of an ATTESTATION_REPORT in bytes.
const ReportSize = abi.ReportSize

// Report versions accepted. go-sev-guest reads versions 2 to 5; MAA also
// accepts version 1 (the MAA REST example, vector S04), whose layout is
// version 2's with the fields version 2 added still zero.
const (
	MinReportVersion = 1
	MaxReportVersion = abi.MaxSupportedReportVersion
)

// Report is a parsed ATTESTATION_REPORT. Parsing checks structure only;
// nothing is verified.
type Report struct {
	Raw    []byte      // the 1184 bytes as received
	Proto  *spb.Report // go-sev-guest's reading of them
	Signer abi.ReportSigner
}

// ParseReport reads a raw 1184-byte ATTESTATION_REPORT with go-sev-guest's
// abi.ReportToProto (which also checks the reserved fields and the guest
// policy) after checking the length, version and signature algorithm.
func ParseReport(b []byte) (*Report, error) {
	if len(b) != ReportSize {
		return nil, ErrUnsupportedReport.Wrapf("an SEV-SNP report is %d bytes, not %d", ReportSize, len(b))
	}
	v := binary.LittleEndian.Uint32(b[0:4])
	if v < MinReportVersion || v > MaxReportVersion {
		return nil, ErrUnsupportedReport.Wrapf("report version %d is not supported (%d to %d are)", v, MinReportVersion, MaxReportVersion)
	}
	if alg := abi.SignatureAlgo(b); alg != abi.SignEcdsaP384Sha384 {
		return nil, ErrUnsupportedReport.Wrapf("signature algorithm %d is not ECDSA P-384 with SHA-384", alg)
	}
	p, err := abi.ReportToProto(b)
	if err != nil {
		return nil, ErrUnsupportedReport.Wrap(err)
	}
	info, err := abi.ParseSignerInfo(p.GetSignerInfo())
	if err != nil {
		return nil, ErrUnsupportedReport.Wrap(err)
	}
	if info.SigningKey != abi.VcekReportSigner && info.SigningKey != abi.VlekReportSigner {
		return nil, ErrUnsupportedReport.Wrapf("the report is signed by %v; only VCEK and VLEK are supported", info.SigningKey)
	}
	raw := make([]byte, ReportSize)
	copy(raw, b)
	return &Report{Raw: raw, Proto: p, Signer: info.SigningKey}, nil
}

// Version is the report's VERSION field.
func (r *Report) Version() uint32 { return r.Proto.GetVersion() }

// ProductLine is the product line named by the report's CPUID fields
// (version 3 and later): "Milan", "Genoa", "Turin", or "" when the report
// does not say (versions 1 and 2; the VCEK then names it).
func (r *Report) ProductLine() string {
	if fms := r.Proto.GetCpuid1EaxFms(); fms != 0 {
		if pl := kds.ProductLineFromFms(fms); pl != "Unknown" {
			return pl
		}
	}
	return ""
}

// SignerName is "vcek" or "vlek".
func (r *Report) SignerName() string { return signerName(r.Signer) }

func signerName(s abi.ReportSigner) string {
	if s == abi.VlekReportSigner {
		return "vlek"
	}
	return "vcek"
}

// Debuggable reports the guest policy's DEBUG bit (19).
func (r *Report) Debuggable() bool { return r.Proto.GetPolicy()&(1<<19) != 0 }

// TCB is the decomposed REPORTED_TCB: the TCB the VCEK certifies and the
// one the svn claims describe. Turin's layout (FMC byte 0, bootloader 1,
// TEE 2, SNP 3, microcode 7, per AMD's ABI specification) differs from
// Milan's and Genoa's (bootloader 0, TEE 1, SNP 6, microcode 7).
type TCB struct {
	FMC, Bootloader, TEE, SNP, Microcode uint8
}

// ReportedTCB decomposes REPORTED_TCB for the report's product line
// (product, when the report does not name one itself).
func (r *Report) ReportedTCB(product string) TCB {
	return DecomposeTCB(r.Proto.GetReportedTcb(), productOr(r.ProductLine(), product))
}

func productOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// DecomposeTCB splits a TCB_VERSION for a product line.
func DecomposeTCB(tcb uint64, product string) TCB {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], tcb)
	if product == "Turin" {
		return TCB{FMC: b[0], Bootloader: b[1], TEE: b[2], SNP: b[3], Microcode: b[7]}
	}
	return TCB{Bootloader: b[0], TEE: b[1], SNP: b[6], Microcode: b[7]}
}

// AtLeast reports whether every component of t is at least min's.
func (t TCB) AtLeast(min TCB) bool {
	return t.FMC >= min.FMC && t.Bootloader >= min.Bootloader && t.TEE >= min.TEE && t.SNP >= min.SNP && t.Microcode >= min.Microcode
}

func (t TCB) String() string {
	return fmt.Sprintf("fmc=%d bootloader=%d tee=%d snp=%d microcode=%d", t.FMC, t.Bootloader, t.TEE, t.SNP, t.Microcode)
}

// ErrTCBSpec is a minimum TCB that is not "bl=N,tee=N,snp=N,ucode=N".
var ErrTCBSpec = errs.New("snp_tcb_invalid", "the SEV-SNP TCB is not written as bl=N,tee=N,snp=N,ucode=N (and fmc=N on Turin), each N from 0 to 255")

// ParseTCB reads a TCB written as bl=N,tee=N,snp=N,ucode=N (fmc=N for
// Turin; the long names bootloader and microcode also work), as
// avow serve --snp-minimum-tcb and a provider's minimumTcb take it. A part
// left out is 0.
func ParseTCB(s string) (TCB, error) {
	var t TCB
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 8)
		if !ok || err != nil {
			return t, ErrTCBSpec.Wrapf("%q", s)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "bl", "bootloader":
			t.Bootloader = uint8(n)
		case "tee":
			t.TEE = uint8(n)
		case "snp":
			t.SNP = uint8(n)
		case "ucode", "microcode":
			t.Microcode = uint8(n)
		case "fmc":
			t.FMC = uint8(n)
		default:
			return t, ErrTCBSpec.Wrapf("%q: unknown part %q", s, k)
		}
	}
	return t, nil
}

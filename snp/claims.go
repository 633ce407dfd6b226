package snp

import "encoding/hex"

// AttestationType is the x-ms-attestation-type of SEV-SNP tokens.
const AttestationType = "sevsnpvm"

// Claims returns the claims MAA derives from the report itself
// (../shared/vectors/snp/README.md, "How the claims are derived"): hex
// strings of the raw bytes, JSON numbers (Go int) and booleans. The svn
// claims come from REPORTED_TCB decomposed for product (the report's own
// product line when it names one).
func Claims(r *Report, product string) map[string]any {
	p := r.Proto
	tcb := r.ReportedTCB(product)
	policy := p.GetPolicy()
	return map[string]any{
		"x-ms-ver":                        "1.0",
		"x-ms-attestation-type":           AttestationType,
		"x-ms-sevsnpvm-authorkeydigest":   hex.EncodeToString(p.GetAuthorKeyDigest()),
		"x-ms-sevsnpvm-bootloader-svn":    int(tcb.Bootloader),
		"x-ms-sevsnpvm-familyId":          hex.EncodeToString(p.GetFamilyId()),
		"x-ms-sevsnpvm-guestsvn":          int(p.GetGuestSvn()),
		"x-ms-sevsnpvm-hostdata":          hex.EncodeToString(p.GetHostData()),
		"x-ms-sevsnpvm-idkeydigest":       hex.EncodeToString(p.GetIdKeyDigest()),
		"x-ms-sevsnpvm-imageId":           hex.EncodeToString(p.GetImageId()),
		"x-ms-sevsnpvm-is-debuggable":     policy&(1<<19) != 0,
		"x-ms-sevsnpvm-launchmeasurement": hex.EncodeToString(p.GetMeasurement()),
		"x-ms-sevsnpvm-microcode-svn":     int(tcb.Microcode),
		"x-ms-sevsnpvm-migration-allowed": policy&(1<<18) != 0,
		"x-ms-sevsnpvm-reportdata":        hex.EncodeToString(p.GetReportData()),
		"x-ms-sevsnpvm-reportid":          hex.EncodeToString(p.GetReportId()),
		"x-ms-sevsnpvm-smt-allowed":       policy&(1<<16) != 0,
		"x-ms-sevsnpvm-snpfw-svn":         int(tcb.SNP),
		"x-ms-sevsnpvm-tee-svn":           int(tcb.TEE),
		"x-ms-sevsnpvm-vmpl":              int(p.GetVmpl()),
	}
}

// Package snp attests AMD SEV-SNP confidential VMs: SNP evidence (a raw
// ATTESTATION_REPORT, an Azure HCL report, or MAA's SevSnpVm request body)
// → verified evidence (endorsement key chained to AMD's pinned roots, CRL,
// CHIP_ID and REPORTED_TCB against the key's certificate, report signature,
// runtime and init-time data bindings) → MAA's x-ms-sevsnpvm-* claims.
//
// Signature and certificate checks are go-sev-guest's (github.com/google/go-sev-guest):
// its verify package checks the VCEK/VLEK against the AMD roots and the report
// signature, its abi package reads the report, its kds package the
// certificate extensions and KDS URLs. This package adds what MAA does on top:
// report version 1 (see Verify), the HCL and request envelopes, the bindings
// and the claims. docs/snp.md describes the whole.
package snp

// Package pcs reads Intel's attestation collateral: TCB info, QE identity,
// CRLs, issuer chains and the SGX extensions of PCK certificates. It parses
// and checks shapes; it makes no trust decisions (that is package dcap).
package pcs

import (
	"time"
)

// TCBStatus is a TCB level status string exactly as Intel writes it
// ("UpToDate", "SWHardeningNeeded", "ConfigurationNeeded",
// "ConfigurationAndSWHardeningNeeded", "OutOfDate",
// "OutOfDateConfigurationNeeded", "Revoked").
type TCBStatus string

// The TCB statuses of TCB info levels and QE identity levels, plus the two
// TD relaunch statuses that only the verifier produces.
const (
	StatusUpToDate                             TCBStatus = "UpToDate"
	StatusSWHardeningNeeded                    TCBStatus = "SWHardeningNeeded"
	StatusConfigurationNeeded                  TCBStatus = "ConfigurationNeeded"
	StatusConfigurationAndSWHardeningNeeded    TCBStatus = "ConfigurationAndSWHardeningNeeded"
	StatusOutOfDate                            TCBStatus = "OutOfDate"
	StatusOutOfDateConfigurationNeeded         TCBStatus = "OutOfDateConfigurationNeeded"
	StatusRevoked                              TCBStatus = "Revoked"
	StatusTDRelaunchAdvised                    TCBStatus = "TDRelaunchAdvised"
	StatusTDRelaunchAdvisedConfigurationNeeded TCBStatus = "TDRelaunchAdvisedConfigurationNeeded"
)

// Collateral is everything a quote verification consumes besides the quote,
// kept in the exact forms received so that signatures are checked on the
// bytes that were signed and caches can key on content. The members map
// one-to-one onto Intel's sgx_ql_qve_collateral_t and the bundle format of
// ../shared/vectors/dcap/README.md.
type Collateral struct {
	PCKCRLIssuerChain     []byte // PEM: the CA that issued PCKCRL, then the root
	RootCACRL             []byte // DER
	PCKCRL                []byte // DER
	TCBInfoIssuerChain    []byte // PEM: TCB signing certificate, then the root
	TCBInfo               []byte // exact text of the signed "tcbInfo" object
	TCBInfoSignature      []byte // 64 bytes r||s
	QEIdentityIssuerChain []byte // PEM: TCB signing certificate, then the root
	QEIdentity            []byte // exact text of the signed "enclaveIdentity" object
	QEIdentitySignature   []byte // 64 bytes r||s
}

// TCBInfo is a parsed TCB info document (version 2 or 3, SGX or TDX).
type TCBInfo struct {
	// Signed is the byte string the signature covers: the tcbInfo member
	// re-serialised compactly (json.Compact), as QVL does.
	Signed    []byte
	Signature []byte // 64 bytes r||s

	ID                      string // "SGX" or "TDX"; "SGX" for version 2
	Version                 int
	IssueDate               time.Time
	NextUpdate              time.Time
	FMSPC                   [6]byte
	PCEID                   [2]byte
	TCBType                 int
	TCBEvaluationDataNumber uint32
	TDXModule               *TDXModule          // TDX only
	TDXModuleIdentities     []TDXModuleIdentity // TDX only; nil when absent
	// TCBLevels are sorted as QVL sorts them: descending by SGX components,
	// then PCESVN, then (TDX) TDX components.
	TCBLevels []TCBLevel
}

// TCBLevel is one level of a TCB info document.
type TCBLevel struct {
	SGXComponents [16]uint8 // svn values truncated to uint8, as QVL does
	PCESVN        uint16
	TDXComponents [16]uint8 // TDX TCB info only
	TCBDate       time.Time
	Status        TCBStatus
	AdvisoryIDs   []string
}

// TDXModule is the tdxModule member of a TDX TCB info.
type TDXModule struct {
	MRSigner       []byte // 48 bytes
	Attributes     [8]byte
	AttributesMask [8]byte
}

// TDXModuleIdentity is one entry of tdxModuleIdentities.
type TDXModuleIdentity struct {
	ID             string // "TDX_01", "TDX_03", ...
	MRSigner       []byte // 48 bytes
	Attributes     [8]byte
	AttributesMask [8]byte
	// TCBLevels are sorted as QVL keeps them (a set ordered by isvsvn,
	// descending; Intel publishes them in that order); isvsvn is unique.
	TCBLevels []ISVSVNLevel
}

// ISVSVNLevel is a TCB level keyed by a single ISV SVN, used by QE
// identities and TDX module identities.
type ISVSVNLevel struct {
	ISVSVN      uint16
	TCBDate     time.Time
	Status      TCBStatus
	AdvisoryIDs []string
}

// QEIdentity is a parsed enclave identity document (QE, TD_QE or QVE).
type QEIdentity struct {
	Signed    []byte // the enclaveIdentity member, compacted
	Signature []byte // 64 bytes r||s

	ID                      string // "QE", "TD_QE" or "QVE"
	Version                 int
	IssueDate               time.Time
	NextUpdate              time.Time
	TCBEvaluationDataNumber uint32
	MiscSelect              [4]byte // byte image of the little-endian u32, as in the JSON hex
	MiscSelectMask          [4]byte
	Attributes              [16]byte
	AttributesMask          [16]byte
	MRSigner                []byte // 32 bytes (ParseQEIdentity requires 64 hex digits)
	ISVProdID               uint16
	TCBLevels               []ISVSVNLevel // JSON order
}

// PCKExtensions are the Intel SGX extensions of a PCK certificate
// (OID 1.2.840.113741.1.13.1).
type PCKExtensions struct {
	PPID          [16]byte
	TCBComponents [16]uint8 // SGX TCB comp01..comp16 SVN
	PCESVN        uint16
	CPUSVN        [16]byte
	PCEID         [2]byte
	FMSPC         [6]byte
	SGXType       int // 0 Standard, 1 Scalable, 2 Scalable with integrity
	// Platform-CA PCKs only:
	PlatformInstanceID []byte
	Configuration      *PlatformConfiguration
}

// PlatformConfiguration is the Configuration extension of a Platform-CA PCK.
type PlatformConfiguration struct {
	DynamicPlatform bool
	CachedKeys      bool
	SMTEnabled      bool
}

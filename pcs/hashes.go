package pcs

import (
	"crypto/sha256"
	"encoding/hex"
)

// CollateralHashes are the collateral digests of MAA's x-ms-sgx-collateral
// claim (lowercase hex SHA-256). The caller adds quotehash (SHA-256 of the
// raw quote). MAA does not document the exact byte forms it hashes (maa.md
// §2.3); avow's definitions are in Hashes and docs/collateral.md.
type CollateralHashes struct {
	QEIDCertsHash    string `json:"qeidcertshash"`
	QEIDCRLHash      string `json:"qeidcrlhash"`
	QEIDHash         string `json:"qeidhash"`
	TCBInfoCertsHash string `json:"tcbinfocertshash"`
	TCBInfoCRLHash   string `json:"tcbinfocrlhash"`
	TCBInfoHash      string `json:"tcbinfohash"`
}

// Hashes returns the collateral digests of c:
//
//   - tcbinfohash: SHA-256 of TCBInfo, the exact bytes of the signed
//     "tcbInfo" member; qeidhash likewise of QEIdentity ("enclaveIdentity");
//   - tcbinfocertshash: SHA-256 of TCBInfoIssuerChain as stored (the PEM text
//     of PCS's TCB-Info-Issuer-Chain header, URL-decoded); qeidcertshash
//     likewise of QEIdentityIssuerChain;
//   - tcbinfocrlhash and qeidcrlhash: SHA-256 of the root CA CRL (DER). Both
//     documents are signed by the TCB signing certificate, whose revocation is
//     checked against the root CA CRL and nothing else, so that is the CRL
//     "of the issuing certificates"; the PCK CRL plays no part in trusting
//     them and is not included.
//
// For the same collateral the two certs hashes and the two CRL hashes are
// equal whenever the two issuer chains are, as in MAA's published token.
func (c *Collateral) Hashes() CollateralHashes {
	return CollateralHashes{
		QEIDCertsHash:    sha256Hex(c.QEIdentityIssuerChain),
		QEIDCRLHash:      sha256Hex(c.RootCACRL),
		QEIDHash:         sha256Hex(c.QEIdentity),
		TCBInfoCertsHash: sha256Hex(c.TCBInfoIssuerChain),
		TCBInfoCRLHash:   sha256Hex(c.RootCACRL),
		TCBInfoHash:      sha256Hex(c.TCBInfo),
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

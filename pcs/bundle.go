package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/avowhq/avow/errs"
)

// ErrCollateralFormat reports collateral that cannot be read at all: a
// malformed bundle, a missing member, undecodable hex.
var ErrCollateralFormat = errs.New("collateral_invalid", "the collateral could not be read")

// bundleJSON is the collateral bundle of ../shared/vectors/dcap/README.md:
// nine string members, CRLs and signatures as hex.
type bundleJSON struct {
	PCKCRLIssuerChain     *string `json:"pck_crl_issuer_chain"`
	RootCACRL             *string `json:"root_ca_crl"`
	PCKCRL                *string `json:"pck_crl"`
	TCBInfoIssuerChain    *string `json:"tcb_info_issuer_chain"`
	TCBInfo               *string `json:"tcb_info"`
	TCBInfoSignature      *string `json:"tcb_info_signature"`
	QEIdentityIssuerChain *string `json:"qe_identity_issuer_chain"`
	QEIdentity            *string `json:"qe_identity"`
	QEIdentitySignature   *string `json:"qe_identity_signature"`
}

// ParseBundle reads a collateral bundle: one JSON object with the nine
// string members of ../shared/vectors/dcap/README.md. In the bundle's own
// form the two CRLs are hex of their DER; because they go through CRLBytes,
// PEM CRL text is accepted too (raw DER cannot be carried in a JSON string).
// The two signatures are hex of the 64-byte r‖s. The chains, tcb_info and
// qe_identity are kept byte for byte. A missing member or undecodable hex is
// an ErrCollateralFormat.
func ParseBundle(data []byte) (*Collateral, error) {
	var b bundleJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&b); err != nil {
		return nil, ErrCollateralFormat.Wrapf("bundle is not a JSON object of strings: %v", err)
	}
	// One bundle per document: data after it is a damaged or concatenated
	// file, not something to ignore.
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, ErrCollateralFormat.Wrapf("bundle has data after its JSON object (offset %d)", dec.InputOffset())
	}
	members := []struct {
		name string
		v    *string
	}{
		{"pck_crl_issuer_chain", b.PCKCRLIssuerChain}, {"root_ca_crl", b.RootCACRL}, {"pck_crl", b.PCKCRL},
		{"tcb_info_issuer_chain", b.TCBInfoIssuerChain}, {"tcb_info", b.TCBInfo}, {"tcb_info_signature", b.TCBInfoSignature},
		{"qe_identity_issuer_chain", b.QEIdentityIssuerChain}, {"qe_identity", b.QEIdentity}, {"qe_identity_signature", b.QEIdentitySignature},
	}
	for _, m := range members {
		if m.v == nil {
			return nil, ErrCollateralFormat.Wrapf("bundle member %q is missing", m.name)
		}
	}
	c := &Collateral{
		PCKCRLIssuerChain:     []byte(*b.PCKCRLIssuerChain),
		TCBInfoIssuerChain:    []byte(*b.TCBInfoIssuerChain),
		TCBInfo:               []byte(*b.TCBInfo),
		QEIdentityIssuerChain: []byte(*b.QEIdentityIssuerChain),
		QEIdentity:            []byte(*b.QEIdentity),
	}
	var err error
	if c.RootCACRL, err = CRLBytes([]byte(*b.RootCACRL)); err != nil {
		return nil, ErrCollateralFormat.Wrapf("bundle member root_ca_crl: %v", err)
	}
	if c.PCKCRL, err = CRLBytes([]byte(*b.PCKCRL)); err != nil {
		return nil, ErrCollateralFormat.Wrapf("bundle member pck_crl: %v", err)
	}
	if c.TCBInfoSignature, err = hex.DecodeString(*b.TCBInfoSignature); err != nil {
		return nil, ErrCollateralFormat.Wrapf("bundle member tcb_info_signature is not hex: %v", err)
	}
	if c.QEIdentitySignature, err = hex.DecodeString(*b.QEIdentitySignature); err != nil {
		return nil, ErrCollateralFormat.Wrapf("bundle member qe_identity_signature is not hex: %v", err)
	}
	return c, nil
}

// MarshalBundle writes c in the bundle format (CRLs and signatures as
// lowercase hex), members in the documented order.
func (c *Collateral) MarshalBundle() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("{\n")
	members := []struct {
		name, value string
	}{
		{"pck_crl_issuer_chain", string(c.PCKCRLIssuerChain)},
		{"root_ca_crl", hex.EncodeToString(c.RootCACRL)},
		{"pck_crl", hex.EncodeToString(c.PCKCRL)},
		{"tcb_info_issuer_chain", string(c.TCBInfoIssuerChain)},
		{"tcb_info", string(c.TCBInfo)},
		{"tcb_info_signature", hex.EncodeToString(c.TCBInfoSignature)},
		{"qe_identity_issuer_chain", string(c.QEIdentityIssuerChain)},
		{"qe_identity", string(c.QEIdentity)},
		{"qe_identity_signature", hex.EncodeToString(c.QEIdentitySignature)},
	}
	for i, m := range members {
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", m.name, err)
		}
		fmt.Fprintf(&buf, "  %q: %s", m.name, v)
		if i < len(members)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}

package pcs

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math/big"
	"time"

	"github.com/avowhq/avow/errs"
)

// TCBEvaluationDataNumbers is Intel's list of the TCB evaluation data
// numbers PCS supports for a TEE (GET {sgx|tdx}/certification/v4/
// tcbevaluationdatanumbers): signed by the TCB signing key like TCB info,
// issuer chain in HeaderTCBEvaluationDataNumbersIssuerChain. QVL does not
// use it; avow lists it (avow collateral tcb-numbers) to choose baselines.
type TCBEvaluationDataNumbers struct {
	ID         string // "SGX" or "TDX"
	Version    int
	IssueDate  time.Time
	NextUpdate time.Time
	Numbers    []TCBEvalNumber // as listed (Intel: newest first)
	Raw        []byte          // the exact signed tcbEvaluationDataNumbers member
	Signature  []byte          // r‖s, 64 bytes
}

// TCBEvalNumber is one supported TCB evaluation data number.
type TCBEvalNumber struct {
	Number               uint32    `json:"tcbEvaluationDataNumber"`
	TCBRecoveryEventDate time.Time `json:"tcbRecoveryEventDate"`
	TCBDate              time.Time `json:"tcbDate"`
}

// HeaderTCBEvaluationDataNumbersIssuerChain is the issuer-chain header of
// the tcbevaluationdatanumbers response (PCS API v4).
const HeaderTCBEvaluationDataNumbersIssuerChain = "TCB-Evaluation-Data-Numbers-Issuer-Chain"

// ParseTCBEvaluationDataNumbers parses a tcbevaluationdatanumbers response
// body ({"tcbEvaluationDataNumbers":{…},"signature":"<128 hex>"}) with the
// strict rules of TCB info: id SGX or TDX, version 1, dates
// YYYY-MM-DDThh:mm:ssZ, numbers unsigned. Errors wrap ErrCollateralFormat.
func ParseTCBEvaluationDataNumbers(body []byte) (*TCBEvaluationDataNumbers, error) {
	raw, sig, err := SplitSigned(body, "tcbEvaluationDataNumbers")
	if err != nil {
		return nil, err
	}
	obj, err := parseJSON(raw)
	if err != nil {
		return nil, ErrCollateralFormat.Wrapf("tcbEvaluationDataNumbers: %v", err)
	}
	out := &TCBEvaluationDataNumbers{Raw: raw, Signature: sig}
	if err := parseEvalNumbers(obj, out); err != nil {
		return nil, ErrCollateralFormat.Wrapf("tcbEvaluationDataNumbers: %v", err)
	}
	return out, nil
}

func parseEvalNumbers(obj jval, out *TCBEvaluationDataNumbers) error {
	if obj.kind() != jObject {
		return fmt.Errorf("not an object")
	}
	var err error
	if out.ID, err = obj.stringField("id"); err != nil {
		return err
	}
	if out.ID != "SGX" && out.ID != "TDX" {
		return fmt.Errorf("id %q is not supported (want SGX or TDX)", out.ID)
	}
	version, err := obj.uintField("version")
	if err != nil {
		return err
	}
	if version != 1 {
		return fmt.Errorf("version %d is not supported (want 1)", version)
	}
	out.Version = int(version)
	if out.IssueDate, err = obj.dateField("issueDate"); err != nil {
		return err
	}
	if out.NextUpdate, err = obj.dateField("nextUpdate"); err != nil {
		return err
	}
	list, err := obj.arrayField("tcbEvalNumbers")
	if err != nil {
		return err
	}
	for i, e := range list.elems() {
		if e.kind() != jObject {
			return fmt.Errorf("tcbEvalNumbers[%d] is not an object", i)
		}
		var n TCBEvalNumber
		if n.Number, err = e.uintField("tcbEvaluationDataNumber"); err != nil {
			return fmt.Errorf("tcbEvalNumbers[%d]: %v", i, err)
		}
		if n.TCBRecoveryEventDate, err = e.dateField("tcbRecoveryEventDate"); err != nil {
			return fmt.Errorf("tcbEvalNumbers[%d]: %v", i, err)
		}
		if n.TCBDate, err = e.dateField("tcbDate"); err != nil {
			return fmt.Errorf("tcbEvalNumbers[%d]: %v", i, err)
		}
		out.Numbers = append(out.Numbers, n)
	}
	return nil
}

// VerifySignature checks the document's signature with the first
// certificate of chain (the TCB signing certificate) and that certificate's
// signature by a root certificate of chain whose key is one of rootKeys
// (uncompressed P-256 points, such as dcap.IntelRootKey()). As for TCB
// info, the signature is over the compact form of the signed member.
func (d *TCBEvaluationDataNumbers) VerifySignature(chain []byte, rootKeys [][]byte) error {
	certs, err := ParseCertificates(chain)
	if err != nil || len(certs) < 2 {
		return ErrCollateralFormat.Wrapf("the tcbEvaluationDataNumbers issuer chain must be the TCB signing certificate and the root (%v)", err)
	}
	leaf := certs[0]
	var root *x509.Certificate
	for _, c := range certs[1:] {
		if bytes.Equal(c.RawSubject, leaf.RawIssuer) && bytes.Equal(c.RawIssuer, c.RawSubject) {
			root = c
		}
	}
	if root == nil || leaf.CheckSignatureFrom(root) != nil || root.CheckSignatureFrom(root) != nil {
		return ErrCollateralFormat.Wrapf("the tcbEvaluationDataNumbers issuer chain does not verify")
	}
	trusted := false
	if pub, ok := root.PublicKey.(*ecdsa.PublicKey); ok {
		point, err := pub.ECDH()
		for _, k := range rootKeys {
			if err == nil && bytes.Equal(point.Bytes(), k) {
				trusted = true
			}
		}
	}
	if !trusted {
		return ErrCollateralFormat.Wrapf("the tcbEvaluationDataNumbers issuer chain ends in an untrusted root")
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || len(d.Signature) != 64 {
		return ErrCollateralFormat.Wrapf("the tcbEvaluationDataNumbers signing key is not ECDSA")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, d.Raw); err != nil {
		return ErrCollateralFormat.Wrapf("tcbEvaluationDataNumbers: %v", err)
	}
	h := sha256.Sum256(compact.Bytes())
	r, s := new(big.Int).SetBytes(d.Signature[:32]), new(big.Int).SetBytes(d.Signature[32:])
	if !ecdsa.Verify(pub, h[:], r, s) {
		return ErrCollateralFormat.Wrapf("the tcbEvaluationDataNumbers signature does not verify")
	}
	return nil
}

// TCBEvaluationDataNumbers fetches GET {tee}/certification/v4/
// tcbevaluationdatanumbers (PCS and PCCS, API v4 only) and returns it
// parsed, unverified, with its issuer chain.
func (f *Fetcher) TCBEvaluationDataNumbers(ctx context.Context, tee string) (*TCBEvaluationDataNumbers, []byte, error) {
	if f.Version == "v3" {
		return nil, nil, ErrFetch.Wrapf("tcbevaluationdatanumbers needs API v4")
	}
	if tee != "sgx" && tee != "tdx" {
		return nil, nil, ErrFetch.Wrapf("unknown TEE %q", tee)
	}
	r, err := f.get(ctx, f.url(tee, "tcbevaluationdatanumbers", nil))
	if err != nil {
		return nil, nil, err
	}
	doc, err := ParseTCBEvaluationDataNumbers(r.body)
	if err != nil {
		return nil, nil, ErrFetch.Wrapf("tcbEvaluationDataNumbers: %s", errs.Detail(err))
	}
	chain, err := chainHeader(r, "tcbEvaluationDataNumbers", HeaderTCBEvaluationDataNumbersIssuerChain)
	return doc, chain, err
}

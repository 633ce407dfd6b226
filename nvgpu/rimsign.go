package nvgpu

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"errors"

	"github.com/beevik/etree"
)

// SignRIM signs an unsigned RIM document (a SoftwareIdentity without a
// signature) in the one profile VerifySignature accepts: an enveloped
// signature, C14N 1.1, SHA-384, ECDSA P-384 (r‖s), with chain (signer
// first) in KeyInfo. It exists for simulated GPUs and tests; NVIDIA signs
// real RIMs.
func SignRIM(unsigned []byte, key *ecdsa.PrivateKey, chain []*x509.Certificate) ([]byte, error) {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(unsigned); err != nil {
		return nil, err
	}
	root := doc.Root()
	if root == nil {
		return nil, errors.New("nvgpu: empty RIM document")
	}
	digest, err := documentDigest(root)
	if err != nil {
		return nil, err
	}
	sig := root.CreateElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", nsDSig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", algC14N11)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", algECDSASHA384)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "")
	tr := ref.CreateElement("ds:Transforms")
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", algEnveloped)
	tr.CreateElement("ds:Transform").CreateAttr("Algorithm", algC14N11)
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", algSHA384)
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
	sv := sig.CreateElement("ds:SignatureValue")
	x509d := sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data")
	for _, c := range chain {
		x509d.CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
	}
	canon, err := canonicalSignedInfo(si)
	if err != nil {
		return nil, err
	}
	h := sha512.Sum384(canon)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 96)
	r.FillBytes(raw[:48])
	s.FillBytes(raw[48:])
	sv.SetText(base64.StdEncoding.EncodeToString(raw))
	return doc.WriteToBytes()
}

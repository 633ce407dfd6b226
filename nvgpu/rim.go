package nvgpu

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"strconv"
	"strings"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// The one XML-signature profile NVIDIA's RIMs use, and the only one
// accepted: an enveloped signature over the whole document, C14N 1.1,
// SHA-384 digest, ECDSA P-384 with SHA-384.
const (
	nsDSig          = "http://www.w3.org/2000/09/xmldsig#"
	nsSWID          = "http://standards.iso.org/iso/19770/-2/2015/schema.xsd"
	algC14N11       = "http://www.w3.org/2006/12/xml-c14n11"
	algEnveloped    = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	algSHA384       = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	algECDSASHA384  = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384"
	maxRIMLen       = 1 << 20
	maxRIMResources = 1024
	maxAlternatives = 16
)

// RIMMeasurement is one Resource of a RIM's payload.
type RIMMeasurement struct {
	Index        int // 0-based; compares with SPDM block Index+1
	Name         string
	Active       bool
	Size         int
	Alternatives [][]byte
}

// RIM is a parsed NVIDIA reference integrity manifest (a TCG/SWID tag).
// Parse does not verify it; VerifySignature does.
type RIM struct {
	Raw               []byte
	SHA256            string // content hash: the collateral key
	TagID             string
	Name              string // SoftwareIdentity name, e.g. GH100
	Product           string
	ColloquialVersion string
	ManufacturerID    string // PlatformManufacturerId, NVIDIA's "oemid"
	Measurements      []RIMMeasurement
	Chain             []*x509.Certificate // from KeyInfo, signer first

	doc *etree.Document
}

// ParseRIM parses a RIM document. The measurements are read from the same
// tree the signature is verified over.
func ParseRIM(b []byte) (*RIM, error) {
	if len(b) > maxRIMLen {
		return nil, ErrMalformedRIM.Wrapf("%d bytes, more than %d", len(b), maxRIMLen)
	}
	if bytes.Contains(b, []byte("<!DOCTYPE")) || bytes.Contains(b, []byte("<!ENTITY")) {
		return nil, ErrMalformedRIM.Wrapf("a document type declaration is not allowed")
	}
	doc := etree.NewDocument()
	doc.ReadSettings.Permissive = false
	if err := doc.ReadFromBytes(b); err != nil {
		return nil, ErrMalformedRIM.Wrap(err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "SoftwareIdentity" || root.NamespaceURI() != nsSWID {
		return nil, ErrMalformedRIM.Wrapf("the root is not a SWID SoftwareIdentity")
	}
	r := &RIM{Raw: b, SHA256: sha256hex(b), doc: doc,
		TagID: root.SelectAttrValue("tagId", ""), Name: root.SelectAttrValue("name", "")}
	for _, el := range root.ChildElements() {
		if el.NamespaceURI() != nsSWID {
			continue
		}
		switch el.Tag {
		case "Meta":
			r.ColloquialVersion = el.SelectAttrValue("colloquialVersion", "")
			r.Product = el.SelectAttrValue("product", "")
			for _, a := range el.Attr {
				if a.Key == "PlatformManufacturerId" {
					r.ManufacturerID = a.Value
				}
			}
		case "Payload":
			for _, res := range el.ChildElements() {
				if res.Tag != "Resource" {
					continue
				}
				m, err := parseResource(res)
				if err != nil {
					return nil, err
				}
				if len(r.Measurements) == maxRIMResources {
					return nil, ErrMalformedRIM.Wrapf("more than %d resources", maxRIMResources)
				}
				r.Measurements = append(r.Measurements, m)
			}
		}
	}
	seen := map[int]bool{}
	for _, m := range r.Measurements {
		if seen[m.Index] {
			return nil, ErrMalformedRIM.Wrapf("resource index %d appears twice", m.Index)
		}
		seen[m.Index] = true
	}
	sig, err := r.signature()
	if err != nil {
		return nil, err
	}
	for _, c := range sig.FindElements("./KeyInfo/X509Data/X509Certificate") {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(c.Text()), ""))
		if err != nil {
			return nil, ErrMalformedRIM.Wrapf("KeyInfo certificate: %v", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, ErrMalformedRIM.Wrapf("KeyInfo certificate: %v", err)
		}
		if len(r.Chain) == maxChainCerts {
			return nil, ErrMalformedRIM.Wrapf("more than %d KeyInfo certificates", maxChainCerts)
		}
		r.Chain = append(r.Chain, cert)
	}
	if len(r.Chain) == 0 {
		return nil, ErrMalformedRIM.Wrapf("no signer certificate in KeyInfo")
	}
	return r, nil
}

func parseResource(res *etree.Element) (RIMMeasurement, error) {
	var m RIMMeasurement
	var err error
	if m.Index, err = strconv.Atoi(res.SelectAttrValue("index", "")); err != nil || m.Index < 0 || m.Index > 255 {
		return m, ErrMalformedRIM.Wrapf("resource index %q", res.SelectAttrValue("index", ""))
	}
	m.Name = res.SelectAttrValue("name", "")
	switch strings.ToLower(res.SelectAttrValue("active", "")) {
	case "true":
		m.Active = true
	case "false":
	default:
		return m, ErrMalformedRIM.Wrapf("resource %d: active %q", m.Index, res.SelectAttrValue("active", ""))
	}
	if m.Size, err = strconv.Atoi(res.SelectAttrValue("size", "")); err != nil || m.Size < 0 || m.Size > 64 {
		return m, ErrMalformedRIM.Wrapf("resource %d: size %q", m.Index, res.SelectAttrValue("size", ""))
	}
	n, err := strconv.Atoi(res.SelectAttrValue("alternatives", ""))
	if err != nil || n < 1 || n > maxAlternatives {
		return m, ErrMalformedRIM.Wrapf("resource %d: alternatives %q", m.Index, res.SelectAttrValue("alternatives", ""))
	}
	for j := 0; j < n; j++ {
		key := "Hash" + strconv.Itoa(j)
		var v string
		found := false
		for _, a := range res.Attr {
			if a.Key == key {
				v, found = a.Value, true
			}
		}
		if !found {
			return m, ErrMalformedRIM.Wrapf("resource %d: no %s", m.Index, key)
		}
		h, err := hex.DecodeString(v)
		if err != nil {
			return m, ErrMalformedRIM.Wrapf("resource %d: %s is not hex", m.Index, key)
		}
		m.Alternatives = append(m.Alternatives, h)
	}
	return m, nil
}

// signature returns the one ds:Signature, a child of the root.
func (r *RIM) signature() (*etree.Element, error) {
	var found *etree.Element
	for _, el := range r.doc.FindElements("//Signature") {
		if el.NamespaceURI() != nsDSig {
			continue
		}
		if found != nil {
			return nil, ErrMalformedRIM.Wrapf("more than one signature")
		}
		found = el
	}
	if found == nil {
		return nil, ErrMalformedRIM.Wrapf("no XML signature")
	}
	if found.Parent() != r.doc.Root() {
		return nil, ErrMalformedRIM.Wrapf("the signature is not a child of the root")
	}
	return found, nil
}

// VerifySignature checks the XML signature: the reference digest of the
// whole document without its signature (C14N 1.1) and the ECDSA P-384
// signature of the canonical SignedInfo by the first KeyInfo certificate.
// It does not judge the certificate (see VerifyRIM).
func (r *RIM) VerifySignature() error {
	sig, err := r.signature()
	if err != nil {
		return err
	}
	si := sig.SelectElement("SignedInfo")
	if si == nil || si.NamespaceURI() != nsDSig {
		return ErrRIMSignature.Wrapf("no SignedInfo")
	}
	alg := func(path string) string {
		el := si.FindElement(path)
		if el == nil {
			return ""
		}
		return el.SelectAttrValue("Algorithm", "")
	}
	if a := alg("./CanonicalizationMethod"); a != algC14N11 {
		return ErrRIMSignature.Wrapf("canonicalization %q is not C14N 1.1", a)
	}
	if a := alg("./SignatureMethod"); a != algECDSASHA384 {
		return ErrRIMSignature.Wrapf("signature method %q is not ECDSA-SHA384", a)
	}
	refs := si.SelectElements("Reference")
	if len(refs) != 1 || refs[0].SelectAttrValue("URI", "x") != "" {
		return ErrRIMSignature.Wrapf("the signature must have one reference to the whole document")
	}
	ref := refs[0]
	var transforms []string
	for _, t := range ref.FindElements("./Transforms/Transform") {
		transforms = append(transforms, t.SelectAttrValue("Algorithm", ""))
	}
	if len(transforms) == 0 || transforms[0] != algEnveloped || len(transforms) > 2 || (len(transforms) == 2 && transforms[1] != algC14N11) {
		return ErrRIMSignature.Wrapf("transforms %q are not enveloped-signature, C14N 1.1", transforms)
	}
	if a := ref.FindElement("./DigestMethod"); a == nil || a.SelectAttrValue("Algorithm", "") != algSHA384 {
		return ErrRIMSignature.Wrapf("the digest method is not SHA-384")
	}
	dv := ref.FindElement("./DigestValue")
	if dv == nil {
		return ErrRIMSignature.Wrapf("no digest value")
	}
	want, err := base64.StdEncoding.DecodeString(strings.TrimSpace(dv.Text()))
	if err != nil {
		return ErrRIMSignature.Wrapf("digest value is not base64")
	}
	// Reference: the document without the signature.
	got, err := documentDigest(r.doc.Root())
	if err != nil {
		return ErrRIMSignature.Wrapf("canonicalization: %v", err)
	}
	if !bytes.Equal(got, want) {
		return ErrRIMSignature.Wrapf("the document's digest is not the signed digest")
	}

	canonSI, err := canonicalSignedInfo(si)
	if err != nil {
		return ErrRIMSignature.Wrapf("canonicalization: %v", err)
	}
	sv := sig.SelectElement("SignatureValue")
	if sv == nil {
		return ErrRIMSignature.Wrapf("no signature value")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(sv.Text()), ""))
	if err != nil || len(raw) != 96 {
		return ErrRIMSignature.Wrapf("the signature value is not a 96-byte r‖s")
	}
	key, ok := p384(r.Chain[0])
	if !ok {
		return ErrRIMSignature.Wrapf("the signer key is not ECDSA P-384")
	}
	h := sha512.Sum384(canonSI)
	if !ecdsa.Verify(key, h[:], new(big.Int).SetBytes(raw[:48]), new(big.Int).SetBytes(raw[48:])) {
		return ErrRIMSignature.Wrapf("the signature does not verify with %q", r.Chain[0].Subject.String())
	}
	return nil
}

// canonicalSignedInfo is SignedInfo in C14N 1.1, detached with every
// namespace in scope (inclusive C14N renders them on the apex element).
func canonicalSignedInfo(si *etree.Element) ([]byte, error) {
	det := si.Copy()
	for el := si; el != nil; el = el.Parent() {
		for _, a := range el.Attr {
			if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
				if det.SelectAttr(a.FullKey()) == nil {
					det.CreateAttr(a.FullKey(), a.Value)
				}
			}
		}
	}
	return dsig.MakeC14N11Canonicalizer().Canonicalize(det)
}

// documentDigest is SHA-384 of the document without its signature, in
// C14N 1.1.
func documentDigest(root *etree.Element) ([]byte, error) {
	doc := root.Copy()
	for _, el := range doc.ChildElements() {
		if el.Tag == "Signature" && el.NamespaceURI() == nsDSig {
			doc.RemoveChild(el)
		}
	}
	canon, err := dsig.MakeC14N11Canonicalizer().Canonicalize(doc)
	if err != nil {
		return nil, err
	}
	h := sha512.Sum384(canon)
	return h[:], nil
}

package pcs

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// LoadOptions choose between documents of the same kind when a directory
// holds more than one.
type LoadOptions struct {
	// TEE is "SGX" or "TDX" (case-insensitive). It keeps only the TCB info
	// with that id (version 2 counts as SGX) and the QE identity "QE" (SGX)
	// or "TD_QE" (TDX). Empty: the directory must hold exactly one TCB info
	// and one QE or TD_QE identity.
	TEE string
	// PCKCA is "processor" or "platform" (case-insensitive). It keeps only
	// the PCK CRL and PCK CRL issuer chain of that CA. Empty: the directory
	// must hold exactly one of each.
	PCKCA string
}

// Load reads collateral from path: a bundle file (the JSON object with nine
// members, see ParseBundle) or a directory of PCS-style files (LoadDir with
// zero options). Errors wrap ErrCollateralFormat.
func Load(path string) (*Collateral, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, ErrCollateralFormat.Wrap(err)
	}
	if st.IsDir() {
		return LoadDir(path, LoadOptions{})
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrCollateralFormat.Wrap(err)
	}
	c, err := ParseBundle(data)
	if err != nil {
		return nil, ErrCollateralFormat.Wrapf("%s: %w", path, err)
	}
	return c, nil
}

// LoadDir reads a directory of PCS/PCCS-style files and assembles the
// collateral. Files are recognised by content, never by name:
//
//   - JSON with a "tcbInfo" member: a TCB info response (body and signature);
//   - JSON with an "enclaveIdentity" member: an enclave identity response
//     (QE or TD_QE; QVE identities are skipped);
//   - JSON with "tcbEvaluationDataNumbers": skipped (QVL does not use it);
//   - a CRL as PEM, hex text of DER, or DER: the root CA CRL when its issuer
//     CN contains "Root CA", otherwise a PCK CRL;
//   - certificates as PEM, as URL-encoded PEM (a PCS issuer-chain header
//     value, e.g. in a *.issuer-chain file), or as DER (one certificate or
//     several concatenated), hex-encoded or not. The certificates of a file
//     must form one chain; its leaf decides the role: CN containing
//     "TCB Signing" → TCB info and QE identity issuer chain; "PCK Platform
//     CA" or "PCK Processor CA" → PCK CRL issuer chain; a lone self-signed
//     root → used to complete chains that lack their root; "PCK Certificate"
//     (a platform's PCK certificate) → skipped.
//
// Issuer chains are stored as PEM, leaf first and root last, each
// certificate's PEM block exactly as it appeared in its file (DER
// certificates are PEM-encoded); a chain already in that order is therefore
// kept byte for byte.
//
// Hidden files and subdirectories are ignored. Any other file, an empty or
// undecodable file, or two different documents for one member (after the
// LoadOptions selection) is an error naming the files; so is a missing
// member. When the directory holds several different TCB signing chains,
// a chain is paired with a document whose file name has the same stem (the
// name up to its first dot), e.g. tcbinfo.json and tcbinfo.issuer-chain.
//
// LoadDir identifies documents but does not validate them; ParseTCBInfo and
// ParseQEIdentity (and the verifier) do. Errors wrap ErrCollateralFormat.
func LoadDir(dir string, opts LoadOptions) (*Collateral, error) {
	tee := strings.ToUpper(opts.TEE)
	if tee != "" && tee != "SGX" && tee != "TDX" {
		return nil, ErrCollateralFormat.Wrapf("LoadOptions.TEE %q: want SGX or TDX", opts.TEE)
	}
	pckCA := strings.ToLower(opts.PCKCA)
	if pckCA != "" && pckCA != "processor" && pckCA != "platform" {
		return nil, ErrCollateralFormat.Wrapf("LoadOptions.PCKCA %q: want processor or platform", opts.PCKCA)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, ErrCollateralFormat.Wrap(err)
	}
	var l loader
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		st, err := os.Stat(path) // follows symlinks
		if err != nil {
			return nil, ErrCollateralFormat.Wrap(err)
		}
		if !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, ErrCollateralFormat.Wrap(err)
		}
		if err := l.add(name, data); err != nil {
			return nil, ErrCollateralFormat.Wrapf("%s: %w", name, err)
		}
	}
	c, err := l.assemble(tee, pckCA)
	if err != nil {
		return nil, ErrCollateralFormat.Wrapf("%s: %w", dir, err)
	}
	return c, nil
}

type signedDoc struct {
	file     string
	id       string // TCB info: SGX|TDX; identity: QE|TD_QE
	raw, sig []byte
}

type certFile struct {
	file  string
	certs []*x509.Certificate
	texts [][]byte // PEM block text of each certificate; nil for DER files
}

type crlFile struct {
	file     string
	der      []byte
	issuerCN string
}

type chain struct {
	files []string
	leaf  *x509.Certificate
	text  []byte
}

type loader struct {
	tcbInfos   []signedDoc
	identities []signedDoc
	certFiles  []certFile
	crls       []crlFile
	pemText    map[string][]byte // certificate DER → its PEM block text
}

var (
	pemCRLBegin = []byte("-----BEGIN X509 CRL-----")
	errUnknown  = errors.New("not a recognised collateral file (TCB info or QE identity response, CRL, or certificate chain)")
)

func (l *loader) add(name string, data []byte) error {
	text := bytes.TrimSpace(bytes.TrimRight(data, "\x00"))
	if len(text) == 0 {
		return errors.New("file is empty")
	}
	switch {
	case text[0] == '{':
		return l.addJSON(name, data)
	case bytes.HasPrefix(text, pemCRLBegin):
		der, err := CRLBytes(text)
		if err != nil {
			return err
		}
		return l.addCRL(name, der)
	case bytes.HasPrefix(text, pemCertBegin):
		return l.addPEM(name, data) // untrimmed: a block keeps its line break
	}
	if bytes.IndexByte(text, '%') >= 0 {
		if decoded, ok := urlDecodedPEM(text); ok {
			return l.addPEM(name, decoded)
		}
	}
	if len(text)%2 == 0 && isHex(text) {
		der := make([]byte, len(text)/2)
		if _, err := hex.Decode(der, text); err != nil {
			return err
		}
		return l.addDER(name, der)
	}
	return l.addDER(name, data)
}

// urlDecodedPEM decodes a percent-encoded PEM chain (an issuer-chain header
// value). Path unescaping keeps a literal '+' (base64); a value that encodes
// spaces as '+' is form-encoded and unescaped as such.
func urlDecodedPEM(text []byte) ([]byte, bool) {
	s, err := url.PathUnescape(string(text))
	if err != nil {
		return nil, false
	}
	if strings.HasPrefix(s, "-----BEGIN+CERTIFICATE-----") {
		if s, err = url.QueryUnescape(string(text)); err != nil {
			return nil, false
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(s), string(pemCertBegin)) {
		return nil, false
	}
	return []byte(s), true
}

func (l *loader) addJSON(name string, data []byte) error {
	members, err := topLevelMembers(data)
	if err != nil {
		return err
	}
	switch {
	case members["tcbInfo"] != nil:
		raw, sig, err := SplitSigned(data, "tcbInfo")
		if err != nil {
			return err
		}
		id, err := tcbInfoKind(raw)
		if err != nil {
			return ErrTCBInfoFormat.Wrap(err)
		}
		l.tcbInfos = append(l.tcbInfos, signedDoc{file: name, id: id, raw: raw, sig: sig})
	case members["enclaveIdentity"] != nil:
		raw, sig, err := SplitSigned(data, "enclaveIdentity")
		if err != nil {
			return err
		}
		obj, err := parseJSON(raw)
		if err != nil {
			return ErrQEIdentityFormat.Wrap(err)
		}
		id, err := obj.stringField("id")
		if err != nil {
			return ErrQEIdentityFormat.Wrap(err)
		}
		switch id {
		case "QE", "TD_QE":
			l.identities = append(l.identities, signedDoc{file: name, id: id, raw: raw, sig: sig})
		case "QVE":
			// The QvE's own identity is not quote-verification collateral.
		default:
			return ErrQEIdentityFormat.Wrapf("enclave identity id %q is not QE, TD_QE or QVE", id)
		}
	case members["tcbEvaluationDataNumbers"] != nil:
		// Signed by the same key but not used by QVL.
	case members["tcb_info"] != nil || members["pck_crl"] != nil:
		return errors.New("this is a collateral bundle; load the bundle file itself, not a directory containing it")
	default:
		return errUnknown
	}
	return nil
}

// tcbInfoKind tells an SGX from a TDX TCB info: version 2 is SGX, version 3
// says so in its id.
func tcbInfoKind(raw []byte) (string, error) {
	obj, err := parseJSON(raw)
	if err != nil {
		return "", err
	}
	if obj.kind() != jObject {
		return "", fmt.Errorf("tcbInfo is a %s, not an object", obj.kind())
	}
	version, err := obj.uintField("version")
	if err != nil {
		return "", err
	}
	switch version {
	case 2:
		return "SGX", nil
	case 3:
		id, err := obj.stringField("id")
		if err != nil {
			return "", err
		}
		if id != "SGX" && id != "TDX" {
			return "", fmt.Errorf("id %q is not SGX or TDX", id)
		}
		return id, nil
	}
	return "", fmt.Errorf("version %d is not supported (want 2 or 3)", version)
}

func (l *loader) addPEM(name string, text []byte) error {
	blocks, err := splitPEMCertificates(text)
	if err != nil {
		return err
	}
	if l.pemText == nil {
		l.pemText = make(map[string][]byte)
	}
	f := certFile{file: name}
	for i, b := range blocks {
		c, err := x509.ParseCertificate(b.der)
		if err != nil {
			return fmt.Errorf("certificate %d: %v", i, err)
		}
		if _, ok := l.pemText[string(c.Raw)]; !ok {
			l.pemText[string(c.Raw)] = b.text
		}
		f.certs = append(f.certs, c)
		f.texts = append(f.texts, b.text)
	}
	l.certFiles = append(l.certFiles, f)
	return nil
}

func (l *loader) addDER(name string, der []byte) error {
	if _, err := x509.ParseRevocationList(der); err == nil {
		return l.addCRL(name, der)
	}
	certs, err := x509.ParseCertificates(der)
	if err != nil || len(certs) == 0 {
		return errUnknown
	}
	l.certFiles = append(l.certFiles, certFile{file: name, certs: certs})
	return nil
}

func (l *loader) addCRL(name string, der []byte) error {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return fmt.Errorf("CRL cannot be parsed: %v", err)
	}
	l.crls = append(l.crls, crlFile{file: name, der: der, issuerCN: crl.Issuer.CommonName})
	return nil
}

// orderChain returns the certificates of one file from leaf to root (or as
// far as the file goes). They must form exactly one chain.
func orderChain(certs []*x509.Certificate) ([]*x509.Certificate, error) {
	issues := func(issuer, subject *x509.Certificate) bool {
		return issuer != subject && bytes.Equal(issuer.RawSubject, subject.RawIssuer)
	}
	var leaves []*x509.Certificate
	for _, c := range certs {
		isIssuer := false
		for _, o := range certs {
			if issues(c, o) {
				isIssuer = true
				break
			}
		}
		if !isIssuer {
			leaves = append(leaves, c)
		}
	}
	if len(leaves) != 1 {
		return nil, fmt.Errorf("the %d certificates do not form one chain", len(certs))
	}
	out := []*x509.Certificate{leaves[0]}
	for cur := leaves[0]; !selfIssued(cur) && len(out) <= len(certs); {
		var next *x509.Certificate
		for _, o := range certs {
			if issues(o, cur) {
				next = o
				break
			}
		}
		if next == nil {
			break
		}
		out = append(out, next)
		cur = next
	}
	if len(out) != len(certs) {
		return nil, fmt.Errorf("the %d certificates do not form one chain", len(certs))
	}
	return out, nil
}

func selfIssued(c *x509.Certificate) bool {
	return bytes.Equal(c.RawSubject, c.RawIssuer)
}

// pemOf returns the PEM text of c: its block in file f if it is there,
// else its block in any PEM file of the directory, else a new encoding.
func (l *loader) pemOf(f certFile, c *x509.Certificate) []byte {
	for i, fc := range f.certs {
		if fc == c && f.texts != nil {
			return f.texts[i]
		}
	}
	if t, ok := l.pemText[string(c.Raw)]; ok {
		return t
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// chains orders every certificate file, completes chains that lack their
// root from the roots found anywhere in the directory, and sorts them by
// role.
func (l *loader) chains() (tcb, pck []*chain, err error) {
	var roots []*x509.Certificate
	addRoot := func(c *x509.Certificate) {
		if !slices.ContainsFunc(roots, func(r *x509.Certificate) bool { return r.Equal(c) }) {
			roots = append(roots, c)
		}
	}
	for _, f := range l.certFiles {
		for _, c := range f.certs {
			if selfIssued(c) {
				addRoot(c)
			}
		}
	}
	add := func(list []*chain, file string, leaf *x509.Certificate, text []byte) []*chain {
		for _, ch := range list {
			if bytes.Equal(ch.text, text) {
				ch.files = append(ch.files, file)
				return list
			}
		}
		return append(list, &chain{files: []string{file}, leaf: leaf, text: text})
	}
	for _, f := range l.certFiles {
		ordered, err := orderChain(f.certs)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.file, err)
		}
		leaf := ordered[0]
		cn := leaf.Subject.CommonName
		var role string
		switch {
		case len(ordered) == 1 && selfIssued(leaf):
			continue // a root, used below to complete chains
		case strings.Contains(cn, "TCB Signing"):
			role = "tcb"
		case strings.Contains(cn, "PCK Platform CA"), strings.Contains(cn, "PCK Processor CA"):
			role = "pck"
		case strings.Contains(cn, "PCK Certificate"):
			continue // a platform's PCK certificate (chain): not collateral
		default:
			return nil, nil, fmt.Errorf("%s: certificate %q is not a TCB signing, PCK CA or root certificate", f.file, cn)
		}
		if last := ordered[len(ordered)-1]; !selfIssued(last) {
			var found []*x509.Certificate
			for _, r := range roots {
				if bytes.Equal(r.RawSubject, last.RawIssuer) {
					found = append(found, r)
				}
			}
			switch len(found) {
			case 0:
				return nil, nil, fmt.Errorf("%s: the chain does not end with a root certificate and the directory holds no root for it", f.file)
			case 1:
				ordered = append(ordered, found[0])
			default:
				return nil, nil, fmt.Errorf("%s: the chain does not end with a root certificate and the directory holds %d candidate roots", f.file, len(found))
			}
		}
		var text []byte
		for _, c := range ordered {
			if n := len(text); n > 0 && text[n-1] != '\n' {
				text = append(text, '\n')
			}
			text = append(text, l.pemOf(f, c)...)
		}
		if role == "tcb" {
			tcb = add(tcb, f.file, leaf, text)
		} else {
			pck = add(pck, f.file, leaf, text)
		}
	}
	return tcb, pck, nil
}

func (l *loader) assemble(tee, pckCA string) (*Collateral, error) {
	var missing []string
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	tcbChains, pckChains, err := l.chains()
	if err != nil {
		return nil, err
	}

	// TCB info.
	tcbInfos := dedupeDocs(l.tcbInfos, func(d signedDoc) bool { return tee == "" || d.id == tee })
	var tcbInfo *signedDoc
	switch len(tcbInfos) {
	case 0:
		missing = append(missing, "tcb_info")
	case 1:
		tcbInfo = &tcbInfos[0]
	default:
		problem("several TCB info documents (%s); set LoadOptions.TEE or remove all but one", docList(tcbInfos))
	}

	// QE identity.
	wantID := map[string]string{"SGX": "QE", "TDX": "TD_QE"}[tee]
	ids := dedupeDocs(l.identities, func(d signedDoc) bool { return wantID == "" || d.id == wantID })
	var identity *signedDoc
	switch len(ids) {
	case 0:
		missing = append(missing, "qe_identity")
	case 1:
		identity = &ids[0]
	default:
		problem("several QE identity documents (%s); set LoadOptions.TEE or remove all but one", docList(ids))
	}

	// CRLs.
	var rootCRLs, pckCRLs []crlFile
	for _, c := range l.crls {
		if strings.Contains(c.issuerCN, "Root CA") {
			rootCRLs = appendCRL(rootCRLs, c)
		} else if pckCA == "" || strings.Contains(strings.ToLower(c.issuerCN), pckCA+" ca") {
			pckCRLs = appendCRL(pckCRLs, c)
		}
	}
	var rootCRL, pckCRL []byte
	switch len(rootCRLs) {
	case 0:
		missing = append(missing, "root_ca_crl")
	case 1:
		rootCRL = rootCRLs[0].der
	default:
		problem("several root CA CRLs (%s)", crlList(rootCRLs))
	}
	switch len(pckCRLs) {
	case 0:
		missing = append(missing, "pck_crl")
	case 1:
		pckCRL = pckCRLs[0].der
	default:
		problem("several PCK CRLs (%s); set LoadOptions.PCKCA or remove all but one", crlList(pckCRLs))
	}

	// PCK CRL issuer chain.
	if pckCA != "" {
		pckChains = slices.DeleteFunc(pckChains, func(c *chain) bool {
			return !strings.Contains(strings.ToLower(c.leaf.Subject.CommonName), pckCA+" ca")
		})
	}
	var pckChain []byte
	switch len(pckChains) {
	case 0:
		missing = append(missing, "pck_crl_issuer_chain")
	case 1:
		pckChain = pckChains[0].text
	default:
		problem("several PCK CRL issuer chains (%s); set LoadOptions.PCKCA or remove all but one", chainList(pckChains))
	}

	// TCB signing chains: one for both documents, or paired by file stem.
	var tcbChain, qeChain []byte
	switch len(tcbChains) {
	case 0:
		missing = append(missing, "tcb_info_issuer_chain", "qe_identity_issuer_chain")
	case 1:
		tcbChain, qeChain = tcbChains[0].text, tcbChains[0].text
	default:
		pair := func(doc *signedDoc, member string) []byte {
			if doc == nil {
				return nil
			}
			var match []*chain
			for _, ch := range tcbChains {
				if slices.ContainsFunc(ch.files, func(f string) bool { return stem(f) == stem(doc.file) }) {
					match = append(match, ch)
				}
			}
			if len(match) != 1 {
				problem("several TCB signing chains (%s) and none uniquely named like %s for %s", chainList(tcbChains), doc.file, member)
				return nil
			}
			return match[0].text
		}
		tcbChain = pair(tcbInfo, "tcb_info_issuer_chain")
		qeChain = pair(identity, "qe_identity_issuer_chain")
	}

	if len(problems) > 0 || len(missing) > 0 {
		if len(missing) > 0 {
			var ordered []string
			for _, m := range bundleMembers {
				if slices.Contains(missing, m) {
					ordered = append(ordered, m)
				}
			}
			problems = append(problems, "missing "+strings.Join(ordered, ", "))
		}
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return &Collateral{
		PCKCRLIssuerChain:     pckChain,
		RootCACRL:             rootCRL,
		PCKCRL:                pckCRL,
		TCBInfoIssuerChain:    tcbChain,
		TCBInfo:               tcbInfo.raw,
		TCBInfoSignature:      tcbInfo.sig,
		QEIdentityIssuerChain: qeChain,
		QEIdentity:            identity.raw,
		QEIdentitySignature:   identity.sig,
	}, nil
}

// bundleMembers are the collateral members in bundle order.
var bundleMembers = []string{
	"pck_crl_issuer_chain", "root_ca_crl", "pck_crl",
	"tcb_info_issuer_chain", "tcb_info", "tcb_info_signature",
	"qe_identity_issuer_chain", "qe_identity", "qe_identity_signature",
}

func dedupeDocs(docs []signedDoc, keep func(signedDoc) bool) []signedDoc {
	var out []signedDoc
	for _, d := range docs {
		if !keep(d) {
			continue
		}
		if slices.ContainsFunc(out, func(o signedDoc) bool { return bytes.Equal(o.raw, d.raw) && bytes.Equal(o.sig, d.sig) }) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func appendCRL(list []crlFile, c crlFile) []crlFile {
	if slices.ContainsFunc(list, func(o crlFile) bool { return bytes.Equal(o.der, c.der) }) {
		return list
	}
	return append(list, c)
}

func docList(docs []signedDoc) string {
	s := make([]string, len(docs))
	for i, d := range docs {
		s[i] = d.file + " (" + d.id + ")"
	}
	return strings.Join(s, ", ")
}

func crlList(crls []crlFile) string {
	s := make([]string, len(crls))
	for i, c := range crls {
		s[i] = c.file
	}
	return strings.Join(s, ", ")
}

func chainList(chains []*chain) string {
	s := make([]string, len(chains))
	for i, c := range chains {
		s[i] = strings.Join(c.files, "=")
	}
	return strings.Join(s, ", ")
}

// stem is a file name up to its first dot.
func stem(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return name
}

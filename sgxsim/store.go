package sgxsim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files of a platform directory.
const (
	fileManifest     = "platform.json"
	fileRootCert     = "root-ca.pem"
	fileRootKey      = "root-ca.key"
	filePlatformCert = "platform-ca.pem"
	filePlatformKey  = "platform-ca.key"
	fileTCBCert      = "tcb-signing.pem"
	fileTCBKey       = "tcb-signing.key"
	filePCKKey       = "pck.key"
	fileAttKey       = "attestation.key"
)

// manifest is platform.json.
type manifest struct {
	Format             int    `json:"format"`
	Comment            string `json:"comment"`
	AuxSeed            string `json:"aux_seed"` // derives PCK serials and the untrusted-root PKI; reveals no key
	PPID               string `json:"ppid"`
	FMSPC              string `json:"fmspc"`
	PCEID              string `json:"pce_id"`
	PlatformInstanceID string `json:"platform_instance_id"`
	QEID               string `json:"qe_id"`
}

const manifestFormat = 1

// Open loads the platform stored in dir, or creates a new random platform
// there if dir does not exist or is empty. Keys are written as PKCS #8 PEM
// files with mode 0600, certificates as PEM, the platform identity as
// platform.json. Creation is atomic (the directory is built beside dir and
// renamed into place), so concurrent first uses agree on one platform.
func Open(dir string) (*Platform, error) {
	if dir == "" {
		return nil, ErrPlatformDir.Wrapf("no directory given")
	}
	if _, err := os.Stat(filepath.Join(dir, fileManifest)); err == nil {
		return load(dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, ErrPlatformDir.Wrapf("%v", err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		// Another caller may have renamed its new platform into place
		// since the first look: a complete platform appears at once, with
		// its manifest.
		if _, err := os.Stat(filepath.Join(dir, fileManifest)); err == nil {
			return load(dir)
		}
		return nil, ErrPlatformDir.Wrapf("%s is not empty and holds no %s: not a simulated platform", dir, fileManifest)
	}
	p, err := New(nil)
	if err != nil {
		return nil, err
	}
	if err := p.create(dir); err != nil {
		return nil, err
	}
	return load(dir)
}

// create writes p into a new directory beside dir and renames it to dir.
// If another process created dir first, create leaves it alone.
func (p *Platform) create(dir string) error {
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return ErrPlatformDir.Wrapf("%v", err)
	}
	tmp, err := os.MkdirTemp(parent, ".avow-sim-*")
	if err != nil {
		return ErrPlatformDir.Wrapf("%v", err)
	}
	defer os.RemoveAll(tmp)
	if err := p.write(tmp); err != nil {
		return err
	}
	// os.Rename does not replace a directory: remove dir if it is empty
	// (os.Remove fails on a non-empty one, which the rename then reports).
	_ = os.Remove(dir)
	if err := os.Rename(tmp, dir); err != nil {
		// Lost a race with another process (dir now non-empty): use theirs.
		if _, statErr := os.Stat(filepath.Join(dir, fileManifest)); statErr == nil {
			return nil
		}
		return ErrPlatformDir.Wrapf("%v", err)
	}
	return nil
}

func (p *Platform) write(dir string) error {
	m := manifest{
		Format:             manifestFormat,
		Comment:            "avow simulated SGX/TDX platform (not Intel); for tests and demos only",
		AuxSeed:            hex.EncodeToString(p.aux),
		PPID:               hex.EncodeToString(p.id.PPID[:]),
		FMSPC:              hex.EncodeToString(p.id.FMSPC[:]),
		PCEID:              hex.EncodeToString(p.id.PCEID[:]),
		PlatformInstanceID: hex.EncodeToString(p.id.PlatformInstanceID[:]),
		QEID:               hex.EncodeToString(p.id.QEID[:]),
	}
	mj, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	type fileSpec struct {
		name string
		data []byte
		mode os.FileMode
	}
	files := []fileSpec{
		{fileRootCert, p.rootPEM, 0o644},
		{filePlatformCert, p.platformCAPEM, 0o644},
		{fileTCBCert, p.tcbSigningPEM, 0o644},
	}
	for _, k := range []struct {
		name string
		key  *ecdsa.PrivateKey
	}{
		{fileRootKey, p.rootKey}, {filePlatformKey, p.platformCAKey}, {fileTCBKey, p.tcbSigningKey},
		{filePCKKey, p.pckKey}, {fileAttKey, p.attestationKey},
	} {
		der, err := x509.MarshalPKCS8PrivateKey(k.key)
		if err != nil {
			return err
		}
		files = append(files, fileSpec{k.name, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600})
	}
	files = append(files, fileSpec{fileManifest, append(mj, '\n'), 0o644}) // last: marks the directory complete
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return ErrPlatformDir.Wrapf("%v", err)
		}
	}
	return nil
}

// load reads a platform directory written by Open.
func load(dir string) (*Platform, error) {
	bad := func(format string, args ...any) error {
		return ErrPlatformDir.Wrapf("%s: "+format, append([]any{dir}, args...)...)
	}
	mj, err := os.ReadFile(filepath.Join(dir, fileManifest))
	if err != nil {
		return nil, bad("%v", err)
	}
	var m manifest
	if err := json.Unmarshal(mj, &m); err != nil {
		return nil, bad("%s: %v", fileManifest, err)
	}
	if m.Format != manifestFormat {
		return nil, bad("%s: format %d is not supported (want %d)", fileManifest, m.Format, manifestFormat)
	}
	p := &Platform{}
	if p.aux, err = hex.DecodeString(m.AuxSeed); err != nil || len(p.aux) == 0 {
		return nil, bad("%s: aux_seed is not hex", fileManifest)
	}
	for _, f := range []struct {
		name string
		s    string
		dst  []byte
	}{
		{"ppid", m.PPID, p.id.PPID[:]}, {"fmspc", m.FMSPC, p.id.FMSPC[:]}, {"pce_id", m.PCEID, p.id.PCEID[:]},
		{"platform_instance_id", m.PlatformInstanceID, p.id.PlatformInstanceID[:]}, {"qe_id", m.QEID, p.id.QEID[:]},
	} {
		b, err := hex.DecodeString(f.s)
		if err != nil || len(b) != len(f.dst) {
			return nil, bad("%s: %s must be %d bytes of hex", fileManifest, f.name, len(f.dst))
		}
		copy(f.dst, b)
	}
	for _, k := range []struct {
		name string
		dst  **ecdsa.PrivateKey
	}{
		{fileRootKey, &p.rootKey}, {filePlatformKey, &p.platformCAKey}, {fileTCBKey, &p.tcbSigningKey},
		{filePCKKey, &p.pckKey}, {fileAttKey, &p.attestationKey},
	} {
		if *k.dst, err = readKey(filepath.Join(dir, k.name)); err != nil {
			return nil, bad("%v", err)
		}
	}
	for _, c := range []struct {
		name string
		dst  **x509.Certificate
		key  *ecdsa.PrivateKey
	}{
		{fileRootCert, &p.root, p.rootKey}, {filePlatformCert, &p.platformCA, p.platformCAKey}, {fileTCBCert, &p.tcbSigning, p.tcbSigningKey},
	} {
		if *c.dst, err = readCert(filepath.Join(dir, c.name)); err != nil {
			return nil, bad("%v", err)
		}
		if !c.key.PublicKey.Equal((*c.dst).PublicKey) {
			return nil, bad("%s does not hold the public key of its private key", c.name)
		}
	}
	if !bytes.Equal(p.platformCA.RawIssuer, p.root.RawSubject) || p.platformCA.CheckSignatureFrom(p.root) != nil {
		return nil, bad("%s is not issued by %s", filePlatformCert, fileRootCert)
	}
	if !bytes.Equal(p.tcbSigning.RawIssuer, p.root.RawSubject) || p.tcbSigning.CheckSignatureFrom(p.root) != nil {
		return nil, bad("%s is not issued by %s", fileTCBCert, fileRootCert)
	}
	p.init()
	return p, nil
}

func readKey(path string) (*ecdsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", filepath.Base(path))
	}
	var k any
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: PEM block %q is not a private key", filepath.Base(path), block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%s: not an ECDSA P-256 key", filepath.Base(path))
	}
	return ek, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no CERTIFICATE PEM block", filepath.Base(path))
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Base(path), err)
	}
	return c, nil
}

// randomSeed is used by New(nil).
func randomSeed() ([]byte, error) {
	s := make([]byte, 32)
	_, err := rand.Read(s)
	return s, err
}

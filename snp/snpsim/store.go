package snpsim

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Files of a platform directory.
const (
	fileARKKey   = "ark.key"
	fileASKKey   = "ask.key"
	fileVCEKKey  = "vcek.key"
	fileARK      = "ark.pem"
	fileASK      = "ask.pem"
	fileManifest = "platform.json"
)

type manifest struct {
	Product string  `json:"product"`
	ChipID  string  `json:"chip_id"`
	TCB     tcbJSON `json:"tcb"`
}

type tcbJSON struct {
	Bootloader uint8 `json:"bootloader"`
	TEE        uint8 `json:"tee"`
	SNP        uint8 `json:"snp"`
	Microcode  uint8 `json:"microcode"`
}

// Open loads the platform stored in dir, or creates a new one there when
// dir does not exist or is empty. Keys are PKCS #8 PEM files with mode
// 0600; creation builds the directory beside dir and renames it into
// place, so concurrent first uses agree on one platform.
func Open(dir string) (*Platform, error) {
	if p, err := load(dir); err == nil {
		return p, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	p, err := New()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".snpsim-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := p.write(tmp); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Someone else created it (or an empty directory is in the way).
		if entries, rerr := os.ReadDir(dir); rerr == nil && len(entries) == 0 {
			_ = os.Remove(dir)
			if err := os.Rename(tmp, dir); err == nil {
				return p, nil
			}
		}
	}
	return load(dir)
}

func (p *Platform) write(dir string) error {
	key := func(name string, k any) error {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	}
	cert := func(name string, c *x509.Certificate) error {
		return os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
	}
	m, _ := json.MarshalIndent(manifest{Product: p.product, ChipID: hex.EncodeToString(p.chipID[:]),
		TCB: tcbJSON{p.tcb.Bootloader, p.tcb.TEE, p.tcb.SNP, p.tcb.Microcode}}, "", "  ")
	for _, err := range []error{
		key(fileARKKey, p.arkKey), key(fileASKKey, p.askKey), key(fileVCEKKey, p.vcekKey),
		cert(fileARK, p.ark), cert(fileASK, p.ask), os.WriteFile(filepath.Join(dir, fileManifest), m, 0o644),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func load(dir string) (*Platform, error) {
	mb, err := os.ReadFile(filepath.Join(dir, fileManifest))
	if err != nil {
		return nil, err
	}
	var m manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("snpsim: %s: %v", fileManifest, err)
	}
	chip, err := hex.DecodeString(m.ChipID)
	if err != nil || len(chip) != 64 {
		return nil, fmt.Errorf("snpsim: %s: chip_id is not 64 bytes of hex", fileManifest)
	}
	readKey := func(name string) (any, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("snpsim: %s is not PEM", name)
		}
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	readCert := func(name string) (*x509.Certificate, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return nil, fmt.Errorf("snpsim: %s is not PEM", name)
		}
		return x509.ParseCertificate(block.Bytes)
	}
	ark, err1 := readKey(fileARKKey)
	ask, err2 := readKey(fileASKKey)
	vcek, err3 := readKey(fileVCEKKey)
	arkCert, err4 := readCert(fileARK)
	askCert, err5 := readCert(fileASK)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
		return nil, fmt.Errorf("snpsim: %s: %w", dir, err)
	}
	arkKey, ok1 := ark.(*rsa.PrivateKey)
	askKey, ok2 := ask.(*rsa.PrivateKey)
	vcekKey, ok3 := vcek.(*ecdsa.PrivateKey)
	if !ok1 || !ok2 || !ok3 {
		return nil, fmt.Errorf("snpsim: %s: unexpected key types", dir)
	}
	if _, ok := cpuModels[m.Product]; !ok {
		return nil, fmt.Errorf("snpsim: %s: product %q is not simulated", fileManifest, m.Product)
	}
	p := &Platform{product: m.Product, arkKey: arkKey, askKey: askKey, vcekKey: vcekKey, ark: arkCert, ask: askCert, tcb: snpTCB(m.TCB)}
	copy(p.chipID[:], chip)
	if err := p.makeASVK(); err != nil {
		return nil, err
	}
	return p, nil
}

// DirBeside is the SNP platform folder that goes with an SGX/TDX simulated
// platform folder (sgxsim): the same path with "-snp" appended.
func DirBeside(sgxDir string) string {
	return filepath.Clean(sgxDir) + "-snp"
}

package pcs

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/avowhq/avow/errs"
)

// Identity says which platform family a collateral set is for, read from
// its TCB info and PCK CRL issuer chain (unverified).
type Identity struct {
	TEE                     string // "sgx" or "tdx"
	FMSPC                   string // lowercase hex
	PCEID                   string // lowercase hex
	PCKCA                   string // "processor", "platform" or "" when the chain does not say
	IssueDate, NextUpdate   time.Time
	TCBEvaluationDataNumber uint32
}

// Key returns "tee/fmspc/pceid".
func (id Identity) Key() string { return id.TEE + "/" + id.FMSPC + "/" + id.PCEID }

// Identify parses c's TCB info (ErrTCBInfoFormat when it is malformed)
// and names the CA of its PCK CRL issuer chain.
func Identify(c *Collateral) (Identity, error) {
	info, err := ParseTCBInfo(c.TCBInfo, c.TCBInfoSignature)
	if err != nil {
		return Identity{}, err
	}
	return Identity{
		TEE: strings.ToLower(info.ID), FMSPC: hex.EncodeToString(info.FMSPC[:]), PCEID: hex.EncodeToString(info.PCEID[:]),
		PCKCA: PCKCAOf(c.PCKCRLIssuerChain), IssueDate: info.IssueDate, NextUpdate: info.NextUpdate,
		TCBEvaluationDataNumber: info.TCBEvaluationDataNumber,
	}, nil
}

// PCKCAOf returns "platform" or "processor" for a PCK CRL issuer chain (or
// a PCK certificate chain) whose CA's common name says so, else "".
func PCKCAOf(chain []byte) string {
	certs, err := ParseCertificates(chain)
	if err != nil {
		return ""
	}
	for _, c := range certs {
		cn := c.Subject.CommonName
		if bytes.Equal(c.RawIssuer, c.RawSubject) {
			continue
		}
		switch {
		case strings.Contains(cn, "Platform CA"):
			return "platform"
		case strings.Contains(cn, "Processor CA"):
			return "processor"
		}
	}
	return ""
}

// LoadAll reads every collateral set at path:
//
//   - a bundle file (ParseBundle);
//   - a platform collateral file of Intel's PCS client tool or PCCS admin
//     tool (platform_collaterals.json, ParsePlatformCollaterals): one set
//     per FMSPC and TEE;
//   - a folder holding such files (a bundle folder as `avow collateral
//     export` writes it): every *.json file that is a bundle or a platform
//     collateral file; other files (manifest.json, notes) are ignored;
//   - otherwise a folder of PCS responses (LoadDir), or a folder of such
//     folders, one set each (a folder holding an SGX and a TDX set gives
//     both).
//
// Errors wrap ErrCollateralFormat and name the file.
func LoadAll(path string) ([]*Collateral, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, ErrCollateralFormat.Wrap(err)
	}
	if !st.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, ErrCollateralFormat.Wrap(err)
		}
		cols, err := parseCollateralFile(data)
		if err != nil {
			return nil, ErrCollateralFormat.Wrapf("%s: %w", path, err)
		}
		return cols, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, ErrCollateralFormat.Wrap(err)
	}
	var out []*Collateral
	var subdirs []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		full := filepath.Join(path, name)
		fst, err := os.Stat(full)
		if err != nil {
			return nil, ErrCollateralFormat.Wrap(err)
		}
		if fst.IsDir() {
			subdirs = append(subdirs, full)
			continue
		}
		if !strings.HasSuffix(strings.ToLower(name), ".json") {
			continue
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return nil, ErrCollateralFormat.Wrap(err)
		}
		switch sniffJSON(data) {
		case "bundle", "platform":
			cols, err := parseCollateralFile(data)
			if err != nil {
				return nil, ErrCollateralFormat.Wrapf("%s: %w", full, err)
			}
			out = append(out, cols...)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	// No bundles: a folder of PCS responses, or a folder of such folders.
	cols, err := loadResponseDir(path)
	if err == nil {
		return cols, nil
	}
	if len(subdirs) == 0 {
		return nil, err
	}
	sort.Strings(subdirs)
	for _, d := range subdirs {
		c, serr := loadResponseDir(d)
		if serr != nil {
			return nil, serr
		}
		out = append(out, c...)
	}
	return out, nil
}

// loadResponseDir loads a folder of PCS responses; a folder holding the
// documents of both TEEs gives one set each.
func loadResponseDir(dir string) ([]*Collateral, error) {
	c, err := LoadDir(dir, LoadOptions{})
	if err == nil {
		return []*Collateral{c}, nil
	}
	var out []*Collateral
	for _, tee := range []string{"SGX", "TDX"} {
		if c, terr := LoadDir(dir, LoadOptions{TEE: tee}); terr == nil {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, err
	}
	return out, nil
}

// sniffJSON tells a bundle ("bundle") from a platform collateral file
// ("platform"); anything else is "".
func sniffJSON(data []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(bytes.TrimRight(data, "\x00 \t\r\n"), &m) != nil {
		return ""
	}
	if _, ok := m["collaterals"]; ok {
		return "platform"
	}
	if _, ok := m["tcb_info"]; ok {
		return "bundle"
	}
	return ""
}

func parseCollateralFile(data []byte) ([]*Collateral, error) {
	if sniffJSON(data) == "platform" {
		return ParsePlatformCollaterals(data)
	}
	c, err := ParseBundle(data)
	if err != nil {
		return nil, err
	}
	return []*Collateral{c}, nil
}

// DirSource serves collateral from a local bundle file or folder (see
// LoadAll), read afresh on every Fetch so that an operator can drop newer
// files in while the server runs.
type DirSource struct {
	Path string
}

// NewDirSource returns a DirSource for path, which must exist.
func NewDirSource(path string) (*DirSource, error) {
	if path == "" {
		return nil, ErrFetch.Wrapf("empty collateral folder path")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, ErrFetch.Wrapf("collateral source %s: %v", path, err)
	}
	return &DirSource{Path: path}, nil
}

// Name returns "dir PATH".
func (d *DirSource) Name() string { return "dir " + d.Path }

// Fetch returns the set for req's TEE, FMSPC and PCE ID (any PCE ID when
// req.PCEID is empty), preferring one whose PCK CRL is from req.PCKCA and
// then the newest TCB info.
func (d *DirSource) Fetch(ctx context.Context, req FetchRequest) (*Collateral, error) {
	req, err := req.normalize()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, ErrFetch.Wrapf("%s: %v", d.Path, err)
	}
	cols, err := LoadAll(d.Path)
	if err != nil {
		// Parse errors can quote the files (a JSON syntax error names a
		// character, a bad id is quoted): they are not repeated here.
		return nil, ErrFetch.Wrapf("%s: no collateral could be read there (%s; the parse error is not shown, as it may quote the files: check them with avow collateral import)", d.Path, errs.Code(err))
	}
	var best *Collateral
	var bestID Identity
	for _, c := range cols {
		id, err := Identify(c)
		if err != nil || id.TEE != req.TEE || id.FMSPC != req.FMSPC || (req.PCEID != "" && id.PCEID != req.PCEID) ||
			req.TCBEvaluationDataNumber != 0 && id.TCBEvaluationDataNumber != req.TCBEvaluationDataNumber {
			continue
		}
		// The early channel is the highest TCB evaluation data number the
		// folder has; otherwise the newest TCB info.
		newer := id.IssueDate.After(bestID.IssueDate)
		if req.Update == UpdateEarly && best != nil && id.TCBEvaluationDataNumber != bestID.TCBEvaluationDataNumber {
			newer = id.TCBEvaluationDataNumber > bestID.TCBEvaluationDataNumber
		}
		better := best == nil ||
			(id.PCKCA == req.PCKCA) != (bestID.PCKCA == req.PCKCA) && id.PCKCA == req.PCKCA ||
			(id.PCKCA == req.PCKCA) == (bestID.PCKCA == req.PCKCA) && newer
		if better {
			best, bestID = c, id
		}
	}
	if best == nil {
		return nil, ErrNotAtSource.Wrapf("%s holds no collateral for %s", d.Path, req)
	}
	return best, nil
}

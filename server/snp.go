package server

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/avowhq/avow/attestation/sevsnp"
	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/snp/snpsim"
)

// SNPOptions configure the SevSnpVm type (docs/snp.md).
type SNPOptions struct {
	// KDS is where VCEKs missing from evidence and AMD's CRLs come from:
	// "amd" for AMD's KDS (https://kdsintf.amd.com), a caching proxy's URL
	// serving KDS's paths, or "" for none (evidence must carry its VCEK).
	KDS string
	// MinimumTCB is the lowest REPORTED_TCB reported as UpToDate; below
	// it evidence is OutOfDate, refused unless a provider's
	// acceptedTcbStatuses takes OutOfDate.
	MinimumTCB *snp.TCB
	// RequireCRL refuses evidence without a current AMD CRL (needs KDS or
	// imported CRLs).
	RequireCRL bool
	// HTTPClient does the KDS requests (tests); nil: a client with a 30 s
	// timeout.
	HTTPClient *http.Client
}

// snpConfig builds the SevSnpVm configuration: AMD's roots, in
// development mode the simulated SNP platform's root (whose key is then
// marked simulated), the KDS source.
func (o SNPOptions) snpConfig(dev bool, simDir string, log *slog.Logger) (*sevsnp.Config, [][]byte, error) {
	cfg := &sevsnp.Config{Roots: snp.AMDRoots(), MinimumTCB: o.MinimumTCB, RequireCRL: o.RequireCRL, Verifier: snp.NewVerifier()}
	var simulated [][]byte
	if dev {
		sim, err := snpsim.Open(snpsim.DirBeside(simDir))
		if err != nil {
			return nil, nil, ErrConfig.Wrapf("simulated SEV-SNP platform: %v", err)
		}
		cfg.Roots = cfg.Roots.Clone()
		root := sim.Root()
		cfg.Roots.Add(root)
		simulated = append(simulated, root.KeyHash[:])
		log.Warn("development mode: trusting the simulated SEV-SNP platform's ARK; its tokens carry x-avow-simulated", "sim_dir", snpsim.DirBeside(simDir))
	}
	switch k := strings.TrimSpace(o.KDS); k {
	case "":
	case "amd":
		cfg.Collateral = &snp.KDS{BaseURL: snp.KDSURL, Client: o.HTTPClient}
	default:
		if !strings.HasPrefix(k, "https://") && !strings.HasPrefix(k, "http://") {
			return nil, nil, ErrConfig.Wrapf("--snp-kds %q is neither amd nor an http(s) URL", k)
		}
		cfg.Collateral = &snp.KDS{BaseURL: k, Client: o.HTTPClient}
	}
	return cfg, simulated, nil
}

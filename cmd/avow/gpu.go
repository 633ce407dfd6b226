package main

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/nvgpu"
)

func init() { commands = append(commands, newGPUCmd) }

func newGPUCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gpu",
		Short: "Verify NVIDIA confidential-GPU evidence offline",
	}
	cmd.AddCommand(newGPUVerifyCmd(), newGPUCollateralCmd())
	return cmd
}

// gpuOutput is one GPU's verdict as `avow gpu verify --output json` prints it.
type gpuOutput struct {
	GPU     string         `json:"gpu"`
	Result  string         `json:"result"`
	Message string         `json:"message"`
	Claims  map[string]any `json:"claims"`
	Checks  nvgpu.Checks   `json:"checks"`
}

type gpuVerifyFlags struct {
	nonce, collateral, at, rimAt, output, certificate, arch string
	deviceRoot, rimRoot                                     string
	maxAge                                                  time.Duration
	allowExpiredRIM                                         bool
	minSVN                                                  int
}

func newGPUVerifyCmd() *cobra.Command {
	var f gpuVerifyFlags
	cmd := &cobra.Command{
		Use:   "verify FILE --nonce HEX [--collateral DIR] [--at RFC3339] [--output json]",
		Short: "Verify GPU evidence: report, chain, revocation and NVIDIA's reference measurements",
		Long: `Verify the evidence of one or more NVIDIA GPUs (Hopper, Blackwell) offline and print
one verdict per GPU. FILE is the evidence list NVIDIA's and Intel Trust Authority's
clients send — a JSON array of {"arch","certificate","evidence"}, or an object with an
"evidence" or "evidence_list" member holding one — or, with --certificate, one GPU's
report (binary or hex) and its PEM chain.

Each GPU is checked in order: report structure, nonce (--nonce, 32 bytes in hex),
ECDSA P-384 report signature, device chain to NVIDIA's pinned Device Identity CA, FWID,
OCSP for the chain's intermediates, the driver and VBIOS RIMs (signature, signer chain
to NVIDIA's RIM root, OCSP), and the measurements against the RIMs. RIMs and OCSP
answers come from --collateral (a folder as 'avow collateral fetch nvidia' writes it:
rims/<id>[.<sha256>].xml, ocsp/*); without it revocation cannot be decided and the
GPU is rejected with gpu_ocsp_missing after the evidence checks.

OCSP answers must be current at --at (default: now) unless --ocsp-max-age is given:
then each answer is judged at its own thisUpdate and accepted while no older than that,
for collateral fetched earlier on a connected machine. RIM signer chains are checked at
--rim-at (default --at); expired RIM signer certificates are refused unless
--allow-expired-rim-certs.

Exits 0 when every GPU verifies, 1 when one is rejected, 2 on usage errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGPUVerify(cmd.Context(), cmd.OutOrStdout(), args[0], f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.nonce, "nonce", "", "the verifier's nonce, 32 bytes in hex (required)")
	fl.StringVar(&f.collateral, "collateral", "", "folder of RIMs and OCSP answers")
	fl.StringVar(&f.at, "at", "now", `verification time, RFC 3339, or "now"`)
	fl.StringVar(&f.rimAt, "rim-at", "", "time RIM signer chains are checked at, RFC 3339 (default --at)")
	fl.DurationVar(&f.maxAge, "ocsp-max-age", 0, "judge each OCSP answer at its own thisUpdate and accept it up to this age (for example 720h)")
	fl.BoolVar(&f.allowExpiredRIM, "allow-expired-rim-certs", false, "accept RIMs whose signer certificates have expired, checked as of their expiry")
	fl.IntVar(&f.minSVN, "min-fsp-svn", 0, "minimum FSP microcode SVN the report must carry (NVDAOD opaque data)")
	fl.StringVar(&f.certificate, "certificate", "", "PEM device chain: FILE is then one GPU's report")
	fl.StringVar(&f.arch, "arch", "HOPPER", "architecture of the report given with --certificate")
	fl.StringVar(&f.deviceRoot, "device-root", "", "PEM root to trust instead of NVIDIA's Device Identity CA (simulated GPUs)")
	fl.StringVar(&f.rimRoot, "rim-root", "", "PEM root to trust instead of NVIDIA's RIM root (simulated GPUs)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	_ = cmd.MarkFlagRequired("nonce")
	return cmd
}

func runGPUVerify(ctx context.Context, w io.Writer, path string, f gpuVerifyFlags) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output %q: text or json", f.output)
	}
	nonce, err := hex.DecodeString(strings.TrimSpace(f.nonce))
	if err != nil || len(nonce) != nvgpu.NonceLen {
		return fmt.Errorf("--nonce must be %d bytes in hex", nvgpu.NonceLen)
	}
	now, err := parseAt(f.at)
	if err != nil {
		return err
	}
	opts := nvgpu.Options{Now: now, Nonce: nonce, MaxRevocationAge: f.maxAge, MinFSPUcodeSVN: f.minSVN}
	if f.maxAge > 0 {
		opts.OCSPMode = nvgpu.OCSPAsOfThisUpdate
	}
	if f.allowExpiredRIM {
		opts.ExpiredRIM = nvgpu.AllowExpiredRIM
	}
	if f.rimAt != "" {
		if opts.RIMTime, err = time.Parse(time.RFC3339, f.rimAt); err != nil {
			return fmt.Errorf("--rim-at %q is not an RFC 3339 time", f.rimAt)
		}
	}
	if opts.DeviceRoots, err = optionalRoots(f.deviceRoot); err != nil {
		return err
	}
	if opts.RIMRoots, err = optionalRoots(f.rimRoot); err != nil {
		return err
	}
	if f.collateral != "" {
		st, err := nvgpu.LoadDir(f.collateral)
		if err != nil {
			return fmt.Errorf("collateral %s: %s", f.collateral, errs.Detail(err))
		}
		opts.Collateral = st
	}
	input, err := readInput(path)
	if err != nil {
		return err
	}
	var list []*nvgpu.Evidence
	if f.certificate != "" {
		pemb, err := os.ReadFile(f.certificate)
		if err != nil {
			return err
		}
		ev, err := nvgpu.ParseEvidence(f.arch, pemb, input)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		list = []*nvgpu.Evidence{ev}
	} else if list, err = nvgpu.ParseList(input); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	outs := make([]gpuOutput, len(list))
	allOK := true
	for i, ev := range list {
		res, err := nvgpu.Verify(ctx, ev, opts)
		o := gpuOutput{GPU: fmt.Sprintf("GPU-%d", i), Result: "ok", Claims: res.Claims(), Checks: res.Checks}
		if err != nil {
			allOK = false
			o.Result, o.Message = errs.Code(err), errs.Detail(err)
		} else {
			o.Message = "genuine NVIDIA GPU; firmware and driver match NVIDIA's RIMs; not revoked as of " + res.RevocationAsOf.UTC().Format(time.RFC3339)
		}
		outs[i] = o
	}
	if f.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(outs); err != nil {
			return err
		}
	} else {
		for _, o := range outs {
			fmt.Fprintf(w, "%s: %s — %s\n", o.GPU, o.Result, o.Message)
			for _, c := range o.Checks {
				mark := "ok  "
				if !c.OK {
					mark = "FAIL"
				}
				fmt.Fprintf(w, "  %s %s\n", mark, c.Name)
			}
			keys := make([]string, 0, len(o.Claims))
			for k := range o.Claims {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if v, ok := o.Claims[k].(map[string]any); ok {
					b, _ := json.Marshal(v)
					fmt.Fprintf(w, "  %s = %s\n", k, b)
					continue
				}
				fmt.Fprintf(w, "  %s = %v\n", k, o.Claims[k])
			}
		}
	}
	if !allOK {
		return exitError{1}
	}
	return nil
}

func optionalRoots(path string) ([]*x509.Certificate, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	roots, err := nvgpu.ParseChain(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return roots, nil
}

package main

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/nvgpu"
	"github.com/avowhq/avow/nvgpu/nvgpusim"
)

func newSimGPUCmd(open func() (*nvgpusim.GPU, error)) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gpu",
		Short: "Simulated NVIDIA confidential GPU: evidence, RIMs, OCSP answers and its roots",
		Long: `A simulated NVIDIA confidential GPU (in --sim-dir/gpu, made on first use) with its own
device root and chain, RIM root, signed RIMs and OCSP responder. avow serve --dev trusts
it; nothing else does. Offline:

  avow sim gpu evidence --nonce $NONCE --out gpu-evidence.json
  avow sim gpu collateral --out gpu-collateral
  avow gpu verify gpu-evidence.json --nonce $NONCE --collateral gpu-collateral \
    --device-root gpu-collateral/device-root.pem --rim-root gpu-collateral/rim-root.pem`,
	}
	cmd.AddCommand(newSimGPUEvidenceCmd(open), newSimGPUCollateralCmd(open))
	return cmd
}

func newSimGPUEvidenceCmd(open func() (*nvgpusim.GPU, error)) *cobra.Command {
	var nonceHex, out string
	var gpus, svn int
	var versioned bool
	cmd := &cobra.Command{
		Use:   "evidence --nonce HEX --out FILE [--gpus N] [--nvdaod --fsp-svn N]",
		Short: "Write GPU evidence for a nonce in the shape NVIDIA's clients send (a JSON list)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			nonce, err := simHex("--nonce", nonceHex, nvgpu.NonceLen)
			if err != nil {
				return err
			}
			g, err := open()
			if err != nil {
				return err
			}
			items := make([]nvgpu.Item, 0, gpus)
			for i := 0; i < gpus; i++ {
				it, err := g.Item(nonce, nvgpusim.ReportOptions{Versioned: versioned, FSPSVN: uint16(svn)})
				if err != nil {
					return err
				}
				items = append(items, it)
			}
			b, _ := json.MarshalIndent(items, "", "  ")
			return simWrite(cmd, out, append(b, '\n'), "evidence of the simulated GPU")
		},
	}
	cmd.Flags().StringVar(&nonceHex, "nonce", "", "the verifier's nonce, 32 bytes in hex (required)")
	cmd.Flags().StringVar(&out, "out", "", `output file, "-" for standard output (required)`)
	cmd.Flags().IntVar(&gpus, "gpus", 1, "number of GPUs (the same simulated GPU, separate reports)")
	cmd.Flags().BoolVar(&versioned, "nvdaod", false, "versioned (NVDAOD) opaque data, as drivers from CUDA 13.5 on")
	cmd.Flags().IntVar(&svn, "fsp-svn", 1, "FSP microcode SVN in NVDAOD opaque data")
	_ = cmd.MarkFlagRequired("nonce")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newSimGPUCollateralCmd(open func() (*nvgpusim.GPU, error)) *cobra.Command {
	var out, at string
	cmd := &cobra.Command{
		Use:   "collateral --out DIR [--at RFC3339]",
		Short: "Write the simulated GPU's RIMs, OCSP answers (valid for a day from --at minus an hour) and roots",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseAt(at)
			if err != nil {
				return err
			}
			g, err := open()
			if err != nil {
				return err
			}
			st, err := g.Collateral(t.Add(-time.Hour))
			if err != nil {
				return err
			}
			if err := st.WriteDir(out); err != nil {
				return err
			}
			for name, c := range map[string][]byte{"device-root.pem": g.DeviceRoot().Raw, "rim-root.pem": g.RIMRoot().Raw} {
				if err := os.WriteFile(filepath.Join(out, name), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c}), 0o644); err != nil {
					return err
				}
			}
			return simWrite(cmd, "-", []byte("wrote "+out+" (rims/, ocsp/, device-root.pem, rim-root.pem)\n"), "")
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "output folder (required)")
	cmd.Flags().StringVar(&at, "at", "now", `time the OCSP answers are for, RFC 3339, or "now"`)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

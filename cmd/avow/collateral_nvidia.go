package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/nvgpu"
)

// newCollateralFetchCmd is `avow collateral fetch nvidia`: on a connected
// machine, get the RIMs and OCSP answers a set of GPUs needs into a folder
// that `avow gpu verify --collateral` reads on an air-gapped one.
func newCollateralFetchCmd() *cobra.Command {
	var fromEvidence, out, rimURL, ocspURL string
	cmd := &cobra.Command{
		Use:   "fetch nvidia --from-evidence FILE --out DIR",
		Short: "Fetch NVIDIA's RIMs and OCSP answers for a set of GPUs into a folder (connected machine)",
		Long: `Read GPU evidence (the evidence list NVIDIA's clients send) and fetch from NVIDIA's
RIM service and OCSP responder what verifying it offline needs: the driver and VBIOS
RIMs of each GPU and OCSP answers for the device chains' intermediates and every RIM
signer chain. The folder (rims/<id>.<sha256>.xml, ocsp/<sha256>.der) is what
'avow gpu verify --collateral' reads. RIMs are kept by content hash: NVIDIA re-issues
RIMs under one id, and a folder fetched twice keeps both. NVIDIA's terms for its
services apply to the fetch (docs/gpu.md).
Exit status: 0 fetched, 1 a service refused or a document was malformed, 2 usage.`,
		Example: `  avow collateral fetch nvidia --from-evidence gpu-evidence.json --out ./nvidia-collateral
  avow gpu verify gpu-evidence.json --nonce $NONCE --collateral ./nvidia-collateral --ocsp-max-age 168h`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "nvidia" {
				return fmt.Errorf("fetch %q: only nvidia (Intel collateral: avow serve --collateral-source, avow collateral refresh)", args[0])
			}
			input, err := readInput(fromEvidence)
			if err != nil {
				return err
			}
			list, err := nvgpu.ParseList(input)
			if err != nil {
				return fmt.Errorf("%s: %w", fromEvidence, err)
			}
			st := nvgpu.NewStore()
			if _, err := os.Stat(out); err == nil {
				if st, err = nvgpu.LoadDir(out); err != nil {
					return fmt.Errorf("%s: %w", out, err)
				}
			}
			got, ferr := nvgpu.Fetcher{RIMService: rimURL, OCSP: ocspURL}.Fetch(cmd.Context(), list, st)
			if err := st.WriteDir(out); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, r := range got.RIMs {
				fmt.Fprintf(w, "rim  %s\n", r)
			}
			for _, o := range got.OCSP {
				fmt.Fprintf(w, "ocsp %s\n", o)
			}
			if ferr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "avow: %s: %s\n", errs.Code(ferr), errs.Detail(ferr))
				return exitError{1}
			}
			fmt.Fprintf(w, "wrote %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&fromEvidence, "from-evidence", "", "GPU evidence list (JSON) (required)")
	cmd.Flags().StringVar(&out, "out", "", "folder to write (added to when it exists) (required)")
	cmd.Flags().StringVar(&rimURL, "rim-service", nvgpu.DefaultRIMServiceURL, "RIM service base URL (the id is appended)")
	cmd.Flags().StringVar(&ocspURL, "ocsp-url", nvgpu.DefaultOCSPURL, "OCSP responder URL")
	_ = cmd.MarkFlagRequired("from-evidence")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/nvgpu"
	"github.com/avowhq/avow/server"
)

func newGPUCollateralCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collateral",
		Short: "NVIDIA GPU collateral in a server's store: import a folder, export it",
		Long: `Carry NVIDIA's RIMs and OCSP answers to an air-gapped server: fetch them on a connected
machine (avow collateral fetch nvidia --from-evidence FILE --out DIR), then import the folder
into the server's store, where every node finds them (within seconds). RIMs are stored by
content hash, so a re-issued RIM sits beside the older one; each is checked (XML signature,
signer chain to NVIDIA's RIM root) before it is stored, and everything is verified again, at
its time, when a GPU is attested.

  avow gpu collateral import ./nvidia-collateral --store sqlite:avow-data/avow.db
  avow gpu collateral export --store sqlite:avow-data/avow.db --out ./backup`,
	}
	cmd.AddCommand(newGPUCollateralImportCmd(), newGPUCollateralExportCmd())
	return cmd
}

func newGPUCollateralImportCmd() *cobra.Command {
	var storeURL, rimRoot string
	cmd := &cobra.Command{
		Use:   "import DIR --store STORE [--rim-root PEM]",
		Short: "Check a folder's RIMs and OCSP answers and store them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if storeURL == "" {
				return errors.New("--store is required")
			}
			roots, err := optionalRoots(rimRoot)
			if err != nil {
				return err
			}
			folder, err := nvgpu.LoadDir(args[0])
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if len(folder.Items()) == 0 {
				return fmt.Errorf("%s holds no rims/*.xml nor ocsp/*", args[0])
			}
			ctx, st, done, err := openStoreCmd(storeURL)
			if err != nil {
				return err
			}
			defer done()
			rows, err := server.NewGPUStore(st, time.Now).Import(ctx, folder, roots, "import")
			for _, r := range rows {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", r.Kind, r.Key)
			}
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "avow: %s\n", errs.Text(err))
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&storeURL, "store", "", "store: sqlite:PATH or postgres://…")
	cmd.Flags().StringVar(&rimRoot, "rim-root", "", "PEM RIM root to trust instead of NVIDIA's (the simulated GPU's)")
	return cmd
}

func newGPUCollateralExportCmd() *cobra.Command {
	var storeURL, out string
	cmd := &cobra.Command{
		Use:   "export --store STORE --out DIR",
		Short: "Write the GPU collateral a store holds to a folder (the layout import and gpu verify read)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if storeURL == "" || out == "" {
				return errors.New("--store and --out are required")
			}
			ctx, st, done, err := openStoreCmd(storeURL)
			if err != nil {
				return err
			}
			defer done()
			s, err := server.NewGPUStore(st, time.Now).Export(ctx)
			if err != nil {
				return err
			}
			if err := s.WriteDir(out); err != nil {
				return err
			}
			n := len(s.Items())
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d items to %s\n", n, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&storeURL, "store", "", "store: sqlite:PATH or postgres://… (stop the server first for SQLite)")
	cmd.Flags().StringVar(&out, "out", "", "folder to write")
	return cmd
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/store"
)

func newSnpCollateralCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collateral",
		Short: "AMD collateral (VCEKs, CRLs) for air-gapped servers: fetch, export, import",
		Long: `AMD SEV-SNP collateral: the VCEK of each chip and TCB, and AMD's CRL of each product
line. A server started with --snp-kds fetches what evidence lacks, verifies it, caches it
in its store and refreshes the CRLs before they expire. For an air-gapped server:

  # on a connected machine: fetch the VCEKs of the reports' chips and the CRLs
  avow snp collateral fetch --kds amd --out snp-collateral report.bin hcl-report.bin
  # carry snp-collateral across, then either serve from the folder ...
  avow serve --snp-kds ./snp-collateral
  # ... or load it into the store
  avow snp collateral import ./snp-collateral --store sqlite:avow-data/avow.db

export writes a store's cached collateral in the same folder layout
(vcek/<product>/<hwid>-<tcb>.der, crl/<product>-<signer>.crl). Everything is verified
(chain to AMD's pinned roots, or --roots) before it is written or stored.`,
	}
	cmd.AddCommand(newSnpCollateralFetchCmd(), newSnpCollateralExportCmd(), newSnpCollateralImportCmd())
	return cmd
}

func init() { snpSubcommands = append(snpSubcommands, newSnpCollateralCmd) }

func snpRoots(paths []string) (*snp.Roots, error) {
	if len(paths) == 0 {
		return snp.AMDRoots(), nil
	}
	rs := snp.AMDRoots().Clone()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		r, err := snp.ParseRootBundle(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		rs.Add(r)
	}
	return rs, nil
}

func newSnpCollateralFetchCmd() *cobra.Command {
	var kdsURL, out string
	var roots []string
	cmd := &cobra.Command{
		Use:   "fetch EVIDENCE... --out DIR [--kds amd|URL]",
		Short: "Fetch the VCEKs of the evidence's chips and AMD's CRLs into a folder",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			rs, err := snpRoots(roots)
			if err != nil {
				return err
			}
			src := &snp.KDS{BaseURL: snp.KDSURL}
			if kdsURL != "amd" {
				src.BaseURL = kdsURL
			}
			col := &snp.CachedCollateral{Source: src, SourceName: src.BaseURL, Cache: snp.Dir(out), Roots: rs}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			products := map[string]bool{}
			failed := false
			for _, path := range args {
				b, err := readInput(path)
				if err != nil {
					return err
				}
				ev, err := snp.Parse(b)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				r := ev.Report
				candidates := []string{r.ProductLine()}
				if candidates[0] == "" {
					candidates = []string{"Milan", "Genoa"}
				}
				var errsSeen []error
				got := ""
				for _, p := range candidates {
					if _, err := col.VCEK(ctx, p, r.Proto.GetChipId(), r.Proto.GetReportedTcb()); err != nil {
						errsSeen = append(errsSeen, err)
						continue
					}
					got = p
					break
				}
				if got == "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "avow: %s: no VCEK: %v\n", path, errors.Join(errsSeen...))
					failed = true
					continue
				}
				products[got] = true
				fmt.Fprintf(cmd.OutOrStdout(), "%s: VCEK %s\n", path, snp.VCEKKey(got, r.Proto.GetChipId(), r.Proto.GetReportedTcb()))
			}
			for p := range products {
				if err := col.Load(ctx, snp.KindCRL, snp.CRLKey(p, "vcek")); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "avow: CRL %s: %v\n", p, err)
					failed = true
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "CRL %s\n", snp.CRLKey(p, "vcek"))
			}
			if failed {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kdsURL, "kds", "amd", "amd (https://kdsintf.amd.com) or a caching proxy's URL")
	cmd.Flags().StringVar(&out, "out", "", "folder to write (created)")
	cmd.Flags().StringArrayVar(&roots, "roots", nil, "PEM bundle of an ARK and its ASK/ASVK to trust besides AMD's")
	return cmd
}

// openStoreCmd opens the store of --store for a command that works on it
// directly (the server stopped, for SQLite), with a context that ends on
// SIGINT or SIGTERM; done closes the store and releases the signals.
func openStoreCmd(url string) (ctx context.Context, st store.Store, done func(), err error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	st, err = server.OpenStore(ctx, url, "", 2, nil)
	if err != nil {
		stop()
		return nil, nil, nil, fmt.Errorf("--store %s: %w", server.RedactStoreURL(url), err)
	}
	return ctx, st, func() { st.Close(); stop() }, nil
}

func newSnpCollateralExportCmd() *cobra.Command {
	var storeURL, out string
	cmd := &cobra.Command{
		Use:   "export --store STORE --out DIR",
		Short: "Write the SEV-SNP collateral a store caches to a folder",
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
			rows, err := st.ListTypeCollateral(ctx, server.SNPCollateralType)
			if err != nil {
				return err
			}
			dir := snp.Dir(out)
			for _, r := range rows {
				if err := dir.Put(ctx, r.Kind, r.Key, r.Data, r.NotAfter, r.Source); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", r.Kind, r.Key)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d items to %s\n", len(rows), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&storeURL, "store", "", "store: sqlite:PATH or postgres://… (stop the server first for SQLite)")
	cmd.Flags().StringVar(&out, "out", "", "folder to write")
	return cmd
}

func newSnpCollateralImportCmd() *cobra.Command {
	var storeURL string
	var roots []string
	cmd := &cobra.Command{
		Use:   "import DIR --store STORE",
		Short: "Verify a collateral folder's VCEKs and CRLs and store them",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if storeURL == "" {
				return errors.New("--store is required")
			}
			rs, err := snpRoots(roots)
			if err != nil {
				return err
			}
			items, err := snp.Dir(args[0]).Items()
			if err != nil {
				return err
			}
			if len(items) == 0 {
				return fmt.Errorf("%s holds no vcek/<product>/*.der nor crl/<product>-<signer>.crl", args[0])
			}
			ctx, st, done, err := openStoreCmd(storeURL)
			if err != nil {
				return err
			}
			defer done()
			col := &snp.CachedCollateral{Source: snp.Dir(args[0]), SourceName: "import", Cache: server.SNPStoreCache(st), Roots: rs}
			failed := 0
			for _, it := range items {
				if err := col.Load(ctx, it[0], it[1]); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "avow: %s %s refused: %v\n", it[0], it[1], err)
					failed++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", it[0], it[1])
			}
			if failed > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&storeURL, "store", "", "store: sqlite:PATH or postgres://…")
	cmd.Flags().StringArrayVar(&roots, "roots", nil, "PEM bundle of an ARK and its ASK/ASVK to trust besides AMD's")
	return cmd
}

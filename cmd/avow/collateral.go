package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
)

func init() { commands = append(commands, newCollateralCmd) }

func newCollateralCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collateral",
		Short: "Import and list the Intel collateral stored on an avow server",
		Long: `Manage the Intel collateral (TCB info, QE identity, CRLs and their issuer
chains) a server verifies quotes with, keyed by TEE, FMSPC and PCE-ID.
Exit status: 0 done, 1 the server refused, 2 usage, unreadable collateral or
connection error.`,
	}
	cmd.AddCommand(newCollateralImportCmd(), newCollateralListCmd())
	return cmd
}

func newCollateralImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import BUNDLE_OR_DIR",
		Short: "Import collateral from a bundle file or a folder of PCS-style files (owner role)",
		Long: `Read collateral from a bundle (the JSON object of ../shared/vectors/dcap/README.md,
as written by 'avow sim collateral') or a folder of PCS-style files, check
that it parses, and store it on the server.`,
		Example: `  avow collateral import collateral.json
  avow collateral import ./pcs-files/`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		col, err := pcs.Load(args[0])
		if err != nil {
			return fmt.Errorf("%s: %s", args[0], errs.Detail(err))
		}
		bundle, err := col.MarshalBundle()
		if err != nil {
			return fmt.Errorf("%s: %s", args[0], errs.Detail(err))
		}
		c, err := r.client(true)
		if err != nil {
			return err
		}
		ctx, cancel := r.context(cmd)
		defer cancel()
		info, err := c.ImportCollateral(ctx, bundle)
		if err != nil {
			return r.fail(cmd, err)
		}
		return r.emit(cmd, info, func(w io.Writer) {
			fmt.Fprintf(w, "imported collateral from %s\n", args[0])
			outFields(w, "tee", outDash(info.TEE), "fmspc", outDash(info.FMSPC), "pce id", outDash(info.PCEID),
				"issue date", outTime(info.IssueDate), "next update", outTime(info.NextUpdate), "sha256", outDash(info.SHA256))
		})
	}
	return cmd
}

func newCollateralListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the stored collateral",
		Args:  cobra.NoArgs,
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		c, err := r.client(true)
		if err != nil {
			return err
		}
		ctx, cancel := r.context(cmd)
		defer cancel()
		cs, err := c.ListCollateral(ctx)
		if err != nil {
			return r.fail(cmd, err)
		}
		if cs == nil {
			cs = []client.Collateral{}
		}
		return r.emit(cmd, struct {
			Collateral []client.Collateral `json:"collateral"`
		}{cs}, func(w io.Writer) {
			if len(cs) == 0 {
				fmt.Fprintln(w, "no collateral")
				return
			}
			rows := make([][]string, len(cs))
			for i, x := range cs {
				rows[i] = []string{x.TEE, x.FMSPC, x.PCEID, outTime(x.IssueDate), outTime(x.NextUpdate), outDash(x.Source)}
			}
			outTable(w, []string{"TEE", "FMSPC", "PCE ID", "ISSUED", "NEXT UPDATE", "SOURCE"}, rows)
		})
	}
	return cmd
}

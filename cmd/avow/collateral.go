package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/humane"
	"github.com/avowhq/avow/pcs"
)

func init() { commands = append(commands, newCollateralCmd) }

func newCollateralCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collateral",
		Short: "Manage the Intel collateral stored on an avow server: import, list, show, refresh, prune, export",
		Long: `Manage the Intel collateral (TCB info, QE identity, CRLs and their issuer
chains) a server verifies quotes with, keyed by TEE, FMSPC and PCE-ID
(written TEE/FMSPC[/PCEID], e.g. sgx/00906ed50000/0000). A server started with
--collateral-source fetches and refreshes it by itself; export and import carry
it to an air-gapped server (docs/collateral.md).
Exit status: 0 done, 1 the server refused (or a refresh failed), 2 usage,
unreadable collateral or connection error.`,
	}
	cmd.AddCommand(newCollateralImportCmd(), newCollateralListCmd(), newCollateralShowCmd(), newCollateralRefreshCmd(),
		newCollateralPruneCmd(), newCollateralExportCmd(), newCollateralTCBNumbersCmd(), newCollateralFetchCmd())
	return cmd
}

func newCollateralImportCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import BUNDLE_OR_DIR",
		Short: "Import collateral from a bundle, a bundle folder, a PCS/PCCS tool file or a folder of PCS responses (owner role)",
		Long: `Read collateral and store it on the server. Accepted: a bundle (the JSON object
of testdata/vectors/dcap/README.md, as written by 'avow sim collateral'); a
folder of bundles (as written by 'avow collateral export'); a platform
collateral file of Intel's PCS client tool or PCCS admin tool
(platform_collaterals.json: one set per FMSPC and TEE); or a folder of
PCS-style response files. Each set is checked to parse before it is sent.`,
		Example: `  avow collateral import collateral.json
  avow collateral import ./avow-collateral/          # from avow collateral export
  avow collateral import platform_collaterals.json   # from pcsclient fetch
  avow collateral import ./pcs-files/`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		cols, err := pcs.LoadAll(args[0])
		if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		bundles := make([][]byte, len(cols))
		for i, col := range cols {
			if bundles[i], err = col.MarshalBundle(); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
		}
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			infos := make([]*client.Collateral, 0, len(bundles))
			for _, b := range bundles {
				info, err := c.ImportCollateral(ctx, b)
				if err != nil {
					return err
				}
				infos = append(infos, info)
			}
			var v any = infos
			if len(infos) == 1 {
				v = infos[0]
			}
			if !r.json() {
				for _, info := range infos {
					for _, w := range info.Warnings {
						fmt.Fprintf(cmd.ErrOrStderr(), "avow: warning: %s: %s/%s/%s: %s\n", args[0], info.TEE, info.FMSPC, info.PCEID, w)
					}
				}
			}
			return r.emit(cmd, v, func(w io.Writer) {
				for i, info := range infos {
					if i > 0 {
						fmt.Fprintln(w)
					}
					fmt.Fprintf(w, "imported collateral from %s\n", args[0])
					outFields(w, "tee", outDash(info.TEE), "fmspc", outDash(info.FMSPC), "pce id", outDash(info.PCEID),
						"issue date", outTime(info.IssueDate), "next update", outTime(info.NextUpdate), "sha256", outDash(info.SHA256))
				}
			})
		})
	}
	return cmd
}

// tcbNumber is the TCB EVAL column: the TCB evaluation data number, and
// "pinned" for collateral kept for that number (a TCB baseline) rather than
// as the platform's current collateral.
func tcbNumber(x client.Collateral) string {
	if x.TCBEvaluationDataNumber == 0 {
		return "-"
	}
	s := strconv.FormatUint(uint64(x.TCBEvaluationDataNumber), 10)
	if x.Pinned {
		s += " (pinned)"
	}
	return s
}

func newCollateralListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the stored collateral: every platform family and TCB evaluation data number",
		Args:  cobra.NoArgs,
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			cs, err := c.ListCollateral(ctx)
			if err != nil {
				return err
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
					rows[i] = []string{x.TEE, x.FMSPC, x.PCEID, tcbNumber(x), outTime(x.IssueDate), outTime(x.NextUpdate), collateralStatus(x), outDash(x.Source)}
				}
				outTable(w, []string{"TEE", "FMSPC", "PCE ID", "TCB EVAL", "ISSUED", "NEXT UPDATE", "STATUS", "SOURCE"}, rows)
			})
		})
	}
	return cmd
}

// collateralStatus is the STATUS of a collateral list row (expiryStatus),
// "EXPIRED" or "-" from a server that does not say when.
func collateralStatus(x client.Collateral) string {
	switch {
	case x.ExpiresInSeconds != nil:
		return expiryStatus(x.Expired, *x.ExpiresInSeconds)
	case x.Expired:
		return "EXPIRED"
	}
	return "-"
}

// expiryStatus says when collateral expires, seconds from the server's now
// (negative: since when): "expires in 29 days", "EXPIRED 1 year 4 months
// ago".
func expiryStatus(expired bool, seconds int64) string {
	d := time.Duration(seconds) * time.Second
	if expired || d <= 0 {
		return "EXPIRED " + strings.TrimPrefix(humane.Expiry(min(d, 0)), "expired ")
	}
	return humane.Expiry(d)
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/humane"
	"github.com/avowhq/avow/pcs"
)

func newCollateralShowCmd() *cobra.Command {
	var bundle bool
	var id int64
	cmd := &cobra.Command{
		Use:   "show TEE/FMSPC[/PCEID]",
		Short: "Show a platform family's collateral: expiry, refresh state, history with its token hashes",
		Long: `Show the latest collateral of a platform family, when it expires (the earliest
nextUpdate or notAfter of everything in it), what the server knows of fetching
it, and every stored row, newest first, with the digests a token's
x-ms-sgx-collateral claim carries, so the collateral a token was issued with can
be found. --bundle prints a stored bundle instead (the latest, or row --id),
ready for 'avow quote verify --collateral'.`,
		Example: `  avow collateral show sgx/00906ed50000
  avow collateral show sgx/00906ed50000/0000 --bundle --id 12 > old.json`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().BoolVar(&bundle, "bundle", false, "print the stored bundle (JSON) instead")
	cmd.Flags().Int64Var(&id, "id", 0, "with --bundle: the history row to print (default: the latest)")
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if id != 0 && !bundle {
			return errors.New("--id needs --bundle")
		}
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			if bundle {
				b, err := c.CollateralBundle(ctx, args[0], id)
				if err != nil {
					return err
				}
				_, err = cmd.OutOrStdout().Write(append(b, '\n'))
				return err
			}
			v, err := c.GetCollateral(ctx, args[0])
			if err != nil {
				return err
			}
			return r.emit(cmd, v, func(w io.Writer) {
				next := "-"
				if v.NextUpdate != nil {
					next = outTime(*v.NextUpdate)
				}
				state := expiryStatus(v.Expired, v.ExpiresInSeconds)
				if v.NextUpdate == nil {
					state = "EXPIRED: no date in it can be read"
				}
				outFields(w, "platform", v.TEE+"/"+v.FMSPC+"/"+v.PCEID, "latest row", strconv.FormatInt(v.ID, 10),
					"source", outDash(v.Source), "issue date", outTime(v.IssueDate), "fetched", outTime(v.FetchedAt),
					"expires", next+" ("+state+")",
					"age", humane.Duration(time.Duration(v.AgeSeconds)*time.Second))
				if rs := v.Refresh; rs != nil {
					retry := "-"
					if rs.RetryAt != nil {
						retry = outTime(*rs.RetryAt)
					}
					outFields(w, "last fetch", outTime(rs.LastAttempt)+" "+rs.LastOutcome, "failures in a row", strconv.Itoa(rs.ConsecutiveFailures),
						"next attempt", retry)
					for _, e := range rs.LastErrors {
						fmt.Fprintf(w, "  %s\n", e)
					}
				}
				fmt.Fprintln(w)
				rows := make([][]string, 0, len(v.History))
				for _, h := range v.History {
					tcbHash := "-"
					if h.Hashes != nil {
						tcbHash = h.Hashes.TCBInfoHash
					}
					rows = append(rows, []string{strconv.FormatInt(h.ID, 10), outTime(h.IssueDate), outTime(h.NextUpdate), outTime(h.FetchedAt), outDash(h.Source), tcbHash})
				}
				outTable(w, []string{"ID", "ISSUED", "NEXT UPDATE", "FETCHED", "SOURCE", "TCBINFOHASH"}, rows)
			})
		})
	}
	return cmd
}

func newCollateralRefreshCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "refresh [TEE/FMSPC[/PCEID]...]",
		Short: "Refresh collateral from the server's sources now (owner role)",
		Long: `Ask the server to fetch newer collateral for the given platform families (all
stored ones when none is given) from its --collateral-source list now, whether
due or not. Collateral that does not verify is rejected; collateral older than
the stored one is ignored. Exit status 1 when a platform's refresh failed.`,
		Example: `  avow collateral refresh
  avow collateral refresh sgx/00906ed50000 tdx/90c06f000000`,
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			results, err := c.RefreshCollateral(ctx, args)
			if err != nil {
				return err
			}
			if results == nil {
				results = []client.CollateralRefresh{}
			}
			err = r.emit(cmd, struct {
				Results []client.CollateralRefresh `json:"results"`
			}{results}, func(w io.Writer) {
				if len(results) == 0 {
					fmt.Fprintln(w, "no collateral stored")
					return
				}
				rows := make([][]string, 0, len(results))
				for _, res := range results {
					next := "-"
					if res.NextUpdate != nil {
						next = outTime(*res.NextUpdate)
					}
					detail := outDash(res.Source)
					if res.Outcome == "failed" {
						detail = strings.Join(res.Errors, "; ")
					}
					rows = append(rows, []string{res.Key, res.Outcome, next, detail})
				}
				outTable(w, []string{"PLATFORM", "OUTCOME", "NEXT UPDATE", "SOURCE / ERRORS"}, rows)
			})
			if err != nil {
				return err
			}
			for _, res := range results {
				if res.Outcome == "failed" {
					return exitError{1}
				}
			}
			return nil
		})
	}
	return cmd
}

func newCollateralPruneCmd() *cobra.Command {
	var olderThan string
	cmd := &cobra.Command{
		Use:   "prune --older-than DURATION",
		Short: "Delete collateral history stored longer ago than DURATION (owner role)",
		Long: `Delete stored collateral rows fetched or imported more than DURATION ago
(e.g. 90d, 2160h). The latest row of every platform family is always kept.
History lets an older token's collateral be re-verified: keep it at least as
long as the tokens you may need to audit.`,
		Example: `  avow collateral prune --older-than 90d`,
		Args:    cobra.NoArgs,
	}
	cmd.Flags().StringVar(&olderThan, "older-than", "", "how old a history row must be to go (e.g. 90d, 720h; required)")
	_ = cmd.MarkFlagRequired("older-than")
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			res, err := c.PruneCollateral(ctx, olderThan)
			if err != nil {
				return err
			}
			return r.emit(cmd, res, func(w io.Writer) {
				fmt.Fprintf(w, "deleted %d collateral history rows stored before %s\n", res.Deleted, outTime(res.Before))
			})
		})
	}
	return cmd
}

// exportManifest is manifest.json of an exported bundle folder.
type exportManifest struct {
	Format     string            `json:"format"`
	ExportedAt time.Time         `json:"exportedAt"`
	From       string            `json:"from"`
	Sets       []exportManifest1 `json:"sets"`
}

type exportManifest1 struct {
	File       string    `json:"file"`
	TEE        string    `json:"tee"`
	FMSPC      string    `json:"fmspc"`
	PCEID      string    `json:"pceId"`
	IssueDate  time.Time `json:"issueDate"`
	NextUpdate time.Time `json:"nextUpdate"`
	SHA256     string    `json:"sha256,omitempty"`
	Source     string    `json:"source,omitempty"`
	// TCBEvaluationDataNumber and Pinned as the server lists them: a
	// pinned set is kept for its number (a TCB baseline), in
	// TEE-FMSPC-PCEID-tcbN.json.
	TCBEvaluationDataNumber uint32 `json:"tcbEvaluationDataNumber,omitempty"`
	Pinned                  bool   `json:"pinned,omitempty"`
}

func newCollateralExportCmd() *cobra.Command {
	var sources, platforms, roots []string
	var apiKeyFile string
	var numberFlags []string
	cmd := &cobra.Command{
		Use:   "export DIR",
		Short: "Write collateral to a bundle folder for an air-gapped server",
		Long: `Write the latest collateral of every platform family stored on the server (or,
with --source, fetched directly from a PCCS, Intel's PCS or a folder for each
--platform, without a server) to DIR: one bundle per platform family,
TEE-FMSPC-PCEID.json, and manifest.json listing them. Carry DIR to the
air-gapped side and run 'avow collateral import DIR' there, or start that
server with '--collateral-source DIR'. Fetched collateral is verified first
(Intel's root, or --trust-root) and refused when it does not verify.`,
		Example: `  avow collateral export ./avow-collateral
  avow collateral export ./avow-collateral --source pcs --platform sgx/00906ed50000 --platform tdx/90c06f000000`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringArrayVar(&sources, "source", nil, "fetch from this source instead of a server (repeatable, tried in order; as avow serve --collateral-source)")
	cmd.Flags().StringArrayVar(&platforms, "platform", nil, "with --source: a platform family TEE/FMSPC[/PCEID] to fetch (repeatable), optionally :processor or :platform for its PCK CA")
	cmd.Flags().StringArrayVar(&roots, "trust-root", nil, "with --source: a PEM root trusted besides Intel's for verifying what is fetched (repeatable)")
	cmd.Flags().StringVar(&apiKeyFile, "pcs-api-key-file", "", "with --source: file holding the Intel PCS subscription key (default $"+envPCSAPIKey+")")
	cmd.Flags().StringSliceVar(&numberFlags, "tcb-evaluation-data-number", nil, "with --source: also fetch each platform's TCB info and QE identity of these TCB evaluation data numbers (TCB baselines; repeat or comma-separate), exported pinned to their numbers")
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		dir := args[0]
		var numbers []uint
		for _, v := range numberFlags {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			if err != nil || n == 0 {
				return fmt.Errorf("--tcb-evaluation-data-number %q is not a TCB evaluation data number such as 17", v)
			}
			numbers = append(numbers, uint(n))
		}
		if len(numbers) > 0 && len(sources) == 0 {
			return errors.New("--tcb-evaluation-data-number goes with --source (a server's export carries every number it holds)")
		}
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			return fmt.Errorf("%s exists and is not a folder", dir)
		}
		var m exportManifest
		var bundles [][]byte
		if len(sources) > 0 {
			if len(platforms) == 0 {
				return errors.New("--source needs at least one --platform TEE/FMSPC")
			}
			if err := r.checkOutput(); err != nil {
				return err
			}
			ctx, cancel := r.context(cmd)
			defer cancel()
			var err error
			if m, bundles, err = exportFromSources(ctx, sources, platforms, roots, apiKeyFile, numbers); err != nil {
				return err
			}
		} else {
			if len(platforms) > 0 || len(roots) > 0 {
				return errors.New("--platform and --trust-root go with --source")
			}
			c, err := r.client(true)
			if err != nil {
				return err
			}
			ctx, cancel := r.context(cmd)
			defer cancel()
			list, err := c.ListCollateral(ctx)
			if err != nil {
				return r.fail(cmd, err)
			}
			m.From = r.server
			// Every TCB evaluation data number: the current collateral
			// and the sets kept for baselines.
			for _, x := range list {
				key := x.TEE + "/" + x.FMSPC + "/" + x.PCEID
				b, err := c.CollateralBundle(ctx, key, x.ID)
				if err != nil {
					return r.fail(cmd, err)
				}
				bundles = append(bundles, b)
				m.Sets = append(m.Sets, exportManifest1{TEE: x.TEE, FMSPC: x.FMSPC, PCEID: x.PCEID, IssueDate: x.IssueDate,
					NextUpdate: x.NextUpdate, SHA256: x.SHA256, Source: x.Source, TCBEvaluationDataNumber: x.TCBEvaluationDataNumber, Pinned: x.Pinned})
			}
		}
		m.Format, m.ExportedAt = "avow collateral bundles v1", time.Now().UTC().Truncate(time.Second)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		for i := range m.Sets {
			s := &m.Sets[i]
			s.File = strings.ToLower(s.TEE + "-" + s.FMSPC + "-" + s.PCEID + ".json")
			if s.Pinned {
				s.File = strings.ToLower(fmt.Sprintf("%s-%s-%s-tcb%d.json", s.TEE, s.FMSPC, s.PCEID, s.TCBEvaluationDataNumber))
			}
			b := bundles[i]
			if len(b) == 0 || b[len(b)-1] != '\n' {
				b = append(b, '\n')
			}
			if err := os.WriteFile(filepath.Join(dir, s.File), b, 0o644); err != nil {
				return err
			}
		}
		mj, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(mj, '\n'), 0o644); err != nil {
			return err
		}
		return r.emit(cmd, m, func(w io.Writer) {
			fmt.Fprintf(w, "exported %d collateral sets to %s\n", len(m.Sets), dir)
			rows := make([][]string, 0, len(m.Sets))
			for _, s := range m.Sets {
				rows = append(rows, []string{s.File, outTime(s.NextUpdate), outDash(s.Source)})
			}
			outTable(w, []string{"FILE", "NEXT UPDATE", "SOURCE"}, rows)
		})
	}
	return cmd
}

// exportFromSources fetches each platform's collateral from the first
// source with collateral that verifies now.
func exportFromSources(ctx context.Context, sources, platforms, roots []string, apiKeyFile string, numbers []uint) (exportManifest, [][]byte, error) {
	var m exportManifest
	var bundles [][]byte
	apiKey := os.Getenv(envPCSAPIKey)
	if apiKeyFile != "" {
		b, err := os.ReadFile(apiKeyFile)
		if err != nil {
			return m, nil, fmt.Errorf("--pcs-api-key-file: %w", err)
		}
		apiKey = strings.TrimSpace(string(b))
	}
	opts := dcap.Options{Now: remoteNow(), TrustedRootKeys: [][]byte{dcap.IntelRootKey()}}
	for _, path := range roots {
		data, err := os.ReadFile(path)
		if err != nil {
			return m, nil, fmt.Errorf("--trust-root: %w", err)
		}
		certs, err := pcs.ParseCertificates(data)
		if err != nil {
			return m, nil, fmt.Errorf("--trust-root %s: %s", path, errs.Detail(err))
		}
		for _, c := range certs {
			opts.TrustedRootKeys = append(opts.TrustedRootKeys, dcap.RootKey(c))
		}
	}
	var srcs []pcs.Source
	var names []string
	for _, spec := range sources {
		src, err := pcs.ParseSource(spec, pcs.SourceOptions{APIKey: apiKey})
		if err != nil {
			return m, nil, fmt.Errorf("--source: %s", errs.Detail(err))
		}
		srcs = append(srcs, src)
		names = append(names, src.Name())
	}
	m.From = strings.Join(names, ", ")
	for _, p := range platforms {
		spec, ca, _ := strings.Cut(p, ":")
		parts := strings.Split(spec, "/")
		if len(parts) == 2 {
			parts = append(parts, "0000")
		}
		if len(parts) != 3 {
			return m, nil, fmt.Errorf("--platform %q: want TEE/FMSPC[/PCEID][:processor|platform]", p)
		}
		// The current collateral, then each TCB baseline asked for.
		for _, n := range append([]uint{0}, numbers...) {
			req := pcs.FetchRequest{TEE: parts[0], FMSPC: parts[1], PCEID: parts[2], PCKCA: ca, TCBEvaluationDataNumber: uint32(n)}
			var problems []string
			found := false
			for _, src := range srcs {
				col, err := src.Fetch(ctx, req)
				if err != nil {
					problems = append(problems, src.Name()+": "+errs.Detail(err))
					continue
				}
				res, err := dcap.VerifyCollateral(col, opts)
				if err != nil {
					problems = append(problems, src.Name()+": rejected: "+errs.Detail(err))
					continue
				}
				if n != 0 && res.TCBInfo.TCBEvaluationDataNumber != uint32(n) {
					problems = append(problems, fmt.Sprintf("%s: rejected: TCB evaluation data number %d, asked for %d", src.Name(), res.TCBInfo.TCBEvaluationDataNumber, n))
					continue
				}
				b, err := col.MarshalBundle()
				if err != nil {
					return m, nil, err
				}
				bundles = append(bundles, b)
				m.Sets = append(m.Sets, exportManifest1{TEE: res.TEE, FMSPC: fmt.Sprintf("%x", res.TCBInfo.FMSPC), PCEID: fmt.Sprintf("%x", res.TCBInfo.PCEID),
					IssueDate: res.TCBInfo.IssueDate, NextUpdate: res.EarliestExpirationDate, Source: src.Name(),
					TCBEvaluationDataNumber: res.TCBInfo.TCBEvaluationDataNumber, Pinned: n != 0})
				found = true
				break
			}
			if !found {
				what := p
				if n != 0 {
					what += fmt.Sprintf(" (TCB evaluation data number %d)", n)
				}
				return m, nil, fmt.Errorf("no source has collateral for %s that verifies: %s", what, strings.Join(problems, "; "))
			}
		}
	}
	return m, bundles, nil
}

func newCollateralTCBNumbersCmd() *cobra.Command {
	var source, tee, apiKeyFile string
	cmd := &cobra.Command{
		Use:   "tcb-numbers --source PCS_OR_PCCS [--tee sgx|tdx]",
		Short: "List the TCB evaluation data numbers a PCS or PCCS supports (the TCB baselines a policy can select)",
		Long: `Fetch GET {tee}/certification/v4/tcbevaluationdatanumbers from Intel's PCS or a PCCS,
verify its signature (TCB signing certificate chained to Intel's root) and list the numbers
with their TCB recovery event and TCB dates, newest first: the values a policy's
x-ms-sgx-tcbidentifier can select (docs/tcb-baselines.md). No server is needed.`,
		Example: `  avow collateral tcb-numbers --source pcs
  avow collateral tcb-numbers --source https://pccs.internal:8081 --tee tdx -o json`,
		Args: cobra.NoArgs,
	}
	cmd.Flags().StringVar(&source, "source", "pcs", "a PCCS URL, or pcs / pcs:URL for Intel's PCS (API v4)")
	cmd.Flags().StringVar(&tee, "tee", "sgx", "sgx or tdx")
	cmd.Flags().StringVar(&apiKeyFile, "pcs-api-key-file", "", "file holding the Intel PCS subscription key (default $"+envPCSAPIKey+")")
	r := remoteFlags(cmd, false)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if tee != "sgx" && tee != "tdx" {
			return fmt.Errorf("--tee %q: must be sgx or tdx", tee)
		}
		if err := r.checkOutput(); err != nil {
			return err
		}
		apiKey := os.Getenv(envPCSAPIKey)
		if apiKeyFile != "" {
			b, err := os.ReadFile(apiKeyFile)
			if err != nil {
				return fmt.Errorf("--pcs-api-key-file: %w", err)
			}
			apiKey = strings.TrimSpace(string(b))
		}
		src, err := pcs.ParseSource(source, pcs.SourceOptions{APIKey: apiKey})
		if err != nil {
			return fmt.Errorf("--source: %s", errs.Detail(err))
		}
		f, ok := src.(*pcs.Fetcher)
		if !ok {
			return fmt.Errorf("--source %q: a PCS or PCCS URL is needed (folders hold no tcbevaluationdatanumbers)", source)
		}
		ctx, cancel := r.context(cmd)
		defer cancel()
		doc, chain, err := f.TCBEvaluationDataNumbers(ctx, tee)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		if err := doc.VerifySignature(chain, [][]byte{dcap.IntelRootKey()}); err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		out := struct {
			TEE        string              `json:"tee"`
			IssueDate  time.Time           `json:"issueDate"`
			NextUpdate time.Time           `json:"nextUpdate"`
			Numbers    []pcs.TCBEvalNumber `json:"tcbEvalNumbers"`
		}{tee, doc.IssueDate, doc.NextUpdate, doc.Numbers}
		return r.emit(cmd, out, func(w io.Writer) {
			rows := make([][]string, len(doc.Numbers))
			for i, n := range doc.Numbers {
				rows[i] = []string{strconv.FormatUint(uint64(n.Number), 10), outTime(n.TCBRecoveryEventDate), outTime(n.TCBDate)}
			}
			fmt.Fprintf(w, "%s TCB evaluation data numbers of %s, issued %s, next update %s\n", strings.ToUpper(tee), f.Name(), outTime(doc.IssueDate), outTime(doc.NextUpdate))
			outTable(w, []string{"TCB EVAL", "TCB RECOVERY EVENT", "TCB DATE"}, rows)
		})
	}
	return cmd
}

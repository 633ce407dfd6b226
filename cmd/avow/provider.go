package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
)

func init() { commands = append(commands, newProviderCmd) }

func newProviderCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "provider",
		Short: "Create, list, show, update and delete attestation providers on an avow server",
		Long: `Manage attestation providers on an avow server (management API, admin token
needed). The server comes from --server or $AVOW_SERVER, the admin token from
--token or $AVOW_TOKEN. Exit status: 0 done, 1 the server refused, 2 usage or
connection error.`,
	}
	cmd.AddCommand(newProviderCreateCmd(), newProviderListCmd(), newProviderShowCmd(),
		newProviderUpdateCmd(), newProviderDeleteCmd(), newProviderRotateKeyCmd(), newProviderTCBBaselinesCmd())
	return cmd
}

// providerSettingsFlags adds --accept-tcb and --grace.
func providerSettingsFlags(cmd *cobra.Command, tcb *[]string, grace *string) {
	cmd.Flags().StringVar(&tokenAlgorithmFlag, "token-algorithm", "", "algorithm of the provider's tokens: RS256 (MAA's, the default) or ES256 (faster; changing it rotates the signing key)")
	cmd.Flags().StringSliceVar(tcb, "accept-tcb", nil, "accepted TCB status (repeat or comma-separate; replaces the server's default list): UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, ...")
	cmd.Flags().StringVar(grace, "grace", "", "collateral grace period: how long expired collateral is still accepted (Go duration, e.g. 0s, 72h)")
	cmd.Flags().StringArrayVar(&tcbGraceFlag, "tcb-grace", nil, "admit OutOfDate platforms whose advisories are all listed, until a date: ADVISORY[,ADVISORY...]@RFC3339 or @YYYY-MM-DD (repeatable; replaces the provider's list; each admission is marked in the token and the audit log; see docs/tcb-baselines.md)")
	cmd.Flags().BoolVar(&noTCBGraceFlag, "no-tcb-grace", false, "remove the provider's TCB grace")
	cmd.Flags().StringArrayVar(&typeSettingFlags, "type-setting", nil, "a setting of one attestation type, TYPE.KEY=VALUE (repeatable), e.g. SevSnpVm.minimumTcb=bl=3,tee=0,snp=8,ucode=115; the settings given for a type replace its current ones, and TYPE= removes them")
	cmd.Flags().StringArrayVar(&collateralSourcesFlag, "collateral-source", nil, "where attestations against this provider fetch missing or expired collateral, tried in order, instead of the server's --collateral-source list (repeatable): a PCCS URL or pcs, which the server must allow: one of its own --collateral-source URLs or under its --provider-collateral-source-allow (files and folders are the server operator's only)")
}

// tokenAlgorithmFlag is --token-algorithm of provider create and update
// (one command runs per process).
var tokenAlgorithmFlag string

// tcbGraceFlag and noTCBGraceFlag are --tcb-grace and --no-tcb-grace.
var (
	tcbGraceFlag   []string
	noTCBGraceFlag bool
)

// parseTCBGrace reads --tcb-grace values: ADVISORY[,ADVISORY...]@WHEN, WHEN
// an RFC 3339 time or a date (midnight UTC).
func parseTCBGrace(values []string) ([]client.TCBGrace, error) {
	out := []client.TCBGrace{}
	for _, v := range values {
		ids, when, ok := strings.Cut(strings.TrimSpace(v), "@")
		if !ok || ids == "" || when == "" {
			return nil, fmt.Errorf("--tcb-grace %q: want ADVISORY[,ADVISORY...]@DATE, such as INTEL-SA-01213@2026-06-30", v)
		}
		until, err := time.Parse(time.RFC3339, when)
		if err != nil {
			if until, err = time.Parse("2006-01-02", when); err != nil {
				return nil, fmt.Errorf("--tcb-grace %q: %q is neither an RFC 3339 time nor a date YYYY-MM-DD", v, when)
			}
		}
		var list []string
		for _, id := range strings.Split(ids, ",") {
			if id = strings.TrimSpace(id); id != "" {
				list = append(list, id)
			}
		}
		out = append(out, client.TCBGrace{AdvisoryIDs: list, Until: until.UTC()})
	}
	return out, nil
}

// collateralSourcesFlag is --collateral-source of provider create and
// update; deploymentSourcesFlag is --deployment-sources of update.
var (
	collateralSourcesFlag []string
	deploymentSourcesFlag bool
	typeSettingFlags      []string
)

// typeSettings reads --type-setting TYPE.KEY=VALUE (TYPE= clears a type's
// settings) into the typeSettings of a settings change.
func typeSettings(flags []string) (map[string]map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]map[string]string{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		typ, key, hasKey := strings.Cut(name, ".")
		typ, key = strings.TrimSpace(typ), strings.TrimSpace(key)
		switch {
		case !ok || typ == "" || (hasKey && key == ""):
			return nil, fmt.Errorf("--type-setting %q: want TYPE.KEY=VALUE, or TYPE= to remove a type's settings", f)
		case !hasKey:
			if strings.TrimSpace(value) != "" {
				return nil, fmt.Errorf("--type-setting %q: want TYPE.KEY=VALUE, or TYPE= to remove a type's settings", f)
			}
			if out[typ] == nil {
				out[typ] = map[string]string{}
			}
		default:
			if out[typ] == nil {
				out[typ] = map[string]string{}
			}
			out[typ][key] = strings.TrimSpace(value)
		}
	}
	return out, nil
}

func providerSettings(tcb []string, grace string) (*client.Settings, error) {
	s := &client.Settings{}
	for _, t := range tcb {
		if t = strings.TrimSpace(t); t != "" {
			s.AcceptedTCBStatuses = append(s.AcceptedTCBStatuses, t)
		}
	}
	if grace != "" {
		d, err := time.ParseDuration(grace)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("--grace %q is not a duration such as 0s, 24h or 72h", grace)
		}
		s.CollateralGracePeriod = d.String()
	}
	switch a := strings.ToUpper(tokenAlgorithmFlag); a {
	case "":
	case "RS256", "ES256":
		s.TokenAlgorithm = a
	default:
		return nil, fmt.Errorf("--token-algorithm must be RS256 or ES256, not %q", tokenAlgorithmFlag)
	}
	for _, src := range collateralSourcesFlag {
		if src = strings.TrimSpace(src); src == "" {
			return nil, fmt.Errorf("--collateral-source is empty")
		}
		s.CollateralSources = append(s.CollateralSources, strings.TrimSpace(src))
	}
	if len(tcbGraceFlag) > 0 || noTCBGraceFlag {
		if len(tcbGraceFlag) > 0 && noTCBGraceFlag {
			return nil, fmt.Errorf("--tcb-grace and --no-tcb-grace exclude each other")
		}
		g, err := parseTCBGrace(tcbGraceFlag)
		if err != nil {
			return nil, err
		}
		s.TCBGrace = &g
	}
	ts, err := typeSettings(typeSettingFlags)
	if err != nil {
		return nil, err
	}
	s.TypeSettings = ts
	if deploymentSourcesFlag {
		if len(s.CollateralSources) > 0 {
			return nil, fmt.Errorf("--deployment-sources and --collateral-source exclude each other")
		}
		s.UseDeploymentSources = true
	}
	if s.AcceptedTCBStatuses == nil && s.CollateralGracePeriod == "" && s.TokenAlgorithm == "" && s.CollateralSources == nil && !s.UseDeploymentSources && s.TCBGrace == nil && s.TypeSettings == nil {
		return nil, nil
	}
	return s, nil
}

func newProviderCreateCmd() *cobra.Command {
	var trustModel, grace string
	var signerCerts, tcb []string
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a provider; prints its attest URI",
		Long: `Create an attestation provider. NAME is 3-24 lowercase letters, digits and
'-', starting with a letter. Its attest URI, {server}/providers/NAME, is what
applications send evidence to and the issuer (iss) of its tokens.

--trust-model Isolated requires policies and signer changes to be signed by
one of the provider's policy signer certificates; give the first with
--signer-cert (a PEM file; repeat for more).`,
		Example: `  avow provider create contoso
  avow provider create fabrikam --trust-model Isolated --signer-cert signer.pem \
      --accept-tcb UpToDate --accept-tcb SWHardeningNeeded --grace 72h`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	cmd.Flags().StringVar(&trustModel, "trust-model", "", "AAD (default: any authorised admin sets policies) or Isolated (policies must be signed by a signer certificate)")
	cmd.Flags().StringArrayVar(&signerCerts, "signer-cert", nil, "PEM file of a policy signer certificate (repeatable)")
	providerSettingsFlags(cmd, &tcb, &grace)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		req := client.CreateProviderRequest{Name: args[0]}
		switch strings.ToLower(trustModel) {
		case "":
		case "aad":
			req.TrustModel = client.TrustModelAAD
		case "isolated":
			req.TrustModel = client.TrustModelIsolated
		default:
			return fmt.Errorf("--trust-model must be AAD or Isolated, not %q", trustModel)
		}
		for _, f := range signerCerts {
			certs, err := readCertificates(f)
			if err != nil {
				return fmt.Errorf("--signer-cert: %w", err)
			}
			req.PolicySigningCertificates = append(req.PolicySigningCertificates, certs...)
		}
		if req.TrustModel == client.TrustModelIsolated && len(req.PolicySigningCertificates) == 0 {
			return fmt.Errorf("an Isolated provider needs at least one --signer-cert")
		}
		s, err := providerSettings(tcb, grace)
		if err != nil {
			return err
		}
		req.Settings = s
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			p, err := c.CreateProvider(ctx, req)
			if err != nil {
				return err
			}
			return r.emit(cmd, p, func(w io.Writer) {
				fmt.Fprintf(w, "created provider %s\n", p.Name)
				providerFields(w, p)
			})
		})
	}
	return cmd
}

func providerFields(w io.Writer, p *client.Provider) {
	grace := p.Settings.CollateralGracePeriod
	outFields(w,
		"name", p.Name,
		"trust model", outDash(p.TrustModel),
		"attest URI", outDash(p.AttestURI),
		"accepted TCB statuses", outDash(strings.Join(p.Settings.AcceptedTCBStatuses, ", ")),
		"collateral grace period", outDash(grace),
		"token algorithm", outDash(p.Settings.TokenAlgorithm),
		"collateral sources", outDash(strings.Join(p.Settings.CollateralSources, ", ")),
		"TCB grace", outDash(tcbGraceText(p.Settings.TCBGrace)),
		"type settings", outDash(typeSettingsText(p.Settings.TypeSettings)),
		"policy signers", strconv.Itoa(p.PolicySigningCertificates),
		"created", outTime(p.CreatedAt),
		"updated", outTime(p.UpdatedAt),
		"version", strconv.FormatInt(p.Version, 10),
	)
}

// tcbGraceText shows a tcbGrace setting: "INTEL-SA-01213 until 2026-06-30T00:00:00Z; ...".
func tcbGraceText(g *[]client.TCBGrace) string {
	if g == nil {
		return ""
	}
	var parts []string
	for _, e := range *g {
		parts = append(parts, strings.Join(e.AdvisoryIDs, ",")+" until "+outTime(e.Until))
	}
	return strings.Join(parts, "; ")
}

func newProviderTCBBaselinesCmd() *cobra.Command {
	var typ string
	cmd := &cobra.Command{
		Use:   "tcb-baselines NAME [--type SgxEnclave|OpenEnclave|TdxVm]",
		Short: "List the TCB baselines a provider's policy can select, and the one it selects",
		Long: `List the TCB baselines of GET {attestUri}/tcbbaselines/{type} (MAA's TcbBaselines, api-version
2025-06-01): azuredefault (the server's current collateral) and every TCB evaluation data
number the server holds collateral of, with its release date; SELECTED marks the one the
provider's policy selects with x-ms-sgx-tcbidentifier (docs/tcb-baselines.md).`,
		Example: `  avow provider tcb-baselines contoso
  avow provider tcb-baselines contoso --type TdxVm -o json`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVar(&typ, "type", client.TypeSgxEnclave, "attestation type: SgxEnclave, OpenEnclave or TdxVm")
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			p, err := c.GetProvider(ctx, args[0])
			if err != nil {
				return err
			}
			list, err := c.TCBBaselines(ctx, p.AttestURI, typ)
			if err != nil {
				return err
			}
			if list == nil {
				list = []client.TCBBaseline{}
			}
			return r.emit(cmd, struct {
				TCBBaselines []client.TCBBaseline `json:"tcbBaselines"`
			}{list}, func(w io.Writer) {
				if len(list) == 0 {
					fmt.Fprintf(w, "%s has no TCB baselines\n", typ)
					return
				}
				rows := make([][]string, len(list))
				for i, b := range list {
					n, sel := "-", ""
					if b.TCBEvaluationDataNumber != 0 {
						n = strconv.FormatUint(uint64(b.TCBEvaluationDataNumber), 10)
					}
					if b.IsSelectedTCB {
						sel = "yes"
					}
					rows[i] = []string{b.TCBIdentifier, n, outDash(b.TCBReleaseDate), outDash(b.MinimumPSWLinuxVersion), outDash(b.MinimumPSWWindowsVersion), outDash(sel)}
				}
				outTable(w, []string{"TCB IDENTIFIER", "TCB EVAL", "RELEASED", "MIN PSW LINUX", "MIN PSW WINDOWS", "SELECTED"}, rows)
			})
		})
	}
	return cmd
}

// typeSettingsText is TYPE.KEY=VALUE, …, sorted.
func typeSettingsText(ts map[string]map[string]string) string {
	var parts []string
	for typ, kv := range ts {
		for k, v := range kv {
			parts = append(parts, typ+"."+k+"="+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func newProviderListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the providers",
		Args:  cobra.NoArgs,
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			ps, err := c.ListProviders(ctx)
			if err != nil {
				return err
			}
			if ps == nil {
				ps = []client.Provider{}
			}
			return r.emit(cmd, struct {
				Providers []client.Provider `json:"providers"`
			}{ps}, func(w io.Writer) {
				if len(ps) == 0 {
					fmt.Fprintln(w, "no providers")
					return
				}
				rows := make([][]string, len(ps))
				for i, p := range ps {
					rows[i] = []string{p.Name, p.TrustModel, strconv.Itoa(p.PolicySigningCertificates), p.AttestURI}
				}
				outTable(w, []string{"NAME", "TRUST MODEL", "SIGNERS", "ATTEST URI"}, rows)
			})
		})
	}
	return cmd
}

func newProviderShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a provider, its settings and its signing keys",
		Args:  cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			p, err := c.GetProvider(ctx, args[0])
			if err != nil {
				return err
			}
			keys, err := c.ListKeys(ctx, args[0])
			if err != nil {
				return err
			}
			if keys == nil {
				keys = []client.Key{}
			}
			return r.emit(cmd, struct {
				*client.Provider
				Keys []client.Key `json:"keys"`
			}{p, keys}, func(w io.Writer) {
				providerFields(w, p)
				fmt.Fprintln(w)
				keysTable(w, keys)
			})
		})
	}
	return cmd
}

func keysTable(w io.Writer, keys []client.Key) {
	rows := make([][]string, len(keys))
	for i, k := range keys {
		state, retired := "active", "-"
		if !k.Active {
			state = "retired"
		}
		if k.RetiredAt != nil {
			retired = outTime(*k.RetiredAt)
		}
		rows[i] = []string{k.KID, state, outTime(k.CreatedAt), retired}
	}
	outTable(w, []string{"SIGNING KEY (KID)", "STATE", "CREATED", "RETIRED"}, rows)
}

func newProviderUpdateCmd() *cobra.Command {
	var grace string
	var tcb []string
	cmd := &cobra.Command{
		Use:   "update NAME [--accept-tcb STATUS]... [--grace DURATION] [--tcb-grace ADVISORY@DATE]... [--collateral-source S]...",
		Short: "Change a provider's settings (accepted TCB statuses, collateral grace period, TCB grace, collateral sources, type settings)",
		Example: `  avow provider update contoso --accept-tcb UpToDate,SWHardeningNeeded --grace 24h
  avow provider update contoso --collateral-source https://pccs.contoso:8081 --collateral-source pcs
  avow provider update contoso --deployment-sources
  avow provider update contoso --tcb-grace INTEL-SA-01213@2026-06-30`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	providerSettingsFlags(cmd, &tcb, &grace)
	cmd.Flags().BoolVar(&deploymentSourcesFlag, "deployment-sources", false, "drop the provider's --collateral-source list: fetch from the server's sources again")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		s, err := providerSettings(tcb, grace)
		if err != nil {
			return err
		}
		if s == nil {
			return fmt.Errorf("nothing to change: give --accept-tcb, --grace, --tcb-grace, --no-tcb-grace, --token-algorithm, --collateral-source, --deployment-sources or --type-setting")
		}
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			p, err := c.UpdateProviderSettings(ctx, args[0], *s)
			if err != nil {
				return err
			}
			return r.emit(cmd, p, func(w io.Writer) {
				fmt.Fprintf(w, "updated provider %s\n", p.Name)
				providerFields(w, p)
			})
		})
	}
	return cmd
}

func newProviderDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a provider with its policies, signers and keys",
		Args:  cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			if err := c.DeleteProvider(ctx, args[0]); err != nil {
				return err
			}
			return r.emit(cmd, map[string]any{"name": args[0], "deleted": true}, func(w io.Writer) {
				fmt.Fprintf(w, "deleted provider %s\n", args[0])
			})
		})
	}
	return cmd
}

func newProviderRotateKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rotate-key NAME",
		Short: "Make a new active token signing key; the old key stays in /certs until its last token expires",
		Args:  cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.do(cmd, func(ctx context.Context, c *client.Client) error {
			k, err := c.RotateKey(ctx, args[0])
			if err != nil {
				return err
			}
			return r.emit(cmd, k, func(w io.Writer) {
				fmt.Fprintf(w, "provider %s: new active signing key\n", args[0])
				outFields(w, "kid", k.KID, "created", outTime(k.CreatedAt))
			})
		})
	}
	return cmd
}

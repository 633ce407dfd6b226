package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/snp"
)

func init() { commands = append(commands, newSnpCmd) }

func newSnpCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snp",
		Short: "Inspect and verify AMD SEV-SNP evidence (raw reports, Azure HCL reports, SevSnpVm requests)",
	}
	cmd.AddCommand(newSnpVerifyCmd(), newSnpShowCmd(), newSnpRequestCmd())
	for _, add := range snpSubcommands {
		cmd.AddCommand(add())
	}
	return cmd
}

// snpSubcommands are further `avow snp` subcommands, added by their files.
var snpSubcommands []func() *cobra.Command

// snpVerifyOutput is the JSON that `avow snp verify` prints.
type snpVerifyOutput struct {
	Result        string         `json:"result"`
	Message       string         `json:"message"`
	Kind          string         `json:"kind,omitempty"`
	Product       string         `json:"product,omitempty"`
	Signer        string         `json:"signer,omitempty"`
	ReportVersion uint32         `json:"report_version,omitempty"`
	CRLChecked    bool           `json:"crl_checked"`
	Claims        map[string]any `json:"claims,omitempty"`
}

func newSnpVerifyCmd() *cobra.Command {
	var certs, roots []string
	var runtimePath, at, output, kdsURL string
	cmd := &cobra.Command{
		Use:   "verify FILE [--certs PEM_OR_DER]... [--runtime-data FILE] [--at RFC3339|now]",
		Short: "Verify SEV-SNP evidence against AMD's pinned roots",
		Long: `Verify SEV-SNP evidence: a raw 1184-byte ATTESTATION_REPORT, an Azure HCL report, or the
body of MAA's POST /attest/SevSnpVm (told apart by content). The VCEK or VLEK comes from
the evidence or --certs (PEM or DER; several allowed); a bare report without one needs
--kds (AMD's KDS or a caching proxy). The chain must end in AMD's pinned roots, or in a
bundle given with --roots (a private or simulated ARK with its ASK/ASVK).

Prints {"result", "message", "product", "signer", "claims"}; "result" is "ok" or one of
the classes of docs/snp.md. Exits 0 when the evidence verifies, 1 when it is refused,
2 on usage errors.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "json" && output != "table" {
				return fmt.Errorf("--output must be table or json, not %q", output)
			}
			now, err := parseAt(at)
			if err != nil {
				return err
			}
			input, err := readInput(args[0])
			if err != nil {
				return err
			}
			opts := snp.Options{Now: now}
			if len(roots) > 0 {
				opts.Roots = snp.AMDRoots().Clone()
				for _, p := range roots {
					b, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					r, err := snp.ParseRootBundle(b)
					if err != nil {
						return fmt.Errorf("%s: %v", p, err)
					}
					opts.Roots.Add(r)
				}
			}
			extra, err := readSNPCertificates(certs)
			if err != nil {
				return err
			}
			var runtime *snp.Data
			if runtimePath != "" {
				b, err := os.ReadFile(runtimePath)
				if err != nil {
					return err
				}
				runtime = &snp.Data{Bytes: b, DataType: "Binary"}
				if json.Valid(b) {
					runtime.DataType = "JSON"
				}
			}
			if kdsURL != "" {
				opts.Collateral = newKDSCollateral(kdsURL, opts.Roots)
			}
			out := verifySNP(cmd.Context(), input, extra, runtime, opts)
			if output == "json" {
				if err := outputJSON(cmd.OutOrStdout(), out); err != nil {
					return err
				}
			} else {
				w := cmd.OutOrStdout()
				outFields(w, "result", out.Result, "message", out.Message, "kind", outDash(out.Kind),
					"product", outDash(out.Product), "signer", outDash(out.Signer))
				if len(out.Claims) > 0 {
					fmt.Fprintln(w, "claims:")
					outClaims(w, out.Claims, "  ")
				}
			}
			if out.Result != "ok" {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&certs, "certs", nil, "VCEK/VLEK certificate, PEM or DER (a PEM file may hold the chain); repeatable")
	cmd.Flags().StringVar(&runtimePath, "runtime-data", "", "runtime data the report must bind (SHA-256 == REPORT_DATA[0:32]); JSON becomes x-ms-runtime")
	cmd.Flags().StringVar(&at, "at", "now", `verification time, RFC 3339, or "now"`)
	cmd.Flags().StringVarP(&output, "output", "o", "json", "output format: json or table")
	cmd.Flags().StringArrayVar(&roots, "roots", nil, "PEM bundle of an ARK and its ASK/ASVK to trust besides AMD's; repeatable")
	cmd.Flags().StringVar(&kdsURL, "kds", "", "where to get a VCEK the evidence lacks and AMD's CRL: amd (https://kdsintf.amd.com), a caching proxy's URL, or a folder written by avow snp collateral fetch")
	return cmd
}

// verifySNP parses and verifies evidence and shapes the outcome.
func verifySNP(ctx context.Context, input []byte, certs [][]byte, runtime *snp.Data, opts snp.Options) snpVerifyOutput {
	if ctx == nil {
		ctx = context.Background()
	}
	var out snpVerifyOutput
	ev, err := snp.Parse(input)
	if err != nil {
		out.Result, out.Message = errs.Code(err), errs.Detail(err)
		return out
	}
	// What the report says of itself, until verification says more.
	out.Kind, out.ReportVersion, out.Signer, out.Product = ev.Kind, ev.Report.Version(), ev.Report.SignerName(), ev.Report.ProductLine()
	ev.Certs = append(ev.Certs, certs...)
	if runtime != nil {
		ev.RuntimeData = runtime
	}
	res, err := snp.Verify(ctx, ev, opts)
	if err != nil {
		out.Result, out.Message = errs.Code(err), errs.Detail(err)
		return out
	}
	out.Result, out.Product, out.Signer, out.CRLChecked = "ok", res.Product, res.Signer, res.CRLChecked
	out.Message = fmt.Sprintf("the report is genuine: signed by a %s %s chained to %s", res.Product, res.Signer, res.Root.Ark.Subject.CommonName)
	out.Claims = res.Claims()
	if err := snp.AddDataClaims(out.Claims, ev); err != nil {
		out.Result, out.Message, out.Claims = errs.Code(err), errs.Detail(err), nil
	}
	return out
}

// snpShowOutput is what `avow snp show` prints: the evidence as parsed.
type snpShowOutput struct {
	Kind         string         `json:"kind"`
	Version      uint32         `json:"version"`
	Signer       string         `json:"signer"`
	Product      string         `json:"product,omitempty"`
	Policy       string         `json:"policy"`
	Debuggable   bool           `json:"debuggable"`
	VMPL         uint32         `json:"vmpl"`
	ChipID       string         `json:"chip_id"`
	CurrentTCB   string         `json:"current_tcb"`
	ReportedTCB  string         `json:"reported_tcb"`
	CommittedTCB string         `json:"committed_tcb"`
	LaunchTCB    string         `json:"launch_tcb"`
	Firmware     string         `json:"firmware_current"`
	Certificates []string       `json:"certificates,omitempty"`
	RuntimeData  any            `json:"runtime_data,omitempty"`
	InitTimeData any            `json:"inittime_data,omitempty"`
	Nonce        *string        `json:"nonce,omitempty"`
	Claims       map[string]any `json:"claims"`
}

func newSnpShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "show FILE",
		Short: "Print SEV-SNP evidence as parsed, without verifying it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			input, err := readInput(args[0])
			if err != nil {
				return err
			}
			ev, err := snp.Parse(input)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			return outputJSON(cmd.OutOrStdout(), showSNP(ev))
		},
	}
}

func showSNP(ev *snp.Evidence) snpShowOutput {
	p := ev.Report.Proto
	tcb := func(v uint64) string { return fmt.Sprintf("%016x", v) }
	out := snpShowOutput{
		Kind: ev.Kind, Version: p.GetVersion(), Signer: ev.Report.SignerName(), Product: ev.Report.ProductLine(),
		Policy: fmt.Sprintf("0x%x", p.GetPolicy()), Debuggable: ev.Report.Debuggable(), VMPL: p.GetVmpl(),
		ChipID: hex.EncodeToString(p.GetChipId()), CurrentTCB: tcb(p.GetCurrentTcb()), ReportedTCB: tcb(p.GetReportedTcb()),
		CommittedTCB: tcb(p.GetCommittedTcb()), LaunchTCB: tcb(p.GetLaunchTcb()),
		Firmware: fmt.Sprintf("%d.%d.%d", p.GetCurrentMajor(), p.GetCurrentMinor(), p.GetCurrentBuild()),
		Nonce:    ev.Nonce,
		Claims:   snp.Claims(ev.Report, ""),
	}
	for _, der := range ev.Certs {
		out.Certificates = append(out.Certificates, describeCert(der))
	}
	out.RuntimeData = showData(ev.RuntimeData)
	out.InitTimeData = showData(ev.InitTimeData)
	return out
}

func showData(d *snp.Data) any {
	if d == nil {
		return nil
	}
	if d.DataType == "JSON" {
		var v any
		if json.Unmarshal(d.Bytes, &v) == nil {
			return v
		}
	}
	return hex.EncodeToString(d.Bytes)
}

func describeCert(der []byte) string {
	c, err := parseCertDER(der)
	if err != nil {
		return "unparsable certificate: " + err.Error()
	}
	return fmt.Sprintf("%s (issuer %s, valid %s to %s)", c.Subject.CommonName, c.Issuer.CommonName,
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
}

func newSnpRequestCmd() *cobra.Command {
	var hclPath, reportPath, runtimePath, nonce string
	var certs []string
	cmd := &cobra.Command{
		Use:   "request (--hcl hcl-report.bin | --report report.bin [--runtime-data FILE]) --certs vcek.pem [--nonce N]",
		Short: "Build MAA's POST /attest/SevSnpVm body from an Azure HCL report or a raw report",
		Long: `Build the body of MAA's POST /attest/SevSnpVm, as Azure's attestation tools send it:
"report" is base64url of {"SnpReport", "VcekCertChain"}, "runtimeData" the HCL report's
runtime JSON (with --hcl) or --runtime-data. --certs gives the VCEK (and, optionally, its
ASK and ARK), PEM or DER. Prints the JSON body; send it with
  curl -H 'Content-Type: application/json' --data @body.json '{attestUri}/attest/SevSnpVm?api-version=2022-08-01'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if (hclPath == "") == (reportPath == "") {
				return fmt.Errorf("give exactly one of --hcl and --report")
			}
			var report []byte
			var runtime *snp.Data
			if hclPath != "" {
				b, err := os.ReadFile(hclPath)
				if err != nil {
					return err
				}
				h, err := snp.ParseHCL(b)
				if err != nil {
					return fmt.Errorf("%s: %w", hclPath, err)
				}
				report, runtime = h.Hardware, &snp.Data{Bytes: h.RuntimeData, DataType: "JSON"}
			} else {
				b, err := os.ReadFile(reportPath)
				if err != nil {
					return err
				}
				if _, err := snp.ParseReport(b); err != nil {
					return fmt.Errorf("%s: %w", reportPath, err)
				}
				report = b
			}
			if runtimePath != "" {
				b, err := os.ReadFile(runtimePath)
				if err != nil {
					return err
				}
				runtime = &snp.Data{Bytes: b, DataType: "Binary"}
				if json.Valid(b) {
					runtime.DataType = "JSON"
				}
			}
			var chain bytes.Buffer
			ders, err := readSNPCertificates(certs)
			if err != nil {
				return err
			}
			for _, der := range ders {
				_ = pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
			}
			body, err := snp.RequestBody(report, chain.Bytes(), runtime, nonce)
			if err != nil {
				return err
			}
			_, err = io.Copy(cmd.OutOrStdout(), bytes.NewReader(append(body, '\n')))
			return err
		},
	}
	cmd.Flags().StringVar(&hclPath, "hcl", "", "Azure HCL report (vTPM NV index 0x01400001)")
	cmd.Flags().StringVar(&reportPath, "report", "", "raw 1184-byte SNP report")
	cmd.Flags().StringArrayVar(&certs, "certs", nil, "VCEK (and ASK, ARK), PEM or DER; repeatable")
	cmd.Flags().StringVar(&runtimePath, "runtime-data", "", "runtime data (JSON or binary)")
	cmd.Flags().StringVar(&nonce, "nonce", "", "nonce to echo in the token")
	return cmd
}

func parseCertDER(der []byte) (*x509.Certificate, error) { return x509.ParseCertificate(der) }

// newKDSCollateral fetches a missing VCEK and the CRL from a KDS ("amd",
// a URL) or a folder of `avow snp collateral fetch`, checking them before
// use (no cache: a server's store caches them).
func newKDSCollateral(src string, roots *snp.Roots) snp.Collateral {
	var s snp.Collateral = &snp.KDS{BaseURL: src}
	switch {
	case src == "amd":
		s = &snp.KDS{BaseURL: snp.KDSURL}
	case !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://"):
		s = snp.Dir(src)
	}
	return &snp.CachedCollateral{Source: s, SourceName: src, Roots: roots}
}

// readSNPCertificates reads the certificates (PEM or DER) of the --certs
// files, in order.
func readSNPCertificates(files []string) ([][]byte, error) {
	var out [][]byte
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ders, err := snp.ParseCertificates(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, ders...)
	}
	return out, nil
}

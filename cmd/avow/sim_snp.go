package main

import (
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/snp/snpsim"
)

func newSimSNPCmd(simDir func() string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snp",
		Short: "Simulated AMD SEV-SNP platform: reports and its ARK/ASK, for tests and demos",
		Long: `A simulated SEV-SNP platform (Milan): its own ARK, ASK and a VCEK per TCB, and signed
ATTESTATION_REPORTs with a chosen measurement, guest policy, TCB and report data. It lives
beside the SGX/TDX platform, in --sim-dir with "-snp" appended (./avow-sim-snp by
default), and is created on first use. avow serve --dev trusts its ARK and marks its
tokens with x-avow-simulated:

  avow sim snp report --out snp.json --runtime-data key.json
  avow attest --url https://localhost:8443/providers/NAME --quote snp.json --type SevSnpVm \
      --runtime-data key.json --json
  avow sim snp root --out snp-roots.pem
  avow snp verify snp.json --roots snp-roots.pem

Nothing here is AMD's: never trust the simulated ARK outside tests and demos.`,
	}
	open := func() (*snpsim.Platform, error) { return snpsim.Open(snpsim.DirBeside(simDir())) }
	cmd.AddCommand(newSimSNPReportCmd(open), newSimSNPRootCmd(open))
	return cmd
}

func newSimSNPRootCmd(open func() (*snpsim.Platform, error)) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "root --out PEM",
		Short: "Write the simulated ASK and ARK (for `avow snp verify --roots`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := open()
			if err != nil {
				return err
			}
			return simWrite(cmd, out, p.RootBundlePEM(), "simulated SEV-SNP ASK and ARK")
		},
	}
	cmd.Flags().StringVar(&out, "out", "", `output file, "-" for standard output (required)`)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newSimSNPReportCmd(open func() (*snpsim.Platform, error)) *cobra.Command {
	var out, format, measurement, policy, tcb, reportData, hostData, runtimeFile, initFile, vcekOut string
	var version, vmpl, guestSVN uint32
	var debug, vlek bool
	cmd := &cobra.Command{
		Use:   "report --out FILE [--format json|raw] [--measurement HEX] [--policy HEX] [--debug] [--tcb bl=3,tee=0,snp=8,ucode=115] [--runtime-data FILE]",
		Short: "Write a signed SEV-SNP report of the simulated platform",
		Long: `Write a signed ATTESTATION_REPORT. --format json (the default) writes MAA's report JSON
{"SnpReport", "VcekCertChain"} with the VCEK (what 'avow attest --type SevSnpVm' sends);
raw writes the 1184 bytes (with --vcek-out for the VCEK). --runtime-data FILE sets
REPORT_DATA to SHA-256 of the file and 32 zero bytes, as MAA binds runtime data;
--init-time-data FILE sets HOST_DATA to its SHA-256.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := open()
			if err != nil {
				return err
			}
			o := snpsim.ReportOptions{Version: version, VMPL: vmpl, GuestSVN: guestSVN, VLEK: vlek}
			if measurement != "" {
				if o.Measurement, err = simHex("--measurement", measurement, 48); err != nil {
					return err
				}
			}
			if policy != "" {
				v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(policy), "0x"), 16, 64)
				if err != nil {
					return fmt.Errorf("--policy %q is not a hex number", policy)
				}
				o.Policy = v
			}
			if debug {
				if o.Policy == 0 {
					o.Policy = snpsim.DefaultPolicy
				}
				o.Policy |= snpsim.PolicyDebug
			}
			if tcb != "" {
				t, err := parseSNPTCB(tcb)
				if err != nil {
					return err
				}
				o.TCB = &t
			}
			switch {
			case runtimeFile != "" && reportData != "":
				return fmt.Errorf("give --runtime-data or --report-data, not both")
			case runtimeFile != "":
				b, err := readFileOrStdin(runtimeFile)
				if err != nil {
					return err
				}
				h := sha256.Sum256(b)
				o.ReportData = h[:]
			case reportData != "":
				if o.ReportData, err = simHex("--report-data", reportData, -64); err != nil {
					return err
				}
			}
			if initFile != "" {
				b, err := readFileOrStdin(initFile)
				if err != nil {
					return err
				}
				h := sha256.Sum256(b)
				o.HostData = h[:]
			} else if hostData != "" {
				if o.HostData, err = simHex("--host-data", hostData, 32); err != nil {
					return err
				}
			}
			report, vcek, err := p.Report(o)
			if err != nil {
				return err
			}
			vcekPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vcek})
			switch format {
			case "json":
				return simWrite(cmd, out, append(client.SevSnpReport(report, vcekPEM), '\n'), "SEV-SNP report JSON (SnpReport, VcekCertChain)")
			case "raw":
				if vcekOut != "" {
					if err := simWrite(cmd, vcekOut, vcekPEM, "VCEK certificate"); err != nil {
						return err
					}
				}
				return simWrite(cmd, out, report, "SEV-SNP report")
			}
			return fmt.Errorf("--format must be json or raw, not %q", format)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", `output file, "-" for standard output (required)`)
	f.StringVar(&format, "format", "json", "json (MAA's report JSON with the VCEK) or raw (the 1184 bytes)")
	f.StringVar(&vcekOut, "vcek-out", "", "with --format raw: write the VCEK (PEM) here")
	f.StringVar(&measurement, "measurement", "", "MEASUREMENT, 48 bytes hex")
	f.StringVar(&policy, "policy", "", "guest POLICY, hex (default 0x30000: SMT allowed, no debug)")
	f.BoolVar(&debug, "debug", false, "set the policy's DEBUG bit (x-ms-sevsnpvm-is-debuggable: true)")
	f.BoolVar(&vlek, "vlek", false, "sign with the VLEK (a cloud provider's key, chained to the ASVK) instead of the VCEK")
	f.StringVar(&tcb, "tcb", "", "REPORTED_TCB as bl=N,tee=N,snp=N,ucode=N (default the platform's, bl=3,tee=0,snp=8,ucode=115)")
	f.StringVar(&reportData, "report-data", "", "REPORT_DATA, up to 64 bytes hex")
	f.StringVar(&runtimeFile, "runtime-data", "", "file whose SHA-256 becomes REPORT_DATA[0:32]")
	f.StringVar(&hostData, "host-data", "", "HOST_DATA, 32 bytes hex")
	f.StringVar(&initFile, "init-time-data", "", "file whose SHA-256 becomes HOST_DATA")
	f.Uint32Var(&version, "report-version", 3, "report VERSION: 2 or 3")
	f.Uint32Var(&vmpl, "vmpl", 0, "VMPL")
	f.Uint32Var(&guestSVN, "guest-svn", 0, "GUEST_SVN")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// parseSNPTCB reads bl=N,tee=N,snp=N,ucode=N (any subset; missing parts 0).
func parseSNPTCB(s string) (snp.TCB, error) { return snp.ParseTCB(s) }

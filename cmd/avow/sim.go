package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/nvgpu/nvgpusim"
	"github.com/avowhq/avow/sgxsim"
)

func init() { commands = append(commands, newSimCmd) }

// simDefaultDir is the platform directory when neither --sim-dir nor
// $AVOW_SIM_DIR is set.
const simDefaultDir = "avow-sim"

func newSimCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulated SGX/TDX platform: quotes, collateral and its root CA, for tests and demos",
		Long: `A simulated SGX/TDX platform that makes valid DCAP quotes and the collateral to verify
them, or deliberately broken ones (--defect). The platform (keys, CA certificates, PPID,
FMSPC) lives in --sim-dir, default $AVOW_SIM_DIR, else ./avow-sim, and is created on first
use, so every command works with the same platform. Its root CA is the trust anchor:

  avow sim root --out sim-root.pem
  avow sim collateral --out collateral.json
  avow sim quote --out quote.bin
  avow quote verify quote.bin --collateral collateral.json --root sim-root.pem --at now

Nothing here is Intel's: never trust the simulated root outside tests and demos.`,
	}
	cmd.PersistentFlags().StringVar(&dir, "sim-dir", "", "platform directory (default $AVOW_SIM_DIR, else ./avow-sim); created on first use")
	simDir := func() string {
		d := dir
		if d == "" {
			d = os.Getenv("AVOW_SIM_DIR")
		}
		if d == "" {
			d = simDefaultDir
		}
		return d
	}
	open := func() (*sgxsim.Platform, error) { return sgxsim.Open(simDir()) }
	cmd.AddCommand(newSimRootCmd(open), newSimCollateralCmd(open), newSimQuoteCmd(open), newSimDefectsCmd(), newSimPresetsCmd(),
		newSimSNPCmd(simDir),
		newSimGPUCmd(func() (*nvgpusim.GPU, error) {
			// The platform first: it makes the folder the GPU lives in.
			if _, err := open(); err != nil {
				return nil, err
			}
			return nvgpusim.Open(filepath.Join(simDir(), "gpu"), time.Now())
		}))
	return cmd
}

type simOpener func() (*sgxsim.Platform, error)

func newSimRootCmd(open simOpener) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "root --out PEM",
		Short: "Write the simulated root CA certificate (the trust anchor for `avow quote verify --root`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := open()
			if err != nil {
				return err
			}
			return simWrite(cmd, out, p.RootPEM(), "root CA certificate "+p.Root().Subject.CommonName)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", `output file, "-" for standard output (required)`)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newSimCollateralCmd(open simOpener) *cobra.Command {
	var out, tee, at, defect string
	var validity time.Duration
	var number int
	cmd := &cobra.Command{
		Use:   "collateral --out BUNDLE [--tee sgx|tdx] [--at RFC3339] [--tcb-evaluation-data-number 17|18]",
		Short: "Write a collateral bundle (TCB info, QE identity, CRLs, issuer chains) for the platform",
		Long: `Write the collateral that verifies the platform's quotes, in the bundle format of
` + "`avow quote verify --collateral`" + `: TCB info v3 and QE identity v2 issued at --at and valid
for --validity, both CRLs, and the issuer chains. --defect injects one collateral-side
defect (see ` + "`avow sim defects`" + `); quote-side defects leave the collateral valid.
--tcb-evaluation-data-number 18 publishes the simulated TCB recovery: a new top TCB level,
and platforms that were UpToDate under 17 (the default) OutOfDate with INTEL-SA-01213
(docs/tcb-baselines.md walks through it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := sgxsim.CollateralOptions{Validity: validity, TCBEvaluationDataNumber: number}
			var err error
			if o.TEE, err = sgxsim.ParseTEE(tee); err != nil {
				return fmt.Errorf("--tee %q: must be sgx or tdx", tee)
			}
			if o.Now, err = simParseTime(at); err != nil {
				return err
			}
			if o.Defect, err = simParseDefect(defect); err != nil {
				return err
			}
			if validity <= 0 {
				return fmt.Errorf("--validity %v: must be positive", validity)
			}
			p, err := open()
			if err != nil {
				return err
			}
			col, err := p.Collateral(o)
			if err != nil {
				return err
			}
			b, err := col.MarshalBundle()
			if err != nil {
				return err
			}
			if number == 0 {
				number = sgxsim.TCBEvaluationDataNumber
			}
			what := fmt.Sprintf("%s collateral of TCB evaluation data number %d issued %s, valid until %s", o.TEE, number,
				o.Now.UTC().Truncate(time.Second).Format(time.RFC3339), o.Now.UTC().Truncate(time.Second).Add(validity).Format(time.RFC3339))
			if o.Defect != sgxsim.NoDefect {
				what += fmt.Sprintf(", defect %s (expected result %s)", o.Defect, o.Defect.ExpectedResult())
			}
			return simWrite(cmd, out, b, what)
		},
	}
	cmd.Flags().StringVar(&out, "out", "", `output file, "-" for standard output (required)`)
	cmd.Flags().StringVar(&tee, "tee", "sgx", "sgx or tdx")
	cmd.Flags().StringVar(&at, "at", "now", `issue time, RFC 3339 or "now"`)
	cmd.Flags().DurationVar(&validity, "validity", sgxsim.DefaultValidity, "time from issue to nextUpdate")
	cmd.Flags().StringVar(&defect, "defect", "", "inject the defect `name` (see 'avow sim defects')")
	cmd.Flags().IntVar(&number, "tcb-evaluation-data-number", sgxsim.TCBEvaluationDataNumber, fmt.Sprintf("TCB baseline to publish: %d, or %d for the simulated TCB recovery", sgxsim.TCBEvaluationDataNumber, sgxsim.RecoveredTCBEvaluationDataNumber))
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func newSimQuoteCmd(open simOpener) *cobra.Command {
	var (
		out, tee, tcb, defect                                               string
		version                                                             int
		productID, svn, qeSVN, configSVN                                    uint16
		debug, kss                                                          bool
		mrenclave, mrsigner, reportData, configID, familyID, extP, bindFile string
		mrtd, mrconfigid, mrowner, mrownerconfig, teeTCBSVN                 string
		teeTCBSVN2, mrseam, mrservicetd, tdAttributes, xfam                 string
		rtmr                                                                [4]string
	)
	cmd := &cobra.Command{
		Use:   "quote --out FILE [--tee sgx|tdx] [--quote-version 3|4|5] [--tcb PRESET] ...",
		Short: "Write a quote made by the platform's quoting enclave",
		Long: `Write a raw DCAP quote: SGX (version 3 by default, or 4 or 5) or TDX (version 4 with a
TDX 1.0 body by default, or 5 with a TDX 1.5 body). --tcb picks the platform TCB that the
quote's PCK certificate certifies (see ` + "`avow sim presets`" + `); --defect injects one
quote-side defect (see ` + "`avow sim defects`" + `). Hex values must have the field's size,
except --report-data (at most 64 bytes, zero padded).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := sgxsim.QuoteOptions{Version: version, ISVProdID: productID, ISVSVN: svn, QESVN: qeSVN,
				Debug: debug, KSS: kss, ConfigSVN: configSVN}
			var err error
			if o.TEE, err = sgxsim.ParseTEE(tee); err != nil {
				return fmt.Errorf("--tee %q: must be sgx or tdx", tee)
			}
			if version != 0 && (version < 3 || version > 5 || (o.TEE == sgxsim.TDX && version == 3)) {
				return fmt.Errorf("--quote-version %d: must be 3, 4 or 5 for sgx, 4 or 5 for tdx", version)
			}
			if tcb != "" {
				pr, ok := sgxsim.LookupPreset(tcb)
				if !ok {
					return fmt.Errorf("--tcb %q: unknown preset (one of %s)", tcb, strings.Join(sgxsim.PresetNames(), ", "))
				}
				o.TCB = &pr.TCB
			}
			if o.Defect, err = simParseDefect(defect); err != nil {
				return err
			}
			if !o.Defect.Applies(o.TEE) {
				return fmt.Errorf("--defect %s does not apply to %s quotes", o.Defect, o.TEE)
			}
			hexFlags := []struct {
				flag, value string
				size        int // exact size; negative: at most -size
				dst         *[]byte
			}{
				{"mrenclave", mrenclave, 32, &o.MREnclave},
				{"mrsigner", mrsigner, 32, &o.MRSigner},
				{"report-data", reportData, -64, &o.ReportData},
				{"config-id", configID, 64, &o.ConfigID},
				{"family-id", familyID, 16, &o.ISVFamilyID},
				{"ext-prod-id", extP, 16, &o.ISVExtProdID},
				{"mrtd", mrtd, 48, &o.MRTD},
				{"rtmr0", rtmr[0], 48, &o.RTMR[0]},
				{"rtmr1", rtmr[1], 48, &o.RTMR[1]},
				{"rtmr2", rtmr[2], 48, &o.RTMR[2]},
				{"rtmr3", rtmr[3], 48, &o.RTMR[3]},
				{"mrconfigid", mrconfigid, 48, &o.MRConfigID},
				{"mrowner", mrowner, 48, &o.MROwner},
				{"mrownerconfig", mrownerconfig, 48, &o.MROwnerConfig},
				{"tee-tcb-svn", teeTCBSVN, 16, &o.TEETCBSVN},
				{"tee-tcb-svn2", teeTCBSVN2, 16, &o.TEETCBSVN2},
				{"mrseam", mrseam, 48, &o.MRSeam},
				{"mrservicetd", mrservicetd, 48, &o.MRServiceTD},
			}
			for _, f := range hexFlags {
				if !cmd.Flags().Changed(f.flag) {
					continue
				}
				if *f.dst, err = simHex(f.flag, f.value, f.size); err != nil {
					return err
				}
			}
			for _, f := range []struct {
				flag, value string
				dst         **uint64
			}{{"td-attributes", tdAttributes, &o.TDAttributes}, {"xfam", xfam, &o.XFAM}} {
				if !cmd.Flags().Changed(f.flag) {
					continue
				}
				b, err := simHex(f.flag, f.value, 8)
				if err != nil {
					return err
				}
				v := binary.LittleEndian.Uint64(b)
				*f.dst = &v
			}
			if bindFile != "" {
				if err := bindInitTimeData(cmd, &o, bindFile); err != nil {
					return err
				}
			}
			p, err := open()
			if err != nil {
				return err
			}
			q, err := p.Quote(o)
			if err != nil {
				return err
			}
			v := version
			if v == 0 {
				v = map[sgxsim.TEE]int{sgxsim.SGX: 3, sgxsim.TDX: 4}[o.TEE]
			}
			what := fmt.Sprintf("%s quote v%d (%d bytes)", o.TEE, v, len(q))
			if tcb != "" {
				what += ", TCB " + tcb
			}
			if o.Defect != sgxsim.NoDefect {
				what += fmt.Sprintf(", defect %s (expected result %s)", o.Defect, o.Defect.ExpectedResult())
			}
			return simWrite(cmd, out, q, what)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", `output file, "-" for standard output (required)`)
	f.StringVar(&tee, "tee", "sgx", "sgx or tdx")
	f.IntVar(&version, "quote-version", 0, "quote version: 3, 4 or 5 (default 3 for sgx, 4 for tdx)")
	f.StringVar(&tcb, "tcb", "", "platform TCB preset: "+strings.Join(sgxsim.PresetNames(), ", ")+" (default uptodate)")
	f.StringVar(&defect, "defect", "", "inject the defect `name` (see 'avow sim defects')")
	f.Uint16Var(&qeSVN, "qe-svn", 0, fmt.Sprintf("ISVSVN of the quoting enclave (default %d; 6-7 out of date, below 6 not supported)", sgxsim.DefaultQESVN))
	f.StringVar(&reportData, "report-data", "", "report data, hex, at most 64 bytes")
	f.StringVar(&bindFile, "bind-init-time-data", "", "bind the init-time data in FILE: SGX sets KSS and CONFIGID = SHA-256(data) and zeros, TDX MRCONFIGID = SHA-384(data)")
	f.BoolVar(&debug, "debug", false, "debug enclave (SGX ATTRIBUTES.DEBUG) or debug TD (TD attribute bit 0)")
	// SGX.
	f.StringVar(&mrenclave, "mrenclave", "", "SGX: MRENCLAVE, 32 bytes hex")
	f.StringVar(&mrsigner, "mrsigner", "", "SGX: MRSIGNER, 32 bytes hex")
	f.Uint16Var(&productID, "product-id", 0, "SGX: ISVPRODID")
	f.Uint16Var(&svn, "svn", 0, "SGX: ISVSVN")
	f.BoolVar(&kss, "kss", false, "SGX: set the KSS attribute")
	f.StringVar(&configID, "config-id", "", "SGX (KSS): CONFIGID, 64 bytes hex")
	f.Uint16Var(&configSVN, "config-svn", 0, "SGX (KSS): CONFIGSVN")
	f.StringVar(&familyID, "family-id", "", "SGX (KSS): ISV_FAMILY_ID, 16 bytes hex")
	f.StringVar(&extP, "ext-prod-id", "", "SGX (KSS): ISV_EXT_PROD_ID, 16 bytes hex")
	// TDX.
	f.StringVar(&mrtd, "mrtd", "", "TDX: MRTD, 48 bytes hex")
	for i := range rtmr {
		f.StringVar(&rtmr[i], fmt.Sprintf("rtmr%d", i), "", fmt.Sprintf("TDX: RTMR%d, 48 bytes hex", i))
	}
	f.StringVar(&mrconfigid, "mrconfigid", "", "TDX: MRCONFIGID, 48 bytes hex")
	f.StringVar(&mrowner, "mrowner", "", "TDX: MROWNER, 48 bytes hex")
	f.StringVar(&mrownerconfig, "mrownerconfig", "", "TDX: MROWNERCONFIG, 48 bytes hex")
	f.StringVar(&tdAttributes, "td-attributes", "", "TDX: TDATTRIBUTES as 8 bytes hex, byte order as in the quote (default 0000001000000000, SEPT_VE_DISABLE)")
	f.StringVar(&xfam, "xfam", "", "TDX: XFAM as 8 bytes hex, byte order as in the quote (default e702060000000000)")
	f.StringVar(&teeTCBSVN, "tee-tcb-svn", "", "TDX: TEE_TCB_SVN, 16 bytes hex (default 05010300000000000000000000000000)")
	f.StringVar(&teeTCBSVN2, "tee-tcb-svn2", "", "TDX 1.5 (version 5): TEE_TCB_SVN2, 16 bytes hex (default TEE_TCB_SVN)")
	f.StringVar(&mrseam, "mrseam", "", "TDX: MRSEAM, 48 bytes hex")
	f.StringVar(&mrservicetd, "mrservicetd", "", "TDX 1.5 (version 5): MRSERVICETD, 48 bytes hex")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// bindInitTimeData makes the quote bind the init-time data of a file the way
// the service checks it (claims.CheckInitTimeDataBinding).
func bindInitTimeData(cmd *cobra.Command, o *sgxsim.QuoteOptions, file string) error {
	data, err := readFileOrStdin(file)
	if err != nil {
		return fmt.Errorf("--bind-init-time-data: %w", err)
	}
	if o.TEE == sgxsim.TDX {
		if cmd.Flags().Changed("mrconfigid") {
			return errors.New("--bind-init-time-data sets MRCONFIGID; leave out --mrconfigid")
		}
		sum := sha512.Sum384(data)
		o.MRConfigID = sum[:]
		return nil
	}
	if cmd.Flags().Changed("config-id") {
		return errors.New("--bind-init-time-data sets CONFIGID; leave out --config-id")
	}
	sum := sha256.Sum256(data)
	o.KSS, o.ConfigID = true, append(sum[:], make([]byte, 32)...)
	return nil
}

func newSimDefectsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "defects",
		Short: "List the defects --defect can inject, the side each modifies and the result a verifier must report",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "DEFECT\tSIDE\tEXPECTED RESULT\tTEE")
			for _, d := range sgxsim.AllDefects() {
				tees := "sgx, tdx"
				if !d.Applies(sgxsim.SGX) {
					tees = "tdx"
				}
				result := d.ExpectedResult()
				if d.CollateralExpired() {
					result += " (collateral_expired: true)"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", d, d.Side(), result, tees)
			}
			return w.Flush()
		},
	}
}

func newSimPresetsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "presets",
		Short: "List the platform TCB presets of `avow sim quote --tcb` and the result each gives",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PRESET\tRESULT\tTCB STATUS\tADVISORY IDS\tCOMPONENTS\tPCESVN")
			for _, p := range sgxsim.Presets() {
				status, adv := string(p.Status), strings.Join(p.AdvisoryIDs, ",")
				if status == "" {
					status = "-"
				}
				if adv == "" {
					adv = "-"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%x\t%d\n", p.Name, p.Result, status, adv, p.TCB.Components[:], p.TCB.PCESVN)
			}
			return w.Flush()
		},
	}
}

// simWrite writes data to path ("-": standard output) and reports what it
// wrote on standard error.
func simWrite(cmd *cobra.Command, path string, data []byte, what string) error {
	if path == "-" {
		_, err := cmd.OutOrStdout().Write(data)
		return err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return err
	}
	_, err := fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s to %s\n", what, path)
	if err == io.EOF {
		err = nil
	}
	return err
}

// simHex decodes a hex flag value of exactly size bytes, or of at most
// -size bytes when size is negative.
func simHex(flag, value string, size int) ([]byte, error) {
	v := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(value), "0x"), "0X")
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("--%s %q: not hex", flag, value)
	}
	if size >= 0 && len(b) != size {
		return nil, fmt.Errorf("--%s: must be %d bytes (%d hex digits), got %d bytes", flag, size, 2*size, len(b))
	}
	if size < 0 && len(b) > -size {
		return nil, fmt.Errorf("--%s: at most %d bytes, got %d", flag, -size, len(b))
	}
	return b, nil
}

func simParseTime(at string) (time.Time, error) {
	if at == "" || at == "now" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q is not an RFC 3339 time (for example 2025-07-01T00:00:00Z) or \"now\"", at)
	}
	return t, nil
}

func simParseDefect(name string) (sgxsim.Defect, error) {
	d, err := sgxsim.ParseDefect(name)
	if err != nil {
		return d, fmt.Errorf("--defect %q: unknown defect (see `avow sim defects`)", name)
	}
	return d, nil
}

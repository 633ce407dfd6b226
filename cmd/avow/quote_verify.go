package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

func init() { quoteSubcommands = append(quoteSubcommands, newQuoteVerifyCmd) }

// verifyOutput is the JSON that `avow quote verify` prints.
type verifyOutput struct {
	Result            string         `json:"result"`
	Message           string         `json:"message"`
	TEE               string         `json:"tee,omitempty"`
	TCBStatus         string         `json:"tcb_status,omitempty"`
	AdvisoryIDs       []string       `json:"advisory_ids"`
	TCBDate           string         `json:"tcb_date,omitempty"`
	CollateralExpired bool           `json:"collateral_expired"`
	EarliestExpiry    string         `json:"earliest_expiration_date,omitempty"`
	Claims            map[string]any `json:"claims,omitempty"`
}

func newQuoteVerifyCmd() *cobra.Command {
	var collateralPath, at, rootPath, pckCertPath string
	var strict bool
	cmd := &cobra.Command{
		Use:   "verify FILE --collateral BUNDLE_OR_DIR --at RFC3339",
		Short: "Verify a quote against collateral as Intel's QVL does",
		Long: `Verify an SGX or TDX quote (raw, OpenEnclave report, hex or base64 text) against
collateral (a bundle file or a folder of PCS responses) at a given time, with QVL's
checks, order and TCB status. Prints one JSON object; exits 0 when the quote verifies
(any TCB status), 1 when it is rejected, 2 on usage errors.

The trust anchor is Intel's pinned SGX root key unless --root names another root
certificate (for test roots and the simulated platform). Expired collateral is
reported in "collateral_expired" and accepted, as QVL does, unless --strict-expiry.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			now, err := parseAt(at)
			if err != nil {
				return err
			}
			input, err := readInput(args[0])
			if err != nil {
				return err
			}
			col, err := pcs.Load(collateralPath)
			if err != nil {
				return fmt.Errorf("%s: %w", collateralPath, err) // pcs.Load names the file; said once
			}
			opts := dcap.Options{Now: now, StrictExpiry: strict}
			if rootPath != "" {
				root, err := readCertificate(rootPath)
				if err != nil {
					return err
				}
				opts.TrustedRoots = []*x509.Certificate{root}
			}
			if pckCertPath != "" {
				if opts.PCKCertificate, err = readCertificate(pckCertPath); err != nil {
					return err
				}
			}
			out := verifyQuote(input, col, opts)
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(out); err != nil {
				return err
			}
			if out.Result != "ok" {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&collateralPath, "collateral", "", "collateral bundle file or folder of PCS responses (required)")
	cmd.Flags().StringVar(&at, "at", "", `verification time, RFC 3339, or "now" (required)`)
	cmd.Flags().StringVar(&rootPath, "root", "", "PEM root certificate to trust instead of Intel's pinned root key")
	cmd.Flags().StringVar(&pckCertPath, "pck-cert", "", "PEM PCK certificate, for quotes that do not carry their PCK chain")
	cmd.Flags().BoolVar(&strict, "strict-expiry", false, "reject expired collateral (collateral_expired) instead of reporting it")
	_ = cmd.MarkFlagRequired("collateral")
	_ = cmd.MarkFlagRequired("at")
	return cmd
}

// verifyQuote runs the verifier and shapes its outcome for printing.
func verifyQuote(input []byte, col *pcs.Collateral, opts dcap.Options) verifyOutput {
	out := verifyOutput{AdvisoryIDs: []string{}}
	raw, _, err := quote.Decode(input)
	if err != nil {
		out.Result, out.Message = errs.Code(err), errs.Detail(err)
		return out
	}
	res, q, err := dcap.VerifyQuote(raw, col, opts)
	out.TEE = res.TEE
	out.CollateralExpired = res.CollateralExpired
	if !res.EarliestExpirationDate.IsZero() {
		out.EarliestExpiry = res.EarliestExpirationDate.UTC().Format(time.RFC3339)
	}
	if err != nil {
		out.Result, out.Message = errs.Code(err), errs.Detail(err)
		return out
	}
	out.Result = "ok"
	out.Message = fmt.Sprintf("the quote is genuine; the platform's TCB status is %s", res.TCBStatus)
	out.TCBStatus = string(res.TCBStatus)
	if res.AdvisoryIDs != nil {
		out.AdvisoryIDs = res.AdvisoryIDs
	}
	out.TCBDate = res.TCBDate.UTC().Format(time.RFC3339)
	out.Claims = claims.FromQuote(q)
	claims.AddVerification(out.Claims, q, col.Hashes(), res)
	return out
}

func parseAt(at string) (time.Time, error) {
	if at == "now" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q is not an RFC 3339 time (for example 2025-07-01T00:00:00Z) or \"now\"", at)
	}
	return t, nil
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return readAllStdin()
	}
	return os.ReadFile(path)
}

func readCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if block, _ := pem.Decode(data); block != nil {
		data = block.Bytes
	}
	cert, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a PEM or DER certificate: %w", path, err)
	}
	return cert, nil
}

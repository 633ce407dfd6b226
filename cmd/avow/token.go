package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/token"
)

func init() { commands = append(commands, newTokenCmd) }

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Verify and decode attestation tokens",
	}
	cmd.AddCommand(newTokenVerifyCmd(), newTokenShowCmd())
	return cmd
}

// tokenOutput is the JSON output of token verify and token show.
type tokenOutput struct {
	Valid    *bool            `json:"valid,omitempty"`
	Issuer   string           `json:"issuer,omitempty"`
	Error    *remoteErrorBody `json:"error,omitempty"`
	Verified bool             `json:"verified"`
	Header   *token.Header    `json:"header"`
	Claims   map[string]any   `json:"claims"`
}

func newTokenVerifyCmd() *cobra.Command {
	var issuer, at string
	var slack time.Duration
	cmd := &cobra.Command{
		Use:   "verify TOKEN_OR_FILE --issuer URL",
		Short: "Verify a token through its issuer's OpenID metadata and print its header and claims",
		Long: `Verify an attestation token as MAA's SDKs do: fetch the issuer's OpenID
metadata ({issuer}/.well-known/openid-configuration) and key set (its
jwks_uri), check the RS256 signature with the key named by the header's kid,
the time (exp, nbf) and that iss is the issuer. The issuer is the provider's
attest URI.

TOKEN_OR_FILE is the token, a file holding it (or MAA's {"token": "..."}
answer), or "-" for standard input.

Exit status: 0 valid, 1 invalid (the claims are printed, marked unverified),
2 usage error or the issuer's metadata could not be fetched.`,
		Example: `  avow token verify token.jwt --issuer https://localhost:8443/providers/contoso --ca-cert avow-data/tls.crt
  avow attest --url $URI --quote q.bin -o json | jq -r .token | avow token verify - --issuer $URI`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, false)
	cmd.Flags().StringVar(&issuer, "issuer", "", "expected issuer: the provider's attest URI (required)")
	cmd.Flags().StringVar(&at, "at", "now", "verification time, RFC 3339 (default now)")
	cmd.Flags().DurationVar(&slack, "clock-skew", 0, "clock skew tolerated on exp and nbf")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if issuer == "" {
			return errors.New("--issuer is required (the provider's attest URI)")
		}
		if slack < 0 {
			return errors.New("--clock-skew must not be negative")
		}
		now := remoteNow()
		if at != "now" && at != "" {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return fmt.Errorf("--at %q is not an RFC 3339 time (for example 2026-01-02T15:04:05Z) or \"now\"", at)
			}
			now = t
		}
		tok, err := readTokenArg(args[0])
		if err != nil {
			return err
		}
		c, err := r.client(false, client.WithClock(func() time.Time { return now }), client.WithClockSkew(slack))
		if err != nil {
			return err
		}
		ctx, cancel := r.context(cmd)
		defer cancel()
		vt, verr := c.VerifyToken(ctx, tok, issuer)
		if errors.Is(verr, token.ErrDiscoveryFailed) {
			return verr
		}
		valid := verr == nil
		out := tokenOutput{Valid: &valid, Issuer: issuer, Verified: valid}
		if vt != nil {
			out.Header, out.Claims = vt.Header, vt.Claims
		}
		if verr != nil {
			out.Error = errBody(verr)
			if d, err := client.DecodeToken(tok); err == nil {
				out.Header, out.Claims = d.Header, d.Claims
			}
		}
		if err := r.emit(cmd, out, func(w io.Writer) {
			if valid {
				fmt.Fprintf(w, "valid: signature, times and issuer %s verified\n", issuer)
			} else {
				fmt.Fprintf(w, "INVALID: %s\n", outErrorText(verr))
				if out.Claims != nil {
					fmt.Fprintln(w, "(the header and claims below are NOT verified)")
				}
			}
			printTokenParts(w, out.Header, out.Claims)
		}); err != nil {
			return err
		}
		if !valid {
			return exitError{1}
		}
		return nil
	}
	return cmd
}

func newTokenShowCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show TOKEN_OR_FILE",
		Short: "Decode a token without verifying it",
		Long: `Print a token's header and claims without verifying anything (use
'avow token verify' for that). TOKEN_OR_FILE is the token, a file holding it,
or "-" for standard input.`,
		Args: cobra.ExactArgs(1),
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		r := &remote{output: output}
		if err := r.checkOutput(); err != nil {
			return err
		}
		tok, err := readTokenArg(args[0])
		if err != nil {
			return err
		}
		d, err := client.DecodeToken(tok)
		if err != nil {
			return fmt.Errorf("%s: %s", args[0], outErrorText(err))
		}
		out := tokenOutput{Header: d.Header, Claims: d.Claims}
		return r.emit(cmd, out, func(w io.Writer) {
			fmt.Fprintln(w, "(not verified)")
			printTokenParts(w, out.Header, out.Claims)
		})
	}
	return cmd
}

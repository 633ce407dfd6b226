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
	Valid  *bool  `json:"valid,omitempty"`
	Issuer string `json:"issuer,omitempty"`
	// Kind is what the claims make the token: attestation,
	// policy-management, signer-management or unknown.
	Kind     string           `json:"kind,omitempty"`
	Error    *remoteErrorBody `json:"error,omitempty"`
	Verified bool             `json:"verified"`
	Header   *token.Header    `json:"header"`
	Claims   map[string]any   `json:"claims"`
}

// tokenKinds are the values of token verify --kind.
var tokenKinds = map[string][]client.TokenKind{
	"attestation": {client.TokenAttestation},
	"management":  {client.TokenPolicyManagement, client.TokenSignerManagement},
	"any":         nil,
}

func newTokenVerifyCmd() *cobra.Command {
	var issuer, at, kind string
	var slack time.Duration
	cmd := &cobra.Command{
		Use:   "verify TOKEN_OR_FILE --issuer ATTEST_URI|NAME",
		Short: "Verify a token through its issuer's OpenID metadata and print its header and claims",
		Long: `Verify an attestation token as MAA's SDKs do: fetch the issuer's OpenID
metadata ({issuer}/.well-known/openid-configuration) and key set (its
jwks_uri), check the signature (RS256, or ES256 for a provider with ES256
keys) with the key named by the header's kid, the time (exp, nbf) and that
iss is the issuer. The issuer is the provider's attest URI, or a provider
name on --server, resolved as attest --url resolves it. A token of another
issuer is refused before any key is fetched (token_issuer_mismatch: "the
token's issuer is X, not Y").

A provider signs the results of policy and signer management (policy get,
set and reset; signer list, add and remove) with the same key as its
attestation tokens. The command names the kind of token (attestation,
policy-management, signer-management) and, unless --kind says otherwise,
refuses any token that is not an attestation token (token_kind_mismatch).

TOKEN_OR_FILE is the token, a file holding it (or MAA's {"token": "..."}
answer), or "-" for standard input.

Exit status: 0 valid, 1 invalid or of another kind (the claims are printed,
marked unverified when the signature, times or issuer failed), 2 usage error
or the issuer's metadata could not be fetched.`,
		Example: `  avow token verify token.jwt --issuer https://localhost:8443/providers/contoso --ca-cert avow-data/tls-cert.pem
  avow token verify token.jwt --server https://localhost:8443 --issuer contoso
  avow attest --url $URI --quote q.bin -o json | jq -r .token | avow token verify - --issuer $URI`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, false)
	cmd.Flags().StringVar(&r.server, "server", "", "avow server URL, to resolve a provider name given as --issuer (default $"+envServer+")")
	cmd.Flags().StringVar(&issuer, "issuer", "", "expected issuer: the provider's attest URI, or its name on --server (required)")
	cmd.Flags().StringVar(&at, "at", "now", "verification time, RFC 3339, or now")
	cmd.Flags().DurationVar(&slack, "clock-skew", 0, "clock skew tolerated on exp and nbf")
	cmd.Flags().StringVar(&kind, "kind", "attestation", "kind of token accepted: attestation, management (policy or signer management results) or any")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if issuer == "" {
			return errors.New("--issuer is required (the provider's attest URI)")
		}
		if slack < 0 {
			return errors.New("--clock-skew must not be negative")
		}
		kinds, ok := tokenKinds[kind]
		if !ok {
			return fmt.Errorf("--kind must be attestation, management or any, not %q", kind)
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
		c, err := r.client(needsServer(issuer), client.WithClock(func() time.Time { return now }), client.WithClockSkew(slack))
		if err != nil {
			return err
		}
		ctx, cancel := r.context(cmd)
		defer cancel()
		// A name is resolved as attest --url resolves it; a URI loses its
		// trailing slash, as VerifyToken compares it.
		if issuer, err = r.attestURI(ctx, c, issuer); err != nil {
			return r.fail(cmd, err)
		}
		vt, verr := c.VerifyToken(ctx, tok, issuer, client.VerifyKinds(kinds...))
		if errors.Is(verr, token.ErrDiscoveryFailed) {
			return verr
		}
		valid := verr == nil
		// A token of another kind verified: its claims are the server's.
		verified := valid || errors.Is(verr, client.ErrTokenKind)
		out := tokenOutput{Valid: &valid, Issuer: issuer, Verified: verified}
		if vt != nil {
			out.Header, out.Claims, out.Kind = vt.Header, vt.Claims, string(vt.Kind)
			if iss, ok := vt.Claims["iss"].(string); ok && verified {
				out.Issuer = iss // the token's, verified: not the text of --issuer
			}
		}
		if verr != nil {
			out.Error = errBody(verr)
			if d, err := client.DecodeToken(tok); err == nil && !verified {
				out.Header, out.Claims, out.Kind = d.Header, d.Claims, string(d.Kind)
			}
		}
		if err := r.emit(cmd, out, func(w io.Writer) {
			if valid {
				fmt.Fprintf(w, "valid: signature, times and issuer %s verified\n", out.Issuer)
			} else {
				fmt.Fprintf(w, "INVALID: %s\n", outErrorText(verr))
				if verified {
					fmt.Fprintln(w, "(signature, times and issuer verified; use --kind to accept this kind)")
				} else if out.Claims != nil {
					fmt.Fprintln(w, "(the header and claims below are NOT verified)")
				}
			}
			if out.Kind != "" {
				fmt.Fprintf(w, "kind: %s\n", client.TokenKind(out.Kind).Describe())
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
		out := tokenOutput{Header: d.Header, Claims: d.Claims, Kind: string(d.Kind)}
		return r.emit(cmd, out, func(w io.Writer) {
			fmt.Fprintln(w, "(not verified)")
			fmt.Fprintf(w, "kind: %s\n", d.Kind.Describe())
			printTokenParts(w, out.Header, out.Claims)
		})
	}
	return cmd
}

package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
)

// The policy get, set and reset commands talk to a provider's policy
// endpoints. Their constructors (newPolicyGetCmd, newPolicySetCmd,
// newPolicyResetCmd) are added to the policy group of policy.go, beside the
// offline check, eval, sign and hash.

// attestationTypes are the canonical spellings of the {type} route segment.
var attestationTypes = []string{client.TypeSgxEnclave, client.TypeOpenEnclave, client.TypeTdxVm, client.TypeNvidiaGpu, "SevSnpVm", "Tpm"}

// canonicalType returns the canonical spelling of an attestation type;
// unknown types are returned unchanged (the server decides).
// The server-side policy commands join the offline ones in `avow policy`.
func init() {
	policySubcommands = append(policySubcommands, newPolicyGetCmd, newPolicySetCmd, newPolicyResetCmd)
}

func canonicalType(t string) string {
	for _, c := range attestationTypes {
		if strings.EqualFold(t, c) {
			return c
		}
	}
	return t
}

func policyTypeFlag(cmd *cobra.Command, typ *string) {
	cmd.Flags().StringVar(typ, "type", client.TypeSgxEnclave, "attestation type: SgxEnclave, OpenEnclave, TdxVm or NvidiaGpu")
}

// signerFlags adds --key and --cert; readSigner reads them (nil, nil when
// neither is given).
func signerFlags(cmd *cobra.Command, key, cert *string, what string) {
	cmd.Flags().StringVar(key, "key", "", "PEM private key of a policy signer, to sign "+what)
	cmd.Flags().StringVar(cert, "cert", "", "PEM certificate of that signer (then its chain), put in the JWS header")
}

// validityFlag adds --validity: how long a document the command signs is
// valid (its iat and nbf are now, its exp now + validity).
func validityFlag(cmd *cobra.Command, validity *time.Duration) {
	cmd.Flags().DurationVar(validity, "validity", client.DefaultDocumentValidity,
		"how long the signed document is valid (iat and nbf now, exp now + this); 0: no time claims, as MAA's SDKs sign")
}

// documentOptions are the claims of a document signed now for validity.
func documentOptions(validity time.Duration) ([]client.DocumentOption, error) {
	if validity < 0 {
		return nil, fmt.Errorf("--validity must not be negative, not %v", validity)
	}
	return []client.DocumentOption{client.DocumentTime(remoteNow()), client.DocumentValidity(validity)}, nil
}

func readSigner(keyFile, certFile string) (crypto.Signer, []*x509.Certificate, error) {
	if keyFile == "" && certFile == "" {
		return nil, nil, nil
	}
	if keyFile == "" || certFile == "" {
		return nil, nil, errors.New("--key and --cert go together")
	}
	key, err := readPrivateKey(keyFile)
	if err != nil {
		return nil, nil, err
	}
	certs, err := readCertificates(certFile)
	if err != nil {
		return nil, nil, err
	}
	return key, certs, nil
}

// policyGetOutput is the JSON output of policy get.
type policyGetOutput struct {
	AttestURI string `json:"attestUri"`
	Type      string `json:"type"`
	Text      string `json:"text"`
	JWS       string `json:"jws"`
	Signed    bool   `json:"signed"`
	Signer    string `json:"signer,omitempty"`
}

func newPolicyGetCmd() *cobra.Command {
	var typ string
	var jws bool
	cmd := &cobra.Command{
		Use:   "get NAME|ATTEST_URI [--type TYPE]",
		Short: "Print a provider's policy for an attestation type",
		Long: `Print the policy a provider enforces for an attestation type: its text, or
with --jws the policy document (JWS) exactly as stored. NAME is a provider
on --server; ATTEST_URI a full attest URI (an avow provider or an MAA
instance). Needs an admin token (reader).`,
		Example: `  avow policy get contoso --type SgxEnclave > current.txt
  avow policy get https://localhost:8443/providers/contoso --jws`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	policyTypeFlag(cmd, &typ)
	cmd.Flags().BoolVar(&jws, "jws", false, "print the policy document (JWS) instead of the text")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.doProvider(cmd, args[0], func(ctx context.Context, c *client.Client, uri string) error {
			typ = canonicalType(typ)
			text, doc, err := c.GetPolicy(ctx, uri, typ)
			if err != nil {
				return err
			}
			out := policyGetOutput{AttestURI: uri, Type: typ, Text: text, JWS: doc}
			if d, err := policy.ParseDocument(doc); err == nil && d.Signed {
				out.Signed, out.Signer = true, d.Certificates[0].Subject.String()
			}
			return r.emit(cmd, out, func(w io.Writer) {
				s := text
				if jws {
					s = doc
				}
				fmt.Fprint(w, s)
				if !strings.HasSuffix(s, "\n") {
					fmt.Fprintln(w)
				}
			})
		})
	}
	return cmd
}

// policyChangeOutput is the JSON output of policy set and reset.
type policyChangeOutput struct {
	AttestURI string         `json:"attestUri"`
	Type      string         `json:"type"`
	Result    string         `json:"result"`
	TokenHash string         `json:"tokenHash,omitempty"`
	Signer    string         `json:"signer,omitempty"`
	Claims    map[string]any `json:"claims"`
	// Warnings are the server's lint findings on the policy set.
	Warnings []policy.Warning `json:"warnings,omitempty"`
}

func newPolicyChangeOutput(uri, typ string, res *client.PolicyResult) policyChangeOutput {
	out := policyChangeOutput{AttestURI: uri, Type: typ, Result: res.Result, TokenHash: res.TokenHash, Claims: res.Claims, Warnings: res.Warnings}
	if cert := res.SignerCertificate(); cert != nil {
		out.Signer = cert.Subject.String()
	}
	return out
}

func newPolicySetCmd() *cobra.Command {
	var typ, keyFile, certFile string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "set NAME|ATTEST_URI FILE [--type TYPE] [--key KEY --cert CERT]",
		Short: "Set a provider's policy for an attestation type",
		Long: `Set the policy a provider enforces for an attestation type. FILE ("-" for
standard input) is a policy text or a ready policy document (JWS, for example
from 'avow policy sign'). A text is sent as an unsigned document, or signed
with --key and --cert (needed by Isolated providers, whose signer set must
contain the certificate). Needs an admin token (policy-admin).

Prints the result and x-ms-policy-token-hash (the SHA-256 of the document as
the server received it).`,
		Example: `  avow policy set contoso policy.txt --type SgxEnclave
  avow policy set fabrikam policy.txt --key signer.key --cert signer.pem`,
		Args: cobra.ExactArgs(2),
	}
	r := remoteFlags(cmd, true)
	policyTypeFlag(cmd, &typ)
	signerFlags(cmd, &keyFile, &certFile, "the policy")
	validityFlag(cmd, &validity)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		key, certs, err := readSigner(keyFile, certFile)
		if err != nil {
			return err
		}
		b, err := readFileOrStdin(args[1])
		if err != nil {
			return err
		}
		text := string(b)
		var doc string
		if policy.LooksLikeDocument(text) {
			if key != nil {
				return fmt.Errorf("%s is already a policy document (JWS); give the policy text to sign it with --key/--cert", args[1])
			}
			doc = strings.TrimSpace(text)
		} else if key != nil {
			opts, err := documentOptions(validity)
			if err != nil {
				return err
			}
			if doc, err = client.PolicyDocument(text, key, certs, opts...); err != nil {
				return errors.New(errs.Detail(err))
			}
		} else {
			doc = policy.UnsignedDocument(text)
		}
		return r.doProvider(cmd, args[0], func(ctx context.Context, c *client.Client, uri string) error {
			typ = canonicalType(typ)
			res, err := c.SetPolicy(ctx, uri, typ, doc)
			if err != nil {
				return err
			}
			if res.TokenHash != "" && res.TokenHash != policy.PolicyTokenHash(doc) {
				fmt.Fprintf(cmd.ErrOrStderr(), "avow: warning: x-ms-policy-token-hash %s is not the hash of the document sent (%s)\n", res.TokenHash, policy.PolicyTokenHash(doc))
			}
			out := newPolicyChangeOutput(uri, typ, res)
			if !r.json() {
				// Stored, but probably not what was meant: say so where
				// the user looks, with line:column of the policy text.
				printWarnings(cmd.ErrOrStderr(), args[1], res.Warnings)
			}
			return r.emit(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "policy %s of %s: %s\n", typ, uri, outDash(res.Result))
				outFields(w, "x-ms-policy-token-hash", outDash(res.TokenHash), "signer", signerText(out.Signer))
			})
		})
	}
	return cmd
}

func signerText(s string) string {
	if s == "" {
		return "none (unsigned)"
	}
	return s
}

func newPolicyResetCmd() *cobra.Command {
	var typ, keyFile, certFile string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "reset NAME|ATTEST_URI [--type TYPE] [--key KEY --cert CERT]",
		Short: "Restore a provider's default policy for an attestation type",
		Long: `Restore the default policy of an attestation type. The request is a JWS with
an empty payload, unsigned or, with --key and --cert, signed (needed by
Isolated providers). Needs an admin token (policy-admin).`,
		Example: `  avow policy reset contoso --type SgxEnclave
  avow policy reset fabrikam --key signer.key --cert signer.pem`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	policyTypeFlag(cmd, &typ)
	signerFlags(cmd, &keyFile, &certFile, "the reset")
	validityFlag(cmd, &validity)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		key, certs, err := readSigner(keyFile, certFile)
		if err != nil {
			return err
		}
		opts, err := documentOptions(validity)
		if err != nil {
			return err
		}
		doc, err := client.ResetDocument(key, certs, opts...)
		if err != nil {
			return errors.New(errs.Detail(err))
		}
		return r.doProvider(cmd, args[0], func(ctx context.Context, c *client.Client, uri string) error {
			typ = canonicalType(typ)
			res, err := c.ResetPolicy(ctx, uri, typ, doc)
			if err != nil {
				return err
			}
			out := newPolicyChangeOutput(uri, typ, res)
			return r.emit(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "policy %s of %s: %s (the default policy applies)\n", typ, uri, outDash(res.Result))
			})
		})
	}
	return cmd
}

// readFileOrStdin reads a file, or standard input for "-".
func readFileOrStdin(name string) ([]byte, error) {
	if name == "-" {
		return readAllStdin()
	}
	return os.ReadFile(name)
}

package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
)

func init() { commands = append(commands, newPolicyCmd) }

// policySubcommands holds the constructors of further `avow policy`
// subcommands defined in other files (for example the get, set and reset
// commands that talk to a provider); each file appends its own in an init
// function, as the command groups do with commands.
var policySubcommands []func() *cobra.Command

func newPolicyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Check, evaluate, sign and hash policies offline; get, set and reset a provider's policy on a server",
		Long: `Work with attestation policies. check, eval, sign and hash work offline, on
a file; get, set and reset talk to a provider's policy endpoints on a server
(--server, or $AVOW_SERVER, when the provider is given by name).

FILE is a policy text or a policy document (the JWS sent to MAA's policy
endpoints, signed or unsigned); "-" reads standard input. Positions in
messages refer to the policy text (for a document, the decoded text).`,
	}
	cmd.AddCommand(newPolicyCheckCmd(), newPolicyEvalCmd(), newPolicySignCmd(), newPolicyHashCmd())
	for _, add := range policySubcommands {
		cmd.AddCommand(add())
	}
	return cmd
}

// policyInput is a policy read from FILE: its text and, when FILE holds a
// policy document, the document.
type policyInput struct {
	name string
	raw  string
	text string
	doc  *policy.Document
}

func readPolicyInput(name string) (*policyInput, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = readAllStdin()
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, err
	}
	in := &policyInput{name: name, raw: string(b), text: string(b)}
	if policy.LooksLikeDocument(in.raw) {
		d, err := policy.ParseDocument(strings.TrimSpace(in.raw))
		if err != nil {
			return in, err
		}
		in.doc, in.text = d, d.Text
	}
	return in, nil
}

func (in *policyInput) describeDocument() string {
	d := in.doc
	if d == nil {
		return ""
	}
	if !d.Signed {
		return fmt.Sprintf("policy document, unsigned (alg %s)", d.Algorithm)
	}
	return fmt.Sprintf("policy document, signed (%s) by %s", d.Algorithm, d.Certificates[0].Subject)
}

func checkOutputFlag(v string) error {
	if v != "text" && v != "json" {
		return fmt.Errorf("--output must be text or json, not %q", v)
	}
	return nil
}

// jsonError is the "error" member of the JSON outputs.
type jsonError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

func toJSONError(err error) *jsonError {
	var se *policy.SyntaxError
	if errors.As(err, &se) {
		return &jsonError{Code: se.Code, Message: se.Message, Line: se.Line, Column: se.Column}
	}
	return &jsonError{Code: errs.Code(err), Message: errs.Detail(err)}
}

// printDiagnostic writes "FILE:line:col: kind: message (code)", indenting
// continuation lines of the message, then the snippet if any.
func printDiagnostic(w io.Writer, name, kind string, line, col int, msg, code, snip string) {
	pos := name
	if line > 0 {
		pos = fmt.Sprintf("%s:%d:%d", name, line, col)
	}
	lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
	fmt.Fprintf(w, "%s: %s: %s (%s)\n", pos, kind, lines[0], code)
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "    %s\n", l)
	}
	if snip != "" {
		for _, l := range strings.Split(snip, "\n") {
			fmt.Fprintf(w, "    %s\n", l)
		}
	}
}

func printError(w io.Writer, name string, err error) {
	var se *policy.SyntaxError
	if errors.As(err, &se) {
		printDiagnostic(w, name, "error", se.Line, se.Column, se.Message, se.Code, se.Snippet)
		return
	}
	printDiagnostic(w, name, "error", 0, 0, errs.Detail(err), errs.Code(err), "")
}

func printWarnings(w io.Writer, name string, ws []policy.Warning) {
	for _, x := range ws {
		printDiagnostic(w, name, "warning", x.Line, x.Column, x.Message, x.Code, "")
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func summary(p *policy.Policy) string {
	parts := []string{"version " + p.Version()}
	for _, s := range []policy.Section{policy.Configuration, policy.Authorization, policy.Issuance} {
		if p.HasSection(s) {
			parts = append(parts, fmt.Sprintf("%s: %s", s, plural(p.RuleCount(s), "rule")))
		}
	}
	return strings.Join(parts, "; ")
}

func allWarnings(in *policyInput, p *policy.Policy) []policy.Warning {
	var ws []policy.Warning
	if in.doc != nil {
		ws = append(ws, in.doc.Warnings...)
	}
	if p != nil {
		ws = append(ws, p.Warnings()...)
	}
	if ws == nil {
		ws = []policy.Warning{}
	}
	return ws
}

// ---- check ----

func newPolicyCheckCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Check a policy: print its warnings and errors with line:column",
		Long: `Check a policy. Warnings and errors are printed with line:column and the
offending line with a caret. Exit status: 0 valid, 1 invalid, 2 unreadable.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFlag(output); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			in, err := readPolicyInput(args[0])
			if in == nil {
				return err
			}
			var p *policy.Policy
			if err == nil {
				p, err = policy.Parse(in.text)
			}
			if output == "json" {
				res := struct {
					Valid    bool             `json:"valid"`
					Version  string           `json:"version,omitempty"`
					Document string           `json:"document,omitempty"`
					Warnings []policy.Warning `json:"warnings"`
					Error    *jsonError       `json:"error,omitempty"`
				}{Valid: err == nil, Document: in.describeDocument(), Warnings: allWarnings(in, p)}
				if p != nil {
					res.Version = p.Version()
				}
				if err != nil {
					res.Error = toJSONError(err)
				}
				if werr := outputJSON(out, res); werr != nil {
					return werr
				}
			} else {
				if d := in.describeDocument(); d != "" {
					fmt.Fprintf(out, "%s: %s\n", in.name, d)
				}
				printWarnings(out, in.name, allWarnings(in, p))
				if err != nil {
					printError(out, in.name, err)
					fmt.Fprintf(out, "%s: invalid\n", in.name)
				} else {
					fmt.Fprintf(out, "%s: valid (%s)\n", in.name, summary(p))
				}
			}
			if err != nil {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// ---- eval ----

type evalOutput struct {
	Permitted  bool               `json:"permitted"`
	Reason     string             `json:"reason"`
	Issued     map[string]any     `json:"issued"`
	Properties map[string]any     `json:"properties"`
	Warnings   []policy.Warning   `json:"warnings"`
	Trace      []policy.TraceRule `json:"trace,omitempty"`
	Error      *jsonError         `json:"error,omitempty"`
}

func newPolicyEvalCmd() *cobra.Command {
	var claimsFile, output string
	var trace bool
	cmd := &cobra.Command{
		Use:   "eval FILE --claims CLAIMS.json",
		Short: "Evaluate a policy against a claim set",
		Long: `Evaluate a policy against incoming claims and print whether it permits, why,
and the issued claims (the token's x-ms-policy object) and properties.

CLAIMS.json is a JSON object of claim type to value (the shape of a token's
claims) or a list of {"type", "value", "issuer", "valueType"} objects; a
missing issuer is AttestationService.

Exit status: 0 permitted, 1 not permitted, 2 invalid policy or input.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFlag(output); err != nil {
				return err
			}
			if claimsFile == "" {
				return errors.New("--claims is required")
			}
			out := cmd.OutOrStdout()
			in, err := readPolicyInput(args[0])
			if in == nil {
				return err
			}
			var p *policy.Policy
			if err == nil {
				p, err = policy.Parse(in.text)
			}
			if err != nil {
				if output == "json" {
					if werr := outputJSON(out, evalOutput{Reason: "the policy is invalid", Issued: map[string]any{}, Properties: map[string]any{},
						Warnings: allWarnings(in, p), Error: toJSONError(err)}); werr != nil {
						return werr
					}
				} else {
					printWarnings(out, in.name, allWarnings(in, p))
					printError(out, in.name, err)
				}
				return exitError{2}
			}
			var data []byte
			if claimsFile == "-" {
				data, err = readAllStdin()
			} else {
				data, err = os.ReadFile(claimsFile)
			}
			if err != nil {
				return err
			}
			claims, err := policy.ParseClaims(data)
			if err != nil {
				return fmt.Errorf("%s: %w", claimsFile, err)
			}
			res, evalErr := p.Evaluate(claims, policy.EvalOptions{Trace: trace})
			o := evalOutput{Permitted: res.Permitted, Reason: res.Reason, Issued: res.Issued, Properties: res.Properties,
				Warnings: allWarnings(in, p), Trace: res.Trace}
			if o.Issued == nil {
				o.Issued = map[string]any{}
			}
			if o.Properties == nil {
				o.Properties = map[string]any{}
			}
			if evalErr != nil {
				o.Error = toJSONError(evalErr)
			}
			if output == "json" {
				if err := outputJSON(out, o); err != nil {
					return err
				}
			} else {
				printEvalText(out, in, o, evalErr)
			}
			if !res.Permitted {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&claimsFile, "claims", "c", "", "incoming claims (JSON object or list; - for standard input)")
	cmd.Flags().BoolVar(&trace, "trace", false, "list every rule, every condition and the claims it matched")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(buf.String())
}

func indentJSON(v any, prefix string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(buf.String())
}

func printEvalText(w io.Writer, in *policyInput, o evalOutput, evalErr error) {
	if d := in.describeDocument(); d != "" {
		fmt.Fprintf(w, "document: %s\n", d)
	}
	if o.Permitted {
		fmt.Fprintln(w, "permitted: yes")
	} else {
		fmt.Fprintln(w, "permitted: no")
	}
	fmt.Fprintf(w, "reason: %s\n", o.Reason)
	if evalErr != nil {
		printError(w, in.name, evalErr)
	}
	fmt.Fprintf(w, "issued: %s\n", indentJSON(o.Issued, ""))
	fmt.Fprintf(w, "properties: %s\n", indentJSON(o.Properties, ""))
	if len(o.Warnings) > 0 {
		fmt.Fprintln(w, "warnings:")
		printWarnings(w, "  "+in.name, o.Warnings)
	}
	if o.Trace != nil {
		fmt.Fprintln(w, "trace:")
		for _, r := range o.Trace {
			state := "not fired"
			switch {
			case !r.Evaluated:
				state = r.Note
			case r.Fired:
				state = "fired"
			}
			fmt.Fprintf(w, "  %s rule %d (line %d) => %s: %s\n", r.Section, r.Index, r.Line, r.Action, state)
			for _, c := range r.Conditions {
				switch {
				case !c.Evaluated:
					fmt.Fprintf(w, "    %s: %s\n", c.Text, c.Reason)
				case c.Satisfied && len(c.Matched) == 0:
					fmt.Fprintf(w, "    %s: holds (no claim matches)\n", c.Text)
				case c.Satisfied:
					fmt.Fprintf(w, "    %s: holds, matched %s\n", c.Text, claimsText(c.Matched))
				default:
					fmt.Fprintf(w, "    %s: fails: %s\n", c.Text, c.Reason)
				}
			}
			if len(r.Added) > 0 {
				fmt.Fprintf(w, "    added %s\n", claimsText(r.Added))
			}
		}
	}
}

func claimsText(cs []policy.Claim) string {
	parts := make([]string, 0, len(cs))
	for i, c := range cs {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(cs)-5))
			break
		}
		v := compactJSON(c.Value)
		if len(v) > 80 {
			v = v[:77] + "..."
		}
		parts = append(parts, fmt.Sprintf("%s = %s (%s)", c.Type, v, c.Issuer))
	}
	return strings.Join(parts, ", ")
}

// ---- sign ----

func newPolicySignCmd() *cobra.Command {
	var keyFile, certFile, alg, outFile string
	var validity time.Duration
	cmd := &cobra.Command{
		Use:   "sign FILE --key KEY --cert CERT",
		Short: "Write a signed policy document (JWS) for a policy",
		Long: `Sign a policy: write the policy document (JWS) that MAA's policy endpoints
accept from an isolated provider's signer. KEY is a PEM private key (RSA or
ECDSA P-256; PKCS#8, PKCS#1 or SEC 1); CERT is the PEM signing certificate,
optionally followed by its chain, which goes into the header's x5c.
RSA keys sign RS256 (or PS256 with --alg), P-256 keys ES256.
The payload carries iat and nbf (now) and exp (now + --validity, default
10 minutes): upload the document within that time, or give a longer
--validity (0: no time claims).

The policy is checked first. Exit status: 0 written, 1 invalid policy,
2 unreadable input or unusable key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyFile == "" || certFile == "" {
				return errors.New("--key and --cert are required")
			}
			if validity < 0 {
				return fmt.Errorf("--validity must not be negative, not %v", validity)
			}
			in, err := readPolicyInput(args[0])
			if in == nil {
				return err
			}
			if err == nil {
				_, err = policy.Parse(in.text)
			}
			if err != nil {
				printError(cmd.ErrOrStderr(), in.name, err)
				return exitError{1}
			}
			key, err := readPrivateKey(keyFile)
			if err != nil {
				return err
			}
			certs, err := readCertificates(certFile)
			if err != nil {
				return err
			}
			jws, err := policy.SignDocumentClaims(in.text, key, certs, alg, policy.ValidFor("", remoteNow().Truncate(time.Second), validity))
			if err != nil {
				return errors.New(errs.Detail(err))
			}
			if outFile != "" {
				return os.WriteFile(outFile, []byte(jws+"\n"), 0o644)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), jws)
			return err
		},
	}
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM private key")
	cmd.Flags().StringVar(&certFile, "cert", "", "PEM signing certificate (then its chain)")
	cmd.Flags().StringVar(&alg, "alg", "", "signature algorithm: RS256 (default for RSA), PS256, ES256 (P-256)")
	cmd.Flags().StringVar(&outFile, "out", "", "write the document to this file instead of standard output")
	validityFlag(cmd, &validity)
	return cmd
}

func readPrivateKey(name string) (crypto.Signer, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			s, ok := k.(crypto.Signer)
			if !ok {
				return nil, fmt.Errorf("%s: unsupported key type %T", name, k)
			}
			return s, nil
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return k, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return k, nil
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%s: encrypted keys are not supported; decrypt it first (openssl pkey -in KEY -out PLAIN)", name)
		}
	}
	return nil, fmt.Errorf("%s: no PEM private key found", name)
}

func readCertificates(name string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if c, err := x509.ParseCertificate(b); err == nil {
			return []*x509.Certificate{c}, nil
		}
		return nil, fmt.Errorf("%s: no PEM certificate found", name)
	}
	return certs, nil
}

// ---- hash ----

func newPolicyHashCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "hash FILE",
		Short: "Print a policy's x-ms-policy-hash and maa-policyHash (and a document's x-ms-policy-token-hash)",
		Long: `Print the hashes MAA computes for a policy:
  x-ms-policy-hash        in attestation tokens: base64url SHA-256 of the base64url policy text
  maa-policyHash          in pre-2020-10-01 tokens: hex SHA-256 of the policy text
  x-ms-policy-token-hash  in the result of a policy upload, for a policy document
                          FILE: base64url SHA-256 of the JWS (surrounding white space removed)
The text is hashed byte for byte, including a final newline.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutputFlag(output); err != nil {
				return err
			}
			in, err := readPolicyInput(args[0])
			if in == nil {
				return err
			}
			if err != nil {
				printError(cmd.ErrOrStderr(), in.name, err)
				return exitError{1}
			}
			hashes := map[string]string{
				"x-ms-policy-hash": policy.PolicyHash(in.text),
				"maa-policyHash":   policy.LegacyPolicyHash(in.text),
			}
			if in.doc != nil {
				hashes["x-ms-policy-token-hash"] = in.doc.TokenHash()
			}
			if output == "json" {
				return outputJSON(cmd.OutOrStdout(), hashes)
			}
			keys := []string{"x-ms-policy-hash", "maa-policyHash", "x-ms-policy-token-hash"}
			for _, k := range keys {
				if v, ok := hashes[k]; ok {
					fmt.Fprintf(cmd.OutOrStdout(), "%-23s %s\n", k+":", v)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

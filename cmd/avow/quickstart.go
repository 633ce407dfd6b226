package main

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/alwaysencrypted"
	"github.com/avowhq/avow/alwaysencrypted/aesim"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/sgxsim"
)

func init() { commands = append(commands, newQuickstartCmd) }

// RecommendedPolicy is the policy published for Always Encrypted with
// secure enclaves, in the condensed form the documentation shows.
const RecommendedPolicy = `version= 1.0;
       [ type=="x-ms-sgx-is-debuggable", value==false ]
        && [ type=="x-ms-sgx-product-id", value==4639 ]
        && [ type=="x-ms-sgx-svn", value>= 2 ]
        && [ type=="x-ms-sgx-mrsigner", value=="e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5"] 
    => permit();
`

func newQuickstartCmd() *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "quickstart",
		Short: "Run the Always Encrypted attestation set-up end to end on a temporary server",
		Long: `Start a temporary avow server (embedded store, HTTPS on loopback, simulated SGX
platform, host-named providers under avow.localhost), create an attestation provider, set the
policy recommended for Always Encrypted with secure enclaves, print the attest URL and the
connection string to hand to application administrators; then a simulated SQL Server enclave
is attested by that URL, and the database client validates the token exactly as the drivers
do and agrees a session key with the enclave; a debuggable enclave and one with SVN 1 are
refused. Ends with the audit log. Needs no flags; everything is removed afterwards unless
--keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return quickstart(cmd.Context(), cmd.OutOrStdout(), keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary data folder and print its path")
	return cmd
}

// quickstartDomain names the quickstart's providers by host, as MAA does
// and the Always Encrypted drivers need: names under .localhost reach the
// loopback address without DNS (two labels, so that OpenSSL-based clients
// accept the wildcard certificate too).
const quickstartDomain = "avow.localhost"

func quickstart(ctx context.Context, out io.Writer, keep bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	dir, err := os.MkdirTemp("", "avow-quickstart-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(out, "data folder (kept): %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	step := func(format string, a ...any) { fmt.Fprintf(out, "\n== "+format+"\n", a...) }

	step("Starting a temporary avow server (embedded store, simulated SGX platform)")
	node, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir + "/data", Dev: true, SimDir: dir + "/sim",
		ProviderDomain: quickstartDomain})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = node.Shutdown(sctx)
	}()
	fmt.Fprintf(out, "server: %s\nTLS certificate: %s\n", node.URL, node.CertFile)
	hc, err := node.HTTPClient()
	if err != nil {
		return err
	}
	c, err := client.New(node.URL, client.WithHTTPClient(hc), client.WithToken(node.AdminToken.Secret))
	if err != nil {
		return err
	}

	step("Attestation administrator: create a provider")
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "always-encrypted"})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "provider %s (trust model %s)\n", p.Name, p.TrustModel)

	step("Attestation administrator: set the policy recommended for Always Encrypted")
	fmt.Fprint(out, RecommendedPolicy)
	if compiled, err := policy.Parse(RecommendedPolicy); err == nil {
		for _, w := range compiled.Warnings() {
			if w.Code == policy.WarnCondensedForm {
				// Microsoft's text as published: accepted, said once.
				fmt.Fprint(out, condensedNote)
				continue
			}
			fmt.Fprint(out, wrapText("note: "+w.Message, quickstartWidth, "  "))
		}
	}
	res, err := c.SetPolicy(ctx, p.AttestURI, client.TypeSgxEnclave, policy.UnsignedDocument(RecommendedPolicy))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "policy %s (x-ms-policy-token-hash %s)\n", res.Result, res.TokenHash)

	step("Application administrator: the attest URL to configure in the database client")
	attestURL := p.AttestURI + "/attest/SgxEnclave"
	fmt.Fprintf(out, "%s\n", p.AttestURI)
	fmt.Fprintf(out, "connection string: Column Encryption Setting=Enabled; Attestation Protocol=AAS; Enclave Attestation Url=%s\n", attestURL)
	fmt.Fprintf(out, "(a host-named provider, as MAA's: the drivers fetch the keys from\n"+
		" https://<authority>/.well-known/openid-configuration)\n")

	sim, err := sgxsim.Open(dir + "/sim")
	if err != nil {
		return err
	}
	identityKey, err := rsa.GenerateKey(rand.Reader, aesim.IdentityKeyBits)
	if err != nil {
		return err
	}
	anon, err := client.New("", client.WithHTTPClient(hc))
	if err != nil {
		return err
	}
	// session is one query needing the enclave: the driver sends its
	// attestation parameters, the database's enclave is attested by the
	// attest URL and answers with its attestation info.
	session := func(id aesim.Identity) (*alwaysencrypted.Params, *ecdh.PrivateKey, *aesim.Session, error) {
		params, key, err := alwaysencrypted.NewParams(attestURL)
		if err != nil {
			return nil, nil, nil, err
		}
		e, err := aesim.New(aesim.Options{Platform: sim, Client: anon, Identity: &id, Key: identityKey})
		if err != nil {
			return nil, nil, nil, err
		}
		s, err := e.Attest(ctx, params.Marshal())
		return params, key, s, err
	}

	step("Database: the SQL Server enclave (simulated: product 4639, SVN 2, not debuggable) is attested")
	params, key, s, err := session(aesim.SQLServerIdentity())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "attestation info for session %d: %d bytes, with the token issued by\n  %s\n", s.ID, len(s.Info), s.AttestURI)
	fmt.Fprintf(out, "the token (%d characters, abbreviated): %s\n", len(s.Token), abbreviate(s.Token, 40))

	step("Database client: validate the token as SqlClient and mssql-jdbc do; agree a session key")
	rep, err := alwaysencrypted.NewValidator(alwaysencrypted.WithHTTPClient(hc)).Verify(ctx, params, key, s.Info)
	if err != nil {
		return err
	}
	rows := make([][]string, 0, len(rep.Checks))
	for _, ch := range rep.Checks {
		rows = append(rows, []string{ch.Name, ch.Driver, strings.ToUpper(ch.Result)})
	}
	outTable(out, []string{"CHECK", "DRIVER", "RESULT"}, rows)
	fmt.Fprintf(out, "session key sha256 (client):  %s\n", sha256Hex(rep.SessionKey))
	fmt.Fprintf(out, "session key sha256 (enclave): %s\n", sha256Hex(s.Key))
	claimsJSON, _ := json.MarshalIndent(abbreviateValues(rep.Claims, 64, 40), "", "  ")
	fmt.Fprintf(out, "the token's claims (values over 64 characters abbreviated):\n%s\n", claimsJSON)

	for _, bad := range []struct {
		what string
		edit func(*aesim.Identity)
	}{
		{"a debuggable enclave", func(id *aesim.Identity) { id.Debug = true }},
		{"an enclave with SVN 1", func(id *aesim.Identity) { id.SVN = 1 }},
	} {
		step("Database: %s is refused; the client never gets a token", bad.what)
		id := aesim.SQLServerIdentity()
		bad.edit(&id)
		_, _, _, err := session(id)
		var ce *client.Error
		if !errors.As(err, &ce) {
			return fmt.Errorf("%s was not refused as expected: %v", bad.what, err)
		}
		fmt.Fprintf(out, "refused (HTTP %d, %s):\n", ce.Status, ce.Code)
		fmt.Fprint(out, wrapText("  "+ce.Message, quickstartWidth, "  "))
	}
	step("Operator: the audit log (as avow audit list shows it, without request ids)")
	if err := node.Service.FlushAudit(ctx); err != nil {
		return err
	}
	page, err := c.ListAudit(ctx, client.AuditQuery{})
	if err != nil {
		return err
	}
	quickstartAudit(out, page)
	if keep {
		fmt.Fprintf(out, "\nto look again (with ./avow built as below), start the kept server and ask it:\n"+
			"  dir=%s\n  ./avow serve --dev --data $dir/data --sim-dir $dir/sim &\n"+
			"  ./avow audit list --server https://localhost:8443 --ca-cert $dir/data/tls-cert.pem \\\n"+
			"      --token %s\n", dir, node.AdminToken.Secret)
	}
	step(`Done. Your own server: build avow in the checkout, then start it (README: "Running a server")`)
	fmt.Fprint(out, quickstartEnd)
	return nil
}

// quickstartEnd is how the quickstart ends: commands that work as they are
// in the checkout where `go run ./cmd/avow quickstart` ran.
const quickstartEnd = "go build -o avow ./cmd/avow\n./avow serve --dev --provider-domain " + quickstartDomain + "\n"

// quickstartWidth is the width the quickstart's output fits, but for the
// lines meant to be copied whole (the policy, the connection string).
const quickstartWidth = 100

// condensedNote follows Microsoft's recommended policy, which is written
// without a section.
const condensedNote = `avow accepts this condensed form, as Microsoft publishes the policy, and reads its rules as
authorizationrules. The canonical form, which MAA's grammar defines, puts them in that section:
    version= 1.0;
    authorizationrules
    {
        ...the rules above...
    };
`

// quickstartAudit writes the audit log as a table of the columns that fit
// the quickstart's width, each entry's details wrapped below it.
func quickstartAudit(out io.Writer, page *client.AuditPage) {
	if len(page.Entries) == 0 {
		fmt.Fprintln(out, "no audit entries")
		return
	}
	rows := make([][]string, len(page.Entries))
	for i, e := range page.Entries {
		rows[i] = []string{outTime(e.Time), outDash(e.Provider), e.Operation, e.Outcome, outDash(e.Actor)}
	}
	var b strings.Builder
	outTable(&b, []string{"TIME", "PROVIDER", "OPERATION", "OUTCOME", "ACTOR"}, rows)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	fmt.Fprintln(out, strings.TrimRight(lines[0], " "))
	for i, e := range page.Entries {
		fmt.Fprintln(out, strings.TrimRight(lines[i+1], " "))
		if len(e.Details) > 0 {
			fmt.Fprint(out, wrapText("    "+auditDetails(e.Details), quickstartWidth, "    "))
		}
	}
}

// wrapText breaks s at spaces into lines of at most width characters (a
// longer word stays whole), the lines after the first starting with indent.
// The result ends with a newline.
func wrapText(s string, width int, indent string) string {
	var b strings.Builder
	lead, line := "", ""
	if t := strings.TrimLeft(s, " "); len(t) < len(s) {
		lead, s = s[:len(s)-len(t)], t
	}
	line = lead
	empty := true
	for _, word := range strings.Fields(s) {
		if !empty && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > width {
			b.WriteString(line + "\n")
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
	return b.String()
}

// abbreviate shortens s to its first keep characters and an ellipsis.
func abbreviate(s string, keep int) string {
	if utf8.RuneCountInString(s) <= keep {
		return s
	}
	r := []rune(s)
	return string(r[:keep]) + "…"
}

// abbreviateValues returns v with every string longer than max characters
// shortened to keep characters, "…" and its length, in objects and arrays.
func abbreviateValues(v any, max, keep int) any {
	switch v := v.(type) {
	case string:
		if n := utf8.RuneCountInString(v); n > max {
			return fmt.Sprintf("%s (%d characters)", abbreviate(v, keep), n)
		}
		return v
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = abbreviateValues(x, max, keep)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = abbreviateValues(x, max, keep)
		}
		return a
	}
	return v
}

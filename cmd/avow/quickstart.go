package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

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
platform), create an attestation provider, set the policy recommended for Always Encrypted
with secure enclaves, print the attest URL to hand to application administrators, attest a
simulated enclave that satisfies the policy and print its token, then show a debuggable
enclave and one with SVN 1 being refused. Needs no flags; everything is removed afterwards
unless --keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return quickstart(cmd.Context(), cmd.OutOrStdout(), keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary data folder and print its path")
	return cmd
}

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
	node, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: dir + "/data", Dev: true, SimDir: dir + "/sim"})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = node.Shutdown(sctx)
	}()
	fmt.Fprintf(out, "server: %s (TLS certificate %s)\n", node.URL, node.CertFile)
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
			fmt.Fprintf(out, "note: %s\n", w.Message)
		}
	}
	res, err := c.SetPolicy(ctx, p.AttestURI, client.TypeSgxEnclave, policy.UnsignedDocument(RecommendedPolicy))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "policy %s (x-ms-policy-token-hash %s)\n", res.Result, res.TokenHash)

	step("Application administrator: the attest URL to configure in the database client")
	fmt.Fprintf(out, "%s\n", p.AttestURI)

	sim, err := sgxsim.Open(dir + "/sim")
	if err != nil {
		return err
	}
	mrsigner, _ := hex.DecodeString("e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5")
	runtimeData := []byte(`{"jwk":{"kty":"RSA","note":"the enclave's public key would be here"}}`)
	sum := sha256.Sum256(runtimeData)
	attest := func(o sgxsim.QuoteOptions) (string, error) {
		o.MRSigner, o.ISVProdID, o.ReportData = mrsigner, 4639, sum[:]
		quote, err := sim.Quote(o)
		if err != nil {
			return "", err
		}
		return c.AttestSGX(ctx, p.AttestURI, quote, client.AttestOptions{RuntimeData: runtimeData, RuntimeDataJSON: true})
	}

	step("Relying party: attest an enclave that satisfies the policy (product 4639, SVN 2, not debuggable)")
	tok, err := attest(sgxsim.QuoteOptions{ISVSVN: 2})
	if err != nil {
		return err
	}
	verified, err := c.VerifyToken(ctx, tok, p.AttestURI)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "token signed by kid %s, verified through %s/.well-known/openid-configuration\n", verified.Header.KID, p.AttestURI)
	claimsJSON, _ := json.MarshalIndent(verified.Claims, "", "  ")
	fmt.Fprintf(out, "%s\n", claimsJSON)

	for _, bad := range []struct {
		what string
		o    sgxsim.QuoteOptions
	}{
		{"a debuggable enclave", sgxsim.QuoteOptions{ISVSVN: 2, Debug: true}},
		{"an enclave with SVN 1", sgxsim.QuoteOptions{ISVSVN: 1}},
	} {
		step("Relying party: attest %s", bad.what)
		_, err := attest(bad.o)
		var ce *client.Error
		if !errors.As(err, &ce) {
			return fmt.Errorf("%s was not refused as expected: %v", bad.what, err)
		}
		fmt.Fprintf(out, "refused (HTTP %d, %s): %s\n", ce.Status, ce.Code, ce.Message)
	}
	step("Operator: the audit log (avow audit list)")
	if err := node.Service.FlushAudit(ctx); err != nil {
		return err
	}
	page, err := c.ListAudit(ctx, client.AuditQuery{})
	if err != nil {
		return err
	}
	auditTable(out, page)
	if keep {
		fmt.Fprintf(out, "\nto look again: avow serve --data %s/data --dev --sim-dir %s/sim, then\n"+
			"  avow audit list --server %s --token %s --ca-cert %s\n", dir, dir, node.URL, node.AdminToken.Secret, node.CertFile)
	}
	step("Done. Run your own server with: avow serve --dev")
	return nil
}

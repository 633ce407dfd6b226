package main

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/errs"
)

func init() { commands = append(commands, newSignerCmd) }

func newSignerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "signer",
		Short: "List, add and remove a provider's policy signer certificates",
		Long: `Manage the policy signer certificates of a provider (MAA's policy management
certificates). An Isolated provider accepts only policies, resets and signer
changes signed by one of them. Adding or removing a certificate is itself
signed by a current signer (--key, --cert). PROVIDER is a provider name on
--server or a full attest URI. Exit status: 0 done, 1 the server refused,
2 usage or connection error.`,
	}
	cmd.AddCommand(newSignerListCmd(), newSignerChangeCmd("add"), newSignerChangeCmd("remove"))
	return cmd
}

// certSummary is a certificate in command output.
type certSummary struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	SHA1      string    `json:"sha1"`
	SHA256    string    `json:"sha256"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	PEM       string    `json:"pem"`
}

func summarizeCert(c *x509.Certificate) certSummary {
	s1, s256 := sha1.Sum(c.Raw), sha256.Sum256(c.Raw)
	return certSummary{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		SHA1: hex.EncodeToString(s1[:]), SHA256: hex.EncodeToString(s256[:]),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
	}
}

func newSignerListCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list PROVIDER",
		Short: "List a provider's policy signer certificates",
		Args:  cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, true)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return r.doProvider(cmd, args[0], func(ctx context.Context, c *client.Client, uri string) error {
			certs, err := c.ListSigners(ctx, uri)
			if err != nil {
				return err
			}
			out := make([]certSummary, len(certs))
			for i, cert := range certs {
				out[i] = summarizeCert(cert)
			}
			return r.emit(cmd, struct {
				AttestURI string        `json:"attestUri"`
				Signers   []certSummary `json:"signers"`
			}{uri, out}, func(w io.Writer) {
				if len(out) == 0 {
					fmt.Fprintf(w, "%s has no policy signer certificates\n", uri)
					return
				}
				rows := make([][]string, len(out))
				for i, s := range out {
					rows[i] = []string{s.SHA1, outTime(s.NotAfter), s.Subject}
				}
				outTable(w, []string{"SHA-1 THUMBPRINT", "NOT AFTER", "SUBJECT"}, rows)
			})
		})
	}
	return cmd
}

func newSignerChangeCmd(op string) *cobra.Command {
	var keyFile, certFile string
	var validity time.Duration
	verb := map[string]string{"add": "Add", "remove": "Remove"}[op]
	cmd := &cobra.Command{
		Use:   op + " PROVIDER CERT --key KEY --cert CERT",
		Short: verb + " a policy signer certificate (signed by a current signer)",
		Long: verb + ` the policy signer certificate in the PEM file CERT. The request is a JWS
signed by a current signer of the provider: its private key (--key, PEM) and
certificate (--cert, PEM). Besides the certificate, its payload names the
operation (x-avow-operation: "` + op + `"), so that an avow server does not take it
for the other one, and its validity (iat, nbf, exp: --validity). Needs an
admin token (policy-admin).`,
		Example: "  avow signer " + op + " fabrikam new-signer.pem --key signer.key --cert signer.pem",
		Args:    cobra.ExactArgs(2),
	}
	r := remoteFlags(cmd, true)
	cmd.Flags().StringVar(&keyFile, "key", "", "PEM private key of a current policy signer (required)")
	cmd.Flags().StringVar(&certFile, "cert", "", "PEM certificate of that signer (required)")
	validityFlag(cmd, &validity)
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if keyFile == "" || certFile == "" {
			return errors.New("--key and --cert (a current signer's key and certificate) are required")
		}
		key, signerCerts, err := readSigner(keyFile, certFile)
		if err != nil {
			return err
		}
		certs, err := readCertificates(args[1])
		if err != nil {
			return err
		}
		opts, err := documentOptions(validity)
		if err != nil {
			return err
		}
		doc, err := client.SignerChangeDocument(op, certs[0], key, signerCerts[0], opts...)
		if err != nil {
			return errors.New(errs.Detail(err))
		}
		return r.doProvider(cmd, args[0], func(ctx context.Context, c *client.Client, uri string) error {
			var res *client.SignerResult
			var err error
			if op == "add" {
				res, err = c.AddSigner(ctx, uri, doc)
			} else {
				res, err = c.RemoveSigner(ctx, uri, doc)
			}
			if err != nil {
				return err
			}
			sum := summarizeCert(certs[0])
			return r.emit(cmd, struct {
				AttestURI  string         `json:"attestUri"`
				Thumbprint string         `json:"thumbprint"`
				Result     string         `json:"result"`
				Subject    string         `json:"subject"`
				Claims     map[string]any `json:"claims"`
			}{uri, res.Thumbprint, res.Result, sum.Subject, res.Claims}, func(w io.Writer) {
				fmt.Fprintf(w, "signer %s of %s: %s\n", sum.Subject, uri, outDash(res.Result))
				outFields(w, "x-ms-certificate-thumbprint", outDash(res.Thumbprint))
			})
		})
	}
	return cmd
}

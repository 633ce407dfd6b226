package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/token"
)

func init() { commands = append(commands, newAttestCmd) }

// attestOutput is the JSON output of avow attest.
type attestOutput struct {
	AttestURI string           `json:"attestUri"`
	Type      string           `json:"type"`
	Token     string           `json:"token"`
	Header    *token.Header    `json:"header"`
	Claims    map[string]any   `json:"claims"`
	Verified  *bool            `json:"verified,omitempty"`
	Error     *remoteErrorBody `json:"error,omitempty"`
}

func newAttestCmd() *cobra.Command {
	var uri, quoteFile, typ, runtimeFile, initFile, nonce, draftFile, tokenOut string
	var runtimeJSON, initJSON, verify bool
	cmd := &cobra.Command{
		Use:   "attest --url ATTEST_URI --quote FILE [flags]",
		Short: "Send evidence to a provider and print the attestation token and its claims",
		Long: `Send an SGX quote, an OpenEnclave report or a TDX quote to a provider's attest
URI (anonymous, as in MAA) and print the attestation token and its decoded
claims. --url is the attest URI, or a provider name on --server.

FILE ("-" for standard input) holds the evidence raw, as hex or as base64;
an OpenEnclave report (16-byte header + quote) is recognised. --type
defaults to OpenEnclave for an OpenEnclave report, TdxVm for a TDX quote,
SevSnpVm for SEV-SNP evidence (the {"SnpReport", "VcekCertChain"} JSON that
'avow sim snp report' writes, a SevSnpVm request body, or an Azure HCL
report) and SgxEnclave otherwise. With --type NvidiaGpu, FILE is the GPUs'
evidence list (NVIDIA's client shape, as avow sim gpu evidence writes it)
and --nonce the GPUs' nonce in hex (or bind it with --runtime-data: its
SHA-256).

--runtime-data FILE binds data to the evidence (its SHA-256 must be the first
32 bytes of the report data); it is sent as Binary, or as JSON with --json.
--draft-policy FILE evaluates that policy text instead of the provider's and
returns an unsigned token. --verify also verifies the token through the
provider's OpenID metadata. --token-out FILE writes the token alone to FILE,
as avow token verify reads it.

Exit status: 0 token issued (and verified), 1 the server refused (or the
token does not verify), 2 usage or connection error.`,
		Example: `  avow attest --url https://localhost:8443/providers/contoso --quote quote.bin \
      --runtime-data key.json --json --nonce 42
  avow attest --server https://localhost:8443 --url contoso --quote quote.hex --verify -o json
  avow attest --url contoso --quote quote.bin --token-out token.jwt`,
		Args: cobra.NoArgs,
	}
	r := remoteFlags(cmd, true)
	f := cmd.Flags()
	f.StringVar(&uri, "url", "", "attest URI of the provider, or a provider name on --server (required)")
	f.StringVar(&quoteFile, "quote", "", "evidence file: SGX/TDX quote or OpenEnclave report, raw, hex or base64 (required)")
	f.StringVar(&typ, "type", "", "attestation type: SgxEnclave, OpenEnclave, SevSnpVm, TdxVm or NvidiaGpu (default: from the evidence)")
	f.StringVar(&runtimeFile, "runtime-data", "", "file with runtime data bound to the evidence")
	f.BoolVar(&runtimeJSON, "json", false, "send the runtime data as JSON (token claim x-ms-runtime) rather than Binary")
	f.StringVar(&initFile, "init-time-data", "", "file with init-time data")
	f.BoolVar(&initJSON, "init-time-json", false, "send the init-time data as JSON (token claim x-ms-inittime)")
	f.StringVar(&nonce, "nonce", "", "nonce echoed in the token (NvidiaGpu: the GPUs' nonce, 32 bytes in hex)")
	f.StringVar(&draftFile, "draft-policy", "", "policy text file to evaluate instead of the provider's policy (unsigned token)")
	f.StringVar(&tokenOut, "token-out", "", "also write the token (the JWT alone, one line) to this file, e.g. for avow token verify")
	f.BoolVar(&verify, "verify", false, "verify the token's signature, times and issuer through OpenID discovery of the attest URI")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if uri == "" || quoteFile == "" {
			return errors.New("--url and --quote are required")
		}
		if runtimeJSON && runtimeFile == "" {
			return errors.New("--json needs --runtime-data")
		}
		if initJSON && initFile == "" {
			return errors.New("--init-time-json needs --init-time-data")
		}
		if verify && draftFile != "" {
			return errors.New("--verify cannot be used with --draft-policy: draft-policy tokens are unsigned")
		}
		input, err := readFileOrStdin(quoteFile)
		if err != nil {
			return err
		}
		var t string
		var evidence []byte
		var gpus []client.GPUEvidence
		if canonicalType(typ) == client.TypeNvidiaGpu {
			// The GPUs' evidence list as NVIDIA's clients write it; --nonce
			// is the GPUs' nonce (hex).
			t = client.TypeNvidiaGpu
			if gpus, err = readGPUEvidence(input); err != nil {
				return fmt.Errorf("%s: %w", quoteFile, err)
			}
		} else if canonicalType(typ) == client.TypeSevSnpVm || (typ == "" && looksSNP(input)) {
			if t, evidence, err = snpEvidence(input); err != nil {
				return fmt.Errorf("%s: %w", quoteFile, err)
			}
		} else {
			q, oe, err := quote.Decode(input)
			if err != nil {
				return fmt.Errorf("%s: %w", quoteFile, err)
			}
			if len(q) == 0 {
				return fmt.Errorf("%s: no evidence in the file", quoteFile)
			}
			if t, err = attestType(typ, q, oe); err != nil {
				return err
			}
			evidence = q
			if t == client.TypeOpenEnclave {
				evidence = client.OpenEnclaveReport(q)
			}
		}
		opts := client.AttestOptions{Nonce: nonce, RuntimeDataJSON: runtimeJSON, InitTimeDataJSON: initJSON}
		if runtimeFile != "" {
			if opts.RuntimeData, err = readFileOrStdin(runtimeFile); err != nil {
				return err
			}
		}
		if initFile != "" {
			if opts.InitTimeData, err = readFileOrStdin(initFile); err != nil {
				return err
			}
		}
		if draftFile != "" {
			b, err := readFileOrStdin(draftFile)
			if err != nil {
				return err
			}
			opts.DraftPolicy = string(b)
		}
		c, err := r.client(needsServer(uri), client.WithClock(remoteNow))
		if err != nil {
			return err
		}
		ctx, cancel := r.context(cmd)
		defer cancel()
		attestURI, err := r.attestURI(ctx, c, uri)
		if err != nil {
			return r.fail(cmd, err)
		}
		var tok string
		if t == client.TypeNvidiaGpu {
			tok, err = c.AttestGPU(ctx, attestURI, gpus, nonce, opts)
		} else {
			tok, err = c.Attest(ctx, attestURI, t, evidence, opts)
		}
		if err != nil {
			return r.fail(cmd, err)
		}
		if tokenOut != "" {
			if err := os.WriteFile(tokenOut, []byte(tok+"\n"), 0o644); err != nil {
				return fmt.Errorf("--token-out: %w", err)
			}
		}
		out := attestOutput{AttestURI: attestURI, Type: t, Token: tok}
		d, err := client.DecodeToken(tok)
		if err != nil {
			return fmt.Errorf("the server's token cannot be decoded: %w", err)
		}
		out.Header, out.Claims = d.Header, d.Claims
		var verr error
		if verify {
			_, verr = c.VerifyToken(ctx, tok, attestURI)
			ok := verr == nil
			out.Verified = &ok
			if verr != nil {
				out.Error = errBody(verr)
			}
		}
		if err := r.emit(cmd, out, func(w io.Writer) { printAttestText(w, out, verr) }); err != nil {
			return err
		}
		if verr != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "avow: the token does not verify:", outErrorText(verr))
			return exitError{1}
		}
		return nil
	}
	return cmd
}

// attestType picks the attestation type from the flag or the evidence.
func attestType(flag string, q []byte, openEnclave bool) (string, error) {
	if flag != "" {
		t := canonicalType(flag)
		switch t {
		case client.TypeSgxEnclave, client.TypeOpenEnclave, client.TypeTdxVm:
			return t, nil
		}
		return "", fmt.Errorf("--type must be SgxEnclave, OpenEnclave, SevSnpVm or TdxVm, not %q", flag)
	}
	switch {
	case openEnclave:
		return client.TypeOpenEnclave, nil
	case len(q) >= 8 && binary.LittleEndian.Uint32(q[4:8]) == quote.TEETypeTDX:
		return client.TypeTdxVm, nil
	}
	return client.TypeSgxEnclave, nil
}

func printAttestText(w io.Writer, out attestOutput, verr error) {
	fmt.Fprintf(w, "attestation type: %s\nattest URI:       %s\n", out.Type, out.AttestURI)
	if out.Verified != nil {
		if verr == nil {
			fmt.Fprintln(w, "verified:         yes (signature, times, issuer)")
		} else {
			fmt.Fprintf(w, "verified:         NO: %s\n", outErrorText(verr))
		}
	}
	if out.Header != nil && out.Header.Alg == "none" {
		fmt.Fprintln(w, "note:             unsigned token (draft policy)")
	}
	fmt.Fprintf(w, "\ntoken:\n%s\n", out.Token)
	printTokenParts(w, out.Header, out.Claims)
}

// printTokenParts writes a token's header and claims as indented lists.
func printTokenParts(w io.Writer, h *token.Header, claims map[string]any) {
	if h != nil {
		fmt.Fprintln(w, "\nheader:")
		kv := []string{"alg", h.Alg}
		if h.Typ != "" {
			kv = append(kv, "typ", h.Typ)
		}
		if h.KID != "" {
			kv = append(kv, "kid", h.KID)
		}
		if h.JKU != "" {
			kv = append(kv, "jku", h.JKU)
		}
		if len(h.X5C) > 0 {
			kv = append(kv, "x5c", fmt.Sprintf("%d certificate(s)", len(h.X5C)))
		}
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		outClaims(w, m, "  ")
	}
	if claims != nil {
		fmt.Fprintln(w, "\nclaims:")
		outClaims(w, claims, "  ")
	}
}

// readGPUEvidence reads an evidence list: a JSON array of {arch,
// certificate, evidence} or an object with "evidence_list" or "evidence".
func readGPUEvidence(b []byte) ([]client.GPUEvidence, error) {
	var list []client.GPUEvidence
	if err := json.Unmarshal(b, &list); err == nil {
		return list, nil
	}
	var obj struct {
		EvidenceList []client.GPUEvidence `json:"evidence_list"`
		Evidence     []client.GPUEvidence `json:"evidence"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("not a GPU evidence list: %w", err)
	}
	return append(obj.EvidenceList, obj.Evidence...), nil
}

package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/alwaysencrypted"
	"github.com/avowhq/avow/alwaysencrypted/aesim"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/token"
)

func init() { commands = append(commands, newAECmd) }

func newAECmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ae",
		Short: "Always Encrypted enclave attestation as the SQL drivers do it: parameters, a simulated SQL Server enclave, the drivers' checks",
		Long: `Play the three parts of an Always Encrypted attestation with secure enclaves (AAS
protocol, SGX) without SQL Server or a driver:

  avow ae params  --url ATTEST_URL --out params.bin --key-out client-key.pem   (the driver)
  avow ae enclave --params params.bin --out info.bin                          (SQL Server's enclave)
  avow ae verify  info.bin --params params.bin --key client-key.pem           (the driver)

ae verify runs every check of Microsoft.Data.SqlClient and mssql-jdbc in order and
prints each outcome: whether a driver would accept the enclave attested by the
provider at ATTEST_URL. See docs/always-encrypted.md.`,
	}
	cmd.AddCommand(newAEParamsCmd(), newAEEnclaveCmd(), newAEVerifyCmd())
	return cmd
}

// aeParamsOutput is the JSON output of ae params.
type aeParamsOutput struct {
	URL        string `json:"url"`
	Params     string `json:"params"`
	ParamsSize int    `json:"params_size"`
	Key        string `json:"key"`
}

func newAEParamsCmd() *cobra.Command {
	var attestURL, out, keyOut, output string
	cmd := &cobra.Command{
		Use:   "params --url ATTEST_URL --out params.bin --key-out client-key.pem",
		Short: "Write a driver's attestation parameters: the URL, a fresh nonce and a fresh P-384 key",
		Long: `Write the @attestationParameters a driver sends to SQL Server (protocol AAS, the
attestation URL in UTF-16LE, 256 random bytes of nonce, a new P-384 public key) and
the client's private key as PKCS #8 PEM (mode 0600): ae verify needs both.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r := &remote{output: output}
			if err := r.checkOutput(); err != nil {
				return err
			}
			if u, err := url.Parse(attestURL); err != nil || !u.IsAbs() || u.Host == "" {
				return fmt.Errorf("--url %q is not an absolute URL such as https://contoso.eus.attest.azure.net/attest/SgxEnclave", attestURL)
			}
			p, key, err := alwaysencrypted.NewParams(attestURL)
			if err != nil {
				return errors.New(errs.Detail(err))
			}
			pemKey, err := alwaysencrypted.MarshalClientKey(key)
			if err != nil {
				return err
			}
			b := p.Marshal()
			if err := os.WriteFile(out, b, 0o644); err != nil {
				return err
			}
			if err := os.WriteFile(keyOut, pemKey, 0o600); err != nil {
				return err
			}
			return r.emit(cmd, aeParamsOutput{URL: attestURL, Params: out, ParamsSize: len(b), Key: keyOut}, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %s (%d bytes: protocol AAS, URL, 256-byte nonce, P-384 public key)\n", out, len(b))
				fmt.Fprintf(w, "wrote %s (the client's private key; ae verify needs it)\n", keyOut)
			})
		},
	}
	cmd.Flags().StringVar(&attestURL, "url", "", "enclave attestation URL as a driver is configured with it (required)")
	cmd.Flags().StringVar(&out, "out", "", "parameters file to write (required)")
	cmd.Flags().StringVar(&keyOut, "key-out", "", "client private key file to write, PEM (required)")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	for _, f := range []string{"url", "out", "key-out"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}

// aeEnclaveOutput is the JSON output of ae enclave.
type aeEnclaveOutput struct {
	EnclaveType      string `json:"enclave_type"`
	SessionID        int64  `json:"session_id"`
	SessionKeySHA256 string `json:"session_key_sha256"`
	AttestURI        string `json:"attest_uri"`
	Info             string `json:"info"`
}

func newAEEnclaveCmd() *cobra.Command {
	var paramsPath, out, simDir, mrsigner, mrenclave string
	var productID, svn uint16
	var debug bool
	cmd := &cobra.Command{
		Use:   "enclave --params params.bin --out info.bin [--ca-cert PEM] [--mrsigner HEX --product-id N --svn N --debug] [--sim-dir DIR]",
		Short: "Answer attestation parameters as a simulated SQL Server enclave: attest, sign a session key, write the attestation info",
		Long: `Act as SQL Server's SGX enclave for the client's parameters: fold the client's nonce
into a new RSA-4096 identity key (XOR), make a quote on the simulated platform whose
report data binds those bytes, have it attested by the parameters' attestation URL with
the bytes as Binary runtime data, sign a new P-384 key with the RSA key, and write the
attestation info blob SQL Server would return.

The enclave identity defaults to SQL Server's (MRSIGNER e31c9e50…, product id 4639,
SVN 2, not debuggable), which satisfies the recommended policy; change it to see the
policy refuse. The attestation service must trust the simulated platform: start it with
` + "`avow serve --dev`" + ` and the same --sim-dir.

Prints the session id and SHA-256 of the session key (never the key). Exit status: 0
attested, 1 the service refused the enclave (no attestation info is written), 2 usage or
connection error.`,
		Args: cobra.NoArgs,
	}
	r := remoteFlags(cmd, false)
	cmd.Flags().StringVar(&paramsPath, "params", "", "attestation parameters `file` written by 'avow ae params' (required)")
	cmd.Flags().StringVar(&out, "out", "", "attestation info file to write (required)")
	cmd.Flags().StringVar(&simDir, "sim-dir", "", "simulated platform folder (default $AVOW_SIM_DIR, else ./avow-sim)")
	cmd.Flags().StringVar(&mrsigner, "mrsigner", aesim.SQLServerMRSignerHex, "enclave MRSIGNER, 64 hex characters")
	cmd.Flags().StringVar(&mrenclave, "mrenclave", "", "enclave MRENCLAVE, 64 hex characters (default the simulator's)")
	cmd.Flags().Uint16Var(&productID, "product-id", aesim.SQLServerProductID, "enclave ISV product id")
	cmd.Flags().Uint16Var(&svn, "svn", aesim.SQLServerSVN, "enclave ISV SVN")
	cmd.Flags().BoolVar(&debug, "debug", false, "make a debuggable enclave")
	_ = cmd.MarkFlagRequired("params")
	_ = cmd.MarkFlagRequired("out")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		id := aesim.Identity{ProductID: productID, SVN: svn, Debug: debug}
		if err := hex32(&id.MRSigner, mrsigner, "--mrsigner"); err != nil {
			return err
		}
		if mrenclave != "" {
			if err := hex32(&id.MREnclave, mrenclave, "--mrenclave"); err != nil {
				return err
			}
		}
		params, err := os.ReadFile(paramsPath)
		if err != nil {
			return err
		}
		if _, err := alwaysencrypted.ParseParams(params); err != nil {
			return fmt.Errorf("%s: %s", paramsPath, outErrorText(err))
		}
		c, err := r.client(false)
		if err != nil {
			return err
		}
		if simDir == "" {
			simDir = os.Getenv("AVOW_SIM_DIR")
		}
		if simDir == "" {
			simDir = simDefaultDir
		}
		platform, err := sgxsim.Open(simDir)
		if err != nil {
			return err
		}
		e, err := aesim.New(aesim.Options{Platform: platform, Client: c, Identity: &id})
		if err != nil {
			return err
		}
		ctx, cancel := r.context(cmd)
		defer cancel()
		s, err := e.Attest(ctx, params)
		if err != nil {
			var ce *client.Error
			if errors.As(err, &ce) {
				return r.fail(cmd, ce)
			}
			return connectionError(err)
		}
		if err := os.WriteFile(out, s.Info, 0o644); err != nil {
			return err
		}
		res := aeEnclaveOutput{EnclaveType: "sgx", SessionID: s.ID, SessionKeySHA256: sha256Hex(s.Key), AttestURI: s.AttestURI, Info: out}
		return r.emit(cmd, res, func(w io.Writer) {
			outFields(w, "attested by", s.AttestURI, "enclave type", "sgx", "session id", fmt.Sprint(s.ID),
				"session key sha256", res.SessionKeySHA256, "attestation info", fmt.Sprintf("%s (%d bytes)", out, len(s.Info)))
		})
	}
	return cmd
}

func hex32(dst *[32]byte, s, flag string) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("%s %q: must be 64 hex characters (32 bytes)", flag, s)
	}
	copy(dst[:], b)
	return nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// aeVerifyOutput is the JSON output of ae verify.
type aeVerifyOutput struct {
	Result           string                  `json:"result"` // "ok" or the error code
	Message          string                  `json:"message"`
	AttestationURL   string                  `json:"attestation_url"`
	InstanceURL      string                  `json:"instance_url,omitempty"`
	EnclaveType      string                  `json:"enclave_type,omitempty"`
	SessionID        int64                   `json:"session_id"`
	KeysRefreshed    bool                    `json:"keys_refreshed"`
	Checks           []alwaysencrypted.Check `json:"checks"`
	Header           *token.Header           `json:"header,omitempty"`
	Claims           map[string]any          `json:"claims,omitempty"`
	SessionKeySHA256 string                  `json:"session_key_sha256,omitempty"`
}

func newAEVerifyCmd() *cobra.Command {
	var paramsPath, keyPath, issuer, at string
	var retryWait time.Duration
	cmd := &cobra.Command{
		Use:   "verify INFO --params params.bin --key client-key.pem [--ca-cert PEM]",
		Short: "Check an attestation info blob as Microsoft.Data.SqlClient and mssql-jdbc do, and derive the session key",
		Long: `Run the client side of an AAS enclave attestation on INFO (the attestation info blob,
or "-" for standard input), with the parameters and client key of ` + "`avow ae params`" + `:
every check of Microsoft.Data.SqlClient and mssql-jdbc in order (the union of both:
the signing keys from {instance}/.well-known/openid-configuration over https, kid and
x5c on every key, the RS256 signature, exp/nbf with 5 minutes of skew, iss = the
instance URL, no array claim of several elements, aas-ehd, the enclave's RSA key and
its signature on the Diffie-Hellman key), then the session key. As SqlClient, a failed
token validation other than expiry is retried once after --retry-wait with freshly
downloaded keys.

The instance URL is the scheme and host (and port) of the attestation URL: the drivers
use nothing else. --issuer replaces it, for avow's path-based providers
(https://server/providers/NAME), which no driver can use.

Exit status: 0 a driver would accept the enclave, 1 a check failed, 2 usage error.`,
		Args: cobra.ExactArgs(1),
	}
	r := remoteFlags(cmd, false)
	cmd.Flags().StringVar(&paramsPath, "params", "", "attestation parameters `file` written by 'avow ae params' (required)")
	cmd.Flags().StringVar(&keyPath, "key", "", "client private key `file` written by 'avow ae params' (required)")
	cmd.Flags().StringVar(&issuer, "issuer", "", "expected issuer and OpenID metadata location instead of the instance URL (path-based avow providers; not what drivers do)")
	cmd.Flags().StringVar(&at, "at", "now", "verification time, RFC 3339")
	cmd.Flags().DurationVar(&retryWait, "retry-wait", alwaysencrypted.DefaultRetryWait, "wait before downloading the signing keys again after a failed validation")
	_ = cmd.MarkFlagRequired("params")
	_ = cmd.MarkFlagRequired("key")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		now := remoteNow()
		if at != "now" && at != "" {
			t, err := time.Parse(time.RFC3339, at)
			if err != nil {
				return fmt.Errorf("--at %q is not an RFC 3339 time (for example 2026-01-02T15:04:05Z) or \"now\"", at)
			}
			now = t
		}
		if retryWait < 0 {
			return errors.New("--retry-wait must not be negative")
		}
		info, err := readInput(args[0])
		if err != nil {
			return err
		}
		pb, err := os.ReadFile(paramsPath)
		if err != nil {
			return err
		}
		params, err := alwaysencrypted.ParseParams(pb)
		if err != nil {
			return fmt.Errorf("%s: %s", paramsPath, outErrorText(err))
		}
		kb, err := os.ReadFile(keyPath)
		if err != nil {
			return err
		}
		key, err := alwaysencrypted.ParseClientKey(kb)
		if err != nil {
			return fmt.Errorf("%s: %s", keyPath, outErrorText(err))
		}
		c, err := r.client(false)
		if err != nil {
			return err
		}
		opts := []alwaysencrypted.Option{alwaysencrypted.WithHTTPClient(c.HTTPClient()),
			alwaysencrypted.WithClock(func() time.Time { return now }), alwaysencrypted.WithRetryWait(retryWait)}
		if issuer != "" {
			opts = append(opts, alwaysencrypted.WithIssuer(issuer))
		}
		ctx, cancel := r.context(cmd)
		defer cancel()
		rep, verr := alwaysencrypted.NewValidator(opts...).Verify(ctx, params, key, info)
		res := aeVerifyOutput{Result: "ok", Message: "a driver would accept this enclave: every SqlClient and JDBC check passed",
			AttestationURL: rep.AttestationURL, InstanceURL: rep.InstanceURL, EnclaveType: rep.EnclaveType, SessionID: rep.SessionID,
			KeysRefreshed: rep.KeysRefreshed, Checks: rep.Checks, Header: rep.Header, Claims: rep.Claims}
		if verr != nil {
			res.Result, res.Message = errs.Code(verr), errs.Detail(verr)
		} else {
			res.SessionKeySHA256 = sha256Hex(rep.SessionKey)
		}
		if err := r.emit(cmd, res, func(w io.Writer) { printAEVerify(w, res) }); err != nil {
			return err
		}
		if verr != nil {
			return exitError{1}
		}
		return nil
	}
	return cmd
}

func printAEVerify(w io.Writer, res aeVerifyOutput) {
	if res.Result == "ok" {
		fmt.Fprintln(w, "ACCEPTED: "+res.Message)
	} else {
		fmt.Fprintf(w, "REFUSED: %s: %s\n", res.Result, res.Message)
	}
	kv := []string{"attestation URL", res.AttestationURL, "instance URL", outDash(res.InstanceURL), "enclave type", outDash(res.EnclaveType)}
	if res.EnclaveType != "" {
		kv = append(kv, "session id", fmt.Sprint(res.SessionID))
	}
	if res.SessionKeySHA256 != "" {
		kv = append(kv, "session key sha256", res.SessionKeySHA256)
	}
	outFields(w, kv...)
	fmt.Fprintln(w)
	rows := make([][]string, 0, len(res.Checks))
	for _, c := range res.Checks {
		result := strings.ToUpper(c.Result)
		if c.Code != "" {
			result += " " + c.Code
		}
		rows = append(rows, []string{c.Name, c.Driver, result, c.Detail})
	}
	outTable(w, []string{"CHECK", "DRIVER", "RESULT", "DETAIL"}, rows)
	printTokenParts(w, res.Header, res.Claims)
}

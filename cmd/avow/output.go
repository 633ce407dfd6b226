package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/errs"
)

// Environment variables of the commands that talk to a server.
const (
	envServer = "AVOW_SERVER"
	envToken  = "AVOW_TOKEN"
	envCACert = "AVOW_CA_CERT"
)

// remoteNow is the clock of token verification in attest --verify and
// token verify (without --at); tests replace it.
var remoteNow = time.Now

// remote holds the connection and output flags shared by the commands that
// talk to an avow server (provider, policy get/set/reset, signer, attest,
// token verify, admin, collateral).
type remote struct {
	server   string
	token    string
	caCert   string
	insecure bool
	output   string
	timeout  time.Duration
}

// remoteFlags adds the flags to cmd. withServer adds --server and --token
// (token verify talks to an issuer, not to a server).
func remoteFlags(cmd *cobra.Command, withServer bool) *remote {
	r := &remote{}
	f := cmd.Flags()
	if withServer {
		f.StringVar(&r.server, "server", "", "avow server URL, e.g. https://localhost:8443 (default $"+envServer+")")
		f.StringVar(&r.token, "token", "", "admin bearer token (default $"+envToken+")")
	}
	f.StringVar(&r.caCert, "ca-cert", "", "PEM certificate(s) to trust besides the system roots, e.g. the server's self-signed certificate (default $"+envCACert+")")
	f.BoolVar(&r.insecure, "insecure-skip-verify", false, "do not verify the server's TLS certificate (development only)")
	f.StringVarP(&r.output, "output", "o", "table", "output format: table or json")
	f.DurationVar(&r.timeout, "timeout", 60*time.Second, "time limit for the whole command")
	return r
}

// client validates the flags, applies the environment and returns a client.
// needServer: the command addresses the server (management or a provider
// given by name). extra options are added last.
func (r *remote) client(needServer bool, extra ...client.Option) (*client.Client, error) {
	if err := r.checkOutput(); err != nil {
		return nil, err
	}
	if r.server == "" {
		r.server = os.Getenv(envServer)
	}
	if r.token == "" {
		r.token = os.Getenv(envToken)
	}
	if r.caCert == "" {
		r.caCert = os.Getenv(envCACert)
	}
	if needServer && r.server == "" {
		return nil, fmt.Errorf("no server: pass --server URL or set %s", envServer)
	}
	opts := []client.Option{client.WithToken(r.token)}
	if r.caCert != "" {
		pemCerts, err := os.ReadFile(r.caCert)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
		pool, err := client.CertPoolFromPEM(pemCerts)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert %s: no PEM certificate found", r.caCert)
		}
		opts = append(opts, client.WithRootCAs(pool))
	}
	if r.insecure {
		opts = append(opts, client.WithInsecureSkipVerify())
	}
	return client.New(r.server, append(opts, extra...)...)
}

func (r *remote) checkOutput() error {
	switch r.output {
	case "table", "text", "json":
		return nil
	}
	return fmt.Errorf("--output must be table or json, not %q", r.output)
}

func (r *remote) json() bool { return r.output == "json" }

func (r *remote) context(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if r.timeout > 0 {
		return context.WithTimeout(ctx, r.timeout)
	}
	return context.WithCancel(ctx)
}

// attestURI resolves a provider argument: a full attest URI is used as is,
// a name becomes the attest URI the server publishes for it
// ({server}/providers/{name}, or https://NAME.DOMAIN on a server with
// host-named providers).
func (r *remote) attestURI(ctx context.Context, c *client.Client, arg string) (string, error) {
	if strings.Contains(arg, "://") {
		return strings.TrimRight(arg, "/"), nil
	}
	if c.BaseURL() == "" {
		return "", fmt.Errorf("provider %q is a name: pass --server URL (or set %s), or give the full attest URI", arg, envServer)
	}
	return c.ProviderAttestURI(ctx, arg)
}

// needsServer reports whether a provider argument is a name (and so needs
// the server address).
func needsServer(arg string) bool { return !strings.Contains(arg, "://") }

// remoteErrorJSON is the JSON output of a refused request.
type remoteErrorJSON struct {
	Error remoteErrorBody `json:"error"`
}

type remoteErrorBody struct {
	Status    int    `json:"status,omitempty"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
}

// do runs the body of a command that calls the server: the client from
// the flags, the command's time limit, and an error of call reported as
// every command reports it (fail: the server's refusal with its code and
// request id, or what went wrong with the connection).
func (r *remote) do(cmd *cobra.Command, call func(ctx context.Context, c *client.Client) error) error {
	c, err := r.client(true)
	if err != nil {
		return err
	}
	ctx, cancel := r.context(cmd)
	defer cancel()
	if err := call(ctx, c); err != nil {
		return r.fail(cmd, err)
	}
	return nil
}

// doProvider is do for a command whose argument is a provider name or an
// attest URI (attestURI): call gets the provider's attest URI.
func (r *remote) doProvider(cmd *cobra.Command, provider string, call func(ctx context.Context, c *client.Client, uri string) error) error {
	c, err := r.client(needsServer(provider))
	if err != nil {
		return err
	}
	ctx, cancel := r.context(cmd)
	defer cancel()
	uri, err := r.attestURI(ctx, c, provider)
	if err != nil {
		return r.fail(cmd, err)
	}
	if err := call(ctx, c, uri); err != nil {
		return r.fail(cmd, err)
	}
	return nil
}

// fail turns err into the command's result: a refusal by the server is
// printed (code and message; as JSON on standard output too with --output
// json) and exits 1; anything else (connection, TLS, unreadable input)
// exits 2 through run.
func (r *remote) fail(cmd *cobra.Command, err error) error {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return connectionError(err)
	}
	code := ce.Code
	if code == "" {
		code = fmt.Sprintf("http_%d", ce.Status)
	}
	msg := fmt.Sprintf("avow: the server refused (%d %s): %s", ce.Status, code, ce.Message)
	if ce.RequestID != "" {
		msg += " [request id " + ce.RequestID + "]"
	}
	fmt.Fprintln(cmd.ErrOrStderr(), msg)
	if r.json() {
		_ = outputJSON(cmd.OutOrStdout(), remoteErrorJSON{remoteErrorBody{ce.Status, code, ce.Message, ce.RequestID}})
	}
	return exitError{1}
}

// connectionError explains transport failures: the URL without its query,
// and what to do about an untrusted server certificate.
func connectionError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	u := ue.URL
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i]
	}
	msg := fmt.Sprintf("cannot reach %s: %v", u, ue.Err)
	var ua x509.UnknownAuthorityError
	var hv x509.HostnameError
	if errors.As(err, &ua) || errors.As(err, &hv) {
		msg += " (pass --ca-cert with the server's certificate, e.g. the tls certificate in its data folder, or --insecure-skip-verify for development)"
	}
	return errors.New(msg)
}

// emit writes v as JSON with --output json, else calls table.
func (r *remote) emit(cmd *cobra.Command, v any, table func(w io.Writer)) error {
	if r.json() {
		return outputJSON(cmd.OutOrStdout(), v)
	}
	var buf bytes.Buffer
	table(&buf)
	_, err := cmd.OutOrStdout().Write(buf.Bytes())
	return err
}

// outputJSON writes v indented, HTML characters unescaped.
func outputJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// outTable writes aligned columns; rows are tab-separated cells.
func outTable(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush()
}

// outFields writes "key:  value" lines, aligned.
func outFields(w io.Writer, kv ...string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[i], kv[i+1])
	}
	tw.Flush()
}

// outTime formats a time for tables (UTC, RFC 3339), "-" when zero.
func outTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func outDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// outClaim renders a claim value on one line: strings as is, numbers,
// booleans and objects as compact JSON.
func outClaim(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// outClaims writes claims sorted by name, indented.
func outClaims(w io.Writer, claims map[string]any, indent string) {
	names := make([]string, 0, len(claims))
	for k := range claims {
		names = append(names, k)
	}
	sort.Strings(names)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, k := range names {
		fmt.Fprintf(tw, "%s%s:\t%s\n", indent, k, outClaim(claims[k]))
	}
	tw.Flush()
}

// readTokenArg reads TOKEN_OR_FILE: "-" is standard input, an existing
// file is read, anything else is the token itself. A file may also hold
// {"token": "..."}, the body of MAA's answers.
func readTokenArg(arg string) (string, error) {
	var data []byte
	switch {
	case arg == "-":
		b, err := readAllStdin()
		if err != nil {
			return "", err
		}
		data = b
	default:
		if b, err := os.ReadFile(arg); err == nil {
			data = b
		} else if strings.Count(arg, ".") == 2 {
			return strings.TrimSpace(arg), nil
		} else {
			return "", fmt.Errorf("%s: neither a readable file nor a token (header.payload.signature): %w", arg, err)
		}
	}
	s := strings.TrimSpace(string(data))
	if strings.HasPrefix(s, "{") {
		var body struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal([]byte(s), &body); err != nil || body.Token == "" {
			return "", fmt.Errorf("%s: JSON without a \"token\" member", arg)
		}
		s = body.Token
	}
	if s == "" {
		return "", fmt.Errorf("%s: empty", arg)
	}
	return s, nil
}

// outErrorText is the code and message of an error for tables.
func outErrorText(err error) string {
	return errs.Code(err) + ": " + errs.Detail(err)
}

// errBody is the JSON "error" member for a local error (token verification,
// for example): its code and full message.
func errBody(err error) *remoteErrorBody {
	return &remoteErrorBody{Code: errs.Code(err), Message: errs.Detail(err)}
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/api"
	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/service"
)

func init() { commands = append(commands, newServeCmd) }

func newServeCmd() *cobra.Command {
	var cfg server.Config
	var logFormat string
	var ops *opsFlags
	var colFlags *collateralFlags
	var privateNetworks, trustedProxies string
	var sharedProviders []string
	var snpMinTCB string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the attestation service",
		Long: `Run the attestation service: MAA's data plane per provider under /providers/{name},
the management API under /management, /healthz and /readyz.

HTTPS by default: a self-signed certificate is generated into the data folder on first
start (its path is printed; give it to clients). On first start an owner admin token is
printed once on a line "admin token: <token>"; only its hash is stored.

With --admin-token-file, the owner token is the file's (at least 32 characters,
surrounding white space ignored): it is registered on first start, and on an
existing installation when it is new, and the secret is not printed. A token
from the file that was revoked stays revoked: the server starts and logs a
warning.

SIGTERM or SIGINT stops the server: it logs "stopping: ...", finishes the
requests under way (at most 15s) and writes the audit records it holds, then
logs "stopped" and exits 0. A second signal stops it at once.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			logger, err := newLogger(logFormat, ops.logLevel, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := ops.apply(&cfg.Ops); err != nil {
				return err
			}
			if err := colFlags.apply(&cfg.Collateral); err != nil {
				return err
			}
			if cfg.Network.PrivateNetworks, err = api.ParsePrefixes(privateNetworks); err != nil {
				return fmt.Errorf("--private-networks: %w", err)
			}
			if cfg.Network.TrustedProxies, err = api.ParsePrefixes(trustedProxies); err != nil {
				return fmt.Errorf("--trusted-proxies: %w", err)
			}
			for _, spec := range sharedProviders {
				sp, err := service.ParseSharedProvider(spec)
				if err != nil {
					return fmt.Errorf("--shared-provider: %w", err)
				}
				cfg.SharedProviders = append(cfg.SharedProviders, sp)
			}
			if snpMinTCB != "" {
				t, err := parseSNPTCB(snpMinTCB)
				if err != nil {
					return fmt.Errorf("--snp-minimum-tcb: %w", err)
				}
				cfg.SNP.MinimumTCB = &t
			}
			cfg.Logger = logger
			procs, gogc := tuneRuntime(&cfg.Ops.Limits)
			logger.Info("runtime", "attest_workers", cfg.Ops.Limits.AttestWorkers, "gomaxprocs", procs, "gogc", gogc)
			if cfg.SimDir == "" {
				cfg.SimDir = defaultSimDir()
			}
			if cfg.StoreURL == "" {
				cfg.StoreURL = os.Getenv(server.StoreEnv)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			node, err := server.Start(ctx, cfg)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "avow listening on %s\n", node.URL)
			if !cfg.NoConsole {
				fmt.Fprintf(out, "console at %s/ui/ (sign in with an admin token)\n", node.URL)
			}
			if d := node.Service.ProviderDomain(); d != "" {
				fmt.Fprintf(out, "providers at %s\n", strings.Replace(node.Service.AttestURI("name"), "://name.", "://NAME.", 1))
			}
			if root := node.Service.RootProvider(); root != "" {
				fmt.Fprintf(out, "provider %s at %s\n", root, node.Service.AttestURI(root))
			}
			if node.CertFile != "" {
				fmt.Fprintf(out, "TLS certificate: %s\n", node.CertFile)
			}
			switch {
			case node.AdminToken != nil && cfg.AdminTokenFile != "":
				// The operator has the secret: it is not printed.
				fmt.Fprintf(out, "admin token registered from %s (role owner, id %s)\n", cfg.AdminTokenFile, node.AdminToken.ID)
			case node.AdminToken != nil:
				fmt.Fprintf(out, "admin token: %s\n", node.AdminToken.Secret)
			}
			select {
			case <-ctx.Done():
			case err := <-waitErr(node):
				return err
			}
			// From here a second signal stops the process at once.
			stop()
			logger.Info(fmt.Sprintf("stopping: %v; draining requests for at most %s (a second signal stops at once)",
				context.Cause(ctx), shutdownTimeout))
			began := time.Now()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			if err := node.Shutdown(shutdownCtx); err != nil {
				logger.Error("stopped with an error", "err", err)
				return err
			}
			logger.Info("stopped", "after", time.Since(began).Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:8443", "address to listen on")
	f.StringVar(&cfg.DataDir, "data", "avow-data", "data folder: store, key-encryption key, TLS certificate")
	f.StringVar(&cfg.PublicURL, "public-url", "", "base URL clients use (default: from --listen)")
	f.StringVar(&cfg.ProviderDomain, "provider-domain", "", "give each provider NAME its own host, https://NAME.DOMAIN[:port], as MAA does (needed by the Always Encrypted drivers; e.g. avow.localhost on loopback)")
	f.StringVar(&cfg.RootProvider, "root-provider", "", "serve this provider's data plane at the server's root: its attest URI is the public URL's origin (single-tenant)")
	f.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate PEM (default: self-signed in the data folder)")
	f.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key PEM")
	f.BoolVar(&cfg.InsecureHTTP, "insecure-http", false, "serve plain HTTP (loopback addresses only)")
	f.StringVar(&cfg.AdminTokenFile, "admin-token-file", "", "file holding an owner admin token to register (at least 32 characters; not printed; for automation)")
	f.StringVar(&cfg.KEKFile, "kek-file", "", "key-encryption key file (default: <data>/kek, created with mode 0600)")
	f.BoolVar(&cfg.Dev, "dev", false, "development mode: trust the simulated platform and load its collateral")
	f.StringVar(&cfg.SimDir, "sim-dir", "", "simulated platform folder for --dev (default $AVOW_SIM_DIR, else ./avow-sim)")
	f.StringVar(&cfg.GPUCollateral, "gpu-collateral", "", "folder of NVIDIA RIMs and OCSP answers for NvidiaGpu (from avow collateral fetch nvidia)")
	f.BoolVar(&cfg.GPUOnline, "gpu-online", false, "ask NVIDIA's RIM service and OCSP responder for GPU collateral the store and --gpu-collateral lack (NVIDIA's terms apply)")
	f.StringVar(&cfg.GPURIMService, "gpu-rim-service", "", "RIM service base URL for --gpu-online (a mirror; default NVIDIA's)")
	f.StringVar(&cfg.GPUOCSPURL, "gpu-ocsp-url", "", "OCSP responder URL for --gpu-online (a mirror; default NVIDIA's)")
	f.StringVar(&privateNetworks, "private-networks", "", "CIDRs (comma-separated) that providers with publicNetworkAccess Disabled answer to, e.g. 10.0.0.0/8,fd00::/8 (default: none)")
	f.StringVar(&cfg.Network.TrustedProxyHeader, "trusted-proxy-header", "", "header naming the client's address behind a proxy, e.g. X-Forwarded-For; read only on requests from --trusted-proxies (default: off, the peer address is the client)")
	f.StringVar(&trustedProxies, "trusted-proxies", "", "CIDRs or addresses (comma-separated) of the proxies allowed to set --trusted-proxy-header")
	f.StringArrayVar(&sharedProviders, "shared-provider", nil, "declare a shared provider NAME=LOCATION (repeatable), e.g. sharedcus=Central US: created if missing, default policies, no policy changes through the API; listed by ARM defaultProviders")
	f.StringVar(&logFormat, "log-format", "text", "log format: text or json")
	ops = addOpsFlags(cmd, &cfg.Ops)
	colFlags = addCollateralFlags(cmd, &cfg.Collateral)
	f.StringVar(&cfg.SNP.KDS, "snp-kds", "", "where SevSnpVm fetches VCEKs evidence lacks and AMD's CRLs: amd (https://kdsintf.amd.com) or a caching proxy's URL (default: none; evidence must carry its VCEK)")
	f.StringVar(&snpMinTCB, "snp-minimum-tcb", "", "lowest SEV-SNP REPORTED_TCB reported as UpToDate, as bl=N,tee=N,snp=N,ucode=N; below it OutOfDate (refused unless a provider accepts OutOfDate)")
	f.BoolVar(&cfg.SNP.RequireCRL, "snp-require-crl", false, "refuse SEV-SNP evidence without a current AMD CRL (needs --snp-kds)")
	f.StringVar(&cfg.StoreURL, "store", "", "store: sqlite:PATH or postgres://USER@HOST/DB (default $AVOW_STORE, else SQLite in the data folder)")
	f.IntVar(&cfg.DBMaxConns, "db-max-conns", 10, "PostgreSQL: connection pool size of this node")
	f.StringVar(&cfg.OIDC.Issuer, "oidc-issuer", "", "also accept JWT bearer tokens of this OpenID issuer (https URL, the tokens' exact iss)")
	f.StringVar(&cfg.OIDC.ConsoleClientID, "console-oidc-client-id", "", "OAuth client id of the web console (a public client, redirect URI {public-url}/ui/): the console then offers sign-in with --oidc-issuer (authorization code with PKCE)")
	f.BoolVar(&cfg.NoConsole, "no-console", false, "do not serve the web console at /ui/")
	f.StringVar(&cfg.OIDC.Audience, "oidc-audience", "", "audience the issuer's tokens must carry (required with --oidc-issuer)")
	f.StringVar(&cfg.OIDC.RoleClaim, "oidc-role-claim", "roles", "claim holding the caller's roles: string or array (a dotted name walks nested objects)")
	f.StringToStringVar(&cfg.OIDC.RoleMap, "oidc-role-map", nil, "claim value=avow role pairs, e.g. Attestation.Owner=owner,Attestation.Reader=reader (default: reader, policy-admin and owner as themselves)")
	f.Lookup("oidc-role-map").DefValue = "" // the empty map: pflag would add "(default [])"
	return cmd
}

// shutdownTimeout bounds how long a stopping server drains its requests and
// writes the audit records it holds.
const shutdownTimeout = 15 * time.Second

func waitErr(n *server.Node) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- n.Wait() }()
	return ch
}

func defaultSimDir() string {
	if d := os.Getenv("AVOW_SIM_DIR"); d != "" {
		return d
	}
	return "avow-sim"
}

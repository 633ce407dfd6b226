// Package server assembles a running avow node: the data folder, the
// store, the key-encryption key, the TLS certificate, the service and its
// HTTP API on a listener, development mode with the simulated platform,
// and graceful shutdown. `avow serve` and `avow quickstart` both use it.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/avowhq/avow/api"
	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/attestation/sevsnp"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/loopback"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// Config configures a node.
type Config struct {
	Listen    string // host:port; "127.0.0.1:0" picks a free port
	DataDir   string // store, key-encryption key, TLS certificate
	PublicURL string // default: derived from the listener
	// ProviderDomain gives each provider NAME its own host NAME.{domain}
	// (service.Config.ProviderDomain); the generated certificate covers
	// *.{domain}.
	ProviderDomain string
	// RootProvider serves one provider's data plane at the server's root
	// (service.Config.RootProvider).
	RootProvider string
	// Types are the attestation types served (default:
	// attestation/builtin.Registry, every type avow ships).
	Types          *attestation.Registry
	TLSCert        string // PEM files; default: a self-signed certificate in DataDir
	TLSKey         string
	InsecureHTTP   bool   // plain HTTP, only for loopback experiments
	AdminTokenFile string // initial owner token, instead of a random one
	KEKFile        string // default: DataDir/kek (created with mode 0600)
	Dev            bool   // trust the simulated platform and load its collateral
	// GPUCollateral is a folder of NVIDIA RIMs and OCSP answers (as avow
	// collateral fetch nvidia writes it) NvidiaGpu verifies with.
	GPUCollateral string
	// GPUOnline asks NVIDIA's RIM service and OCSP responder (or
	// GPURIMService and GPUOCSPURL) for what the store and the folder lack
	// (a node with a way out; NVIDIA's terms apply, docs/gpu.md).
	GPUOnline                 bool
	GPURIMService, GPUOCSPURL string
	SimDir                    string // simulated platform folder for Dev
	StoreURL                  string // "" (SQLite in DataDir), sqlite:PATH or postgres://… (see OpenStore)
	DBMaxConns                int    // PostgreSQL connection pool bound (0: the default)
	Clock                     service.Clock
	Logger                    *slog.Logger
	Ops                       Operations // audit, metrics, limits (see ops.go)
	// Collateral: sources, refresh and private trust roots (see sources.go).
	Collateral CollateralOptions
	// SNP configures the SevSnpVm type (see snp.go); used when Types is nil.
	SNP SNPOptions

	// OIDC makes the node accept JWT bearer tokens of an OpenID issuer
	// beside admin tokens (optional; see oidc.go).
	OIDC OIDCConfig
	// NoConsole turns the web console at /ui/ off (see console.go).
	NoConsole bool

	// Network declares the private networks (and trusted proxies) a
	// provider with publicNetworkAccess Disabled answers to.
	Network api.NetworkOptions
	// SharedProviders are created at start if missing and served
	// read-only with the default policies (service/shared.go).
	SharedProviders []service.SharedProvider
}

// Node is a running avow node.
type Node struct {
	URL        string                 // the public URL
	AdminToken *service.NewAdminToken // set when this start created the first token
	CertFile   string                 // the TLS certificate clients should trust ("" for plain HTTP)
	KEKCreated bool
	Service    *service.Service
	Metrics    *api.Metrics

	srv    *http.Server
	store  store.Store
	cancel context.CancelFunc
	done   chan error
}

// ErrConfig reports a configuration that cannot start.
var ErrConfig = errs.New("invalid_config", "the server configuration is invalid")

// Start opens the data folder and starts serving.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DataDir == "" {
		cfg.DataDir = "avow-data"
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, ErrConfig.Wrapf("data folder: %v", err)
	}
	warnLoosePermissions(cfg.Logger, cfg.DataDir)
	if cfg.Network.TrustedProxyHeader != "" && len(cfg.Network.TrustedProxies) == 0 {
		return nil, ErrConfig.Wrapf("--trusted-proxy-header needs --trusted-proxies: the addresses of the proxies allowed to set it")
	}
	if cfg.InsecureHTTP && !loopbackAddr(cfg.Listen) {
		return nil, ErrConfig.Wrapf("--insecure-http is only allowed on a loopback address, not %q", cfg.Listen)
	}
	kekFile := cfg.KEKFile
	if kekFile == "" {
		kekFile = filepath.Join(cfg.DataDir, "kek")
	}
	kek, kekCreated, err := token.LoadOrCreateKEK(kekFile)
	if err != nil {
		return nil, err
	}
	st, err := OpenStore(ctx, cfg.StoreURL, cfg.DataDir, cfg.DBMaxConns, cfg.Logger)
	if err != nil {
		return nil, err
	}
	cfg.Logger.Info("store opened", "store", RedactStoreURL(cfg.StoreURL))
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, ErrConfig.Wrapf("listen on %s: %v", cfg.Listen, err)
	}
	n := &Node{store: st, KEKCreated: kekCreated, done: make(chan error, 1)}
	fail := func(err error) (*Node, error) {
		ln.Close()
		st.Close()
		return nil, err
	}
	scheme := "https"
	var tlsConfig *tls.Config
	if cfg.InsecureHTTP {
		scheme = "http"
	} else {
		certFile, keyFile := cfg.TLSCert, cfg.TLSKey
		if certFile == "" {
			certFile, keyFile = filepath.Join(cfg.DataDir, "tls-cert.pem"), filepath.Join(cfg.DataDir, "tls-key.pem")
			if err := ensureSelfSigned(certFile, keyFile, certNames(cfg), cfg.Logger); err != nil {
				return fail(err)
			}
			if d := strings.Trim(cfg.ProviderDomain, "."); d != "" && !strings.Contains(d, ".") {
				cfg.Logger.Warn("the generated certificate names *."+d+", which clients built on OpenSSL (curl, Node.js, Python) refuse for a one-label domain; Go clients accept it. Use a domain of two labels or more, such as avow.localhost",
					"provider_domain", d)
			}
		}
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return fail(ErrConfig.Wrapf("TLS certificate: %v", err))
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12, CipherSuites: aeadSuites}
		n.CertFile = certFile
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = fmt.Sprintf("%s://%s", scheme, advertised(ln.Addr().(*net.TCPAddr)))
	}
	n.URL = strings.TrimRight(publicURL, "/")

	n.Metrics = api.NewMetrics()
	types := cfg.Types
	var simulatedKeys [][]byte
	var snpCollateral *snp.CachedCollateral
	var snpCfg *sevsnp.Config
	builtinTypes := types == nil
	if builtinTypes {
		clock := time.Now
		if cfg.Clock != nil {
			clock = cfg.Clock.Now
		}
		c, keys, err := cfg.SNP.snpConfig(cfg.Dev, cfg.SimDir, st, clock, cfg.Logger)
		if err != nil {
			return fail(err)
		}
		snpCfg, simulatedKeys = c, keys
		snpCollateral, _ = snpCfg.Collateral.(*snp.CachedCollateral)
	}
	svcCfg := service.Config{Store: store.Instrument(st, n.Metrics.ObserveStore), Types: types, KEK: kek, KEKSource: kekSource(kekFile, kekCreated), PublicURL: n.URL, Clock: cfg.Clock, Logger: cfg.Logger,
		ProviderDomain: cfg.ProviderDomain, RootProvider: cfg.RootProvider, SharedProviders: cfg.SharedProviders,
		Observer: n.Metrics, Audit: service.AuditConfig{Queue: cfg.Ops.AuditQueue, Disabled: cfg.Ops.NoAttestationAudit}}
	if svcCfg.OIDC, err = oidcVerifier(cfg.OIDC); err != nil {
		return fail(err)
	}
	var sim *sgxsim.Platform
	if cfg.Dev {
		if sim, err = sgxsim.Open(cfg.SimDir); err != nil {
			return fail(err)
		}
		svcCfg.ExtraRoots, svcCfg.Simulated = []*x509.Certificate{sim.Root()}, true
		svcCfg.SimulatedKeys = simulatedKeys
		cfg.Logger.Warn("development mode: trusting the simulated platform's root; tokens for simulated evidence carry x-avow-simulated", "sim_dir", cfg.SimDir)
	}
	if builtinTypes {
		// After the simulated platform: its folder holds the simulated GPU.
		gpu, keys, err := gpuType(cfg, st)
		if err != nil {
			return fail(err)
		}
		svcCfg.Types = builtin.New(builtin.Options{SevSnp: snpCfg, GPU: gpu})
		svcCfg.SimulatedKeys = append(svcCfg.SimulatedKeys, keys...)
	}
	if err := cfg.Collateral.apply(&svcCfg, cfg.Logger); err != nil {
		return fail(err)
	}
	svc, err := service.New(svcCfg)
	if err != nil {
		return fail(err)
	}
	// A node whose KEK does not open the store's keys would start and then
	// answer every attestation with 500 key_unsealing_failed: refuse now.
	if err := svc.CheckKEK(ctx); err != nil {
		if kekCreated {
			os.Remove(kekFile) // generated for this start: not a key to keep
		}
		return fail(err)
	}
	if kekCreated {
		cfg.Logger.Warn("generated a key-encryption key; back it up, without it the signing keys cannot be read", "path", kekFile)
	}
	n.Service = svc
	n.Metrics.Watch(svc)
	secret := ""
	if cfg.AdminTokenFile != "" {
		b, err := os.ReadFile(cfg.AdminTokenFile)
		if err != nil {
			return fail(ErrConfig.Wrapf("admin token file: %v", err))
		}
		secret = strings.TrimSpace(string(b))
	}
	if n.AdminToken, err = bootstrap(ctx, svc, secret, cfg.Logger); err != nil {
		return fail(err)
	}
	if err := svc.EnsureSharedProviders(ctx); err != nil {
		return fail(err)
	}
	if sim != nil {
		if err := loadSimCollateral(ctx, svc, sim); err != nil {
			return fail(err)
		}
	}

	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go svc.Run(runCtx)
	go svc.RunCollateralRefresh(runCtx)
	go runSNPRefresh(runCtx, snpCollateral, cfg.SNP.RefreshInterval, cfg.Logger)
	go svc.RunAuditRetention(runCtx, cfg.Ops.retention(), time.Hour)
	n.srv = &http.Server{
		Handler: api.NewServer(svc, cfg.Logger, api.Options{Metrics: n.Metrics, MetricsAccess: cfg.Ops.metricsAccess(cfg.Dev),
			Limits: cfg.Ops.Limits, Network: cfg.Network, Console: consoleOptions(cfg, sim)}),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: orDefault(cfg.Ops.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       orDefault(cfg.Ops.ReadTimeout, 30*time.Second),
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		var err error
		if tlsConfig != nil {
			err = n.srv.ServeTLS(ln, "", "")
		} else {
			err = n.srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		n.done <- err
	}()
	return n, nil
}

// kekSource names the KEK file in errors.
func kekSource(path string, created bool) string {
	if created {
		return path + " (generated at this start: the file did not exist)"
	}
	return path
}

// loadSimCollateral imports fresh collateral of the simulated platform for
// SGX and TDX, issued now: TCB evaluation data number 17 as the current
// collateral, and the simulated recovery's 18 pinned to its number, so that
// a policy can select either baseline (docs/tcb-baselines.md).
func loadSimCollateral(ctx context.Context, svc *service.Service, sim *sgxsim.Platform) error {
	system := &service.Principal{ID: "dev-mode", Role: "owner"}
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		col, err := sim.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: svc.Now().Add(-time.Minute)})
		if err != nil {
			return err
		}
		if _, _, err := svc.ImportCollateral(ctx, system, col, "sgxsim (--dev)"); err != nil {
			return err
		}
		rec, err := sim.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: svc.Now().Add(-time.Minute), TCBEvaluationDataNumber: sgxsim.RecoveredTCBEvaluationDataNumber})
		if err != nil {
			return err
		}
		if _, _, err := svc.ImportBaselineCollateral(ctx, system, rec, "sgxsim (--dev, recovered baseline)"); err != nil {
			return err
		}
	}
	return nil
}

// Wait blocks until the server stops and returns its error.
func (n *Node) Wait() error { return <-n.done }

// Shutdown stops accepting requests, lets running ones finish (within
// ctx), writes the queued audit records, and closes the store.
func (n *Node) Shutdown(ctx context.Context) error {
	err := n.srv.Shutdown(ctx)
	if cerr := n.Service.Close(ctx); err == nil {
		err = cerr
	}
	n.cancel()
	if cerr := n.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// HTTPClient returns a client that trusts this node's TLS certificate.
func (n *Node) HTTPClient() (*http.Client, error) {
	if n.CertFile == "" {
		return &http.Client{Timeout: 30 * time.Second, Transport: loopback.Transport()}, nil
	}
	pemBytes, err := os.ReadFile(n.CertFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("%s holds no certificate", n.CertFile)
	}
	tr := loopback.Transport()
	// HTTP/1.1, as MAA's SDKs and the load tools speak it (a clone of
	// http.DefaultTransport would force HTTP/2).
	tr.ForceAttemptHTTP2 = false
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}, nil
}

func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// advertised is the host:port clients use for a listener: localhost for
// wildcard and loopback addresses (the self-signed certificate names it).
func advertised(a *net.TCPAddr) string {
	if a.IP.IsUnspecified() || a.IP.IsLoopback() {
		return fmt.Sprintf("localhost:%d", a.Port)
	}
	return a.String()
}

// certNames are the names the generated certificate must cover beside
// localhost: the public URL's host and, with a provider domain, the domain
// and its wildcard.
func certNames(cfg Config) []string {
	var names []string
	if u, err := url.Parse(cfg.PublicURL); err == nil && u.Hostname() != "" {
		names = append(names, strings.ToLower(u.Hostname()))
	}
	if d := strings.Trim(strings.ToLower(cfg.ProviderDomain), "."); d != "" {
		names = append(names, d, "*."+d)
	}
	return names
}

// warnLoosePermissions warns when the data folder, or the secrets in it,
// can be read or changed by other users: it holds the key-encryption key,
// the sealed signing keys, the TLS key and the store.
func warnLoosePermissions(log *slog.Logger, dir string) {
	for _, p := range []string{dir, filepath.Join(dir, "kek"), filepath.Join(dir, "tls-key.pem")} {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			want := "0600"
			if fi.IsDir() {
				want = "0700"
			}
			log.Warn("other users can read or change this file or folder of the data folder; restrict it (chmod "+want+")",
				"path", p, "mode", fmt.Sprintf("%04o", mode))
		}
	}
}

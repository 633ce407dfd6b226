package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/store"
)

// avowProcess is `avow serve` running as a real process.
type avowProcess struct {
	cmd    *exec.Cmd
	url    string
	cert   string
	stderr *os.File
}

// buildAvow compiles cmd/avow once per test.
func buildAvow(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and kills a real server: skipped with -short")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build avow")
	}
	bin := filepath.Join(t.TempDir(), "avow")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/avowhq/avow/cmd/avow").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startAvow runs `avow serve` on dir and waits for its URL.
func startAvow(t *testing.T, bin, dir string, extra ...string) *avowProcess {
	t.Helper()
	args := append([]string{"serve", "--dev", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
		"--sim-dir", filepath.Join(dir, "sim"), "--admin-token-file", filepath.Join(dir, "admin-token"), "--mgmt-rate", "-1"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := os.Create(filepath.Join(dir, fmt.Sprintf("stderr-%d", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &avowProcess{cmd: cmd, stderr: stderr}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timeout := time.After(60 * time.Second)
	for p.url == "" || p.cert == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				log, _ := os.ReadFile(stderr.Name())
				t.Fatalf("avow serve exited before listening:\n%s", log)
			}
			if v, ok := strings.CutPrefix(l, "avow listening on "); ok {
				p.url = v
			}
			if v, ok := strings.CutPrefix(l, "TLS certificate: "); ok {
				p.cert = v
			}
		case <-timeout:
			t.Fatal("avow serve did not start in 60 s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	return p
}

func (p *avowProcess) client(t *testing.T, token string) *client.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(p.cert)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := client.CertPoolFromPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(p.url, client.WithToken(token), client.WithRootCAs(pool), client.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newCert(t *testing.T, cn string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

// TestCrashSafety kills `avow serve` with SIGKILL while policies, policy
// signers and providers are being changed, restarts it on the same data
// folder and checks that every change acknowledged before the kill is
// there, whole: the stored policy is exactly one of the documents sent and
// no older than the last acknowledged one, every acknowledged signer and
// provider (with its signing key) exists, and each change has its audit
// entry. Two kill/restart cycles.
func TestCrashSafety(t *testing.T) {
	bin := buildAvow(t)
	dir := t.TempDir()
	admin := "avow_crash-test-token-0123456789"
	os.WriteFile(filepath.Join(dir, "admin-token"), []byte(admin), 0o600)
	ctx := context.Background()

	srv := startAvow(t, bin, dir)
	c := srv.client(t, admin)
	signerKey, signerCert := newCert(t, "crash signer")
	if _, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "crash", TrustModel: client.TrustModelIsolated,
		PolicySigningCertificates: []*x509.Certificate{signerCert}}); err != nil {
		t.Fatal(err)
	}
	sent := map[string]int{} // policy JWS -> sequence number
	lastAckedPolicy := -1
	ackedSigners := map[string]bool{}   // thumbprint
	ackedProviders := map[string]bool{} // name
	var mu sync.Mutex
	seq := 0

	for cycle := 0; cycle < 2; cycle++ {
		uri := c.AttestURI("crash")
		stop := make(chan struct{})
		var wg sync.WaitGroup
		worker := func(f func() bool) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if !f() {
						return
					}
				}
			}()
		}
		// Policies.
		worker(func() bool {
			mu.Lock()
			seq++
			n := seq
			mu.Unlock()
			text := fmt.Sprintf("version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"seq\", value=%d); };", n)
			jws, err := policy.SignDocument(text, signerKey, []*x509.Certificate{signerCert})
			if err != nil {
				t.Error(err)
				return false
			}
			mu.Lock()
			sent[jws] = n
			mu.Unlock()
			if _, err := c.SetPolicy(ctx, uri, client.TypeSgxEnclave, jws); err != nil {
				return false // the server is gone
			}
			mu.Lock()
			lastAckedPolicy = max(lastAckedPolicy, n)
			mu.Unlock()
			return true
		})
		// Signers.
		worker(func() bool {
			_, cert := newCert(t, "added signer")
			doc, err := client.SignerChangeDocument(client.SignerAdd, cert, signerKey, signerCert)
			if err != nil {
				t.Error(err)
				return false
			}
			if _, err := c.AddSigner(ctx, uri, doc); err != nil {
				return false
			}
			mu.Lock()
			ackedSigners[store.Thumbprint(cert.Raw)] = true
			mu.Unlock()
			return true
		})
		// Providers (each with its key and audit entry in one transaction).
		worker(func() bool {
			mu.Lock()
			seq++
			name := fmt.Sprintf("p-%d", seq)
			mu.Unlock()
			if _, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: name}); err != nil {
				return false
			}
			mu.Lock()
			ackedProviders[name] = true
			mu.Unlock()
			return true
		})
		time.Sleep(1500 * time.Millisecond)
		if err := srv.cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		srv.cmd.Wait()
		close(stop)
		wg.Wait()
		mu.Lock()
		t.Logf("cycle %d: killed after %d policies (last acknowledged #%d), %d signers, %d providers acknowledged",
			cycle, len(sent), lastAckedPolicy, len(ackedSigners), len(ackedProviders))
		if lastAckedPolicy < 0 || len(ackedSigners) == 0 || len(ackedProviders) == 0 {
			t.Fatal("no change was acknowledged before the kill")
		}
		mu.Unlock()

		srv = startAvow(t, bin, dir)
		c = srv.client(t, admin)
		uri = c.AttestURI("crash")
		_, jws, err := c.GetPolicy(ctx, uri, client.TypeSgxEnclave)
		if err != nil {
			t.Fatal(err)
		}
		n, ok := sent[jws]
		if !ok {
			t.Fatalf("the stored policy is not one of the documents sent (torn?): %.200s", jws)
		}
		if n < lastAckedPolicy {
			t.Errorf("stored policy #%d is older than the last acknowledged #%d", n, lastAckedPolicy)
		}
		signers, err := c.ListSigners(ctx, uri)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]bool{}
		for _, s := range signers {
			have[store.Thumbprint(s.Raw)] = true
		}
		for tp := range ackedSigners {
			if !have[tp] {
				t.Errorf("acknowledged signer %s is missing", tp)
			}
		}
		providers, err := c.ListProviders(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, p := range providers {
			names[p.Name] = true
		}
		for name := range ackedProviders {
			if !names[name] {
				t.Errorf("acknowledged provider %s is missing", name)
				continue
			}
			keys, err := c.ListKeys(ctx, name)
			if err != nil || len(keys) != 1 || !keys[0].Active {
				t.Errorf("provider %s: keys %+v, %v", name, keys, err)
			}
		}
		// Every provider that exists, acknowledged or not, was created
		// whole: it has its key and its audit entry.
		page, err := c.ListAudit(ctx, client.AuditQuery{Kind: client.AuditManagement, Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		audited := map[string]int{}
		for _, e := range page.Entries {
			audited[e.Operation+" "+e.Provider]++
			if e.Operation == "policy.set" {
				audited["policy "+e.Details["policy_hash"]]++
			}
		}
		for name := range names {
			if name != "crash" && audited["provider.create "+name] != 1 {
				t.Errorf("provider %s has %d provider.create entries", name, audited["provider.create "+name])
			}
		}
		if audited["signer.add crash"] < len(ackedSigners) {
			t.Errorf("%d signer.add entries for %d acknowledged signers", audited["signer.add crash"], len(ackedSigners))
		}
		if audited["policy.set crash"] < lastAckedPolicy/2 {
			t.Errorf("only %d policy.set entries", audited["policy.set crash"])
		}
		doc, _ := policy.ParseDocument(jws)
		if audited["policy "+doc.PolicyHash()] == 0 {
			t.Errorf("the stored policy has no policy.set audit entry")
		}
	}
}

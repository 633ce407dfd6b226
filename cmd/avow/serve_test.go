package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/avowhq/avow/client"
)

// lockedBuffer collects a process's standard error.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// servedProcess is `avow serve` with its output, started by serveBinary.
type servedProcess struct {
	cmd    *exec.Cmd
	stdout []string // the lines up to "TLS certificate: ..."
	stderr *lockedBuffer
	exited chan error
}

// serveBinary runs `avow serve --listen 127.0.0.1:0 args...` in dir and
// returns once it has printed its URL and certificate.
func serveBinary(t *testing.T, bin, dir string, args ...string) *servedProcess {
	t.Helper()
	p := &servedProcess{stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	p.cmd.Dir = dir
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		for range lines {
		}
	})
	// The admin token line, when there is one, follows the certificate's
	// at once.
	timeout, grace := time.After(60*time.Second), (<-chan time.Time)(nil)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("avow serve exited before listening:\n%s", p.stderr)
			}
			p.stdout = append(p.stdout, l)
			if strings.HasPrefix(l, "TLS certificate: ") {
				grace = time.After(500 * time.Millisecond)
			}
			if !strings.HasPrefix(l, "admin token") {
				continue
			}
		case <-grace:
		case <-timeout:
			t.Fatalf("avow serve did not start in 60 s:\n%s", p.stderr)
		}
		if grace != nil {
			go func() {
				for range lines {
				}
			}()
			return p
		}
	}
}

// line returns the value of the first stdout line with the prefix.
func (p *servedProcess) line(prefix string) string {
	for _, l := range p.stdout {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return ""
}

// stop sends sig and waits for the process to exit.
func (p *servedProcess) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case err := <-p.exited:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("avow serve did not stop 30 s after %v:\n%s", sig, p.stderr)
		return nil
	}
}

func (p *servedProcess) client(t *testing.T, dir, token string) *client.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(filepath.Join(dir, p.line("TLS certificate: ")))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := client.CertPoolFromPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(p.line("avow listening on "), client.WithToken(token), client.WithRootCAs(pool),
		client.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestServeSignals: avow serve says that it is stopping and that it has
// stopped, on SIGTERM and on SIGINT, and exits 0.
func TestServeSignals(t *testing.T) {
	bin := buildAvow(t)
	for _, sig := range []os.Signal{syscall.SIGTERM, os.Interrupt} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			p := serveBinary(t, bin, dir)
			if err := p.stop(t, sig); err != nil {
				t.Errorf("exit after %v: %v\n%s", sig, err, p.stderr)
			}
			log := p.stderr.String()
			stopping := "stopping: " + sig.String() + " signal received; draining requests for at most 15s"
			i, j := strings.Index(log, stopping), strings.Index(log, "msg=stopped ")
			if i < 0 || j < i {
				t.Errorf("the log lacks %q, then \"stopped\":\n%s", stopping, log)
			}
		})
	}
}

// TestServeRecoverOwnerToken is the README's way back in when the owner
// token printed on first start is lost: restart on the same data folder with
// --admin-token-file; the file's token is registered as a new owner token
// and the providers are still there.
func TestServeRecoverOwnerToken(t *testing.T) {
	bin := buildAvow(t)
	dir := t.TempDir()
	ctx := context.Background()

	p := serveBinary(t, bin, dir)
	printed := p.line("admin token: ")
	if printed == "" {
		t.Fatalf("first start printed no admin token: %q", p.stdout)
	}
	if _, err := p.client(t, dir, printed).CreateProvider(ctx, client.CreateProviderRequest{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// The printed token is lost; the operator writes a new one.
	secret := "avow_recovered_owner_token_0123456789abcdef"
	if err := os.WriteFile(filepath.Join(dir, "owner-token"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p = serveBinary(t, bin, dir, "--admin-token-file", "owner-token")
	if v := p.line("admin token registered from "); !strings.HasPrefix(v, "owner-token (role owner") {
		t.Errorf("restart with --admin-token-file printed %q", p.stdout)
	}
	c := p.client(t, dir, secret)
	if _, err := c.GetProvider(ctx, "kept"); err != nil {
		t.Errorf("the recovered token cannot read the provider: %v", err)
	}
	// Owner rights: it lists (and could revoke) the lost token.
	toks, err := c.ListAdminTokens(ctx)
	if err != nil || len(toks) != 2 {
		t.Errorf("admin tokens with the recovered owner token: %v %v", toks, err)
	}
	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Error(err)
	}
}

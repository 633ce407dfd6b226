package server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
	"github.com/jackc/pgx/v5"

	"github.com/avowhq/avow/internal/testenv"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/token"
)

// The multi-node tests run real `avow serve` processes on one PostgreSQL
// database: AVOW_TEST_POSTGRES names it (.ci/postgres starts a throw-away
// cluster), each test uses a new schema.

// pgSchema is a throw-away schema for the nodes of one test.
func pgSchema(t testing.TB) (string, string) { return testenv.PostgresSchema(t, "avow_nodes") }

// buildAvow builds the avow command into a temporary folder.
func buildAvow(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "avow")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/avowhq/avow/cmd/avow").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// avowProc is a running `avow serve`.
type avowProc struct {
	name   string
	cmd    *exec.Cmd
	URL    string
	HTTP   *http.Client
	out    *testenv.SyncBuffer
	exited chan struct{}
}

// startAvow starts `avow serve args...` and returns once it prints its URL
// (the caller waits for several at once with wait).
func startAvow(t *testing.T, name, bin string, args ...string) *avowProc {
	t.Helper()
	p := &avowProc{name: name, out: &testenv.SyncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	p.cmd.Stderr = p.out
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
			fmt.Fprintln(p.out, sc.Text())
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(15 * time.Second):
				p.cmd.Process.Kill()
				<-p.exited
			}
		}
		if t.Failed() {
			t.Logf("--- %s output:\n%s", p.name, p.out.String())
		}
	})
	var cert string
	deadline := time.After(60 * time.Second)
	for p.URL == "" || (cert == "" && strings.HasPrefix(p.URL, "https")) {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before listening:\n%s", name, p.out.String())
			}
			if u, ok := strings.CutPrefix(line, "avow listening on "); ok {
				p.URL = u
			}
			if c, ok := strings.CutPrefix(line, "TLS certificate: "); ok {
				cert = c
			}
		case <-deadline:
			t.Fatalf("%s did not start within 60s:\n%s", name, p.out.String())
		}
	}
	p.HTTP = &http.Client{Timeout: 30 * time.Second}
	if cert != "" {
		pemBytes, err := os.ReadFile(cert)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pemBytes)
		p.HTTP.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 16}
	}
	return p
}

// do sends a request with the admin token and decodes a JSON answer into
// out (when not nil); it returns the status, the x-ms-request-id and the
// body.
func (p *avowProc) do(method, path, admin string, body any, out any) (int, string, []byte, error) {
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body) // a string is sent as a JSON string
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, p.URL+path, rd)
	if err != nil {
		return 0, "", nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if admin != "" {
		req.Header.Set("Authorization", "Bearer "+admin)
	}
	resp, err := p.HTTP.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", nil, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, "", raw, err
		}
	}
	return resp.StatusCode, resp.Header.Get("x-ms-request-id"), raw, nil
}

const attestPath = "/providers/contoso/attest/SgxEnclave?api-version=2022-08-01"

// attest posts a quote; it returns the status, the token and the request id.
func (p *avowProc) attest(quote []byte) (int, string, string, error) {
	var res struct{ Token string }
	status, id, _, err := p.do("POST", attestPath, "", map[string]string{"quote": base64.RawURLEncoding.EncodeToString(quote)}, &res)
	return status, res.Token, id, err
}

// certs returns the node's JWKS for contoso.
func (p *avowProc) certs(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	var set jose.JSONWebKeySet
	if status, _, raw, err := p.do("GET", "/providers/contoso/certs", "", nil, &set); err != nil || status != 200 {
		t.Fatalf("%s /certs: %d %v %s", p.name, status, err, raw)
	}
	return set
}

// verifyWith checks tok's signature with a key of set and returns its kid.
func verifyWith(t *testing.T, tok string, set jose.JSONWebKeySet) string {
	t.Helper()
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	kid := parsed.Headers[0].KeyID
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("kid %s is not in the JWKS", kid)
	}
	var claims josejwt.Claims
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		t.Fatalf("token with kid %s: %v", kid, err)
	}
	return kid
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return parsed.Headers[0].KeyID
}

// within polls check until it returns true, and returns how long that
// took; it fails t after limit.
func within(t *testing.T, what string, limit time.Duration, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

// TestMultiNode: three `avow serve` processes share one PostgreSQL
// database. A policy set through node 1 is enforced by nodes 2 and 3
// within a second; a key rotated through node 3 is used by every node
// within a second, and every node's tokens verify against every node's
// /certs; when node 3 is killed during a stream of attestations, nodes 1
// and 2 answer every request, and nothing node 3 wrote before is lost.
func TestMultiNode(t *testing.T) {
	storeURL, schema := pgSchema(t)
	dir := t.TempDir()
	bin := buildAvow(t)
	ctx := context.Background()

	// What the nodes share: the database, the key-encryption key, the
	// owner token and the simulated platform.
	if _, _, err := token.LoadOrCreateKEK(filepath.Join(dir, "kek")); err != nil {
		t.Fatal(err)
	}
	rb := make([]byte, 16)
	rand.Read(rb)
	admin := "avow_multinode_" + hex.EncodeToString(rb)
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte(admin), 0o600); err != nil {
		t.Fatal(err)
	}
	sim, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	// Three nodes start at once on the empty database: the migrations and
	// the owner token are applied once.
	nodes := make([]*avowProc, 3)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i] = startAvow(t, fmt.Sprintf("node %d", i+1), bin, "--listen", "127.0.0.1:0",
				"--data", filepath.Join(dir, fmt.Sprintf("node%d", i+1)), "--store", storeURL, "--db-max-conns", "4",
				"--kek-file", filepath.Join(dir, "kek"), "--admin-token-file", filepath.Join(dir, "admin-token"),
				"--dev", "--sim-dir", filepath.Join(dir, "sim"))
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	printed := 0
	for _, n := range nodes {
		if status, _, raw, err := n.do("GET", "/readyz", "", nil, nil); err != nil || status != 200 {
			t.Fatalf("%s /readyz: %d %v %s", n.name, status, err, raw)
		}
		// The node that stored the token from the file says so, without
		// printing it; the others found it there.
		if strings.Contains(n.out.String(), "admin token registered from ") {
			printed++
		}
		if strings.Contains(n.out.String(), admin) {
			t.Errorf("%s printed the admin token from the file", n.name)
		}
	}
	if printed != 1 {
		t.Errorf("%d nodes stored the admin token from the file, want 1", printed)
	}

	// A provider created through node 1; nodes 2 and 3 attest with the
	// default policy (and cache it).
	if status, _, raw, err := n1.do("POST", "/management/providers", admin, map[string]string{"name": "contoso"}, nil); err != nil || status != 201 {
		t.Fatalf("create provider: %d %v %s", status, err, raw)
	}
	svn1, _ := sim.Quote(sgxsim.QuoteOptions{ISVSVN: 1})
	svn2, _ := sim.Quote(sgxsim.QuoteOptions{ISVSVN: 2})
	var tokens []string
	for _, n := range nodes {
		status, tok, _, err := n.attest(svn1)
		if err != nil || status != 200 {
			t.Fatalf("%s attest before the policy: %d %v", n.name, status, err)
		}
		tokens = append(tokens, tok)
	}

	// A policy set through node 1 is enforced by nodes 2 and 3 within 1 s.
	text := `version=1.0; authorizationrules { c:[type=="x-ms-sgx-svn", value>=2] => permit(); }; issuancerules { c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value); };`
	status, _, raw, err := n1.do("PUT", "/providers/contoso/policies/SgxEnclave?api-version=2022-08-01", admin, policy.UnsignedDocument(text), nil)
	if err != nil || status != 200 {
		t.Fatalf("set policy: %d %v %s", status, err, raw)
	}
	var enforce sync.WaitGroup
	for _, n := range []*avowProc{n2, n3} {
		enforce.Add(1)
		go func() {
			defer enforce.Done()
			took := within(t, n.name+" enforces the new policy", time.Second, func() bool {
				status, _, _, err := n.attest(svn1)
				return err == nil && status == 400
			})
			t.Logf("%s enforced the policy set through node 1 after %v", n.name, took.Round(time.Millisecond))
		}()
	}
	enforce.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for _, n := range nodes {
		status, tok, _, err := n.attest(svn2)
		if err != nil || status != 200 {
			t.Fatalf("%s attest svn 2: %d %v", n.name, status, err)
		}
		tokens = append(tokens, tok)
	}
	oldKID := kidOf(t, tokens[0])

	// A key rotated through node 3 signs on every node within 1 s.
	var rotated struct{ KID string }
	if status, _, raw, err := n3.do("POST", "/management/providers/contoso/keys:rotate", admin, nil, &rotated); err != nil || status != 200 || rotated.KID == "" {
		t.Fatalf("rotate: %d %v %s", status, err, raw)
	}
	for _, n := range []*avowProc{n1, n2} {
		took := within(t, n.name+" signs with the rotated key", time.Second, func() bool {
			status, tok, _, err := n.attest(svn2)
			return err == nil && status == 200 && kidOf(t, tok) == rotated.KID
		})
		t.Logf("%s signed with the key rotated through node 3 after %v", n.name, took.Round(time.Millisecond))
	}
	for _, n := range nodes {
		_, tok, _, _ := n.attest(svn2)
		tokens = append(tokens, tok)
	}
	// With the notification connections of every node cut, a change is
	// still enforced everywhere within 1 s (the listeners reconnect, and
	// the nodes poll the change counter meanwhile).
	conn, err := pgx.Connect(ctx, storeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var cut int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		"avow-notify:"+schema).Scan(&cut); err != nil || cut != 3 {
		t.Fatalf("cut %d notification connections, want 3: %v", cut, err)
	}
	setPolicy := func(minSVN int) {
		t.Helper()
		text := fmt.Sprintf(`version=1.0; authorizationrules { c:[type=="x-ms-sgx-svn", value>=%d] => permit(); };`, minSVN)
		status, _, raw, err := n1.do("PUT", "/providers/contoso/policies/SgxEnclave?api-version=2022-08-01", admin, policy.UnsignedDocument(text), nil)
		if err != nil || status != 200 {
			t.Fatalf("set policy: %d %v %s", status, err, raw)
		}
	}
	setPolicy(3)
	for _, n := range []*avowProc{n2, n3} {
		took := within(t, n.name+" enforces a policy without notifications", time.Second, func() bool {
			status, _, _, err := n.attest(svn2)
			return err == nil && status == 400
		})
		t.Logf("%s enforced a policy set while its notification connection was cut after %v", n.name, took.Round(time.Millisecond))
	}
	setPolicy(2)
	for _, n := range nodes {
		within(t, n.name+" enforces the policy again", time.Second, func() bool {
			status, _, _, err := n.attest(svn2)
			return err == nil && status == 200
		})
	}

	// Every token of every node, old key or new, verifies against every
	// node's /certs.
	kids := map[string]int{}
	for _, n := range nodes {
		set := n.certs(t)
		if len(set.Keys) != 2 {
			t.Errorf("%s /certs lists %d keys, want the active and the retired one", n.name, len(set.Keys))
		}
		for _, tok := range tokens {
			kids[verifyWith(t, tok, set)]++
		}
	}
	if kids[oldKID] == 0 || kids[rotated.KID] == 0 {
		t.Errorf("verified tokens by kid: %v", kids)
	}

	// Kill node 3 during a stream of attestations to all nodes, while it
	// also takes management writes.
	type answered struct {
		node int
		id   string
		at   time.Time
	}
	var (
		mu        sync.Mutex
		ok        []answered
		failures  [3]atomic.Int64
		successes [3]atomic.Int64
		created   []string
		stop      = make(chan struct{})
		streamWG  sync.WaitGroup
	)
	for i, n := range nodes {
		for range 2 {
			streamWG.Add(1)
			go func() {
				defer streamWG.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					status, _, id, err := n.attest(svn2)
					if err != nil || status != 200 {
						failures[i].Add(1)
						if i != 2 {
							t.Errorf("%s answered %d, %v during the kill of node 3", n.name, status, err)
						}
						time.Sleep(10 * time.Millisecond) // node 3 is gone: do not spin
						continue
					}
					successes[i].Add(1)
					mu.Lock()
					ok = append(ok, answered{i, id, time.Now()})
					mu.Unlock()
				}
			}()
		}
	}
	streamWG.Add(1)
	go func() {
		defer streamWG.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
			}
			name := fmt.Sprintf("written-%d", i)
			status, _, _, err := n3.do("POST", "/management/providers", admin, map[string]string{"name": name}, nil)
			if err == nil && status == 201 {
				mu.Lock()
				created = append(created, name)
				mu.Unlock()
			}
		}
	}()
	// Kill node 3 once it has served attestations and acknowledged a
	// provider (creating one generates a signing key, which under this
	// load and with other test packages on the same cores can take a
	// second or more), and not before 1.5 s of traffic.
	start := time.Now()
	for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		acked := len(created)
		mu.Unlock()
		if acked > 0 && successes[2].Load() > 0 && time.Since(start) >= 1500*time.Millisecond {
			break
		}
	}
	if err := n3.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	<-n3.exited
	time.Sleep(1500 * time.Millisecond)
	close(stop)
	streamWG.Wait()
	t.Logf("stream: node 1 answered %d, node 2 %d (failures %d, %d); node 3 answered %d before SIGKILL, then %d requests failed; node 3 created %d providers",
		successes[0].Load(), successes[1].Load(), failures[0].Load(), failures[1].Load(), successes[2].Load(), failures[2].Load(), len(created))
	if successes[0].Load() == 0 || successes[1].Load() == 0 || successes[2].Load() == 0 || len(created) == 0 {
		t.Fatal("the stream did not reach every node")
	}

	// Nothing written before the kill is lost: every provider node 3
	// acknowledged is there, and so is every attestation record of the
	// survivors and every record node 3 had time to write (the writer
	// batches records for up to 20 ms: allow a second).
	var list struct{ Providers []struct{ Name string } }
	if status, _, raw, err := n1.do("GET", "/management/providers", admin, nil, &list); err != nil || status != 200 {
		t.Fatalf("list providers: %d %v %s", status, err, raw)
	}
	have := map[string]bool{}
	for _, p := range list.Providers {
		have[p.Name] = true
	}
	for _, name := range created {
		if !have[name] {
			t.Errorf("provider %s, created through node 3 before the kill, is lost", name)
		}
	}
	recorded := map[string]bool{}
	within(t, "the survivors' attestation records are written", 10*time.Second, func() bool {
		rows, err := conn.Query(ctx, `SELECT request_id FROM audit WHERE operation = 'attest.SgxEnclave'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			rows.Scan(&id)
			recorded[id] = true
		}
		rows.Close()
		for _, a := range ok {
			if a.node != 2 && !recorded[a.id] {
				return false
			}
		}
		return true
	})
	var (
		lostLate int
		oldest   time.Duration
	)
	for _, a := range ok {
		if a.node != 2 || recorded[a.id] {
			continue
		}
		age := killedAt.Sub(a.at)
		if age > time.Second {
			t.Errorf("node 3's attestation record %s, answered %v before the kill, is lost", a.id, age)
		}
		lostLate++
		oldest = max(oldest, age)
	}
	t.Logf("%d attestation records answered by node 3 at most %v before SIGKILL were still queued (asynchronous audit writer)", lostLate, oldest.Round(time.Millisecond))
	// The survivors still serve, with the policy and both keys.
	for _, n := range []*avowProc{n1, n2} {
		if status, _, _, err := n.attest(svn1); err != nil || status != 400 {
			t.Errorf("%s after the kill, svn 1: %d %v", n.name, status, err)
		}
		status, tok, _, err := n.attest(svn2)
		if err != nil || status != 200 || kidOf(t, tok) != rotated.KID {
			t.Errorf("%s after the kill, svn 2: %d %v", n.name, status, err)
		}
		if set := n.certs(t); len(set.Keys) != 2 {
			t.Errorf("%s /certs after the kill: %d keys", n.name, len(set.Keys))
		}
	}
}

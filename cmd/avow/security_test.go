package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/sgxsim"
)

// peakRSS reads a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmHWM in /proc status")
	return 0
}

// doublingPolicy is the draft policy of issue 13's attack: each rule
// doubles a string, 64·2^rules bytes in all (27 rules: 8 GiB).
func doublingPolicy(rules int) string {
	var b strings.Builder
	b.WriteString("version=1.2; authorizationrules { => permit(); }; issuancerules {\n")
	b.WriteString(`=> add(type="a0", value="` + strings.Repeat("x", 64) + `");` + "\n")
	for i := 0; i < rules; i++ {
		fmt.Fprintf(&b, "c:[type==\"a%d\"] => add(type=\"a%d\", value=AppendString(c.value, c.value));\n", i, i+1)
	}
	b.WriteString("};")
	return b.String()
}

// TestHostileDraftPolicyBinary sends the attack that stopped a server —
// anonymous attestations with a draft policy whose evaluation grows without
// bound — to a real `avow serve` over HTTPS, eight at a time, while good
// attestations go on: every hostile request is refused with
// policy_limit_exceeded, every good one gets its token, and the server's
// peak memory stays small.
func TestHostileDraftPolicyBinary(t *testing.T) {
	bin := buildAvow(t)
	dir := t.TempDir()
	admin := "avow_security-test-token-0123456789"
	os.WriteFile(filepath.Join(dir, "admin-token"), []byte(admin), 0o600)
	srv := startAvow(t, bin, dir)
	c := srv.client(t, admin)
	ctx := context.Background()
	if _, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "target"}); err != nil {
		t.Fatal(err)
	}
	sim, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := sim.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	uri := c.AttestURI("target")
	hostile := []string{
		doublingPolicy(27),
		`version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type="j", value=JmesPath("\"0123456789abcdef\"", "` +
			strings.TrimSuffix(strings.Repeat("[@,@] | ", 30), " | ") + `")); };`,
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var slowest time.Duration
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 3; j++ {
				start := time.Now()
				_, err := c.AttestSGX(ctx, uri, q, client.AttestOptions{DraftPolicy: hostile[(i+j)%len(hostile)]})
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Status != 400 || ce.Code != "policy_limit_exceeded" {
					t.Errorf("hostile draft policy: %v, want 400 policy_limit_exceeded", err)
				}
				mu.Lock()
				slowest = max(slowest, time.Since(start))
				mu.Unlock()
			}
		}(i)
	}
	good := 0
	for k := 0; k < 20; k++ {
		if _, err := c.AttestSGX(ctx, uri, q, client.AttestOptions{}); err != nil {
			t.Errorf("good attestation during the attack: %v", err)
		} else {
			good++
		}
	}
	wg.Wait()
	rss := peakRSS(t, srv.cmd.Process.Pid)
	t.Logf("24 hostile draft policies refused (slowest answer %v), %d good attestations answered, server peak RSS %d MiB", slowest, good, rss>>20)
	if rss > 400<<20 {
		t.Errorf("server peak RSS %d MiB", rss>>20)
	}
}

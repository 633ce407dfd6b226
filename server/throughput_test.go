package server

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/token"
)

// TestThroughputNodes measures attestation throughput of one node on
// SQLite, one node on PostgreSQL and two nodes on PostgreSQL in one run:
// real `avow serve` processes over HTTPS on loopback, driven by
// concurrent keep-alive clients spread round-robin over the nodes (a
// stand-in for the load balancer) for a fixed time. It is a measurement,
// not a check: it runs only when AVOW_BENCH_NODES is set (and
// AVOW_TEST_POSTGRES), and reports in the test log.
//
//	AVOW_BENCH_NODES=1 go test ./server -run TestThroughputNodes -v -timeout 10m
//
// AVOW_BENCH_NODES_DURATION (default 5s per setup and round),
// AVOW_BENCH_NODES_ROUNDS (default 3) and AVOW_BENCH_NODES_CLIENTS
// (default 16) tune it.
func TestThroughputNodes(t *testing.T) {
	if os.Getenv("AVOW_BENCH_NODES") == "" {
		t.Skip("AVOW_BENCH_NODES is not set: the multi-node throughput measurement runs only on request")
	}
	storeURL, _ := pgSchema(t)
	duration := 5 * time.Second
	if d, err := time.ParseDuration(os.Getenv("AVOW_BENCH_NODES_DURATION")); err == nil {
		duration = d
	}
	clients := 16
	if n, err := strconv.Atoi(os.Getenv("AVOW_BENCH_NODES_CLIENTS")); err == nil && n > 0 {
		clients = n
	}
	dir := t.TempDir()
	bin := buildAvow(t)
	if _, _, err := token.LoadOrCreateKEK(filepath.Join(dir, "kek")); err != nil {
		t.Fatal(err)
	}
	rb := make([]byte, 16)
	rand.Read(rb)
	admin := "avow_bench_" + hex.EncodeToString(rb)
	os.WriteFile(filepath.Join(dir, "admin-token"), []byte(admin), 0o600)
	sim, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	quote, _ := sim.Quote(sgxsim.QuoteOptions{ISVSVN: 2})
	start := func(name, store string) *avowProc {
		args := []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, name),
			"--kek-file", filepath.Join(dir, "kek"), "--admin-token-file", filepath.Join(dir, "admin-token"),
			"--dev", "--sim-dir", filepath.Join(dir, "sim"), "--log-level", "warn", "--metrics", "off"}
		if store != "" {
			args = append(args, "--store", store)
		}
		return startAvow(t, name, bin, args...)
	}
	provider := func(n *avowProc) {
		if status, _, raw, err := n.do("POST", "/management/providers", admin, map[string]string{"name": "contoso"}, nil); err != nil || (status != 201 && status != 409) {
			t.Fatalf("create provider: %d %v %s", status, err, raw)
		}
	}

	type result struct {
		name      string
		nodes     int
		ok, fail  int64
		perSecond float64
		p50, p99  time.Duration
		cpuBusy   float64 // share of all cores busy, machine-wide
		// CPU seconds per second of wall time: the nodes, the clients
		// (this test process), PostgreSQL's processes.
		cpuNodes, cpuClients, cpuPostgres float64
	}
	run := func(name string, nodes []*avowProc) result {
		t.Helper()
		var (
			ok, fail atomic.Int64
			stop     atomic.Bool
			wg       sync.WaitGroup
			mu       sync.Mutex
			lat      []time.Duration
		)
		work := func(n *avowProc, measure bool) {
			defer wg.Done()
			var mine []time.Duration
			for !stop.Load() {
				t0 := time.Now()
				status, _, _, err := n.attest(quote)
				if err != nil || status != 200 {
					fail.Add(1)
					continue
				}
				if measure {
					ok.Add(1)
					mine = append(mine, time.Since(t0))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}
		// Warm up: connections, caches.
		for i := range clients {
			wg.Add(1)
			go work(nodes[i%len(nodes)], false)
		}
		time.Sleep(2 * time.Second)
		stop.Store(true)
		wg.Wait()
		stop.Store(false)
		fail.Store(0)

		cpu0 := cpuTimes(t)
		nodes0, self0, pg0 := procCPU(nodes)
		began := time.Now()
		for i := range clients {
			wg.Add(1)
			go work(nodes[i%len(nodes)], true)
		}
		time.Sleep(duration)
		stop.Store(true)
		wg.Wait()
		elapsed := time.Since(began)
		cpu1 := cpuTimes(t)
		nodes1, self1, pg1 := procCPU(nodes)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		r := result{name: name, nodes: len(nodes), ok: ok.Load(), fail: fail.Load(),
			perSecond: float64(ok.Load()) / elapsed.Seconds()}
		if len(lat) > 0 {
			r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
		}
		if total := cpu1[0] - cpu0[0]; total > 0 {
			r.cpuBusy = 1 - float64(cpu1[1]-cpu0[1])/float64(total)
		}
		sec := elapsed.Seconds() * clockTicks
		r.cpuNodes, r.cpuClients, r.cpuPostgres = float64(nodes1-nodes0)/sec, float64(self1-self0)/sec, float64(pg1-pg0)/sec
		if r.fail > 0 {
			t.Errorf("%s: %d failed requests", name, r.fail)
		}
		return r
	}

	// All nodes run throughout; the setups take turns, round after round,
	// so that the machine's other load (it is shared) falls on all of
	// them alike. Each setup's median round is reported.
	lite := start("sqlite-node", "")
	provider(lite)
	a := start("pg-node-1", storeURL)
	provider(a)
	b := start("pg-node-2", storeURL)
	setups := []struct {
		name  string
		nodes []*avowProc
	}{
		{"1 node, SQLite", []*avowProc{lite}},
		{"1 node, PostgreSQL", []*avowProc{a}},
		{"2 nodes, PostgreSQL", []*avowProc{a, b}},
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("AVOW_BENCH_NODES_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	all := make([][]result, len(setups))
	var ratios []string
	for range rounds {
		for i, su := range setups {
			all[i] = append(all[i], run(su.name, su.nodes))
		}
		last := len(all[0]) - 1
		ratios = append(ratios, fmt.Sprintf("%.2f", all[2][last].perSecond/all[1][last].perSecond))
	}
	median := func(rs []result) result {
		rs = append([]result(nil), rs...)
		sort.Slice(rs, func(i, j int) bool { return rs[i].perSecond < rs[j].perSecond })
		return rs[len(rs)/2]
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "%d clients, %d rounds of %v per setup (median round shown), %d CPUs\n", clients, rounds, duration, numCPU(t))
	fmt.Fprintf(&sb, "| setup | attestations/s | p50 | p99 | CPU busy (machine) | cores used by nodes / clients / PostgreSQL | node CPU per attestation |\n|---|---|---|---|---|---|---|\n")
	var med []result
	for i := range setups {
		r := median(all[i])
		med = append(med, r)
		fmt.Fprintf(&sb, "| %s | %.0f | %.1f ms | %.1f ms | %.0f %% | %.2f / %.2f / %.2f | %.2f ms |\n", r.name, r.perSecond,
			float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, 100*r.cpuBusy,
			r.cpuNodes, r.cpuClients, r.cpuPostgres, 1000*r.cpuNodes/r.perSecond)
	}
	fmt.Fprintf(&sb, "ratio 2 nodes / 1 node on PostgreSQL: %.2f (medians; per round: %s); PostgreSQL / SQLite (1 node): %.2f\n",
		med[2].perSecond/med[1].perSecond, strings.Join(ratios, ", "), med[1].perSecond/med[0].perSecond)
	t.Log("\n" + sb.String())
}

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on Linux).
const clockTicks = 100

// procCPU returns the CPU time (ticks) used so far by the nodes, by this
// process and by every process named postgres.
func procCPU(nodes []*avowProc) (n, self, pg int64) {
	for _, p := range nodes {
		n += pidCPU(strconv.Itoa(p.cmd.Process.Pid))
	}
	self = pidCPU("self")
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if comm, err := os.ReadFile("/proc/" + e.Name() + "/comm"); err == nil && strings.TrimSpace(string(comm)) == "postgres" {
			pg += pidCPU(e.Name())
		}
	}
	return n, self, pg
}

// pidCPU returns utime + stime of a process, in ticks.
func pidCPU(pid string) int64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields count from the last ')'.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return u + st
}

// cpuTimes returns the machine's total and idle CPU time (in clock ticks)
// from /proc/stat.
func cpuTimes(t *testing.T) [2]int64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return [2]int64{}
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[0] != "cpu" {
			continue
		}
		var total, idle int64
		for i, s := range fields[1:] {
			v, _ := strconv.ParseInt(s, 10, 64)
			total += v
			if i == 3 || i == 4 { // idle, iowait
				idle += v
			}
		}
		return [2]int64{total, idle}
	}
	return [2]int64{}
}

func numCPU(t *testing.T) int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "processor\t:")
}

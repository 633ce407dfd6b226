package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/internal/testenv"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
)

// TestTwoNodesRefreshOnPostgres: two nodes on one PostgreSQL database run
// their refresh jobs every 20 ms against a slow source; one refresh of the
// due collateral happens, by the lease holder.
func TestTwoNodesRefreshOnPostgres(t *testing.T) {
	storeURL, _ := pgSchema(t)
	dir := t.TempDir()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sim, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(dir, "root.pem")
	os.WriteFile(rootFile, sim.RootPEM(), 0o644)
	tokenFile := filepath.Join(dir, "admin-token")
	os.WriteFile(tokenFile, []byte("collateral-two-nodes-admin-token-0123456789\n"), 0o600)
	pccs := pcsfake.New(pcs.KindPCCS)
	fresh, err := sim.Collateral(sgxsim.CollateralOptions{Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	pccs.Add(fresh)
	srcURL := pccs.Start(t)
	clock := testenv.NewClock(t0.Add(time.Hour))
	const secret = "collateral-two-nodes-admin-token-0123456789"
	nodes := make([]*client.Client, 2)
	for i := range nodes {
		n, _ := startNode(t, dir, func(cfg *Config) {
			cfg.Dev = false
			cfg.DataDir = filepath.Join(dir, "node"+string(rune('a'+i)))
			cfg.KEKFile = filepath.Join(dir, "kek")
			cfg.AdminTokenFile = tokenFile
			cfg.StoreURL = storeURL
			cfg.Clock = clock
			cfg.Collateral = CollateralOptions{Sources: []string{srcURL}, TrustRoots: []string{rootFile}, RefreshInterval: 20 * time.Millisecond}
		})
		c, err := client.New(n.URL, client.WithHTTPClient(mustHTTP(t, n)), client.WithToken(secret))
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = c
	}
	old, err := sim.Collateral(sgxsim.CollateralOptions{Now: t0.Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := old.MarshalBundle()
	ctx := context.Background()
	info, err := nodes[0].ImportCollateral(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	key := info.TEE + "/" + info.FMSPC + "/" + info.PCEID
	pccs.Stall(300 * time.Millisecond)
	clock.Set(t0.Add(26 * time.Hour)) // the import is older than --collateral-max-age (24h): due
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := nodes[1].GetCollateral(ctx, key)
		if err == nil && len(v.History) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no refresh within 20s: %+v, %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // both jobs keep running: any second refresh would show now
	v, err := nodes[0].GetCollateral(ctx, key)
	if err != nil || len(v.History) != 2 {
		t.Fatalf("history %+v, %v", v, err)
	}
	st, err := OpenStore(ctx, storeURL, dir, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.ListAudit(ctx, store.AuditFilter{OperationPrefix: "collateral.refresh"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("%d collateral.refresh audit entries, want 1: %+v", len(entries), entries)
	}
	if hits := pccs.Hits()["/sgx/certification/v4/tcb"]; hits != 1 {
		t.Errorf("%d TCB info requests, want 1", hits)
	}
}

package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/server"
)

// TestProviderCollateralSourceFlags: provider create and update take
// --collateral-source (repeatable, in order) into settings.collateralSources;
// --deployment-sources cannot go with it.
func TestProviderCollateralSourceFlags(t *testing.T) {
	f, conn := remoteFake(t)
	out, _ := mustRemote(t, 0, remoteArgs(conn, "provider", "create", "contoso",
		"--collateral-source", "https://pccs.contoso:8081", "--collateral-source", "pcs")...)
	if !strings.Contains(out, "collateral sources:") || !strings.Contains(out, "https://pccs.contoso:8081, pcs") {
		t.Errorf("create output:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "update", "contoso", "--collateral-source", "https://pccs.contoso:8082", "-o", "json")...)
	var p struct {
		Settings struct{ CollateralSources []string }
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || !slices.Equal(p.Settings.CollateralSources, []string{"https://pccs.contoso:8082"}) {
		t.Errorf("update json (%v):\n%s", err, out)
	}
	_, errOut := mustRemote(t, 2, remoteArgs(conn, "provider", "update", "contoso", "--deployment-sources", "--collateral-source", "pcs")...)
	if !strings.Contains(errOut, "exclude each other") {
		t.Errorf("stderr: %s", errOut)
	}
	mustRemote(t, 0, remoteArgs(conn, "provider", "update", "contoso", "--deployment-sources")...)
	if body := string(f.LastRequest().Body); !strings.Contains(body, `"collateralSources":[]`) {
		t.Errorf("--deployment-sources sent %s", body)
	}
}

// TestServeProviderSourceAllowFlag: avow serve
// --provider-collateral-source-allow is repeatable (else
// $AVOW_PROVIDER_COLLATERAL_SOURCE_ALLOW, comma-separated) and reaches the
// server's options; serve refuses a file or folder value before starting.
func TestServeProviderSourceAllowFlag(t *testing.T) {
	parse := func(args ...string) server.CollateralOptions {
		t.Helper()
		cmd := &cobra.Command{Use: "serve"}
		var o server.CollateralOptions
		cf := addCollateralFlags(cmd, &o)
		if err := cmd.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		if err := cf.apply(&o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	t.Setenv(envProviderSourceAllow, "https://env.example:8081, pcs")
	o := parse("--provider-collateral-source-allow", "https://pccs.internal:8081", "--provider-collateral-source-allow", "pcs")
	if !slices.Equal(o.ProviderSourceAllow, []string{"https://pccs.internal:8081", "pcs"}) {
		t.Errorf("flags: %q", o.ProviderSourceAllow)
	}
	if o = parse(); !slices.Equal(o.ProviderSourceAllow, []string{"https://env.example:8081", "pcs"}) {
		t.Errorf("environment: %q", o.ProviderSourceAllow)
	}
	t.Setenv(envProviderSourceAllow, "")
	if o = parse(); len(o.ProviderSourceAllow) != 0 {
		t.Errorf("default: %q", o.ProviderSourceAllow)
	}
	code, _, errOut := runAvow(t, "serve", "--insecure-http", "--listen", "127.0.0.1:0", "--data", t.TempDir(),
		"--provider-collateral-source-allow", "dir:/etc")
	if code == 0 || !strings.Contains(errOut, "--provider-collateral-source-allow") {
		t.Errorf("serve with a folder allowed: %d %s", code, errOut)
	}
}

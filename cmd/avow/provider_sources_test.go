package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
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
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "update", "contoso", "--collateral-source", "/srv/bundles", "-o", "json")...)
	var p struct {
		Settings struct{ CollateralSources []string }
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil || !slices.Equal(p.Settings.CollateralSources, []string{"/srv/bundles"}) {
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

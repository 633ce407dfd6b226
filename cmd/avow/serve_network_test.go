package main

import (
	"strings"
	"testing"
)

// TestServeNetworkFlags: bad --private-networks, --trusted-proxies and
// --shared-provider values, and a proxy header without proxies, stop serve
// before it starts, naming the flag.
func TestServeNetworkFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--private-networks", "10.0.0.0/8,nope"}, "--private-networks"},
		{[]string{"--trusted-proxies", "300.1.1.1"}, "--trusted-proxies"},
		{[]string{"--shared-provider", "sharedcus"}, "--shared-provider"},
		{[]string{"--shared-provider", "Shared=West US"}, "--shared-provider"},
		{[]string{"--trusted-proxy-header", "X-Forwarded-For"}, "--trusted-proxies"},
	} {
		args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, tc.args...)
		code, _, errOut := runAvow(t, args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errOut)
		}
	}
}

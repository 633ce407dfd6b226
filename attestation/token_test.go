package attestation

import (
	"reflect"
	"testing"
)

// TestForToken: policy-only $-names leave, lists become one string, and
// everything else stays as it was.
func TestForToken(t *testing.T) {
	c := map[string]any{
		"$is-debuggable":         false,
		"x-ms-sgx-is-debuggable": false,
		"x-ms-sgx-advisory-ids":  []any{"INTEL-SA-00615", "INTEL-SA-00657"},
		"attester_advisory_ids":  []any{},
		"x-ms-sgx-svn":           2,
	}
	ForToken(c)
	want := map[string]any{
		"x-ms-sgx-is-debuggable": false,
		"x-ms-sgx-advisory-ids":  "INTEL-SA-00615,INTEL-SA-00657",
		"attester_advisory_ids":  "",
		"x-ms-sgx-svn":           2,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("ForToken:\n got %v\nwant %v", c, want)
	}
}

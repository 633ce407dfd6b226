package pcs

import "testing"

// The fast DER reader handles every real PCK certificate and the synthetic
// defaults itself (no fallback to encoding/asn1).
func TestPCKExtensionDERFastPath(t *testing.T) {
	values := append(seedPCKExtensionValues(t), defaultSpec(t, false).encode(t), defaultSpec(t, true).encode(t))
	for i, v := range values {
		if _, _, ok := parsePCKExtensionValueDER(v); !ok {
			t.Errorf("value %d (%x): fast reader fell back", i, v)
		}
	}
}

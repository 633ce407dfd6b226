package jcs

import (
	"crypto/sha512"
	"encoding/hex"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	for in, want := range map[string]string{
		// RFC 8785 §3.2.2 and Appendix B.
		`{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/", "literals": [null, true, false]}`: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		`[0, -0, 1, -1, 100, 1e21, 1e20, 0.000001, 1e-7, 123456789012345680000, 9007199254740992, 295147905179352830000, 5e-324]`:                                                        `[0,0,1,-1,100,1e+21,100000000000000000000,0.000001,1e-7,123456789012345680000,9007199254740992,295147905179352830000,5e-324]`,
		`{"\u20ac": 1, "\r": 2, "\ud83d\ude00": 3, "\u0080": 4, "1": 5, "</script>": 6}`:                                                                                                 "{\"\\r\":2,\"1\":5,\"</script>\":6,\"\u0080\":4,\"€\":1,\"😀\":3}",
	} {
		got, err := Canonicalize([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", in, got, err, want)
		}
	}
}

// TestTrusteeRuntimeData is the case of Trustee's attestation-service
// (src/lib.rs parse_runtime_data test): SHA-384 of the canonical JSON.
func TestTrusteeRuntimeData(t *testing.T) {
	c, err := Canonicalize([]byte(`{"b": 1, "a": "test", "c": {"d": "e"}}`))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum384(c)
	if got := hex.EncodeToString(sum[:]); got != "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3" {
		t.Errorf("SHA-384 %s of %s", got, c)
	}
}

func FuzzCanonicalize(f *testing.F) {
	f.Add([]byte(`{"a":[1,2.5,"x"],"b":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Canonicalize(b)
		if err != nil {
			return
		}
		c2, err := Canonicalize(c)
		if err != nil || string(c2) != string(c) {
			t.Fatalf("not idempotent: %s → %s (%v)", c, c2, err)
		}
	})
}

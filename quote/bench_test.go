package quote

import "testing"

func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ name, set string }{{"sgx-v3", "S01"}, {"tdx-v4", "S02"}, {"tdx-v5", "S09"}} {
		raw := dcapQuote(b, c.set)
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Parse(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := readMAA(b, "sdk-cpp/oe_report_debug.b64url")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

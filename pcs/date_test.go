package pcs

import (
	"fmt"
	"testing"
	"time"
)

// parseDate agrees with the original (time.Date normalisation) on every
// month/day/time combination around the calendar's edges.
func TestParseDateDifferential(t *testing.T) {
	for _, year := range []int{0, 1, 4, 100, 400, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9999} {
		for month := 0; month <= 13; month++ {
			for day := 0; day <= 32; day++ {
				for _, hms := range [][3]int{{0, 0, 0}, {23, 59, 59}, {24, 0, 0}, {0, 60, 0}, {0, 0, 60}, {12, 30, 5}} {
					s := []byte(fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ", year, month, day, hms[0], hms[1], hms[2]))
					got, ok := parseDate(s)
					want, wok := stdParseDate(s)
					if ok != wok || got != want {
						t.Fatalf("parseDate(%s) = %v, %v; want %v, %v", s, got, ok, want, wok)
					}
				}
			}
		}
	}
	for _, s := range []string{"2024-01-01T00:00:00", "2024-01-01T00:00:00z", "2024-01-01 00:00:00Z", "2024-1-01T00:00:00Z",
		"+024-01-01T00:00:00Z", "2024-01-01T00:00:0aZ", "２024-01-01T00:00:00Z", "2024-01-01T00:00:00Z ", "2024/01/01T00:00:00Z"} {
		got, ok := parseDate([]byte(s))
		want, wok := stdParseDate([]byte(s))
		if ok != wok || got != want {
			t.Errorf("parseDate(%q) = %v, %v; want %v, %v", s, got, ok, want, wok)
		}
	}
}

// stdParseDate is the oracle of parseDate: time.Parse with Intel's layout,
// which requires every field's digits and a real calendar date.
func stdParseDate(s []byte) (time.Time, bool) {
	t, err := time.Parse("2006-01-02T15:04:05Z", string(s))
	return t, err == nil
}

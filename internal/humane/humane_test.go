package humane

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	const day = 24 * time.Hour
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{0, "less than a minute"},
		{59 * time.Second, "less than a minute"},
		{time.Minute, "1 minute"},
		{90 * time.Second, "1 minute"},
		{5*time.Minute + 30*time.Second, "5 minutes"},
		{time.Hour, "1 hour"},
		{2*time.Hour + 5*time.Minute, "2 hours 5 minutes"},
		{day, "1 day"},
		{3*day + 2*time.Hour + 59*time.Minute, "3 days 2 hours"},
		{3*day + 5*time.Minute, "3 days"}, // the next unit only
		{29 * day, "29 days"},
		{31 * day, "1 month 1 day"},
		{364 * day, "12 months 4 days"},
		{365 * day, "1 year"},
		{-12159 * time.Hour, "1 year 4 months"}, // collateral show's "in -12159h…" of issue 15
		{10*365*day + 45*day, "10 years 1 month"},
	} {
		if got := Duration(c.d); got != c.want {
			t.Errorf("Duration(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestExpiryAndRelative(t *testing.T) {
	for _, c := range []struct {
		d                time.Duration
		expiry, relative string
	}{
		{72 * time.Hour, "expires in 3 days", "in 3 days"},
		{-12159 * time.Hour, "expired 1 year 4 months ago", "1 year 4 months ago"},
		{0, "expired less than a minute ago", "now"},
		{30 * time.Second, "expires in less than a minute", "now"},
		{-time.Hour, "expired 1 hour ago", "1 hour ago"},
	} {
		if got := Expiry(c.d); got != c.expiry {
			t.Errorf("Expiry(%v) = %q, want %q", c.d, got, c.expiry)
		}
		if got := Relative(c.d); got != c.relative {
			t.Errorf("Relative(%v) = %q, want %q", c.d, got, c.relative)
		}
	}
}

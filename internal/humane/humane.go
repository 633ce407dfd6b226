// Package humane writes durations for people: "1 year 4 months",
// "3 days 2 hours", "expired 5 days ago", "expires in 3 days". A duration
// is given in its two largest units, truncated (a year is 365 days, a
// month 30); under a minute is "less than a minute".
package humane

import (
	"fmt"
	"time"
)

const day = 24 * time.Hour

var units = []struct {
	name string
	d    time.Duration
}{
	{"year", 365 * day},
	{"month", 30 * day},
	{"day", day},
	{"hour", time.Hour},
	{"minute", time.Minute},
}

// Duration returns |d| in its largest unit and, when not zero, the next
// one: "1 year 4 months", "1 year", "3 days 2 hours", "5 minutes",
// "less than a minute".
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	for i, u := range units {
		n := d / u.d
		if n == 0 {
			continue
		}
		out := count(int64(n), u.name)
		if i+1 < len(units) {
			next := units[i+1]
			if m := (d - n*u.d) / next.d; m > 0 {
				out += " " + count(int64(m), next.name)
			}
		}
		return out
	}
	return "less than a minute"
}

func count(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// Relative returns "in D" for a positive d and "D ago" for a negative
// one (Duration of d), "now" under a minute either way.
func Relative(d time.Duration) string {
	if d > -time.Minute && d < time.Minute {
		return "now"
	}
	if d > 0 {
		return "in " + Duration(d)
	}
	return Duration(d) + " ago"
}

// Expiry says when something that expires after d (negative: that
// expired -d ago) does: "expires in 3 days", "expired 1 year 4 months
// ago"; "expires in less than a minute" or "expired less than a minute
// ago" near zero. Zero counts as expired, as a validity period ends at
// its last instant.
func Expiry(d time.Duration) string {
	if d > 0 {
		return "expires in " + Duration(d)
	}
	return "expired " + Duration(d) + " ago"
}

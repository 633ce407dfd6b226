package sqlstore

import (
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
)

// dollar is a dialect like PostgreSQL's, for rendering.
type dollar struct{}

func (dollar) Rebind(q string) string                              { return RebindDollar(q) }
func (dollar) Time(t time.Time) any                                { return t }
func (dollar) Fold(e string) string                                { return "lower(" + e + ")" }
func (dollar) FoldOrder(e string) string                           { return "lower(" + e + ") C" }
func (dollar) InsertOrder(table string) string                     { return table + "_seq" }
func (dollar) LatestPerKey(table, key, cols string) string         { return "" }
func (dollar) Bool(v bool) string                                  { return map[bool]string{true: "T", false: "F"}[v] }
func (dollar) LockRow() string                                     { return "FOR UPDATE" }
func (dollar) Classify(error) *errs.Error                          { return nil }
func (dollar) BumpChange() (string, []any)                         { return "", nil }
func (dollar) Lease(string, string, time.Duration) (string, []any) { return "", nil }

func TestRender(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT a FROM t WHERE fold(name) = fold(?) AND b = ? {lock}`:        `SELECT a FROM t WHERE lower(name) = lower($1) AND b = $2 FOR UPDATE`,
		`SELECT a FROM t ORDER BY foldorder(po.name), {insertorder:signers}`: `SELECT a FROM t ORDER BY lower(po.name) C, signers_seq`,
		`SELECT 1`: `SELECT 1`,
		`UPDATE k SET active = {false} WHERE active = {true}`: `UPDATE k SET active = F WHERE active = T`,
	} {
		if got := render(dollar{}, in); got != want {
			t.Errorf("render(%q)\n= %q\nwant %q", in, got, want)
		}
	}
}

func TestTimestampColumn(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600))
	var got time.Time
	for _, v := range []any{t0.UnixMicro(), t0} {
		if err := (tsCol{&got}).Scan(v); err != nil || !got.Equal(t0) || got.Location() != time.UTC {
			t.Errorf("Scan(%v) = %v, %v", v, got, err)
		}
	}
	if err := (tsCol{&got}).Scan(nil); err != nil || !got.IsZero() {
		t.Errorf("Scan(nil) = %v, %v", got, err)
	}
	if err := (tsCol{&got}).Scan("x"); err == nil {
		t.Error("Scan of a string succeeded")
	}
}

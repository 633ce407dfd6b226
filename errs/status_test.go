package errs

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestHTTPStatus(t *testing.T) {
	ErrGone := New("x_gone", "the x is gone").WithStatus(404)
	ErrBad := New("x_bad", "the x is bad")
	for _, c := range []struct {
		err  error
		want int
	}{
		{ErrGone, 404},
		{ErrGone.Wrap(errors.New("cause")), 404},
		{ErrGone.Wrapf("detail %d", 1), 404},
		{fmt.Errorf("context: %w", ErrGone.Wrapf("detail")), 404},
		{ErrBad, 400},
		{ErrBad.Wrap(ErrGone), 400}, // the outer error decides
		{errors.New("untyped"), 500},
	} {
		if got := HTTPStatus(c.err); got != c.want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if ErrGone.Status != 404 || New("x_gone2", "s").Status != 0 {
		t.Error("WithStatus changed the wrong value")
	}
	if st, conflicting := StatusOfCode("x_gone"); st != 404 || conflicting {
		t.Errorf("StatusOfCode: %d %v", st, conflicting)
	}
	New("x_twice", "a").WithStatus(404)
	New("x_twice", "b").WithStatus(409)
	if _, conflicting := StatusOfCode("x_twice"); !conflicting {
		t.Error("two statuses for one code were not noticed")
	}
}

// TestClientDetailHidesForeignCauses: a cause Wrap took from outside
// avow's typed errors (a driver's or the system's text) reaches operators
// (Detail) but not API clients (ClientDetail); a Wrapf text, chosen by its
// author, and a typed cause reach both.
func TestClientDetailHidesForeignCauses(t *testing.T) {
	ErrSave := New("x_save_failed", "the x could not be saved")
	ErrParse := New("x_parse_failed", "the x is malformed")
	driver := errors.New(`pq: duplicate key value violates unique constraint "x_pkey" (SQLSTATE 23505)`)
	for _, c := range []struct {
		err            error
		operator, user string
	}{
		{ErrSave.Wrap(driver), "the x could not be saved: " + driver.Error(), "the x could not be saved"},
		{fmt.Errorf("saving: %w", ErrSave.Wrap(driver)), "saving: the x could not be saved: " + driver.Error(), "saving: the x could not be saved"},
		{ErrSave.Wrapf("row %d exists", 7), "the x could not be saved: row 7 exists", "the x could not be saved: row 7 exists"},
		{ErrSave.Wrap(ErrParse.Wrapf("line 3")), "the x could not be saved: the x is malformed: line 3", "the x could not be saved: the x is malformed: line 3"},
		{ErrSave.Wrap(fmt.Errorf("field a: %w", ErrParse)), "the x could not be saved: field a: the x is malformed", "the x could not be saved: field a: the x is malformed"},
	} {
		if got := Detail(c.err); got != c.operator {
			t.Errorf("Detail:\n got %q\nwant %q", got, c.operator)
		}
		if got := ClientDetail(c.err); got != c.user {
			t.Errorf("ClientDetail:\n got %q\nwant %q", got, c.user)
		}
		if strings.Contains(ClientDetail(c.err), "SQLSTATE") {
			t.Errorf("ClientDetail shows the driver's text: %q", ClientDetail(c.err))
		}
	}
}

package errs

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"testing"
)

func TestSentinelMatching(t *testing.T) {
	ErrX := New("x_failed", "the x did not work")
	ErrY := New("y_failed", "the y did not work")
	err := fmt.Errorf("context: %w", ErrX.Wrapf("detail %d", 7))
	if !errors.Is(err, ErrX) || errors.Is(err, ErrY) {
		t.Fatalf("errors.Is by code broken: %v", err)
	}
	if Code(err) != "x_failed" || Code(errors.New("plain")) != "internal" || Code(nil) != "" {
		t.Errorf("Code: %q", Code(err))
	}
	if Detail(err) != "context: the x did not work: detail 7" || Detail(ErrY) != "the y did not work" {
		t.Errorf("Detail: %q", Detail(err))
	}
	if Text(err) != "x_failed: context: the x did not work: detail 7" || Text(errors.New("plain")) != "plain" || Text(nil) != "" {
		t.Errorf("Text: %q", Text(err))
	}
	if ErrX.Cause != nil {
		t.Error("Wrapf modified the sentinel")
	}
	if got := ErrX.Wrap(errors.New("cause")).Error(); got != "x_failed: the x did not work: cause" {
		t.Errorf("Error(): %q", got)
	}
}

// TestSaidOnce: the shapes of chains that used to repeat themselves.
func TestSaidOnce(t *testing.T) {
	ErrQuote := New("unsupported_quote_format", "the quote format is not supported")
	ErrCol := New("collateral_invalid", "the collateral could not be read")
	ErrArg := New("invalid_argument", "invalid argument")
	ErrReq := New("invalid_request", "the request is malformed")
	for _, c := range []struct {
		err  error
		text string
	}{
		// a parser's error wrapped by the verifier with the same code
		{ErrQuote.Wrap(ErrQuote.Wrapf("quote version %d is not supported", 8227)),
			"unsupported_quote_format: the quote format is not supported: quote version 8227 is not supported"},
		// a path added by the loader, and again by its caller
		{fmt.Errorf("%s: %w", "README.md", ErrCol.Wrapf("%s: %w", "README.md", ErrCol.Wrapf("bundle is not JSON: %w", errors.New("invalid character '#'")))),
			"collateral_invalid: README.md: the collateral could not be read: bundle is not JSON: invalid character '#'"},
		// a sentence that restates its code
		{ErrArg.Wrapf("server address %q is not an http(s) URL", "foo"),
			`invalid_argument: server address "foo" is not an http(s) URL`},
		{ErrArg, "invalid_argument: invalid argument"},
		// another code's error as the cause: its code is not shown
		{ErrReq.Wrap(ErrQuote.Wrapf("too short")),
			"invalid_request: the request is malformed: the quote format is not supported: too short"},
		// an early string (%v) still says the code once
		{ErrReq.Wrapf("%v", ErrReq.Wrapf("field x")), "invalid_request: the request is malformed: field x"},
		// a file named by the caller and by the system call
		{ErrCol.Wrapf("%s: %w", "missing.json", &fs.PathError{Op: "stat", Path: "missing.json", Err: fs.ErrNotExist}),
			"collateral_invalid: the collateral could not be read: missing.json: file does not exist"},
		// a text's own repetition is kept: only what another part of the
		// chain said is left out
		{ErrReq.Wrapf("rule 1: denied: rule 2: denied"),
			"invalid_request: the request is malformed: rule 1: denied: rule 2: denied"},
		{ErrReq.Wrapf("%s: rule 1: %w", "svn is 1", errors.New("svn is 1")),
			"invalid_request: the request is malformed: svn is 1: rule 1"},
		// a prefix glued to the inner text
		{ErrCol.Wrapf("tcb.%w", fmt.Errorf("tcbLevels[%d]: %w", 2, errors.New("missing"))),
			"collateral_invalid: the collateral could not be read: tcb.tcbLevels[2]: missing"},
		// the inner error in the middle of its wrapper's text
		{fmt.Errorf("reading %w (retrying)", ErrCol.Wrapf("gone")),
			"collateral_invalid: reading the collateral could not be read: gone (retrying)"},
		// errors.Join
		{ErrCol.Wrap(errors.Join(ErrQuote.Wrapf("a"), errors.New("b"))),
			"collateral_invalid: the collateral could not be read: the quote format is not supported: a\nb"},
	} {
		if got := Text(c.err); got != c.text {
			t.Errorf("Text:\n got %q\nwant %q", got, c.text)
		}
		if e, ok := c.err.(*Error); ok && e.Error() != c.text {
			t.Errorf("Error():\n got %q\nwant %q", e.Error(), c.text)
		}
	}
}

// TestCodesRegistry: New registers its code; a registered code that an
// early %v brought into a detail is not shown there.
func TestCodesRegistry(t *testing.T) {
	ErrZ := New("zz_registry_test", "the z did not work")
	if !slices.Contains(Codes(), "zz_registry_test") {
		t.Fatalf("Codes() lacks zz_registry_test: %v", Codes())
	}
	ErrW := New("ww_registry_test", "the w did not work")
	err := ErrW.Wrapf("reading: %v", ErrZ.Wrapf("detail"))
	if got := Text(err); got != "ww_registry_test: the w did not work: reading: the z did not work: detail" {
		t.Errorf("Text: %q", got)
	}
}

// BenchmarkDetail: the rendering of a refused attestation's body (a
// verifier's error wrapping the parser's, with the same code).
func BenchmarkDetail(b *testing.B) {
	ErrQuote := New("bench_quote_format", "the quote format is not supported")
	err := ErrQuote.Wrap(ErrQuote.Wrapf("quote version %d is not supported (3, 4 or 5)", 8227))
	for b.Loop() {
		_ = Detail(err)
	}
}

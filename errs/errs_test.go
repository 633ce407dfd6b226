package errs

import (
	"errors"
	"fmt"
	"testing"
)

func TestSentinelMatching(t *testing.T) {
	ErrX := New("x_failed", "x failed")
	ErrY := New("y_failed", "y failed")
	err := fmt.Errorf("context: %w", ErrX.Wrapf("detail %d", 7))
	if !errors.Is(err, ErrX) || errors.Is(err, ErrY) {
		t.Fatalf("errors.Is by code broken: %v", err)
	}
	if Code(err) != "x_failed" || Code(errors.New("plain")) != "internal" || Code(nil) != "" {
		t.Errorf("Code: %q", Code(err))
	}
	if Detail(err) != "x failed: detail 7" || Detail(ErrY) != "y failed" {
		t.Errorf("Detail: %q", Detail(err))
	}
	if ErrX.Cause != nil {
		t.Error("Wrapf modified the sentinel")
	}
	if got := ErrX.Wrap(errors.New("cause")).Error(); got != "x_failed: x failed: cause" {
		t.Errorf("Error(): %q", got)
	}
}

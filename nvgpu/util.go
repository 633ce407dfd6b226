package nvgpu

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/avowhq/avow/errs"
)

// wrap attaches a formatted cause to a sentinel.
func wrap(sentinel error, format string, args ...any) error {
	var e *errs.Error
	if errors.As(sentinel, &e) {
		return e.Wrapf(format, args...)
	}
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

func sha256hex(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// Package errs is avow's one error type: a stable machine-readable code, a
// message that is safe to show to a client, and the internal cause.
//
// Sentinels are *Error values without a cause; errors.Is matches any error
// carrying the same code, so a wrapped failure still compares equal to its
// sentinel:
//
//	var ErrTCBNotSupported = errs.New("tcb_not_supported", "no TCB level matches the platform")
//	return ErrTCBNotSupported.Wrap(cause)
//	errors.Is(err, ErrTCBNotSupported) // true
package errs

import (
	"errors"
	"fmt"
)

// Error is a typed error with a stable code.
type Error struct {
	Code    string // stable, snake_case; used in HTTP bodies and CLI output
	Message string // one human sentence, safe for clients
	Cause   error  // internal detail; may be nil
}

// New returns a sentinel error with a code and a client-safe message.
func New(code, message string) *Error { return &Error{Code: code, Message: message} }

func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Code + ": " + e.Message + ": " + e.Cause.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Cause }

// Is matches errors with the same code, so sentinels compare equal to the
// errors derived from them.
func (e *Error) Is(target error) bool {
	var t *Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	return false
}

// Wrap returns a copy of e carrying cause.
func (e *Error) Wrap(cause error) *Error {
	return &Error{Code: e.Code, Message: e.Message, Cause: cause}
}

// Wrapf returns a copy of e with a formatted cause.
func (e *Error) Wrapf(format string, args ...any) *Error {
	return e.Wrap(fmt.Errorf(format, args...))
}

// Code returns the code of the first *Error in err's chain, or "internal".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return "internal"
}

// Detail returns the full text of err for operators and CLI users: the
// message followed by the cause chain.
func Detail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Cause != nil {
			return e.Message + ": " + e.Cause.Error()
		}
		return e.Message
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

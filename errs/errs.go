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
//
// An error is said once: Text renders the code of the chain once, then
// Detail, in which every sentence, file name and cause appears once, however
// often the chain wraps the same sentinel or names the same file (a parser's
// error wrapped by its verifier with the same code, a path added by the
// loader and again by its caller, a file named by the system call too).
// Callers wrap with %w (fmt.Errorf, Wrapf) and leave the rendering to Text
// and Detail; an error turned into a string early (%v, err.Error()) loses
// its structure: its parts are still said once and its code (New registers
// every code) left out, but a file's system call stays ("open x").
package errs

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

// Error is a typed error with a stable code.
type Error struct {
	Code    string // stable, snake_case; used in HTTP bodies and CLI output
	Message string // one human sentence, safe for clients
	Cause   error  // the detail; may be nil
	// Status is the HTTP status the error is answered with; 0 is 400 (a
	// client error). Set on the sentinel (WithStatus), kept by Wrap.
	Status int
	// internal marks a cause that is not for clients: one Wrap took from
	// outside avow's typed errors (a driver's, the system's, a library's
	// text). ClientDetail leaves it out; Detail (the operator's) keeps it.
	internal bool
}

// New returns a sentinel error with a code and a client-safe message, and
// registers the code (Codes).
func New(code, message string) *Error {
	registry.LoadOrStore(code, message)
	return &Error{Code: code, Message: message}
}

// registry holds every code New was given: code → its first message.
var registry sync.Map

// Codes returns the codes New has been given, sorted: in a program, those
// of the sentinels of every package it links (they are made when the
// packages are initialised).
func Codes() []string {
	var out []string
	registry.Range(func(k, _ any) bool {
		out = append(out, k.(string))
		return true
	})
	sort.Strings(out)
	return out
}

// isCode reports whether a segment of text is a registered snake_case code
// (brought in by %v or err.Error() of an error of another chain). Codes of
// one word ("conflict") could be words of a detail and are kept.
func isCode(s string) bool {
	if !strings.Contains(s, "_") || strings.ContainsAny(s, " ") {
		return false
	}
	_, ok := registry.Load(s)
	return ok
}

// Error is the code, then Detail: "code: sentence: cause".
func (e *Error) Error() string { return e.Code + ": " + Detail(e) }

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

// WithStatus returns a copy of the sentinel e answered with HTTP status
// (404, 409, 503…) instead of 400, and records the code's status
// (StatusOfCode): one code, one status, whichever package defines it.
func (e *Error) WithStatus(status int) *Error {
	c := *e
	c.Status = status
	if prev, loaded := statuses.LoadOrStore(e.Code, status); loaded && prev.(int) != status {
		statusConflicts.Store(e.Code, true)
	}
	return &c
}

// statuses holds the status WithStatus gave each code; statusConflicts the
// codes given two different ones (a test of the module refuses them).
var statuses, statusConflicts sync.Map

// StatusOfCode returns the HTTP status a code was given by WithStatus, and
// whether the code was given two different ones.
func StatusOfCode(code string) (status int, conflicting bool) {
	if v, ok := statuses.Load(code); ok {
		status = v.(int)
	}
	_, conflicting = statusConflicts.Load(code)
	return status, conflicting
}

// Wrap returns a copy of e carrying cause. A cause that is not one of
// avow's typed errors (nor wraps one) is internal: operators see it
// (Detail, the CLI, logs), API clients do not (ClientDetail). To show a
// foreign cause to clients, say so with Wrapf and its text.
func (e *Error) Wrap(cause error) *Error {
	var typed *Error
	return &Error{Code: e.Code, Message: e.Message, Cause: cause, Status: e.Status,
		internal: cause != nil && !errors.As(cause, &typed)}
}

// Wrapf returns a copy of e with a formatted cause (%w wraps, as in
// fmt.Errorf). The text is the author's choice, so clients see it.
func (e *Error) Wrapf(format string, args ...any) *Error {
	return &Error{Code: e.Code, Message: e.Message, Cause: fmt.Errorf(format, args...), Status: e.Status}
}

// Internal returns an error of code "internal": a fault of avow or of its
// data, never of the request, answered with 500 and its sentence only (the
// cause is logged, not sent).
func Internal(message string) *Error {
	return New("internal", message).WithStatus(500)
}

// HTTPStatus returns the HTTP status of err: that of the first *Error in
// its chain (400 when it sets none), or 500 for an untyped error.
func HTTPStatus(err error) int {
	var e *Error
	if !errors.As(err, &e) {
		return 500
	}
	if e.Status == 0 {
		return 400
	}
	return e.Status
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

// Text renders err on one line for a person (the CLI's error line): the
// code of the first *Error in the chain, then Detail. An error without a
// code is its Detail alone.
func Text(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code + ": " + Detail(err)
	}
	return Detail(err)
}

// Describer is implemented by error types that carry a code of their own in
// their Error text (policy.SyntaxError: "line 3, column 5: ... (code)").
// Described returns the text without the code, which Detail uses.
type Describer interface {
	error
	Described() string
}

// Detail returns the text of err for people, without codes: the sentence
// of each *Error in the chain, the context added by wrappers (file names,
// fields) and the causes, joined by ": ", each segment once. A sentence
// that only restates its code ("invalid argument" for invalid_argument) is
// left out when a cause follows: the code says it already.
func Detail(err error) string {
	if err == nil {
		return ""
	}
	return detail(err, false)
}

// ClientDetail is Detail for API clients: the causes that Wrap took from
// outside avow's typed errors are left out (the sentence stays).
func ClientDetail(err error) string {
	if err == nil {
		return ""
	}
	return detail(err, true)
}

func detail(err error, client bool) string {
	r := &renderer{said: map[string]bool{}, client: client}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if x, ok := e.(*Error); ok {
			r.said[x.Code] = true // brought into a text by an early %v
		}
	}
	return r.render(err)
}

// renderer collects the ": "-separated segments of a chain's text, with
// the sentences of *Error values in place of their Error text (so no
// code), and joins them leaving out what an earlier part of the chain said.
// Each part of the chain (a sentence, a wrapper's prefix, a cause's text)
// is one group: a segment repeated inside one group ("rule 1: x; rule 2:
// x") is the text's own and kept.
type renderer struct {
	client bool            // leave out internal causes (ClientDetail)
	said   map[string]bool // codes, and the segments of an enclosing text
	segs   []segment
	group  int
}

type segment struct {
	text  string
	group int
}

// put appends the segments of one part of the chain.
func (r *renderer) put(texts ...string) {
	r.group++
	for _, t := range texts {
		r.segs = append(r.segs, segment{t, r.group})
	}
}

// render returns err's text with nothing that r has said, or said before.
func (r *renderer) render(err error) string {
	said := make(map[string]bool, len(r.said)+len(r.segs))
	for s := range r.said {
		said[s] = true
	}
	for _, s := range r.segs {
		said[s.text] = true
	}
	sub := &renderer{said: said, client: r.client}
	sub.add(err)
	first := make(map[string]int, len(sub.segs)) // segment → its group
	out := make([]string, 0, len(sub.segs))
	for _, s := range sub.segs {
		if s.text == "" || said[s.text] || isCode(s.text) {
			continue
		}
		if g, ok := first[s.text]; ok && g != s.group {
			continue
		}
		if _, ok := first[s.text]; !ok {
			first[s.text] = s.group
		}
		out = append(out, s.text)
	}
	return strings.Join(out, ": ")
}

func (r *renderer) add(err error) {
	if err == nil {
		return
	}
	switch x := err.(type) {
	case *Error:
		hide := r.client && x.internal
		if x.Cause == nil || hide || !restatesCode(x.Message, x.Code) {
			r.put(split(x.Message)...)
		}
		if !hide {
			r.add(x.Cause)
		}
		return
	case Describer:
		r.put(split(x.Described())...)
		return
	case *fs.PathError:
		// "open README.md: no such file or directory" is "README.md: no
		// such file or directory": the file named once, with the callers'
		// own mention of it, not again after the system call's name.
		r.put(x.Path)
		r.add(x.Err)
		return
	case interface{ Unwrap() error }:
		inner := x.Unwrap()
		if inner == nil {
			break
		}
		text, innerText := err.Error(), inner.Error()
		i := strings.LastIndex(text, innerText)
		if innerText == "" || i < 0 {
			break
		}
		prefix, suffix := text[:i], text[i+len(innerText):]
		if suffix != "" {
			// "reading %w (retrying)": the inner text, rendered, in its place.
			r.put(split(prefix + r.render(inner) + suffix)...)
			return
		}
		if p, ok := strings.CutSuffix(prefix, ": "); ok {
			r.put(split(p)...)
			r.add(inner)
			return
		}
		if prefix == "" {
			r.add(inner)
			return
		}
		// "tcb.%w": the prefix is glued to the inner text's first part.
		r.put(split(prefix)...)
		n := len(r.segs)
		r.add(inner)
		if len(r.segs) > n {
			r.segs[n-1].text += r.segs[n].text
			r.segs = append(r.segs[:n], r.segs[n+1:]...)
		}
		return
	case interface{ Unwrap() []error }:
		// errors.Join and fmt.Errorf with several %w: each inner error
		// rendered in its place, as one segment.
		text := err.Error()
		for _, inner := range x.Unwrap() {
			if inner != nil {
				text = strings.Replace(text, inner.Error(), r.render(inner), 1)
			}
		}
		r.put(text)
		return
	}
	r.put(split(err.Error())...)
}

func split(s string) []string { return strings.Split(s, ": ") }

// restatesCode reports whether a sentence says no more than its code:
// "invalid argument" for invalid_argument.
func restatesCode(message, code string) bool {
	m := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(message)), ".")
	return m == strings.ReplaceAll(code, "_", " ")
}

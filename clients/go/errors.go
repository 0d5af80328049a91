// Errors of the baton client: the server's error answers as *Error, and the
// wrappers a Worker handler returns to choose how a failed job is retried.
//
// Assumption (docs/api.md, Conventions): every error answer is
// {"error": {"code", "message", "field"}} (plus "job_id" for already_running),
// and 429/503 answers carry Retry-After in whole seconds.
package baton

import (
	"errors"
	"fmt"
	"time"
)

// Error is an error answer of the server (any status >= 400).
//
// Use errors.As to reach it:
//
//	var be *baton.Error
//	if errors.As(err, &be) && be.Code == "not_found" { ... }
//
// errors.Is(err, &baton.Error{Code: "lease_mismatch"}) matches by Code (and by
// Status when the target sets one).
type Error struct {
	Status     int           // HTTP status, e.g. 409
	Code       string        // stable machine code, e.g. "idempotency_conflict"
	Message    string        // a sentence for people
	Field      string        // the input at fault, e.g. "jobs[3].queue"; "" when none
	JobID      string        // the other job a refusal names (409 already_running)
	RetryAfter time.Duration // from Retry-After (429, 503); 0 when absent
	RequestID  string        // X-Request-Id of the answer
}

func (e *Error) Error() string {
	s := fmt.Sprintf("baton: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	return s
}

// Is reports whether target is an *Error with the same Code (and the same
// Status, when target's is non-zero), so sentinel-style checks work.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.Code != "" && t.Code != e.Code {
		return false
	}
	if t.Status != 0 && t.Status != e.Status {
		return false
	}
	return t.Code != "" || t.Status != 0
}

// HasCode reports whether err is (or wraps) a baton *Error with this code.
func HasCode(err error, code string) bool {
	var be *Error
	return errors.As(err, &be) && be.Code == code
}

// unrecoverableError marks a handler error that must not be retried.
type unrecoverableError struct{ err error }

func (u *unrecoverableError) Error() string { return u.err.Error() }
func (u *unrecoverableError) Unwrap() error { return u.err }

// Unrecoverable wraps err so that a Worker fails the job without retry
// (fail with retryable false: the job goes dead at once). A nil err gets a
// generic message.
func Unrecoverable(err error) error {
	if err == nil {
		err = errors.New("unrecoverable")
	}
	return &unrecoverableError{err: err}
}

// IsUnrecoverable reports whether err carries Unrecoverable.
func IsUnrecoverable(err error) bool {
	var u *unrecoverableError
	return errors.As(err, &u)
}

// retryInError asks for a retry after a given delay instead of the backoff.
type retryInError struct {
	d   time.Duration
	err error
}

func (r *retryInError) Error() string { return r.err.Error() }
func (r *retryInError) Unwrap() error { return r.err }

// RetryIn wraps err so that a Worker fails the job as retryable with
// retry_in_ms = d (overriding the job's backoff; 0 ... 24 h). The attempt still
// counts against max_attempts.
func RetryIn(d time.Duration, err error) error {
	if err == nil {
		err = fmt.Errorf("retry in %s", d)
	}
	if d < 0 {
		d = 0
	}
	return &retryInError{d: d, err: err}
}

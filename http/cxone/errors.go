package cxone

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Sentinels for the states a caller branches on; the typed errors below
// match them with errors.Is.
var (
	// ErrUnauthorized: CXone did not accept who we are (credentials, access
	// key, or a token it no longer honours).
	ErrUnauthorized = errors.New("cxone: unauthorized")
	// ErrForbidden: CXone knows who we are but will not let us do this
	// (scope, role, tenant).
	ErrForbidden = errors.New("cxone: forbidden")
	// ErrNoWebhookSecret: EnsureWebhook will not register a subscription
	// whose reports the service would have no way to authenticate.
	ErrNoWebhookSecret = errors.New("cxone: WEBHOOK_SECRET is empty: set it, or CXone's reports cannot be told from forgeries")
)

// AuthError is a 401 or 403 (or an OAuth error from the token endpoint)
// turned into what the operator has to change.
type AuthError struct {
	Op         string // what we were doing: "fetch token", "list webhooks", ...
	StatusCode int
	Code       string // the OAuth error code ("invalid_client", ...), when CXone sent one
	Fix        string // what to change, naming the setting, scope or role
	forbidden  bool
}

func (e *AuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cxone: %s: %d %s", e.Op, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	b.WriteString(": ")
	b.WriteString(e.Fix)
	return b.String()
}

// Is matches ErrForbidden for permission problems and ErrUnauthorized for
// the rest.
func (e *AuthError) Is(target error) bool {
	if e.forbidden {
		return target == ErrForbidden
	}
	return target == ErrUnauthorized
}

// APIError is any other answer CXone gave that we do not retry or could not
// use. Message is CXone's own text, shortened, with any secret of ours
// scrubbed out in case the body echoed the request.
type APIError struct {
	Op         string
	Method     string
	URL        string // without query
	StatusCode int
	Code       string // the "error" field of a JSON error body, when present
	Message    string
}

func (e *APIError) Error() string { return "cxone: " + e.Op + ": " + e.summary() }

// summary is the error without the operation, for messages that already
// name it.
func (e *APIError) summary() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// RetryError means the client stopped retrying a transient failure (429, 5xx,
// a network error) because the attempt cap or the time budget ran out, or
// because CXone asked to wait longer than the budget allowed. Last is the
// final failure; errors.As reaches an *APIError through it.
type RetryError struct {
	Op       string
	Attempts int
	Elapsed  time.Duration
	Reason   string
	Last     error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("cxone: %s: gave up after %d attempt(s) in %s: %s; last failure: %s",
		e.Op, e.Attempts, e.Elapsed.Round(time.Millisecond), e.Reason, errorSummary(e.Last))
}

// errorSummary describes a failure for a message or log line that already
// names the operation. The errors it is given are built by this package and
// hold no secrets.
func errorSummary(err error) string {
	var ae *APIError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ae):
		return ae.summary()
	default:
		return err.Error()
	}
}

func (e *RetryError) Unwrap() error { return e.Last }

// LocalCallbackError refuses a callback URL on this machine: CXone, in its
// cloud, can never reach it, and the tutorial's localhost registration failed
// silently for exactly this reason.
type LocalCallbackError struct {
	Host string
}

func (e *LocalCallbackError) Error() string {
	return fmt.Sprintf("cxone: callback host %q is this machine, which CXone cannot reach: "+
		"register a public URL (PUBLIC_URL), or set CXONE_ALLOW_LOCALHOST=true when the CXone is the local fake", e.Host)
}

// uncertainError marks a non-idempotent request (creating a subscription)
// whose outcome is unknown: the answer was a 5xx or never came, so CXone may
// or may not have acted. Blindly retrying could create a duplicate; the
// caller looks first.
type uncertainError struct {
	err error
	// retryAfter is CXone's Retry-After on a 5xx (negative when absent):
	// the caller waits that long before it looks and tries again.
	retryAfter time.Duration
}

func (e *uncertainError) Error() string { return e.err.Error() }
func (e *uncertainError) Unwrap() error { return e.err }

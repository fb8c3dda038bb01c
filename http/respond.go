package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/projections"
)

// Error is an error with the HTTP status it should be answered with. Handlers
// return it for the cases they decide themselves (401, 404...).
type Error struct {
	Status  int
	Message string
	// RetryAfter, in seconds, goes out as a Retry-After header when set.
	RetryAfter string
}

func (e *Error) Error() string { return e.Message }

func errorf(status int, msg string) *Error { return &Error{Status: status, Message: msg} }

// statusOf maps an error to its answer. Only errors it does not know are
// unexpected, and only those are logged at error level.
func statusOf(err error) (code int, msg, retryAfter string, unexpected bool) {
	if msg, ok := eventstore.PermissionDenied(err); ok {
		// Not "right now": the answer names the grant missing, which the
		// log alone said (a rebuild refused CREATE on the schema).
		if strings.Contains(msg, "for schema") {
			msg += " (a rebuild needs USAGE and CREATE on the schema)"
		}
		return http.StatusServiceUnavailable, "the database refuses this service's role: " + msg + "; grant it, then retry", "5", false
	}
	var he *Error
	var pe *domain.ParseError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.Status, he.Message, he.RetryAfter, false
	case errors.As(err, &tooBig):
		return http.StatusRequestEntityTooLarge, "body is larger than the limit of " + formatBytes(tooBig.Limit), "", false
	case errors.As(err, &pe):
		return http.StatusBadRequest, pe.Error(), "", false
	case errors.Is(err, domain.ErrEmptyBody), errors.Is(err, domain.ErrNoMessageID):
		return http.StatusBadRequest, err.Error(), "", false
	case errors.Is(err, eventstore.ErrRejected):
		return http.StatusBadRequest, err.Error(), "", false
	case errors.Is(err, eventstore.ErrNotFound):
		return http.StatusNotFound, "not found", "", false
	case errors.Is(err, projections.ErrUnknownProjection):
		return http.StatusNotFound, err.Error(), "", false
	case errors.Is(err, projections.ErrRebuildRunning), errors.Is(err, projections.ErrAlreadyReplayed),
		errors.Is(err, projections.ErrStillFails), errors.Is(err, eventstore.ErrSchemaNewer),
		errors.Is(err, projections.ErrOtherRules):
		// The operator's request conflicts with the state of things: a
		// rebuild under way, a cause not fixed, a newer release's schema,
		// a read model judged under other rules than this process's.
		return http.StatusConflict, err.Error(), "", false
	case errors.Is(err, eventstore.ErrOverloaded):
		return http.StatusServiceUnavailable, "too many reports waiting to be stored; retry shortly", "1", false
	case errors.Is(err, context.DeadlineExceeded):
		// A read that waited its ReadTimeout (bounded): the database is
		// there but busy or locked.
		return http.StatusServiceUnavailable, "the database did not answer in time; retry later", "5", false
	case errors.Is(err, eventstore.ErrUnavailable), eventstore.Unavailable(err):
		// A read (read models, history, admin) while the database is away;
		// the webhook says what a failed commit means itself.
		return http.StatusServiceUnavailable, "the database cannot answer right now; retry later", "5", false
	}
	return http.StatusInternalServerError, "internal error", "", true
}

// writeError answers with {"error": "..."}.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg, retryAfter, unexpected := statusOf(err)
	log := loggerFrom(r.Context())
	if unexpected {
		log.WithError(err).Error("request failed")
	} else {
		log.WithError(err).WithField("status", code).Debug("request refused")
	}
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	if code == http.StatusRequestEntityTooLarge {
		// The rest of the body is not wanted. Without this, net/http reads
		// up to 256 KiB more of it before answering (to keep the connection),
		// which for a slow or stalled sender means no 413 at all: the limit
		// hook of http.MaxBytesReader that would have told it not to does
		// not reach through our middleware's ResponseWriter wrapper.
		w.Header().Set("Connection", "close")
	}
	writeJSON(w, code, map[string]string{"error": msg})
	if w.Header().Get("Connection") == "close" { // a 413, or a body refused unread
		// Closing the request body after the answer still reads up to
		// 256 KiB of it, and a stalled sender held the connection open
		// until the 30 s read timeout (and a shutdown with it). A read
		// deadline already past ends that read at once.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now())
	}
}

// writeJSON encodes v as the answer. Every JSON answer goes through here.
// It encodes before it sends the status: a value that cannot be encoded
// went out as a 200 with an empty body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "AT&T" stays AT&T: these are API answers, not HTML
	if err := enc.Encode(v); err != nil {
		logrus.WithError(err).WithField("status", code).Error("encode answer")
		code = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"error":"internal error: the answer could not be encoded"}` + "\n")
	}
	writeJSONBytes(w, code, buf.Bytes())
}

// writeJSONBytes answers with body, already encoded.
func writeJSONBytes(w http.ResponseWriter, code int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Errors echo paths and values, markup included: never sniffed as
	// anything but JSON.
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if _, err := w.Write(body); err != nil {
		logrus.WithError(err).Debug("write response")
	}
}

// handlerFunc is a handler that returns its error instead of answering it.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (h handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		writeError(w, r, err)
	}
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return itoa(n>>10) + " KiB"
	}
	return itoa(n) + " bytes"
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

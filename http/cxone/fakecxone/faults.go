package fakecxone

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"time"
)

// Fault makes the next Count requests matching Method and Path misbehave.
// Faults queue: a second fault for the same requests applies once the first
// is used up.
type Fault struct {
	Method string // "" matches any method
	Path   string // the exact request path, e.g. PathWebhooks or PathToken
	Count  int    // how many requests; default 1
	// Status answers the request with this code (401, 403, 429, 500, 503,
	// ...) instead of serving it; 0 serves it normally after Delay.
	Status int
	// RetryAfter is sent as the Retry-After header with Status: delay
	// seconds ("2") or an HTTP date, verbatim, so both forms can be tested.
	RetryAfter string
	// Delay holds the request before answering; it ends early, and the
	// request is dropped unanswered, if the client gives up first.
	Delay time.Duration
	// LoseAnswer serves the request for real and then answers Status
	// anyway: the work is done but the client cannot know it, which is
	// what a timeout at a proxy looks like. It is how a client's handling
	// of a non-idempotent request (a create) is tested.
	LoseAnswer bool
}

// discard is a ResponseWriter for an answer that is to be lost.
type discard struct{ header http.Header }

func (d discard) Header() http.Header         { return d.header }
func (d discard) Write(b []byte) (int, error) { return len(b), nil }
func (d discard) WriteHeader(int)             {}

type pendingFault struct {
	Fault
	left int
}

// InjectFault queues f.
func (s *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &pendingFault{Fault: f, left: f.Count})
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// takeFault consumes one use of the first fault matching r.
func (s *Server) takeFault(r *http.Request) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Path == r.URL.Path && (f.Method == "" || strings.EqualFold(f.Method, r.Method)) {
			f.left--
			if f.left == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
			return f.Fault, true
		}
	}
	return Fault{}, false
}

// applyFault reports whether a fault matched, and whether it answered the
// request (or dropped it) so that it must not be served.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request) (faulted, answered bool) {
	f, ok := s.takeFault(r)
	if !ok {
		return false, false
	}
	if f.Delay > 0 {
		// Read the body first, as a slow server would: Go's server notices
		// a client hanging up only once the body has been read, and a
		// delayed request the client abandoned must end early.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			return true, true
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true, true
		}
	}
	if f.Status == 0 {
		return true, false
	}
	if f.LoseAnswer {
		s.mux.ServeHTTP(discard{header: http.Header{}}, r)
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	code := "injected_fault"
	switch f.Status {
	case http.StatusUnauthorized:
		code = "invalid_token"
		if r.URL.Path == PathToken || r.URL.Path == PathTokenLegacy {
			code = "invalid_client"
		}
		w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`"`)
	case http.StatusForbidden:
		code = "insufficient_scope"
	case http.StatusTooManyRequests:
		code = "rate_limited"
	}
	writeJSONError(w, f.Status, code, "")
	return true, true
}

package http

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
)

type ingestResult struct {
	MessageID string `json:"messageId"`
	EventID   string `json:"eventId"`
	Duplicate bool   `json:"duplicate"`
}

type ingestAnswer struct {
	Acknowledged bool           `json:"acknowledged"`
	Results      []ingestResult `json:"results"`
}

// maxReportsPerRequest caps the reports of one webhook request, on top of
// the byte limit: each request commits as a whole, and a bigger one cannot
// be sure to commit before the store gives up on it.
const maxReportsPerRequest = 10000

// handleWebhook is where a CXone report enters: authenticate, read within the
// size limit, parse, append, and answer 200 only once the log has committed.
// Every refusal stores nothing, so CXone's redelivery is always safe.
func (s *Server) handleWebhook(w http.ResponseWriter, r *http.Request) error {
	err := s.ingest(w, r)
	if err == nil {
		return nil
	}
	// A 400 or 413 is not redelivered: the report is gone unless someone
	// looks. Said in the log every few seconds with a count, as 401s and
	// 503s are; a counter said neither which request nor why.
	switch code, msg, _, _ := statusOf(err); code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		if ok, more := s.badRefusals.allow(5 * time.Second); ok {
			loggerFrom(r.Context()).WithFields(logrus.Fields{"status": code, "reason": s.redact(msg), "refused_before": more, "remote": r.RemoteAddr}).
				Warnf("webhook refused (%d): nothing of the request was stored, and a sender does not retry it", code)
		}
	}
	return err
}

// ingest is handleWebhook's work; it returns what the request is refused
// for.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) error {
	receivedAt := time.Now().UTC()
	if !s.secretMatches(r.Header.Values("X-Webhook-Secret")) {
		unread(w)
		return s.unauthorized(r, "missing or wrong X-Webhook-Secret")
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		s.metrics.ingestRequests.WithLabelValues("too_large").Inc()
		return &http.MaxBytesError{Limit: s.cfg.MaxBodyBytes}
	}
	// Shed load before the body is read, when the store's queue is at its
	// limit (eventstore.Store.Full): a tester's 1,500 senders of
	// half-megabyte bodies waited 6 s for refusals the store made only
	// once each body had been read and parsed.
	if q, ok := s.store.(interface{ Full() bool }); ok && q.Full() {
		unread(w)
		s.metrics.ingestRequests.WithLabelValues("overloaded").Inc()
		return fmt.Errorf("%w: refused before reading the body", eventstore.ErrOverloaded)
	}
	// A signed compressed body may be signed as sent or as it inflates to
	// (senders differ, and the specification says "the raw body"): with
	// keys, the bytes as sent are kept to check both.
	var sent bytes.Buffer
	if len(s.keys) > 0 && len(r.Header.Values("Content-Encoding")) > 0 {
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(r.Body, &sent), r.Body}
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		var refused *Error
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The server's read timeout (30 s in serve) ran out before the
			// body did. Its write timeout runs from the same start: without
			// a little more time the sender got no answer, only a closed
			// connection.
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(5 * time.Second))
			s.metrics.ingestRequests.WithLabelValues("too_slow").Inc()
			return errorf(http.StatusRequestTimeout, "the body did not arrive within the server's read timeout; nothing was stored: "+
				"send it again, or in smaller requests")
		case errors.As(err, &tooBig):
			s.metrics.ingestRequests.WithLabelValues("too_large").Inc()
			return err
		case errors.As(err, &refused): // 415, or an encoding that does not decode
			unread(w)
			s.metrics.ingestRequests.WithLabelValues("malformed").Inc()
			return err
		case r.Context().Err() != nil || errors.Is(err, io.ErrUnexpectedEOF):
			// The sender hung up half-way through its body: not a
			// malformed request, and nobody reads the answer.
			s.metrics.ingestRequests.WithLabelValues("client_gone").Inc()
			return errorf(statusClientClosed, "the sender closed the request before its body ended; nothing was stored")
		}
		s.metrics.ingestRequests.WithLabelValues("malformed").Inc()
		return errorf(http.StatusBadRequest, "could not read body: "+err.Error())
	}
	// The event ID a header gives: CXone's, else (absent, malformed or a
	// message's ID) the Standard Webhooks id.
	// With signatures on, only the signed webhook-id: an unsigned
	// X-CXone-Event-Id added to a captured request stored it again under
	// a new ID, signature intact.
	eventIDHeader, fallback := r.Header.Get("X-CXone-Event-Id"), r.Header.Get("webhook-id")
	if len(s.keys) > 0 {
		signed := [][]byte{body}
		if sent.Len() > 0 {
			signed = append(signed, sent.Bytes())
		}
		// Repeated header lines are one list, as HTTP reads them.
		if err := s.keys.verify(r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"),
			strings.Join(r.Header.Values("webhook-signature"), " "), receivedAt, signed...); err != nil {
			return s.unauthorized(r, "bad signature: "+err.Error())
		}
		eventIDHeader, fallback = fallback, ""
	}
	// After the signature, which covers the bytes as sent.
	if body, err = toUTF8(body, r.Header.Get("Content-Type")); err != nil {
		s.metrics.ingestRequests.WithLabelValues("malformed").Inc()
		return err
	}
	events, err := domain.Parse(domain.Request{
		Body: body, ContentType: r.Header.Get("Content-Type"),
		EventIDHeader: eventIDHeader, FallbackEventIDHeader: fallback, ReceivedAt: receivedAt,
	})
	if err != nil {
		s.metrics.ingestRequests.WithLabelValues("malformed").Inc()
		return err
	}
	if len(events) > maxReportsPerRequest {
		// Within the byte limit, 60,000 short receipts made one INSERT
		// too slow to commit in time: a 503 on every retry, never stored.
		s.metrics.ingestRequests.WithLabelValues("too_large").Inc()
		return errorf(http.StatusRequestEntityTooLarge, "the body holds "+itoa(int64(len(events)))+" reports, more than the "+
			itoa(maxReportsPerRequest)+" one request may carry: send them in smaller requests")
	}
	// The body arrived whole: commit it even if the sender hangs up now.
	// A sender that half-closes after its body is still reading (HTTP/1.0
	// clients, L4 proxies), and net/http cancels the request's context on
	// that EOF; refused then, its reports were never stored. An answer
	// nobody reads costs nothing: a redelivery is a duplicate.
	results, err := s.store.Append(context.WithoutCancel(r.Context()), events)
	if err != nil {
		switch {
		case errors.Is(err, eventstore.ErrOverloaded):
			s.metrics.ingestRequests.WithLabelValues("overloaded").Inc()
		case errors.Is(err, eventstore.ErrRejected):
			s.metrics.ingestRequests.WithLabelValues("malformed").Inc()
		default:
			s.metrics.ingestRequests.WithLabelValues("unavailable").Inc()
			// Said in the log, once every few seconds with a count: an
			// operator whose senders were refused found only a counter.
			if ok, more := s.storeRefusals.allow(5 * time.Second); ok {
				entry := loggerFrom(r.Context()).WithError(err).WithField("refused_before", more)
				if errors.Is(err, context.DeadlineExceeded) {
					// A commit that timed out said only "timeout": name what
					// holds it (a lock on events), as /readyz does.
					ctx, cancel := context.WithTimeout(context.Background(), time.Second)
					if why := s.store.Ready(ctx); why != nil {
						entry = entry.WithField("cause", why.Error())
					}
					cancel()
				}
				entry.Warn("webhook answered 503: the event store could not commit")
			}
			// PostgreSQL refused the INSERT itself: nothing of it landed,
			// and the cause is the operator's to fix, so the answer names it
			// as /readyz and the reads do.
			if denied, ok := eventstore.PermissionDenied(err); ok {
				return &Error{Status: http.StatusServiceUnavailable, RetryAfter: "5", Message: "the database refuses this service's role: " +
					denied + "; nothing was stored: retry once it is granted (a retry is safe)"}
			}
			if eventstore.ReadOnly(err) {
				return &Error{Status: http.StatusServiceUnavailable, RetryAfter: "5", Message: "the database is read-only (a standby?); " +
					"nothing was stored: retry later (a retry is safe)"}
			}
			if errors.Is(err, eventstore.ErrNotReached) {
				// Every attempt failed to connect: here, unlike a lost
				// answer, nothing can have been stored.
				return &Error{Status: http.StatusServiceUnavailable, RetryAfter: "5", Message: "the database cannot be reached; " +
					"nothing was stored: retry later (a retry is safe)"}
			}
			if errors.Is(err, eventstore.ErrUnavailable) {
				// Not "nothing was stored": a commit whose answer was lost
				// with the connection may have landed. The retry is safe
				// either way.
				return &Error{Status: http.StatusServiceUnavailable, RetryAfter: "5", Message: "the event store could not confirm a commit; " +
					"retry later: a retry is safe, and a report that was stored after all answers duplicate: true"}
			}
			// Whatever else kept the store from committing, nothing was
			// acknowledged and the sender must come back: a 500 tells
			// CXone nothing of the kind, and the log said 503.
			return &Error{Status: http.StatusServiceUnavailable, RetryAfter: "5", Message: "the event store could not commit the reports; " +
				"retry later: a retry is safe"}
		}
		return err
	}
	s.metrics.ingestRequests.WithLabelValues("accepted").Inc()
	answer := ingestAnswer{Acknowledged: true, Results: make([]ingestResult, len(results))}
	for i, res := range results {
		answer.Results[i] = ingestResult(res)
		outcome := "accepted"
		if res.Duplicate {
			outcome = "duplicate"
		}
		s.metrics.ingestReports.WithLabelValues(outcome, string(events[i].Format)).Inc()
	}
	writeJSONBytes(w, http.StatusOK, answer.appendJSON(make([]byte, 0, 64+96*len(answer.Results))))
	return nil
}

// redact takes this service's secrets out of a refusal's reason before it
// is logged: a reason quotes the header it refuses, and a sender that put a
// key in Content-Encoding had it written to the log, which never holds a
// secret. A quoted value cut short ("s3cretWeb…") still starts a secret.
func (s *Server) redact(msg string) string {
	secrets := append([]string{s.cfg.WebhookSecret, s.cfg.AdminToken}, keyFields(s.cfg.SigningSecret)...)
	for _, secret := range secrets {
		if len(secret) < 4 {
			continue // too short to tell from other text; never a real secret here
		}
		msg = strings.ReplaceAll(msg, secret, "[redacted]")
		for k := len(secret) - 1; k >= 4; k-- {
			msg = strings.ReplaceAll(msg, secret[:k]+"…", "[redacted]…")
		}
	}
	return msg
}

// unread marks an answer given before the request's body was read whole
// (a wrong secret, a coding refused from its header). Without it net/http
// reads up to 256 KiB of the body before it answers, to keep the
// connection: a stalled or slow sender got its 401 after the 30 s read
// timeout, or nothing at all. The connection closes instead (writeError).
func unread(w http.ResponseWriter) { w.Header().Set("Connection", "close") }

// secretMatches reports whether the request gives the webhook secret, in
// every X-Webhook-Secret line it sends: with two lines, the first alone
// decided, so a right one before a wrong one passed and the reverse did not.
func (s *Server) secretMatches(given []string) bool {
	if len(given) == 0 {
		return false
	}
	ok := 1
	for _, g := range given {
		ok &= subtle.ConstantTimeCompare([]byte(g), []byte(s.cfg.WebhookSecret))
	}
	return ok == 1
}

// unauthorized refuses a webhook, and says so in the log every few
// seconds: after a secret rotation gone wrong every CXone report is
// refused, and only a counter showed it.
func (s *Server) unauthorized(r *http.Request, reason string) error {
	s.metrics.ingestRequests.WithLabelValues("unauthorized").Inc()
	if ok, more := s.authRefusals.allow(5 * time.Second); ok {
		loggerFrom(r.Context()).WithFields(logrus.Fields{"reason": reason, "refused_before": more, "remote": r.RemoteAddr}).
			Warn("webhook refused (401): check WEBHOOK_SECRET and WEBHOOK_SIGNING_SECRET against what the sender uses")
	}
	return errorf(http.StatusUnauthorized, reason)
}

// statusClientClosed is nginx's code for a request its client abandoned.
const statusClientClosed = 499

// appendJSON appends the answer exactly as writeJSON would encode it, newline
// included, without going through reflection: this answer goes out once per
// webhook, and encoding/json was a few percent of the service's CPU.
func (a *ingestAnswer) appendJSON(b []byte) []byte {
	b = append(b, `{"acknowledged":`...)
	b = strconv.AppendBool(b, a.Acknowledged)
	b = append(b, `,"results":`...)
	if a.Results == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range a.Results {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"messageId":`...)
			b = appendJSONString(b, r.MessageID)
			b = append(b, `,"eventId":`...)
			b = appendJSONString(b, r.EventID)
			b = append(b, `,"duplicate":`...)
			b = strconv.AppendBool(b, r.Duplicate)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// appendJSONString appends s as writeJSON encodes it. IDs are plain ASCII
// nearly always and go as they are; anything else takes encoding/json, so
// escapes stay exactly its own.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s) // a string always encodes
			return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// readBody reads the body, inflating a gzip, deflate or brotli one as it
// arrives.
// Both what arrives and what each coding inflates to are held to limit, and
// a body that crosses it fails with *http.MaxBytesError at once, before it
// is read whole: a few kilobytes can inflate to gigabytes, and a sender that
// stalls after crossing the limit still gets its 413. A charset sent as an
// encoding (utf-8, a common slip) is taken for none rather than losing the
// report. Other encodings are refused with 415, never read as text.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	// Repeated lines are one list, as HTTP reads them: an "identity" line
	// and a "gzip" line are "identity, gzip".
	encoding := strings.Join(r.Header.Values("Content-Encoding"), ", ")
	codings, err := contentCodings(encoding)
	if err != nil {
		return nil, err
	}
	body := io.Reader(http.MaxBytesReader(w, r.Body, limit))
	if len(codings) == 0 {
		size := 512
		if r.ContentLength > 0 && r.ContentLength <= limit {
			size = int(r.ContentLength)
		}
		return readAll(body, size)
	}
	// Codings are listed in the order they were applied (RFC 9110 §8.4):
	// the last is undone first.
	for i := len(codings) - 1; i >= 0; i-- {
		switch codings[i] {
		case "gzip", "x-gzip":
			zr, err := gzip.NewReader(body)
			if err != nil {
				return nil, encodingError(encoding, err)
			}
			body = zr
		case "deflate": // zlib-wrapped, as HTTP defines it
			zr, err := zlib.NewReader(body)
			if err != nil {
				return nil, encodingError(encoding, err)
			}
			body = zr
		case "br":
			// The tutorial's Express takes brotli too: a report through a
			// proxy that compresses with it got a 415, which tells a sender
			// to give up.
			body = brotli.NewReader(body)
		}
		// What each coding inflates to is held to the body's limit too.
		body = http.MaxBytesReader(w, io.NopCloser(body), limit)
	}
	out, err := readAll(body, 512)
	if err != nil {
		return nil, encodingError(encoding, err)
	}
	return out, nil
}

// maxCodings bounds the codings a body may be wrapped in: each is one
// more inflater, and nobody compresses a report three times.
const maxCodings = 3

// contentCodings are the codings of a Content-Encoding list, lower case, in
// the order applied, without identity; or a 415 for one this service
// cannot undo, or for more than maxCodings.
func contentCodings(encoding string) ([]string, error) {
	if encoding == "" { // nearly every request: no allocation
		return nil, nil
	}
	var codings []string
	for _, c := range strings.Split(encoding, ",") {
		switch c = strings.ToLower(strings.TrimSpace(c)); c {
		case "", "identity", "utf-8", "utf8":
		case "gzip", "x-gzip", "deflate", "br":
			codings = append(codings, c)
		default:
			return nil, errorf(http.StatusUnsupportedMediaType, "Content-Encoding "+quote(encoding)+" is not supported: send the body as is, gzip, deflate or br")
		}
	}
	if len(codings) > maxCodings {
		return nil, errorf(http.StatusUnsupportedMediaType, "Content-Encoding "+quote(encoding)+" lists "+itoa(int64(len(codings)))+
			" codings; at most "+itoa(maxCodings)+" are undone")
	}
	return codings, nil
}

// encodingError is err from reading an encoded body: the body's limit
// crossed, or an encoding that does not decode (400).
func encodingError(encoding string, err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || errors.Is(err, os.ErrDeadlineExceeded) {
		return err // the body's fault, not the coding's
	}
	return errorf(http.StatusBadRequest, "Content-Encoding "+quote(encoding)+": "+err.Error())
}

// readAll reads r to its end into a buffer of size bytes to start with.
func readAll(r io.Reader, size int) ([]byte, error) {
	// One spare byte lets the read that finds EOF happen without growing
	// the buffer (bytes.Buffer.ReadFrom would grow it to 512 bytes first).
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// throttle lets one log line through every so often and counts the ones it
// held back, so an outage is said without a line per request.
type throttle struct {
	last atomic.Int64 // Unix nanoseconds of the last line let through
	held atomic.Int64
}

// allow reports whether a line may go out now, and how many were held back
// since the last one that did.
func (t *throttle) allow(every time.Duration) (bool, int64) {
	now := time.Now().UnixNano()
	last := t.last.Load()
	if now-last < int64(every) || !t.last.CompareAndSwap(last, now) {
		t.held.Add(1)
		return false, 0
	}
	return true, t.held.Swap(0)
}

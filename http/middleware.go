package http

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/sirupsen/logrus"
)

type ctxKey int

const loggerKey ctxKey = iota

// requestLog is what a request's log lines need. The logrus entry is built
// only when a line is written: most requests write none, and building one per
// request (an entry and a fields map) showed up in ingest profiles.
type requestLog struct {
	log *logrus.Logger
	id  string
}

// loggerFrom returns the request's logger, which carries its request ID.
func loggerFrom(ctx context.Context) logrus.FieldLogger {
	if l, ok := ctx.Value(loggerKey).(*requestLog); ok {
		return l.log.WithField("request_id", l.id)
	}
	return logrus.StandardLogger()
}

// requestID gives every request an ID (the caller's X-Request-Id when it
// sends a sane one), echoes it in the answer and puts it on every log line.
func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), loggerKey, &requestLog{log: s.log, id: id})))
	})
}

// recoverPanics turns a handler panic into a logged 500 instead of a dropped
// connection. No input should get here; this is the net under the net.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				loggerFrom(r.Context()).WithField("panic", p).Error("handler panicked")
				if s.metrics.panics != nil { // nil on cxsms project (NewProjectionMetrics)
					s.metrics.panics.Inc()
				}
				writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// observe records each request's latency by route and status, and logs it
// at debug level (an info line per webhook would be most of the CPU under load).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := "unmatched"
		if cur := mux.CurrentRoute(r); cur != nil {
			if tpl, err := cur.GetPathTemplate(); err == nil {
				route = tpl
			}
		}
		took := time.Since(start)
		// cxsms project's Metrics have no HTTP series: its /metrics holds
		// the projectors' only.
		if s.metrics.requestSeconds != nil {
			s.metrics.requestSeconds.WithLabelValues(methodLabel(r.Method), route, statusCode(rec.status)).Observe(took.Seconds())
		}
		if s.log.IsLevelEnabled(logrus.DebugLevel) {
			loggerFrom(r.Context()).WithFields(logrus.Fields{
				"method": r.Method, "route": route, "status": rec.status, "ms": float64(took.Microseconds()) / 1000,
			}).Debug("request")
		}
	})
}

// methodLabel keeps the metric's method label to the methods HTTP defines:
// a client may send any token there, and each would be a new time series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusCode is the status as Prometheus conventions label it, "200" or
// "503": a mix of classes ("2xx") and names ("Service Unavailable") could
// not be matched by code=~"5..". The codes this service answers are few.
func statusCode(code int) string { return strconv.Itoa(code) }

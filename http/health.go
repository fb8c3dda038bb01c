package http

import (
	"context"
	"net/http"
	"time"

	"github.com/cxsms/cxsms/eventstore"
)

// handleHealthz says the process is alive; it checks nothing else, so a
// database outage never gets the process restarted for no gain.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// handleReadyz asks the store each time, so it turns 503 while PostgreSQL is
// unreachable or unmigrated and 200 again on its own once it is back.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ready(ctx); err != nil {
		msg := "not ready: " + err.Error()
		if eventstore.IsUnavailable(err) {
			// The driver's error names the database's user, host and port:
			// the log keeps it, the answer (often public) does not.
			loggerFrom(r.Context()).WithError(err).Warn("not ready")
			msg = "not ready: the database cannot be reached or cannot take reports right now"
		}
		return &Error{Status: http.StatusServiceUnavailable, Message: msg, RetryAfter: "5"}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

package http

import (
	"context"
	"net/http"
	"time"
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
		return &Error{Status: http.StatusServiceUnavailable, Message: "not ready: " + err.Error(), RetryAfter: "5"}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

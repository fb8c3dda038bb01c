package http

import (
	"net/http"

	"github.com/gorilla/mux"
)

// routes is the whole API on one screen.
func (s *Server) routes() http.Handler {
	r := mux.NewRouter()
	r.Use(s.requestID, s.recoverPanics, s.observe)

	r.Handle("/webhooks/cxone/sms", handlerFunc(s.handleWebhook)).Methods(http.MethodPost)

	r.Handle("/messages/{id}/history", handlerFunc(s.handleHistory)).Methods(http.MethodGet)

	r.Handle("/healthz", handlerFunc(s.handleHealthz)).Methods(http.MethodGet)
	r.Handle("/readyz", handlerFunc(s.handleReadyz)).Methods(http.MethodGet)
	r.Handle("/metrics", s.metricsHandler).Methods(http.MethodGet)

	r.NotFoundHandler = s.requestID(handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
	}))
	r.MethodNotAllowedHandler = s.requestID(handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
	}))
	return r
}

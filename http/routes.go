package http

import (
	"net/http"
	"net/url"

	"github.com/gorilla/mux"
)

// routes is the whole API on one screen.
func (s *Server) routes() http.Handler {
	// Routes match the path as sent, so an ID holding an escaped slash
	// (/messages/a%2Fb) is one segment; pathVar unescapes it.
	r := mux.NewRouter().UseEncodedPath()
	r.Use(s.requestID, s.recoverPanics, s.observe)

	r.Handle("/webhooks/cxone/sms", handlerFunc(s.handleWebhook)).Methods(http.MethodPost)

	r.Handle("/messages/{id}", handlerFunc(s.handleMessage)).Methods(http.MethodGet)
	r.Handle("/messages/{id}/history", handlerFunc(s.handleHistory)).Methods(http.MethodGet)

	r.Handle("/analytics/carriers", handlerFunc(s.handleCarriers)).Methods(http.MethodGet)
	r.Handle("/analytics/sla", handlerFunc(s.handleSLA)).Methods(http.MethodGet)
	r.Handle("/analytics/delivery", handlerFunc(s.handleDelivery)).Methods(http.MethodGet)
	r.Handle("/compliance/violations", handlerFunc(s.handleViolations)).Methods(http.MethodGet)
	r.Handle("/compliance/check", handlerFunc(s.handleCheck)).Methods(http.MethodGet)

	r.Handle("/simulator/sms", handlerFunc(s.handleSimulator)).Methods(http.MethodPost)

	admin := r.PathPrefix("/admin").Subrouter()
	admin.Use(s.requireAdmin)
	admin.Handle("/projections", handlerFunc(s.handleProjections)).Methods(http.MethodGet)
	admin.Handle("/projections/{name}/rebuild", handlerFunc(s.handleRebuild)).Methods(http.MethodPost)
	admin.Handle("/dead-letters", handlerFunc(s.handleDeadLetters)).Methods(http.MethodGet)
	admin.Handle("/dead-letters/{id}/replay", handlerFunc(s.handleReplay)).Methods(http.MethodPost)

	r.Handle("/healthz", handlerFunc(s.handleHealthz)).Methods(http.MethodGet)
	r.Handle("/readyz", handlerFunc(s.handleReadyz)).Methods(http.MethodGet)
	r.Handle("/metrics", s.metricsHandler).Methods(http.MethodGet)

	r.Handle("/", handlerFunc(s.handleDashboard)).Methods(http.MethodGet)
	r.Handle("/assets/{file}", handlerFunc(s.handleAsset)).Methods(http.MethodGet)
	r.Handle("/openapi.json", handlerFunc(s.handleOpenAPI)).Methods(http.MethodGet)

	// Routes that match nothing go through the same middleware, so a
	// misconfigured webhook URL shows in the metrics as 404s.
	r.NotFoundHandler = s.requestID(s.recoverPanics(s.observe(handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
	}))))
	r.MethodNotAllowedHandler = s.requestID(s.recoverPanics(s.observe(handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
	}))))
	return r
}

// pathVar is the route variable key of r, unescaped.
func pathVar(r *http.Request, key string) string {
	v := mux.Vars(r)[key]
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

package http

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"
)

// routes is the whole API on one screen.
func (s *Server) routes() *mux.Router {
	// Routes match the path as sent, so an ID holding an escaped slash
	// (/messages/a%2Fb) is one segment; pathVar unescapes it. Paths are not
	// cleaned: mux answered "//healthz" with a bare 301, which turns a
	// webhook's POST into a GET.
	r := mux.NewRouter().UseEncodedPath().SkipClean(true)
	r.Use(s.requestID, s.recoverPanics, s.observe, checkURL)
	get := []string{http.MethodGet, http.MethodHead} // every GET answers HEAD (RFC 9110 §9.1)

	r.Handle("/webhooks/cxone/sms", handlerFunc(s.handleWebhook)).Methods(http.MethodPost)

	r.Handle("/messages/{id}", handlerFunc(s.handleMessage)).Methods(get...)
	r.Handle("/messages/{id}/history", handlerFunc(s.handleHistory)).Methods(get...)

	r.Handle("/analytics/carriers", handlerFunc(s.handleCarriers)).Methods(get...)
	r.Handle("/analytics/sla", handlerFunc(s.handleSLA)).Methods(get...)
	r.Handle("/analytics/delivery", handlerFunc(s.handleDelivery)).Methods(get...)
	r.Handle("/compliance/violations", handlerFunc(s.handleViolations)).Methods(get...)
	r.Handle("/compliance/check", handlerFunc(s.handleCheck)).Methods(get...)

	r.Handle("/simulator/sms", handlerFunc(s.handleSimulator)).Methods(http.MethodPost)

	// Admin routes check the token themselves rather than through a
	// subrouter: a wrong method on one got the subrouter's 404.
	r.Handle("/admin/projections", s.requireAdmin(handlerFunc(s.handleProjections))).Methods(get...)
	r.Handle("/admin/projections/{name}/rebuild", s.requireAdmin(handlerFunc(s.handleRebuild))).Methods(http.MethodPost)
	r.Handle("/admin/dead-letters", s.requireAdmin(handlerFunc(s.handleDeadLetters))).Methods(get...)
	r.Handle("/admin/dead-letters/{id}/replay", s.requireAdmin(handlerFunc(s.handleReplay))).Methods(http.MethodPost)

	r.Handle("/healthz", handlerFunc(s.handleHealthz)).Methods(get...)
	r.Handle("/readyz", handlerFunc(s.handleReadyz)).Methods(get...)
	r.Handle("/metrics", s.metricsHandler).Methods(get...)

	r.Handle("/", handlerFunc(s.handleDashboard)).Methods(get...)
	r.Handle("/assets/{file}", handlerFunc(s.handleAsset)).Methods(get...)
	r.Handle("/openapi.json", handlerFunc(s.handleOpenAPI)).Methods(get...)

	// Routes that match nothing go through the same middleware, so a
	// misconfigured webhook URL shows in the metrics as 404s.
	r.NotFoundHandler = s.requestID(s.recoverPanics(s.observe(handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return errorf(http.StatusNotFound, "no route "+r.Method+" "+r.URL.Path)
	}))))
	r.MethodNotAllowedHandler = s.requestID(s.recoverPanics(s.observe(handlerFunc(func(w http.ResponseWriter, req *http.Request) error {
		allowed := allowedMethods(r, req)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		if req.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return errorf(http.StatusMethodNotAllowed, "method "+req.Method+" not allowed on "+req.URL.Path+": use "+strings.Join(allowed, " or "))
	}))))
	return r
}

// allowedMethods are the methods some route of router takes for req's path,
// for the Allow header a 405 must carry (RFC 9110 §15.5.6).
func allowedMethods(router *mux.Router, req *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost} {
		try := req.Clone(req.Context())
		try.Method = m
		var match mux.RouteMatch
		if router.Match(try, &match) && match.MatchErr == nil {
			out = append(out, m)
		}
	}
	return append(out, http.MethodOptions)
}

// webhookPath is where CXone posts reports.
const webhookPath = "/webhooks/cxone/sms"

// lenientPath takes a path as the tutorial's Express server did: with one
// trailing slash, and the webhook's in any case. A CXone subscription
// written by hand as ".../sms/" kept working there, and every report would
// be refused here.
func lenientPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		trimmed := len(p) > 1 && strings.HasSuffix(p, "/") && !strings.HasSuffix(p, "//")
		if trimmed {
			p = p[:len(p)-1]
		}
		if trimmed || (p != webhookPath && strings.EqualFold(p, webhookPath)) {
			r2 := *r
			u := *r.URL
			if strings.EqualFold(p, webhookPath) {
				p = webhookPath
			}
			u.Path, u.RawPath = p, ""
			if trimmed && r.URL.RawPath != "" {
				u.RawPath = strings.TrimSuffix(r.URL.RawPath, "/")
			}
			r2.URL = &u
			r = &r2
		}
		next.ServeHTTP(w, r)
	})
}

// checkURL refuses a request whose query cannot be read, repeats a
// parameter, or whose path or query holds a NUL or bytes that are not
// UTF-8: net/http drops a malformed pair (?region=%zz) without a word and
// keeps the first of a repeated one, so a mangled filter answered with the
// unfiltered totals; and PostgreSQL refuses such text, which was a 500.
func checkURL(next http.Handler) http.Handler {
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		path, err := url.PathUnescape(r.URL.EscapedPath())
		if err != nil {
			path = r.URL.Path
		}
		if !cleanText(path) {
			return errorf(http.StatusBadRequest, "the path holds a NUL or bytes that are not UTF-8, which no message ID or route can")
		}
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return errorf(http.StatusBadRequest, "query: "+err.Error())
		}
		for k, vs := range q {
			if len(vs) > 1 {
				return errorf(http.StatusBadRequest, "query: "+quote(k)+" is given "+itoa(int64(len(vs)))+" times; give it once")
			}
			if !cleanText(k) || !cleanText(vs[0]) {
				return errorf(http.StatusBadRequest, "query: "+quote(k)+" holds a NUL or bytes that are not UTF-8")
			}
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

func cleanText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// pathVar is the route variable key of r, unescaped.
func pathVar(r *http.Request, key string) string {
	v := mux.Vars(r)[key]
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

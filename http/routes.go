package http

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gorilla/mux"
	"github.com/klauspost/compress/gzhttp"
	"github.com/sirupsen/logrus"
)

// routes is the whole API on one screen.
func (s *Server) routes() *mux.Router {
	r := s.newRouter()
	get := []string{http.MethodGet, http.MethodHead} // every GET answers HEAD (RFC 9110 §9.1)

	r.Handle("/webhooks/cxone/sms", handlerFunc(s.handleWebhook)).Methods(http.MethodPost)

	// Reads wait for the database at most ReadTimeout: behind a lock (a
	// maintenance session's LOCK TABLE, say) they piled up for as long as
	// it was held, while the webhook had answered 503 long before.
	// Their answers are compressed for clients that accept it (compressAnswers).
	read := func(h http.Handler) http.Handler { return compressAnswers(s.bounded(h)) }
	r.Handle("/messages/{id}", read(handlerFunc(s.handleMessage))).Methods(get...)
	r.Handle("/messages/{id}/history", read(handlerFunc(s.handleHistory))).Methods(get...)

	// Routes that filter name their parameters: a misspelt or mangled
	// filter would answer the unfiltered totals as if filtered.
	r.Handle("/analytics/carriers", read(params(s.handleCarriers, "from", "to", "region", "carrier"))).Methods(get...)
	// The SLA read model has no region: handleSLA refuses one, saying why.
	r.Handle("/analytics/sla", read(paramsRefusing(s.handleSLA, []string{"region"}, "from", "to", "carrier", "window"))).Methods(get...)
	r.Handle("/analytics/delivery", read(params(s.handleDelivery))).Methods(get...)
	r.Handle("/compliance/violations", read(params(s.handleViolations, "region", "senderId"))).Methods(get...)
	r.Handle("/compliance/check", compressAnswers(params(s.handleCheck, "senderId", "recipient", "region"))).Methods(get...)

	r.Handle("/simulator/sms", handlerFunc(s.handleSimulator)).Methods(http.MethodPost)

	// Admin routes check the token themselves rather than through a
	// subrouter: a wrong method on one got the subrouter's 404.
	r.Handle("/admin/projections", s.requireAdmin(read(handlerFunc(s.handleProjections)))).Methods(get...)
	r.Handle("/admin/projections/{name}/rebuild", s.requireAdmin(handlerFunc(s.handleRebuild))).Methods(http.MethodPost)
	r.Handle("/admin/dead-letters", s.requireAdmin(read(handlerFunc(s.handleDeadLetters)))).Methods(get...)
	r.Handle("/admin/dead-letters/{id}/replay", s.requireAdmin(handlerFunc(s.handleReplay))).Methods(http.MethodPost)

	r.Handle("/healthz", handlerFunc(s.handleHealthz)).Methods(get...)
	r.Handle("/readyz", handlerFunc(s.handleReadyz)).Methods(get...)
	r.Handle("/metrics", s.metricsHandler).Methods(get...)

	r.Handle("/", compressAnswers(handlerFunc(s.handleDashboard))).Methods(get...)
	r.Handle("/assets/{file}", compressAnswers(handlerFunc(s.handleAsset))).Methods(get...)
	r.Handle("/openapi.json", compressAnswers(handlerFunc(s.handleOpenAPI))).Methods(get...)
	return r
}

// compressAnswers gzips (or zstd-compresses, when preferred) answers of 1 KiB
// or more for clients that accept it: the dashboard polls the analytics
// every 5 s, an SLA answer over months runs to megabytes, and
// /openapi.json and the dashboard's script are 89 and 64 KB as text, a
// fifth of that compressed. The webhook's, the probes' and the metrics'
// answers (compressed by their own handler) are left alone. An ETag is
// kept as it is: the dashboard's assets compare it with If-None-Match,
// and the content it names is the same in any encoding. So is the
// assets' "Accept-Ranges: none": they are served whole either way.
//
// A HEAD is answered as the GET it stands for, compressed alike, so that
// its headers are the GET's (RFC 9110 §9.3.2); net/http sends no body.
var compressAnswers = func() func(http.Handler) http.HandlerFunc {
	wrap, err := gzhttp.NewWrapper(gzhttp.KeepAcceptRanges())
	if err != nil {
		panic(err) // fixed options, none to refuse
	}
	return func(h http.Handler) http.HandlerFunc {
		zipped := wrap(h)
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodHead {
				r = r.Clone(r.Context())
				r.Method = http.MethodGet
			}
			zipped(w, r)
		}
	}
}()

// newRouter is a router with no routes yet, and what every port of this
// service answers alike: request IDs, the JSON 404, the 405 with Allow, the
// 204 to OPTIONS. cxsms project's port answered with net/http's own text.
func (s *Server) newRouter() *mux.Router {
	// Routes match the path as sent, so an ID holding an escaped slash
	// (/messages/a%2Fb) is one segment; pathVar unescapes it. Paths are not
	// cleaned: mux answered "//healthz" with a bare 301, which turns a
	// webhook's POST into a GET.
	r := mux.NewRouter().UseEncodedPath().SkipClean(true)
	middleware := []mux.MiddlewareFunc{s.requestID, s.recoverPanics, s.observe, checkPath}
	r.Use(middleware...)
	// Routes that match nothing go through the same middleware (mux runs
	// it on matches only), so a misconfigured webhook URL shows in the
	// metrics as 404s, and a path no route can hold is a 400 on every path.
	wrap := func(h http.Handler) http.Handler {
		for i := len(middleware) - 1; i >= 0; i-- {
			h = middleware[i](h)
		}
		return h
	}
	// Answers name the path as sent (escaped): decoded, /metrics%2F read
	// "no route GET /metrics/", a route that answers; and with lenientPath's
	// slash trimmed, /assets/ read "no route GET /assets".
	// A HEAD is named as the GET it stands for: its Content-Length must be
	// the GET's (RFC 9110 §9.3.2), and "HEAD" made it a byte longer.
	r.NotFoundHandler = wrap(handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		method := r.Method
		if method == http.MethodHead {
			method = http.MethodGet
		}
		return errorf(http.StatusNotFound, "no route "+method+" "+sentPath(r))
	}))
	r.MethodNotAllowedHandler = wrap(handlerFunc(func(w http.ResponseWriter, req *http.Request) error {
		allowed := allowedMethods(r, req)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		if req.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return errorf(http.StatusMethodNotAllowed, "method "+req.Method+" not allowed on "+sentPath(req)+": use "+strings.Join(allowed, " or "))
	}))
	return r
}

// NewProjectServer is cxsms project's HTTP API, GET /metrics and /healthz,
// with serve's middleware, paths and error answers: the same request may
// not be answered in two ways by two ports of one service.
func NewProjectServer(log *logrus.Logger, metricsHandler http.Handler) http.Handler {
	// No HTTP series here: project's /metrics holds the projectors' only.
	s := &Server{log: log, metrics: &Metrics{}, metricsHandler: metricsHandler}
	r := s.newRouter()
	get := []string{http.MethodGet, http.MethodHead}
	r.Handle("/healthz", handlerFunc(s.handleHealthz)).Methods(get...)
	r.Handle("/metrics", s.metricsHandler).Methods(get...)
	return normalizePath(lenientPath(r))
}

// bounded gives a read ReadTimeout to get its answer from the database.
func (s *Server) bounded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadTimeout)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
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
		// The path as sent: a trailing "%2F" belongs to a message ID
		// ("z1/"), and only a literal trailing slash may go.
		raw := r.URL.EscapedPath()
		trimmed := len(raw) > 1 && strings.HasSuffix(raw, "/") && !strings.HasSuffix(raw, "//")
		if trimmed {
			raw = raw[:len(raw)-1]
		}
		webhook := raw != webhookPath && strings.EqualFold(raw, webhookPath)
		if !trimmed && !webhook {
			next.ServeHTTP(w, r)
			return
		}
		if webhook {
			raw = webhookPath
		}
		r2 := withPath(r, raw)
		next.ServeHTTP(w, r2.WithContext(context.WithValue(r2.Context(), sentPathKey{}, r.URL.EscapedPath())))
	})
}

// sentPathKey holds the escaped path a request came with, before
// lenientPath trimmed its slash or set the webhook's case.
type sentPathKey struct{}

// sentPath is the escaped path r came with, which answers name: the path
// routed is lenientPath's, and a 404 that names it names a path not sent.
// Unreserved escapes are decoded already (normalizePath): the same URI.
func sentPath(r *http.Request) string {
	if p, ok := r.Context().Value(sentPathKey{}).(string); ok {
		return p
	}
	return r.URL.EscapedPath()
}

// withPath is r with its escaped path replaced by raw, or r itself when raw
// does not unescape (net/http parsed the path it came from, so it does).
func withPath(r *http.Request, raw string) *http.Request {
	path, err := url.PathUnescape(raw)
	if err != nil {
		return r
	}
	u := *r.URL
	u.Path, u.RawPath = path, raw
	r2 := *r
	r2.URL = &u
	return &r2
}

// normalizePath decodes the escapes of unreserved characters (ALPHA,
// DIGIT, "-", ".", "_", "~") in the path before routing: /%68ealthz and
// /healthz are the same URI (RFC 3986 §6.2.2.2), and the first got a 404
// naming the second. Every other escape stays as sent, so an escaped "/"
// in a message ID stays inside the ID.
func normalizePath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.URL.EscapedPath()
		if !strings.Contains(raw, "%") {
			next.ServeHTTP(w, r)
			return
		}
		var b strings.Builder
		for i := 0; i < len(raw); i++ {
			if raw[i] == '%' && i+2 < len(raw) {
				if c, err := strconv.ParseUint(raw[i+1:i+3], 16, 8); err == nil && unreserved(byte(c)) {
					b.WriteByte(byte(c))
					i += 2
					continue
				}
			}
			b.WriteByte(raw[i])
		}
		if norm := b.String(); norm != raw {
			r = withPath(r, norm)
		}
		next.ServeHTTP(w, r)
	})
}

// unreserved reports whether c is an unreserved character of RFC 3986 §2.3.
func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// checkPath refuses a path that holds a NUL or bytes that are not UTF-8,
// which no message ID or route can: PostgreSQL refused such text, a 500.
func checkPath(next http.Handler) http.Handler {
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		path, err := url.PathUnescape(r.URL.EscapedPath())
		if err != nil {
			path = r.URL.Path
		}
		if !cleanText(path) {
			return errorf(http.StatusBadRequest, "the path holds a NUL or bytes that are not UTF-8, which no message ID or route can")
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

// params serves h when the query holds only the parameters names, each at
// most once, readable and without a NUL or bytes that are not UTF-8.
// net/http drops a malformed pair (?region=%zz) without a word, keeps the
// first of a repeated one, and a handler ignores a misspelt one (?regoin=):
// each answered the unfiltered totals as if filtered. The analytics and
// compliance routes all go through it, /analytics/delivery with no names:
// ?carrier= there answered every carrier as if filtered. Other routes that
// read no parameter take any, as pages and scrapers send their own.
func params(h handlerFunc, names ...string) http.Handler {
	return paramsRefusing(h, nil, names...)
}

// paramsRefusing is params for a route that refuses parameters its
// neighbours take (refused), with a reason of its own: they go on to h,
// which says why, and are not among what the route is said to take.
// /analytics/sla?foo=1 said it took region, which it always refuses.
func paramsRefusing(h handlerFunc, refused []string, names ...string) http.Handler {
	takes := "this route takes " + strings.Join(names, ", ")
	if len(names) == 0 {
		takes = "this route takes none"
	}
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return errorf(http.StatusBadRequest, "query: "+err.Error())
		}
		for k, vs := range q {
			switch {
			case k == cacheBuster:
				continue
			case !slices.Contains(names, k) && !slices.Contains(refused, k):
				return errorf(http.StatusBadRequest, "query: unknown parameter "+quote(k)+"; "+takes)
			case len(vs) > 1:
				return errorf(http.StatusBadRequest, "query: "+quote(k)+" is given "+itoa(int64(len(vs)))+" times; give it once")
			case !cleanText(vs[0]):
				return errorf(http.StatusBadRequest, "query: "+quote(k)+" holds a NUL or bytes that are not UTF-8")
			}
		}
		return h(w, r)
	})
}

// cacheBuster is the parameter a browser's poller adds to defeat caches
// (jQuery's cache: false sends _=<time>); every route ignores it, as the
// tutorial's did, where refusing it broke a dashboard carried over.
const cacheBuster = "_"

func cleanText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// pathVar is the route variable key of r, unescaped.
func pathVar(r *http.Request, key string) string {
	v := mux.Vars(r)[key]
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

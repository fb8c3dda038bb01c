package fakecxone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
)

// Paths the fake serves. PathToken is what discovery names, as CXone's
// discovery names /auth/token; PathTokenLegacy is the tutorial's per-domain
// token path, served too so that both ways of finding the endpoint work.
const (
	PathDiscovery   = "/.well-known/openid-configuration"
	PathToken       = "/auth/token"
	PathTokenLegacy = "/api/v2/oauth/token"
	PathWebhooks    = "/api/v2/webhooks"
)

// Credentials the fake accepts when Options leaves them empty.
const (
	DefaultClientID     = "fake-client-id"
	DefaultClientSecret = "fake-client-secret"
)

// DefaultScopes are the scopes the fake's client may be granted: the four
// the tutorial asks for.
var DefaultScopes = []string{"messaging:read", "messaging:write", "webhooks:manage", "webhooks:read"}

// Options configures a Server. Zero fields take the defaults.
type Options struct {
	ClientID     string // default DefaultClientID
	ClientSecret string // default DefaultClientSecret
	// AccessKeyID and AccessKeySecret enable the password grant; without
	// them it is refused as unauthorized_client.
	AccessKeyID     string
	AccessKeySecret string
	// Scopes the client may be granted; asking for any other is
	// invalid_scope. Default DefaultScopes.
	Scopes []string
	// TokenTTL is the issued tokens' expires_in; default one hour.
	TokenTTL time.Duration
	// Now is the fake's clock (token expiry, log times); default time.Now.
	Now func() time.Time
	// Logger receives one debug line per request and info lines for
	// subscription changes; by default nothing is logged.
	Logger logrus.FieldLogger
	// HTTPClient posts SendBurst's reports; default a plain client.
	HTTPClient *http.Client
	// ListDelay holds every listing of the subscriptions this long before
	// answering it with the subscriptions as they were when it arrived: a
	// slow listing, the window in which registrations that run at the same
	// time all find none and all create.
	ListDelay time.Duration
}

// String shows the options with the secrets left out, so that a fake-cxone
// command can log what it runs with.
func (o Options) String() string {
	return fmt.Sprintf("fakecxone.Options{ClientID:%s ClientSecret:[redacted] AccessKeyID:%s AccessKeySecret:[redacted] Scopes:%v TokenTTL:%s ListDelay:%s}",
		o.ClientID, o.AccessKeyID, o.Scopes, o.TokenTTL, o.ListDelay)
}

// Format makes every verb print String.
func (o Options) Format(f fmt.State, _ rune) { io.WriteString(f, o.String()) }

// Request is one entry of the request log. It deliberately holds no headers,
// query or body: those are where credentials travel.
type Request struct {
	Method   string
	Path     string
	Time     time.Time
	Status   int // 0 when the client went away before an answer
	Duration time.Duration
	Fault    bool // answered (or delayed) by an injected fault
}

// Server is the fake CXone. It is an http.Handler and safe for concurrent
// use.
type Server struct {
	opts Options
	mux  *http.ServeMux
	log  logrus.FieldLogger

	mu            sync.Mutex
	tokens        map[[32]byte]issuedToken // keyed by SHA-256, so the fake holds no usable token
	tokenRequests int
	tokensIssued  int
	subs          map[string]*Subscription
	nextID        int
	faults        []*pendingFault
	requests      []Request
	reports       []Report

	hs  *http.Server
	url string
}

// maxRequestLog bounds the request log of a long-running demo.
const maxRequestLog = 10000

// New returns the fake as a handler, for httptest.NewServer or any mux.
func New(opts Options) *Server {
	if opts.ClientID == "" {
		opts.ClientID = DefaultClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DefaultClientSecret
	}
	if len(opts.Scopes) == 0 {
		opts.Scopes = DefaultScopes
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{}
	}
	log := opts.Logger
	if log == nil {
		quiet := logrus.New()
		quiet.SetOutput(io.Discard)
		log = quiet
	}
	s := &Server{
		opts:   opts,
		log:    log.WithField("component", "fakecxone"),
		tokens: map[[32]byte]issuedToken{},
		subs:   map[string]*Subscription{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathDiscovery, s.handleDiscovery)
	mux.HandleFunc("POST "+PathToken, s.handleToken)
	mux.HandleFunc("POST "+PathTokenLegacy, s.handleToken)
	mux.HandleFunc("GET "+PathWebhooks, s.handleList)
	mux.HandleFunc("POST "+PathWebhooks, s.handleCreate)
	mux.HandleFunc("GET "+PathWebhooks+"/{id}", s.handleGet)
	mux.HandleFunc("PUT "+PathWebhooks+"/{id}", s.handleUpdate)
	mux.HandleFunc("DELETE "+PathWebhooks+"/{id}", s.handleDelete)
	s.mux = mux
	return s
}

// Listen serves the fake on addr (":0" picks a free port) until Close; it is
// what a `fake-cxone` command runs.
func Listen(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakecxone: listen on %s: %w", addr, err)
	}
	s := New(opts)
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + dialable(ln.Addr().(*net.TCPAddr))
	go func() {
		if err := s.hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.WithError(err).Error("fakecxone: serve")
		}
	}()
	return s, nil
}

// dialable turns a wildcard listen address into one a client can dial.
func dialable(a *net.TCPAddr) string {
	if a.IP == nil || a.IP.IsUnspecified() {
		return fmt.Sprintf("127.0.0.1:%d", a.Port)
	}
	return a.String()
}

// URL is the base URL after Listen ("" for a Server made by New: use the
// httptest server's URL instead).
func (s *Server) URL() string { return s.url }

// Close stops a Server started by Listen.
func (s *Server) Close() error {
	if s.hs == nil {
		return nil
	}
	return s.hs.Close()
}

// Shutdown stops a Server started by Listen, letting requests in flight end.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.hs == nil {
		return nil
	}
	return s.hs.Shutdown(ctx)
}

// ServeHTTP logs every request, applies any pending fault, then serves it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Now()
	began := time.Now()
	if r.Method == http.MethodPost && (r.URL.Path == PathToken || r.URL.Path == PathTokenLegacy) {
		s.mu.Lock()
		s.tokenRequests++
		s.mu.Unlock()
	}
	rec := &statusRecorder{ResponseWriter: w}
	faulted, answered := s.applyFault(rec, r)
	if !answered {
		s.mux.ServeHTTP(rec, r)
	}
	entry := Request{Method: r.Method, Path: r.URL.Path, Time: start, Status: rec.status, Duration: time.Since(began), Fault: faulted}
	s.mu.Lock()
	s.requests = append(s.requests, entry)
	if len(s.requests) > maxRequestLog {
		s.requests = slices.Delete(s.requests, 0, len(s.requests)-maxRequestLog)
	}
	s.mu.Unlock()
	s.log.WithFields(logrus.Fields{"method": entry.Method, "path": entry.Path, "status": entry.Status, "fault": faulted}).Debug("fakecxone: request")
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Requests returns a copy of the request log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// RequestCount counts logged requests with this method and path (method ""
// matches any).
func (s *Server) RequestCount(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && r.Path == path {
			n++
		}
	}
	return n
}

// TokenRequests counts POSTs to either token path, refused and faulted ones
// included: it is what a client's token caching is judged by.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// TokensIssued counts tokens actually issued.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokensIssued
}

// writeJSONError answers in the shape the API uses ({"error": ...}) or,
// with a description, in OAuth's (RFC 6749 5.2).
func writeJSONError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	body := map[string]string{"error": code}
	if description != "" {
		body["error_description"] = description
	}
	json.NewEncoder(w).Encode(body)
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

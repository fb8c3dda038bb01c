package fakecxone

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type issuedToken struct {
	expiresAt time.Time
	scopes    []string
}

// handleDiscovery serves the part of an OpenID configuration a client
// needs. The issuer is the address the request came in on, so the document
// is right behind httptest's random port.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	base := baseURL(r)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                base,
		"token_endpoint":                        base + PathToken,
		"grant_types_supported":                 []string{"client_credentials", "password"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
		"scopes_supported":                      s.opts.Scopes,
		"response_types_supported":              []string{"token"},
	})
}

// handleToken is an RFC 6749 token endpoint: form-encoded body, client
// authenticated with HTTP Basic, client_credentials or password grant.
// It is strict where the tutorial's client was wrong (a JSON body is
// refused), so tests catch such a client.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded (RFC 6749 4.4.2)")
		return
	}
	id, secret, ok := r.BasicAuth()
	if ok {
		// RFC 6749 2.3.1: both are form-encoded inside the Basic header.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		ok = err1 == nil && err2 == nil
	}
	if !ok || !equal(id, s.opts.ClientID) || !equal(secret, s.opts.ClientSecret) {
		w.Header().Set("WWW-Authenticate", `Basic realm="fakecxone"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "unreadable form")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
	case "password":
		if s.opts.AccessKeyID == "" {
			writeJSONError(w, http.StatusBadRequest, "unauthorized_client", "this client may not use the password grant")
			return
		}
		if !equal(r.PostForm.Get("username"), s.opts.AccessKeyID) || !equal(r.PostForm.Get("password"), s.opts.AccessKeySecret) {
			writeJSONError(w, http.StatusBadRequest, "invalid_grant", "access key not recognised")
			return
		}
	case "":
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "grant_type is missing")
		return
	default:
		writeJSONError(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		scopes = s.opts.Scopes // RFC 6749 3.3: no scope asked, the default granted
	}
	for _, sc := range scopes {
		if !slices.Contains(s.opts.Scopes, sc) {
			writeJSONError(w, http.StatusBadRequest, "invalid_scope", "scope "+sc+" is not allowed for this client")
			return
		}
	}

	var raw [32]byte
	rand.Read(raw[:])
	tok := base64.RawURLEncoding.EncodeToString(raw[:])
	ttl := s.opts.TokenTTL
	s.mu.Lock()
	now := s.opts.Now()
	for k, t := range s.tokens { // keeps a long demo's map small
		if !now.Before(t.expiresAt) {
			delete(s.tokens, k)
		}
	}
	s.tokens[sha256.Sum256([]byte(tok))] = issuedToken{expiresAt: now.Add(ttl), scopes: scopes}
	s.tokensIssued++
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store") // RFC 6749 5.1
	w.Header().Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   max(int64((ttl+time.Second-1)/time.Second), 1),
		"scope":        strings.Join(scopes, " "),
	})
}

// authorize checks the bearer token: 401 unless the fake issued it and it
// has not expired, 403 unless it carries one of the scopes. It answers the
// request itself when it refuses.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, anyOf ...string) bool {
	h := r.Header.Get("Authorization")
	if !hasPrefixFold(h, "Bearer ") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fakecxone"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_token", "")
		return false
	}
	key := sha256.Sum256([]byte(strings.TrimSpace(h[len("Bearer "):])))
	s.mu.Lock()
	t, ok := s.tokens[key]
	now := s.opts.Now()
	s.mu.Unlock()
	if !ok || !now.Before(t.expiresAt) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSONError(w, http.StatusUnauthorized, "invalid_token", "")
		return false
	}
	for _, want := range anyOf {
		if slices.Contains(t.scopes, want) {
			return true
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.Join(anyOf, " ")+`"`)
	writeJSONError(w, http.StatusForbidden, "insufficient_scope", "")
	return false
}

// equal compares credentials in constant time.
func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

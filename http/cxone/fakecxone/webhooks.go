package fakecxone

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Subscription is a webhook subscription as the fake stores it and the API
// returns it. Its headers hold the webhook secret, so its printed forms
// (String, fmt verbs) show header names only; JSON, which is the API's wire
// format, carries the values.
type Subscription struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	CallbackURL string            `json:"callbackUrl"`
	EventTypes  []string          `json:"eventTypes"`
	HTTPMethod  string            `json:"httpMethod"`
	Headers     map[string]string `json:"headers"`
	Enabled     bool              `json:"enabled"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Updates     int               `json:"-"` // how many PUTs changed it; tests check rotations with it
}

func (s Subscription) String() string {
	names := slices.Sorted(maps.Keys(s.Headers))
	return fmt.Sprintf("Subscription{ID:%s Name:%s CallbackURL:%s EventTypes:%v Enabled:%t Headers:%v}",
		s.ID, s.Name, s.CallbackURL, s.EventTypes, s.Enabled, names)
}

// Format makes every verb print String, so no verb shows a header value.
func (s Subscription) Format(f fmt.State, _ rune) { io.WriteString(f, s.String()) }

func (s *Subscription) clone() Subscription {
	c := *s
	c.EventTypes = slices.Clone(s.EventTypes)
	c.Headers = maps.Clone(s.Headers)
	return c
}

// Subscriptions returns copies of the stored subscriptions in creation
// order.
func (s *Server) Subscriptions() []Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.subscriptionsLocked()
}

func (s *Server) subscriptionsLocked() []Subscription {
	out := make([]Subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, sub.clone())
	}
	slices.SortFunc(out, func(a, b Subscription) int {
		ai, _ := strconv.Atoi(strings.TrimPrefix(a.ID, "wh-"))
		bi, _ := strconv.Atoi(strings.TrimPrefix(b.ID, "wh-"))
		return ai - bi
	})
	return out
}

// AddSubscription stores sub directly, as if created through the API (for
// seeding duplicates or a pre-existing tutorial subscription in tests). It
// returns the id given.
func (s *Server) AddSubscription(sub Subscription) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insertLocked(sub)
}

// SetHeaders replaces the headers of subscription id, as a PUT from the
// service does when its secret rotates (for tests); false if there is none.
func (s *Server) SetHeaders(id string, headers map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs[id]
	if ok {
		sub.Headers = maps.Clone(headers)
		sub.UpdatedAt = s.opts.Now()
		sub.Updates++
	}
	return ok
}

// subscription returns subscription id as it is now.
func (s *Server) subscription(id string) (Subscription, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub, ok := s.subs[id]
	if !ok {
		return Subscription{}, false
	}
	return sub.clone(), true
}

func (s *Server) insertLocked(sub Subscription) string {
	s.nextID++
	sub.ID = fmt.Sprintf("wh-%d", s.nextID)
	now := s.opts.Now()
	sub.CreatedAt, sub.UpdatedAt = now, now
	sub.EventTypes = slices.Clone(sub.EventTypes)
	sub.Headers = maps.Clone(sub.Headers)
	s.subs[sub.ID] = &sub
	return sub.ID
}

// subscriptionBody is what POST and PUT accept.
type subscriptionBody struct {
	ID          string            `json:"id"` // accepted and ignored: the path names the subscription
	Name        string            `json:"name"`
	CallbackURL string            `json:"callbackUrl"`
	EventTypes  []string          `json:"eventTypes"`
	HTTPMethod  string            `json:"httpMethod"`
	Headers     map[string]string `json:"headers"`
	Enabled     *bool             `json:"enabled"`
}

// decode reads and validates a subscription body, answering 400 itself
// when it is wrong.
func decodeSubscription(w http.ResponseWriter, r *http.Request) (subscriptionBody, bool) {
	var b subscriptionBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "body is not a subscription: "+err.Error())
		return b, false
	}
	u, err := url.Parse(b.CallbackURL)
	switch {
	case b.Name == "":
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "name is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "callbackUrl must be an absolute http(s) URL")
	case len(b.EventTypes) == 0:
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "eventTypes must not be empty")
	case b.HTTPMethod != "" && b.HTTPMethod != http.MethodPost:
		writeJSONError(w, http.StatusBadRequest, "invalid_request", "httpMethod must be POST")
	default:
		return b, true
	}
	return b, false
}

func (b subscriptionBody) apply(sub *Subscription) {
	sub.Name = b.Name
	sub.CallbackURL = b.CallbackURL
	sub.EventTypes = slices.Clone(b.EventTypes)
	sub.HTTPMethod = http.MethodPost
	sub.Headers = maps.Clone(b.Headers)
	sub.Enabled = b.Enabled == nil || *b.Enabled
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, "webhooks:read", "webhooks:manage") {
		return
	}
	subs := s.Subscriptions()
	if d := s.opts.ListDelay; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return // the client gave up
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": subs})
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, "webhooks:read", "webhooks:manage") {
		return
	}
	s.mu.Lock()
	sub, ok := s.subs[r.PathValue("id")]
	var c Subscription
	if ok {
		c = sub.clone()
	}
	s.mu.Unlock()
	if !ok {
		writeJSONError(w, http.StatusNotFound, "not_found", "")
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, "webhooks:manage") {
		return
	}
	b, ok := decodeSubscription(w, r)
	if !ok {
		return
	}
	var sub Subscription
	b.apply(&sub)
	s.mu.Lock()
	id := s.insertLocked(sub)
	created := s.subs[id].clone()
	s.mu.Unlock()
	s.log.WithFields(map[string]any{"id": id, "name": created.Name, "callback": redactURL(created.CallbackURL)}).Info("fakecxone: subscription created")
	writeJSON(w, http.StatusCreated, created)
}

func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, "webhooks:manage") {
		return
	}
	b, ok := decodeSubscription(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	sub, found := s.subs[r.PathValue("id")]
	var updated Subscription
	if found {
		b.apply(sub)
		sub.UpdatedAt = s.opts.Now()
		sub.Updates++
		updated = sub.clone()
	}
	s.mu.Unlock()
	if !found {
		writeJSONError(w, http.StatusNotFound, "not_found", "")
		return
	}
	s.log.WithFields(map[string]any{"id": updated.ID, "name": updated.Name, "callback": redactURL(updated.CallbackURL)}).Info("fakecxone: subscription updated")
	writeJSON(w, http.StatusOK, updated)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	if !s.authorize(w, r, "webhooks:manage") {
		return
	}
	id := r.PathValue("id")
	s.mu.Lock()
	sub, found := s.subs[id]
	delete(s.subs, id)
	s.mu.Unlock()
	if !found {
		writeJSONError(w, http.StatusNotFound, "not_found", "")
		return
	}
	s.log.WithFields(map[string]any{"id": id, "name": sub.Name, "callback": redactURL(sub.CallbackURL)}).Info("fakecxone: subscription deleted")
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// redactURL keeps a URL's query (which may carry a token) out of logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

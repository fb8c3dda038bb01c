package cxone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

const (
	// DefaultWebhookName is the subscription name the tutorial used, kept so
	// that EnsureWebhook adopts a subscription the tutorial created.
	DefaultWebhookName = "sms-status-webhook"
	// EventTypeStatusUpdate is the one event type cxsms subscribes to.
	EventTypeStatusUpdate = "messaging.status.update"
)

// Action is what EnsureWebhook did.
type Action string

const (
	ActionCreated   Action = "created"
	ActionUpdated   Action = "updated"
	ActionUnchanged Action = "unchanged"
)

// WebhookResult reports what EnsureWebhook did, for the register-webhook
// command to print.
type WebhookResult struct {
	Action Action
	ID     string
	// Changed names what an update changed ("callbackUrl",
	// "headers.X-Webhook-Secret", ...), never the values.
	Changed []string
	// Duplicates are other subscriptions that also match by name or
	// callback URL (left by the tutorial's create-on-every-start). They are
	// reported, not deleted: they may belong to someone else, and the
	// service dedupes their reports anyway.
	Duplicates []string
}

// webhook is CXone's subscription resource. It is unexported because its
// headers hold the webhook secret, and an exported type would invite
// printing it.
type webhook struct {
	ID          flexID            `json:"id,omitempty"`
	Name        string            `json:"name"`
	CallbackURL string            `json:"callbackUrl"`
	EventTypes  []string          `json:"eventTypes"`
	HTTPMethod  string            `json:"httpMethod,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Enabled     *bool             `json:"enabled,omitempty"` // nil: CXone did not say
}

// flexID accepts an id as a JSON string or number, since APIs differ and a
// number must not fail the whole listing.
type flexID string

func (id *flexID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*id = flexID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("webhook id %s is neither a string nor a number", b)
	}
	*id = flexID(n.String())
	return nil
}

// EnsureWebhook makes CXone hold exactly one subscription that posts status
// reports to callbackURL with the current WEBHOOK_SECRET, and reports what it
// had to do. It lists first and only creates when nothing matches (by name,
// then by callback URL) and only updates, in place, when something differs,
// so running it at every start is safe and rotating the secret keeps the
// subscription's id.
//
// Calls on one Client are serialized. Two processes running it at the same
// instant could still both create; run it from one place (the
// register-webhook command) rather than from every replica.
func (c *Client) EnsureWebhook(ctx context.Context, callbackURL string) (WebhookResult, error) {
	if c.cfgErr != nil {
		return WebhookResult{}, c.cfgErr
	}
	if err := c.checkCallback(callbackURL); err != nil {
		return WebhookResult{}, err
	}
	if c.cfg.WebhookSecret == "" {
		return WebhookResult{}, ErrNoWebhookSecret
	}
	c.ensureMu.Lock()
	defer c.ensureMu.Unlock()
	ctx, cancel := c.withBudget(ctx)
	defer cancel()

	log := c.log.WithFields(map[string]any{"name": c.webhookName, "callback": stripQuery(callbackURL)})
	b := c.newBackoff("ensure webhook")
	// mayHaveCreated: an earlier create's outcome was unknown, so what the
	// listing shows now may be ours. createdNoID: a create succeeded but
	// CXone sent no id, so the listing must show it.
	mayHaveCreated, createdNoID := false, false
	for {
		b.attempt++
		list, err := c.listWebhooks(ctx)
		if err != nil {
			return WebhookResult{}, err
		}
		have, dups := c.match(list, callbackURL)
		if len(dups) > 0 {
			log.WithField("duplicates", dups).Warn("cxone: other subscriptions match too, so CXone delivers each report more than once; delete them in the CXone admin console")
		}

		if have == nil {
			if createdNoID {
				return WebhookResult{}, errors.New("cxone: ensure webhook: CXone accepted the subscription but neither returned its id nor lists it")
			}
			id, err := c.createWebhook(ctx, c.desired(nil, callbackURL))
			var unc *uncertainError
			if errors.As(err, &unc) {
				// Look again before creating again: CXone may have created
				// it and lost only the answer.
				mayHaveCreated = true
				if werr := b.wait(ctx, err, statusOf(err), -1); werr != nil {
					return WebhookResult{}, werr
				}
				continue
			}
			if err != nil {
				return WebhookResult{}, err
			}
			if id == "" {
				createdNoID = true
				continue
			}
			log.WithField("id", id).Info("cxone: webhook subscription created")
			return WebhookResult{Action: ActionCreated, ID: id, Duplicates: dups}, nil
		}

		id := string(have.ID)
		if id == "" {
			return WebhookResult{}, errors.New("cxone: ensure webhook: CXone lists the subscription without an id, so it cannot be updated")
		}
		want := c.desired(have, callbackURL)
		changed := diff(*have, want)
		if len(changed) == 0 {
			action := ActionUnchanged
			if mayHaveCreated || createdNoID {
				action = ActionCreated
			}
			log.WithFields(map[string]any{"id": id, "action": string(action)}).Info("cxone: webhook subscription in place")
			return WebhookResult{Action: action, ID: id, Duplicates: dups}, nil
		}
		if err := c.updateWebhook(ctx, id, want); err != nil {
			return WebhookResult{}, err
		}
		log.WithFields(map[string]any{"id": id, "changed": changed}).Info("cxone: webhook subscription updated")
		return WebhookResult{Action: ActionUpdated, ID: id, Changed: changed, Duplicates: dups}, nil
	}
}

// desired is the subscription as it should be. Headers someone else added
// to an existing subscription are kept, because a PUT replaces the whole
// resource and dropping them is not ours to decide.
func (c *Client) desired(have *webhook, callbackURL string) webhook {
	headers := map[string]string{}
	if have != nil {
		for k, v := range have.Headers {
			if !ourHeader(k) {
				headers[k] = v
			}
		}
	}
	headers["Content-Type"] = "application/json"
	headers["X-Webhook-Secret"] = c.cfg.WebhookSecret.Reveal()
	enabled := true
	return webhook{
		Name:        c.webhookName,
		CallbackURL: callbackURL,
		EventTypes:  []string{EventTypeStatusUpdate},
		HTTPMethod:  http.MethodPost,
		Headers:     headers,
		Enabled:     &enabled,
	}
}

func ourHeader(k string) bool {
	return strings.EqualFold(k, "Content-Type") || strings.EqualFold(k, "X-Webhook-Secret")
}

// diff names the fields in which have differs from want; an empty result
// means no update is needed.
func diff(have, want webhook) []string {
	var changed []string
	if have.Name != want.Name {
		changed = append(changed, "name")
	}
	if have.CallbackURL != want.CallbackURL {
		changed = append(changed, "callbackUrl")
	}
	h, w := slices.Clone(have.EventTypes), slices.Clone(want.EventTypes)
	slices.Sort(h)
	slices.Sort(w)
	// Extra event types count as a difference: the service would answer
	// them 400, and CXone would redeliver them forever.
	if !slices.Equal(slices.Compact(h), slices.Compact(w)) {
		changed = append(changed, "eventTypes")
	}
	if have.HTTPMethod != "" && !strings.EqualFold(have.HTTPMethod, want.HTTPMethod) {
		changed = append(changed, "httpMethod")
	}
	if have.Enabled != nil && !*have.Enabled {
		changed = append(changed, "enabled")
	}
	keys := make([]string, 0, len(want.Headers))
	for k := range want.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if v, ok := headerValue(have.Headers, k); !ok || v != want.Headers[k] {
			changed = append(changed, "headers."+k)
		}
	}
	return changed
}

// headerValue looks k up case-insensitively, as HTTP header names are.
func headerValue(h map[string]string, k string) (string, bool) {
	if v, ok := h[k]; ok {
		return v, true
	}
	for hk, v := range h {
		if strings.EqualFold(hk, k) {
			return v, true
		}
	}
	return "", false
}

// match picks the subscription to reconcile: one with our name and callback
// URL, else our name, else our callback URL, the first listed on a tie. The
// other matches are returned as duplicates.
func (c *Client) match(list []webhook, callbackURL string) (*webhook, []string) {
	score := func(w webhook) int {
		s := 0
		if w.Name == c.webhookName {
			s += 2
		}
		if w.CallbackURL == callbackURL {
			s++
		}
		return s
	}
	best := -1
	for i, w := range list {
		if s := score(w); s > 0 && (best < 0 || s > score(list[best])) {
			best = i
		}
	}
	if best < 0 {
		return nil, nil
	}
	var dups []string
	for i, w := range list {
		if i != best && score(w) > 0 {
			dups = append(dups, string(w.ID))
		}
	}
	return &list[best], dups
}

func (c *Client) webhooksURL() string { return c.cfg.apiBase() + "/api/v2/webhooks" }

func (c *Client) listWebhooks(ctx context.Context) ([]webhook, error) {
	resp, err := c.api(ctx, request{op: "list webhooks", method: http.MethodGet, url: c.webhooksURL(), idempotent: true})
	if err != nil {
		return nil, err
	}
	var body struct {
		Webhooks []webhook `json:"webhooks"`
	}
	trimmed := bytes.TrimSpace(resp.body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		// A bare array is accepted too; it costs nothing to be lenient here.
		err = json.Unmarshal(trimmed, &body.Webhooks)
	} else {
		err = json.Unmarshal(trimmed, &body)
	}
	if err != nil {
		return nil, fmt.Errorf("cxone: list webhooks: unreadable answer: %w", err)
	}
	return body.Webhooks, nil
}

func (c *Client) createWebhook(ctx context.Context, w webhook) (string, error) {
	body, err := json.Marshal(w)
	if err != nil {
		return "", fmt.Errorf("cxone: create webhook: %w", err)
	}
	resp, err := c.api(ctx, request{op: "create webhook", method: http.MethodPost, url: c.webhooksURL(),
		body: body, contentType: "application/json", idempotent: false})
	if err != nil {
		return "", err
	}
	var created webhook
	if len(bytes.TrimSpace(resp.body)) > 0 {
		if err := json.Unmarshal(resp.body, &created); err != nil {
			return "", nil // created, but the id must come from a listing
		}
	}
	return string(created.ID), nil
}

func (c *Client) updateWebhook(ctx context.Context, id string, w webhook) error {
	body, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("cxone: update webhook: %w", err)
	}
	_, err = c.api(ctx, request{op: "update webhook", method: http.MethodPut, url: c.webhooksURL() + "/" + url.PathEscape(id),
		body: body, contentType: "application/json", idempotent: true})
	return err
}

// checkCallback refuses URLs CXone could never post to.
func (c *Client) checkCallback(callbackURL string) error {
	u, err := url.Parse(callbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cxone: callback URL %q is not an absolute http(s) URL", stripQuery(callbackURL))
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	local := isLocalHost(host)
	if local && !c.allowLocalhost {
		return &LocalCallbackError{Host: host}
	}
	if u.Scheme != "https" && !local {
		c.log.WithField("callback", stripQuery(callbackURL)).Warn("cxone: the callback URL is plain http; CXone will send X-Webhook-Secret in clear text")
	}
	return nil
}

func isLocalHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsUnspecified()
}

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

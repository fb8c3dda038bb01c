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
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
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
	// Removed are copies of the subscription, with its name and callback
	// URL, that EnsureWebhook deleted: left by processes that registered at
	// the same moment, each having listed none.
	Removed []string
	// Duplicates are other subscriptions that match by name or by callback
	// URL only (left by the tutorial's create-on-every-start, say). They
	// are reported, not deleted: with another callback URL or name they
	// may belong to someone else, and the service dedupes their reports
	// anyway.
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
	// CreatedAt orders copies, so that every process keeps the same one.
	// It is never sent.
	CreatedAt flexTime `json:"createdAt,omitzero"`
}

// flexTime reads a creation time leniently: one CXone writes in another
// format, or not at all, is zero, and must not fail the whole listing.
type flexTime struct{ time.Time }

func (t *flexTime) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t.Time = v
		}
	}
	return nil
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
// Calls on one Client are serialized, but processes cannot be: two that
// list at the same moment both find nothing and both create. So after
// creating it lists again, and whenever it finds copies (our name and
// callback URL both) it keeps the oldest and deletes the others. Every
// process picks the same one to keep, and the one whose create came last
// lists after every other create, so the processes converge on one
// subscription.
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
	// CXone sent no id, so the listing must show it. created: the id of the
	// subscription this call created, listed again for copies made by
	// another process meanwhile.
	mayHaveCreated, createdNoID, created := false, false, ""
	for {
		b.attempt++
		list, err := c.listWebhooks(ctx)
		if err != nil && created != "" {
			// The subscription is in place; only the look for copies
			// failed, and the next run (or serve's next check) looks again.
			log.WithError(err).WithField("id", created).Warn("cxone: webhook subscription created, but listing again for copies made at the same moment failed")
			return WebhookResult{Action: ActionCreated, ID: created}, nil
		}
		if err != nil {
			return WebhookResult{}, err
		}
		have, copies, dups := c.match(list, callbackURL)
		if len(dups) > 0 {
			log.WithField("duplicates", dups).Warn("cxone: other subscriptions match too, by name or callback URL only, so CXone may deliver each report more than once; " +
				"they may not be ours, so they are left in place: delete them in the CXone admin console if they are")
		}

		if have == nil {
			if created != "" {
				// Created, but not listed yet: nothing to compare it with.
				log.WithField("id", created).Info("cxone: webhook subscription created")
				return WebhookResult{Action: ActionCreated, ID: created, Duplicates: dups}, nil
			}
			if createdNoID {
				return WebhookResult{}, errors.New("cxone: ensure webhook: CXone accepted the subscription but neither returned its id nor lists it")
			}
			id, err := c.createWebhook(ctx, c.desired(nil, callbackURL))
			var unc *uncertainError
			if errors.As(err, &unc) {
				// Look again before creating again: CXone may have created
				// it and lost only the answer.
				mayHaveCreated = true
				if werr := b.wait(ctx, err, statusOf(err), unc.retryAfter); werr != nil {
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
			// Another process may have listed none and created too: look.
			created = id
			continue
		}

		id := string(have.ID)
		if id == "" {
			return WebhookResult{}, errors.New("cxone: ensure webhook: CXone lists the subscription without an id, so it cannot be updated")
		}
		res := WebhookResult{Action: ActionUnchanged, ID: id, Duplicates: dups}
		if id == created || (created == "" && (mayHaveCreated || createdNoID)) {
			res.Action = ActionCreated
		}
		want := c.desired(have, callbackURL)
		if res.Changed = diff(*have, want); len(res.Changed) > 0 {
			if err := c.updateWebhook(ctx, id, want); err != nil {
				return WebhookResult{}, err
			}
			if res.Action != ActionCreated {
				res.Action = ActionUpdated
			}
		}
		if res.Removed, err = c.removeCopies(ctx, copies); err != nil {
			return WebhookResult{}, err
		}
		switch {
		case len(res.Changed) > 0:
			log.WithFields(map[string]any{"id": id, "changed": res.Changed}).Info("cxone: webhook subscription updated")
		case id == created:
			log.WithField("id", id).Info("cxone: webhook subscription created")
		default:
			log.WithFields(map[string]any{"id": id, "action": string(res.Action)}).Info("cxone: webhook subscription in place")
		}
		if len(res.Removed) > 0 {
			log.WithFields(map[string]any{"id": id, "removed": res.Removed}).Warn("cxone: deleted copies of the webhook subscription " +
				"(made by registrations running at the same time), through which CXone delivered each report more than once")
		}
		return res, nil
	}
}

// removeCopies deletes copies of the kept subscription and returns the ids
// it deleted. One already gone was deleted by another process keeping the
// same one.
func (c *Client) removeCopies(ctx context.Context, copies []webhook) ([]string, error) {
	var removed []string
	for _, w := range copies {
		gone, err := c.deleteWebhook(ctx, string(w.ID))
		if err != nil {
			return nil, err
		}
		if gone {
			removed = append(removed, string(w.ID))
		}
	}
	return removed, nil
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
// URL, else our name, else our callback URL, the oldest on a tie, so that
// every process that lists the same subscriptions picks the same one. The
// other matches are copies, to delete, when they have our name and
// callback URL both (and an id), and duplicates, to report, otherwise.
func (c *Client) match(list []webhook, callbackURL string) (have *webhook, copies []webhook, dups []string) {
	const both = 3
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
		s := score(w)
		if s == 0 {
			continue
		}
		if best < 0 || s > score(list[best]) || (s == score(list[best]) && older(w, list[best])) {
			best = i
		}
	}
	if best < 0 {
		return nil, nil, nil
	}
	for i, w := range list {
		switch {
		case i == best || score(w) == 0:
		case score(w) == both && w.ID != "" && w.ID != list[best].ID:
			copies = append(copies, w)
		default:
			dups = append(dups, string(w.ID))
		}
	}
	return &list[best], copies, dups
}

// older orders subscriptions the same way in every process, whatever
// order CXone lists them in: by creation time where CXone gives one, then
// by id, shorter first, so that numeric ids (and the fake's wh-N) compare
// as numbers. Keeping the oldest keeps the one a process that saw no other
// copy kept too, as its create came first.
func older(a, b webhook) bool {
	if az, bz := a.CreatedAt.IsZero(), b.CreatedAt.IsZero(); az != bz {
		return bz
	}
	if c := a.CreatedAt.Compare(b.CreatedAt.Time); c != 0 {
		return c < 0
	}
	if len(a.ID) != len(b.ID) {
		return len(a.ID) < len(b.ID)
	}
	return a.ID < b.ID
}

func (c *Client) webhooksURL() string { return c.cfg.apiBase() + "/api/v2/webhooks" }

// maxListPages bounds how many pages listWebhooks follows, so that an API
// that keeps handing out next links cannot hold it forever.
const maxListPages = 100

// listWebhooks returns every subscription, following pagination. An answer
// it cannot understand is an error, never an empty list: taking it for
// "no subscriptions" would create a duplicate on every run.
//
// The fake and the tutorial get one page, {"webhooks": [...]}. The shapes
// CXone's other list APIs use are understood too: the list under
// "webhooks", "data" or "items" (inside "resultSet" or not), a next link
// ("nextPage", "next", or "_links"/"links" "next"), and a total
// ("totalRecords", "totalCount" or "total"). With a total but no next link,
// the next page is asked for the way the answer says it was paged (an
// echoed "page", or "skip"/"top"); otherwise a short listing is an error.
func (c *Client) listWebhooks(ctx context.Context) ([]webhook, error) {
	var all []webhook
	seen := map[string]bool{}
	next := c.webhooksURL()
	for pages := 1; next != ""; pages++ {
		if pages > maxListPages {
			return nil, fmt.Errorf("cxone: list webhooks: more than %d pages; giving up rather than miss a subscription", maxListPages)
		}
		if seen[next] {
			return nil, fmt.Errorf("cxone: list webhooks: the next link %s points to a page already read", stripQuery(next))
		}
		seen[next] = true
		resp, err := c.api(ctx, request{op: "list webhooks", method: http.MethodGet, url: next, idempotent: true})
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusNoContent {
			// CXone's list APIs answer 204 when there is nothing to list.
			break
		}
		p, err := parseWebhookPage(resp.body)
		if err != nil {
			return nil, fmt.Errorf("cxone: list webhooks: %s: unreadable answer: %w", stripQuery(next), err)
		}
		all = append(all, p.items...)
		if next, err = c.nextPage(next, p, len(all)); err != nil {
			return nil, fmt.Errorf("cxone: list webhooks: %w", err)
		}
	}
	return all, nil
}

// webhookPage is one answer of the listing; -1 marks a number not given.
type webhookPage struct {
	items     []webhook
	next      string
	total     int
	page      int
	pageSize  int
	skip, top int
}

func parseWebhookPage(body []byte) (webhookPage, error) {
	p := webhookPage{total: -1, page: -1, pageSize: -1, skip: -1, top: -1}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		return p, json.Unmarshal(body, &p.items)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return p, err
	}
	if rs, ok := obj["resultSet"]; ok {
		obj = nil
		if err := json.Unmarshal(rs, &obj); err != nil {
			return p, fmt.Errorf("resultSet: %w", err)
		}
	}
	list, key := firstKey(obj, "webhooks", "data", "items")
	if key != "" {
		if err := json.Unmarshal(list, &p.items); err != nil {
			return p, fmt.Errorf("%s: %w", key, err)
		}
	} else if obj["webhooks"] == nil && obj["data"] == nil && obj["items"] == nil {
		// Present as null is an empty list (a nil slice in Go, say);
		// absent is an answer we do not understand.
		return p, errors.New("no webhooks, data or items list in it")
	}
	p.next = nextLink(obj)
	for _, f := range []struct {
		dst  *int
		keys []string
	}{
		{&p.total, []string{"totalRecords", "totalCount", "total"}},
		{&p.page, []string{"page"}}, {&p.pageSize, []string{"pageSize"}},
		{&p.skip, []string{"skip"}}, {&p.top, []string{"top"}},
	} {
		if raw, key := firstKey(obj, f.keys...); key != "" {
			if err := json.Unmarshal(raw, f.dst); err != nil || *f.dst < 0 {
				return p, fmt.Errorf("%s is not a count: %s", key, raw)
			}
		}
	}
	return p, nil
}

// firstKey returns the first of keys that obj holds with a non-null value.
func firstKey(obj map[string]json.RawMessage, keys ...string) (json.RawMessage, string) {
	for _, k := range keys {
		if v, ok := obj[k]; ok && string(v) != "null" {
			return v, k
		}
	}
	return nil, ""
}

// nextLink finds a next-page link: "nextPage" or "next" as a string, or
// "next" inside "_links" or "links", as a string or as {"href": ...}.
func nextLink(obj map[string]json.RawMessage) string {
	link := func(raw json.RawMessage) string {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
		var h struct {
			Href string `json:"href"`
		}
		json.Unmarshal(raw, &h)
		return h.Href
	}
	if raw, key := firstKey(obj, "nextPage", "next"); key != "" {
		return link(raw)
	}
	if raw, key := firstKey(obj, "_links", "links"); key != "" {
		var links map[string]json.RawMessage
		if json.Unmarshal(raw, &links) == nil {
			if n, ok := links["next"]; ok {
				return link(n)
			}
		}
	}
	return ""
}

// nextPage returns the URL of the page after p (read from cur, with got
// subscriptions so far), or "" when the listing is complete.
func (c *Client) nextPage(cur string, p webhookPage, got int) (string, error) {
	base, err := url.Parse(cur)
	if err != nil {
		return "", err
	}
	more := p.total >= 0 && got < p.total
	switch {
	case p.next != "":
		u, err := base.Parse(p.next)
		if err != nil {
			return "", fmt.Errorf("next link %q is not a URL", stripQuery(p.next))
		}
		// The request carries our token: never to another host.
		if u.Scheme != base.Scheme || u.Host != base.Host {
			return "", fmt.Errorf("next link %s leaves %s://%s; not following it with our token", stripQuery(u.String()), base.Scheme, base.Host)
		}
		if len(p.items) == 0 && !more {
			return "", nil // an empty last page that still links on
		}
		return u.String(), nil
	case !more:
		if p.total >= 0 && got > p.total {
			c.log.WithFields(map[string]any{"total": p.total, "listed": got}).Warn("cxone: the webhook listing holds more subscriptions than its total says")
		}
		return "", nil
	case len(p.items) == 0:
		return "", fmt.Errorf("CXone says there are %d subscriptions but listed %d, and the last page was empty", p.total, got)
	}
	q := base.Query()
	switch {
	case p.page >= 0:
		q.Set("page", strconv.Itoa(p.page+1))
		if p.pageSize > 0 {
			q.Set("pageSize", strconv.Itoa(p.pageSize))
		}
	case p.skip >= 0 || p.top >= 0:
		q.Set("skip", strconv.Itoa(max(p.skip, 0)+len(p.items)))
		if p.top > 0 {
			q.Set("top", strconv.Itoa(p.top))
		}
	default:
		return "", fmt.Errorf("CXone says there are %d subscriptions but listed only %d, with no next link or paging to ask for the rest", p.total, got)
	}
	base.RawQuery = q.Encode()
	return base.String(), nil
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

// deleteWebhook deletes a subscription, and reports whether it was there
// to delete: a 404 means another process deleted it first.
func (c *Client) deleteWebhook(ctx context.Context, id string) (bool, error) {
	_, err := c.api(ctx, request{op: "delete webhook", method: http.MethodDelete, url: c.webhooksURL() + "/" + url.PathEscape(id), idempotent: true})
	if statusOf(err) == http.StatusNotFound {
		return false, nil
	}
	return err == nil, err
}

// checkCallback refuses URLs CXone could never post to.
func (c *Client) checkCallback(callbackURL string) error {
	u, err := url.Parse(callbackURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("cxone: callback URL %q is not an absolute http(s) URL", stripQuery(callbackURL))
	}
	if u.Fragment != "" || strings.Contains(callbackURL, "#") {
		return fmt.Errorf("cxone: callback URL %q has a fragment, which CXone would not send", stripQuery(callbackURL))
	}
	if u.User != nil {
		// As for PUBLIC_URL: CXone would keep them in the subscription.
		return fmt.Errorf("cxone: callback URL %s: credentials do not belong in the URL (CXone sends X-Webhook-Secret)", u.Redacted())
	}
	// "//webhooks/cxone/sms" or "/x/../webhooks/cxone/sms", also written
	// with escapes (%2e, %2F): posted as written, which the service answers
	// 404, every delivery lost. Read decoded, as RFC 3986 reads dot
	// segments; an escaped slash is no path separator to the service.
	if p := u.Path; p != "" && p != "/" && path.Clean(p) != strings.TrimSuffix(p, "/") {
		return fmt.Errorf("cxone: callback URL %q: its path %q has an empty, . or .. segment; write it as %q",
			stripQuery(callbackURL), p, path.Clean(p))
	}
	if strings.Contains(strings.ToLower(u.RawPath), "%2f") {
		return fmt.Errorf("cxone: callback URL %q: its path holds an escaped slash (%%2F), which the service takes as no separator", stripQuery(callbackURL))
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
		var ok bool
		if ip, ok = shorthandIPv4(host); !ok {
			return false
		}
	}
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsUnspecified()
}

// shorthandIPv4 reads the IPv4 forms inet_aton takes and URLs still reach
// (127.1, 0177.0.0.1, 0x7f000001, 2130706433): a callback so written is on
// this machine as much as 127.0.0.1 is, and passed the localhost guard.
func shorthandIPv4(host string) (netip.Addr, bool) {
	parts := strings.Split(host, ".")
	if len(parts) > 4 || host == "" || host[0] < '0' || host[0] > '9' {
		return netip.Addr{}, false
	}
	var n [4]uint64
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 0, 32) // 0x hex and 0 octal, as inet_aton reads them
		if err != nil {
			return netip.Addr{}, false
		}
		n[i] = v
	}
	last := len(parts) - 1
	for i := 0; i < last; i++ {
		if n[i] > 255 {
			return netip.Addr{}, false
		}
	}
	if n[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i := 0; i < last; i++ {
		b[i] = byte(n[i])
	}
	for i := 3; i >= last; i-- {
		b[i] = byte(n[last] >> (8 * (3 - i)))
	}
	return netip.AddrFrom4(b), true
}

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

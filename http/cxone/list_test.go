package cxone

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pagedCXone is a CXone whose webhook listing is paged one subscription at
// a time, in whatever shape page gives, for the shapes the fake does not
// use. The subscription to reconcile is on the last page.
type pagedCXone struct {
	srv  *httptest.Server
	page func(r *http.Request, items []webhook, offset, total int) (int, any)

	mu             sync.Mutex
	subs           []webhook
	lists, creates int
	updated        []string
}

func newPagedCXone(t *testing.T, page func(r *http.Request, items []webhook, offset, total int) (int, any)) *pagedCXone {
	t.Helper()
	p := &pagedCXone{page: page}
	for i, name := range []string{"someone-else", "another", DefaultWebhookName} {
		p.subs = append(p.subs, webhook{ID: flexID("wh-" + strconv.Itoa(i+1)), Name: name,
			CallbackURL: "https://old.example.com/hook" + strconv.Itoa(i), EventTypes: []string{EventTypeStatusUpdate}})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		writeTestJSON(w, http.StatusOK, map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 3600})
	})
	mux.HandleFunc("GET /api/v2/webhooks", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.lists++
		q := r.URL.Query()
		offset, _ := strconv.Atoi(q.Get("skip"))
		if n, err := strconv.Atoi(q.Get("page")); err == nil {
			offset = n - 1
		}
		var items []webhook
		if offset < len(p.subs) {
			items = p.subs[offset : offset+1]
		}
		status, body := p.page(r, items, offset, len(p.subs))
		writeTestJSON(w, status, body)
	})
	mux.HandleFunc("POST /api/v2/webhooks", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.creates++
		writeTestJSON(w, http.StatusCreated, map[string]any{"id": "wh-new"})
	})
	mux.HandleFunc("PUT /api/v2/webhooks/{id}", func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.updated = append(p.updated, r.PathValue("id"))
		writeTestJSON(w, http.StatusOK, map[string]any{})
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *pagedCXone) client() *Client {
	return New(Config{TokenURL: p.srv.URL + "/token", APIURL: p.srv.URL, ClientID: "id", ClientSecret: "client-secret",
		WebhookSecret: testWebhookSecret}, WithHTTPClient(p.srv.Client()), WithRetryPolicy(fastRetry))
}

func writeTestJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

// The README promises that running registration twice leaves one
// subscription; with a paged listing, reading only the first page created
// a new subscription on every run instead of repointing the existing one.
func TestEnsureWebhookFollowsPagination(t *testing.T) {
	for _, tc := range []struct {
		name string
		page func(r *http.Request, items []webhook, offset, total int) (int, any)
	}{
		{"next link with page numbers", func(r *http.Request, items []webhook, offset, total int) (int, any) {
			body := map[string]any{"webhooks": items, "page": offset + 1, "pageSize": 1, "totalCount": total}
			if offset+1 < total {
				body["nextPage"] = "http://" + r.Host + "/api/v2/webhooks?page=" + strconv.Itoa(offset+2)
			}
			return http.StatusOK, body
		}},
		{"resultSet with relative _links.next and skip/top", func(r *http.Request, items []webhook, offset, total int) (int, any) {
			links := map[string]any{"self": r.URL.String()}
			if offset+1 < total {
				links["next"] = "/api/v2/webhooks?skip=" + strconv.Itoa(offset+1) + "&top=1"
			}
			return http.StatusOK, map[string]any{"resultSet": map[string]any{"_links": links, "totalRecords": total, "data": items}}
		}},
		{"next href object", func(r *http.Request, items []webhook, offset, total int) (int, any) {
			body := map[string]any{"items": items}
			if offset+1 < total {
				body["links"] = map[string]any{"next": map[string]string{"href": "?page=" + strconv.Itoa(offset+2)}}
			}
			return http.StatusOK, body
		}},
		{"total and page number only", func(r *http.Request, items []webhook, offset, total int) (int, any) {
			return http.StatusOK, map[string]any{"items": items, "page": offset + 1, "pageSize": 1, "total": total}
		}},
		{"total and skip/top only", func(r *http.Request, items []webhook, offset, total int) (int, any) {
			return http.StatusOK, map[string]any{"webhooks": items, "skip": offset, "top": 1, "totalRecords": total}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPagedCXone(t, tc.page)
			res, err := p.client().EnsureWebhook(t.Context(), callback)
			if err != nil {
				t.Fatal(err)
			}
			if res.Action != ActionUpdated || res.ID != "wh-3" {
				t.Errorf("result = %+v, want wh-3 (on the last page) updated", res)
			}
			if p.lists != 3 || p.creates != 0 || len(p.updated) != 1 {
				t.Errorf("%d lists, %d creates, updates %v; want 3 lists, no create, one update", p.lists, p.creates, p.updated)
			}
		})
	}
}

// An answer the client does not understand must stop it: taking it for an
// empty list creates a duplicate.
func TestEnsureWebhookRefusesAListingItCannotRead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		body    any
		mention string
	}{
		{"empty object", map[string]any{}, "no webhooks, data or items"},
		{"unknown key", map[string]any{"results": []webhook{}}, "no webhooks, data or items"},
		{"not a list", map[string]any{"webhooks": "none"}, "webhooks"},
		{"total without a way to the rest", map[string]any{"webhooks": []webhook{{ID: "x", Name: "x"}}, "totalCount": 3}, "listed only 1"},
		{"next link to another host", map[string]any{"webhooks": []webhook{{ID: "x", Name: "x"}}, "nextPage": "https://elsewhere.example/api/v2/webhooks?page=2"}, "not following it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPagedCXone(t, func(*http.Request, []webhook, int, int) (int, any) { return http.StatusOK, tc.body })
			_, err := p.client().EnsureWebhook(t.Context(), callback)
			if err == nil || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.mention)
			}
			if p.creates != 0 || len(p.updated) != 0 {
				t.Errorf("%d creates, updates %v after an unreadable listing; want none", p.creates, p.updated)
			}
		})
	}
}

// CXone's list APIs answer 204 when there is nothing to list, and a Go
// server may encode an empty list as null: both are "no subscriptions".
func TestEnsureWebhookTakesNoContentAsEmpty(t *testing.T) {
	for name, page := range map[string]func(*http.Request, []webhook, int, int) (int, any){
		"204": func(*http.Request, []webhook, int, int) (int, any) { return http.StatusNoContent, nil },
		"null": func(*http.Request, []webhook, int, int) (int, any) {
			return http.StatusOK, map[string]any{"webhooks": nil}
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := newPagedCXone(t, page)
			res, err := p.client().EnsureWebhook(t.Context(), callback)
			if err != nil || res.Action != ActionCreated || p.creates != 1 {
				t.Errorf("result %+v, err %v, %d creates; want one create", res, err, p.creates)
			}
		})
	}
}

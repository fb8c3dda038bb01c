package http

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A read that fails because the database is away is a 503 with Retry-After,
// not a 500 logged as a bug; anything unknown stays a 500.
func TestStatusOfDatabaseAway(t *testing.T) {
	away := fmt.Errorf("carriers: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")})
	code, _, retryAfter, unexpected := statusOf(away)
	if code != http.StatusServiceUnavailable || retryAfter == "" || unexpected {
		t.Errorf("database away: %d retry-after %q unexpected %v, want 503 with Retry-After", code, retryAfter, unexpected)
	}
	code, _, _, unexpected = statusOf(errors.New("something else"))
	if code != http.StatusInternalServerError || !unexpected {
		t.Errorf("unknown error: %d unexpected %v, want 500", code, unexpected)
	}
}

// The webhook secret is what tells CXone from a forger: a server without one
// is refused, rather than matching requests that send no secret at all.
func TestNewServerNeedsAWebhookSecret(t *testing.T) {
	if _, err := NewServer(Config{}, Deps{}); err == nil {
		t.Fatal("NewServer accepted an empty WebhookSecret")
	}
}

// An outage is said once every so often, with how many lines it held back.
func TestThrottle(t *testing.T) {
	var th throttle
	if ok, held := th.allow(time.Hour); !ok || held != 0 {
		t.Fatalf("first line: %v, %d held; want it through", ok, held)
	}
	for range 3 {
		if ok, _ := th.allow(time.Hour); ok {
			t.Fatal("a line within the interval went through")
		}
	}
	th.last.Store(time.Now().Add(-2 * time.Hour).UnixNano())
	if ok, held := th.allow(time.Hour); !ok || held != 3 {
		t.Fatalf("after the interval: %v, %d held; want through, 3 held", ok, held)
	}
}

// Every JSON answer says nosniff: errors echo paths and values, markup
// included.
func TestJSONAnswersAreNotSniffed(t *testing.T) {
	w := httptest.NewRecorder()
	writeJSON(w, http.StatusNotFound, map[string]string{"error": `no message "<script>"`})
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q, want nosniff", got)
	}
	w = httptest.NewRecorder()
	if err := (&Server{}).handleOpenAPI(w, httptest.NewRequest(http.MethodGet, "/openapi.json", nil)); err != nil {
		t.Fatal(err)
	}
	if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("/openapi.json: X-Content-Type-Options %q, want nosniff", got)
	}
}

// A permission the database refuses is named, not called a passing outage:
// a rebuild refused CREATE on the schema answered "cannot answer right
// now", and retrying could not help.
func TestPermissionDeniedIsNamed(t *testing.T) {
	err := fmt.Errorf("rebuild: %w", &pgconn.PgError{Code: "42501", Message: "permission denied for schema public"})
	code, msg, retryAfter, unexpected := statusOf(err)
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "permission denied for schema public") || !strings.Contains(msg, "CREATE") || retryAfter == "" || unexpected {
		t.Errorf("statusOf = %d %q %q %v, want 503 naming the permission", code, msg, retryAfter, unexpected)
	}
}

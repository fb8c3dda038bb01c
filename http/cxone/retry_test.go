package cxone

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

func TestRetryAfterHonoured(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Method: http.MethodGet, Path: fakecxone.PathWebhooks, Status: http.StatusTooManyRequests, RetryAfter: "1"})
	var retries atomic.Int32
	c := e.client(e.cfg, WithHooks(Hooks{Retry: func(op string, status int) {
		if status == http.StatusTooManyRequests {
			retries.Add(1)
		}
	}}))

	start := time.Now()
	if _, err := c.listWebhooks(t.Context()); err != nil {
		t.Fatalf("list after a 429: %v", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("retried after %s, before the 1 s Retry-After", d)
	}
	if n := e.fake.RequestCount(http.MethodGet, fakecxone.PathWebhooks); n != 2 {
		t.Errorf("list requests = %d, want 2", n)
	}
	if retries.Load() != 1 {
		t.Errorf("retry hook saw %d 429 retries, want 1", retries.Load())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		header string
		want   time.Duration
	}{
		{"", -1},
		{"3", 3 * time.Second},
		{"0", 0},
		{"-5", -1},
		{"soon", -1},
		{now.Add(7 * time.Second).Format(http.TimeFormat), 7 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
		{"99999999999", 24 * time.Hour},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Retry-After", tc.header)
		}
		if got := parseRetryAfter(h, now); got != tc.want {
			t.Errorf("Retry-After %q = %s, want %s", tc.header, got, tc.want)
		}
	}
}

func TestRetryGivesUpAtAttemptCap(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: http.StatusServiceUnavailable, Count: 100})
	c := e.client(e.cfg, WithRetryPolicy(RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond}))

	_, err := c.listWebhooks(t.Context())
	var re *RetryError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want *RetryError", err)
	}
	var ae *APIError
	if re.Attempts != 3 || !errors.As(err, &ae) || ae.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("attempts %d, last %v; want 3 attempts ending in a 503", re.Attempts, re.Last)
	}
	for _, want := range []string{"list webhooks", "gave up after 3 attempt(s)", "attempt cap of 3", "503"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := e.fake.RequestCount("", fakecxone.PathWebhooks); n != 3 {
		t.Errorf("list requests = %d, want exactly 3", n)
	}
}

func TestRetryGivesUpWhenRetryAfterExceedsBudget(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathToken, Status: http.StatusTooManyRequests, RetryAfter: "60"})
	c := e.client(e.cfg, WithRetryPolicy(RetryPolicy{MaxElapsed: 2 * time.Second, BaseDelay: time.Millisecond}))

	start := time.Now()
	_, err := c.listWebhooks(t.Context())
	var re *RetryError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "Retry-After") {
		t.Fatalf("err = %v, want a *RetryError about Retry-After", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s: it should give up at once rather than sleep into the budget", d)
	}
}

func TestRetryGivesUpWhenTimeBudgetSpent(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Delay: 2 * time.Second, Count: 100})
	c := e.client(e.cfg,
		WithRetryPolicy(RetryPolicy{MaxAttempts: 100, MaxElapsed: 300 * time.Millisecond, BaseDelay: time.Millisecond}),
		WithRequestTimeout(50*time.Millisecond))

	start := time.Now()
	_, err := c.listWebhooks(t.Context())
	var re *RetryError
	if !errors.As(err, &re) || !strings.Contains(re.Reason, "time budget") {
		t.Fatalf("err = %v, want a *RetryError for the time budget", err)
	}
	if re.Attempts < 2 {
		t.Errorf("attempts = %d: a timed-out attempt should be retried within the budget", re.Attempts)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s for a 300 ms budget", d)
	}
}

func TestRetryStopsWithCallerContext(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: http.StatusBadGateway, Count: 10000})
	c := e.client(e.cfg, WithRetryPolicy(RetryPolicy{MaxAttempts: 10000, BaseDelay: 20 * time.Millisecond, MaxDelay: 20 * time.Millisecond}))

	ctx, cancel := context.WithTimeout(t.Context(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.listWebhooks(ctx)
	var re *RetryError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &re) {
		t.Fatalf("err = %v, want the caller's context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("stopped %s after start, want soon after the caller's 150 ms", d)
	}
}

func TestUnauthorizedDropsTokenAndRetriesOnce(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	c := e.client(e.cfg)
	if _, err := c.listWebhooks(t.Context()); err != nil {
		t.Fatal(err)
	}

	// CXone revoking the token early: one 401, then a fresh token works.
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: http.StatusUnauthorized})
	if _, err := c.listWebhooks(t.Context()); err != nil {
		t.Fatalf("after one 401: %v", err)
	}
	if n := e.fake.TokenRequests(); n != 2 {
		t.Errorf("token requests = %d, want 2 (the 401 drops the token)", n)
	}

	// A token refused twice is not retried a third time.
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: http.StatusUnauthorized, Count: 2})
	before := e.fake.RequestCount("", fakecxone.PathWebhooks)
	_, err := c.listWebhooks(t.Context())
	var ae *AuthError
	if !errors.As(err, &ae) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("err = %v, want *AuthError matching ErrUnauthorized", err)
	}
	for _, want := range []string{"401", "CXONE_API_URL", "CXONE_TOKEN_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := e.fake.RequestCount("", fakecxone.PathWebhooks) - before; n != 2 {
		t.Errorf("requests after two 401s = %d, want 2", n)
	}
}

func TestForbiddenNamesScopeAndRole(t *testing.T) {
	e := newEnv(t, fakecxone.Options{})
	e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: http.StatusForbidden})
	_, err := e.client(e.cfg).listWebhooks(t.Context())
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("err = %v, want ErrForbidden", err)
	}
	for _, want := range []string{"403", "webhooks:manage", "Webhook Admin", "Messaging Admin", "tenant"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if n := e.fake.RequestCount("", fakecxone.PathWebhooks); n != 1 {
		t.Errorf("requests = %d: a 403 must not be retried", n)
	}
}

func TestJitterStaysUnderCeiling(t *testing.T) {
	c := New(Config{}, WithRetryPolicy(RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}))
	for attempt := 1; attempt <= 8; attempt++ {
		ceiling := min(100*time.Millisecond<<(attempt-1), time.Second)
		for range 200 {
			if d := c.jitter(attempt); d < 0 || d > ceiling {
				t.Fatalf("jitter(%d) = %s, outside [0, %s]", attempt, d, ceiling)
			}
		}
	}
}

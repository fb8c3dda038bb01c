package cxone

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RetryPolicy bounds how hard the client tries through 429s, 5xx answers
// and network errors. Zero fields take the defaults.
type RetryPolicy struct {
	// MaxAttempts counts every try, the first included. Default 5.
	MaxAttempts int
	// MaxElapsed is the time budget of one operation (a token fetch, an
	// EnsureWebhook), waits included. Default 30 s.
	MaxElapsed time.Duration
	// BaseDelay is the first backoff ceiling; it doubles per attempt.
	// Default 500 ms; tests use a millisecond.
	BaseDelay time.Duration
	// MaxDelay caps one backoff wait. Default 10 s.
	MaxDelay time.Duration
}

// DefaultRetryPolicy is what New uses unless WithRetryPolicy says otherwise.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 5, MaxElapsed: 30 * time.Second, BaseDelay: 500 * time.Millisecond, MaxDelay: 10 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.MaxAttempts > 0 {
		d.MaxAttempts = p.MaxAttempts
	}
	if p.MaxElapsed > 0 {
		d.MaxElapsed = p.MaxElapsed
	}
	if p.BaseDelay > 0 {
		d.BaseDelay = p.BaseDelay
	}
	if p.MaxDelay > 0 {
		d.MaxDelay = p.MaxDelay
	}
	return d
}

// errBudget is the cause a budget context carries, so that running out of
// our own time budget is told apart from the caller cancelling.
var errBudget = errors.New("time budget spent")

// budgetKey carries the budget's deadline, so that a wait can tell our
// budget from a deadline of the caller's (ctx.Deadline gives the earlier).
type budgetKey struct{}

// withBudget bounds one whole operation, nested calls included, by the
// policy's MaxElapsed.
func (c *Client) withBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(c.retry.MaxElapsed)
	return context.WithDeadlineCause(context.WithValue(ctx, budgetKey{}, deadline), deadline, errBudget)
}

// ensureBudget gives ctx a budget unless an enclosing operation already
// set one, so that no path through the client retries without a time cap.
func (c *Client) ensureBudget(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Value(budgetKey{}).(time.Time); ok {
		return ctx, func() {}
	}
	return c.withBudget(ctx)
}

// backoff paces the retries of one operation.
type backoff struct {
	c       *Client
	op      string
	start   time.Time
	attempt int // attempts made so far
}

func (c *Client) newBackoff(op string) *backoff {
	return &backoff{c: c, op: op, start: time.Now()}
}

// wait is called after attempt b.attempt failed with last. It sleeps before
// the next attempt, or returns the error that ends the operation: the
// caller's context error, or a *RetryError when a cap is reached.
// retryAfter is CXone's Retry-After (negative when absent); status is the
// HTTP status (0 for a network error), for logs and hooks.
func (b *backoff) wait(ctx context.Context, last error, status int, retryAfter time.Duration) error {
	p := b.c.retry
	giveUp := func(reason string) error {
		return &RetryError{Op: b.op, Attempts: b.attempt, Elapsed: time.Since(b.start), Reason: reason, Last: last}
	}
	if err := b.stopped(ctx, last); err != nil {
		return err
	}
	if b.attempt >= p.MaxAttempts {
		return giveUp(fmt.Sprintf("attempt cap of %d reached", p.MaxAttempts))
	}
	delay := retryAfter
	if delay < 0 {
		delay = b.c.jitter(b.attempt)
	}
	// Sleeping past a deadline only to fail is pointless: stop now, and say
	// whose deadline it was.
	if deadline, ok := ctx.Deadline(); ok && time.Now().Add(delay).After(deadline) {
		left := max(time.Until(deadline), 0).Round(time.Millisecond)
		if budget, ours := ctx.Value(budgetKey{}).(time.Time); !ours || deadline.Before(budget) {
			return fmt.Errorf("cxone: %s: the next attempt (in %s) would come after the caller's deadline (%s left): %w; last failure: %s",
				b.op, delay.Round(time.Millisecond), left, context.DeadlineExceeded, errorSummary(last))
		}
		if retryAfter >= 0 {
			return giveUp(fmt.Sprintf("CXone asked to wait %s (Retry-After) but only %s of the time budget is left", delay, left))
		}
		return giveUp(fmt.Sprintf("time budget spent (%s left, next wait %s)", left, delay.Round(time.Millisecond)))
	}
	b.c.log.WithFields(map[string]any{
		"op": b.op, "status": status, "attempt": b.attempt, "max_attempts": p.MaxAttempts,
		"delay": delay.Round(time.Millisecond).String(), "reason": errorSummary(last),
	}).Warn("cxone: transient failure, retrying")
	if b.c.hooks.Retry != nil {
		b.c.hooks.Retry(b.op, status)
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return b.stopped(ctx, last)
	}
}

// stopped returns nil while ctx is live. Once it is done, it tells our own
// budget running out (a *RetryError) from the caller giving up (the
// caller's error, wrapped).
func (b *backoff) stopped(ctx context.Context, last error) error {
	if ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, errBudget) {
		return &RetryError{Op: b.op, Attempts: b.attempt, Elapsed: time.Since(b.start),
			Reason: fmt.Sprintf("time budget of %s spent", b.c.retry.MaxElapsed), Last: last}
	}
	if last != nil {
		return fmt.Errorf("cxone: %s: stopped after %d attempt(s): %w; last failure: %s", b.op, b.attempt, cause, errorSummary(last))
	}
	return fmt.Errorf("cxone: %s: %w", b.op, cause)
}

// jitter is "full jitter" backoff: a uniform wait up to an exponentially
// growing ceiling, which spreads out clients that failed together instead of
// having them retry in lockstep.
func (c *Client) jitter(attempt int) time.Duration {
	ceiling := c.retry.BaseDelay
	for i := 1; i < attempt && ceiling < c.retry.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.retry.MaxDelay)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date
// (RFC 9110 10.2.3); it returns -1 when the header is absent or unreadable,
// so that the caller falls back to its own backoff.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return -1
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return -1
		}
		if secs > 24*3600 {
			secs = 24 * 3600 // avoids overflow; the budget check refuses it anyway
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// retryableStatus: a 429 is CXone refusing to act yet; a 5xx is CXone
// failing. Anything else will answer the same way again.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests || code >= 500
}

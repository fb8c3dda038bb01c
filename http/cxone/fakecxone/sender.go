package fakecxone

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	randv2 "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cxsms/cxsms/domain"
)

// ErrNoSubscriptions: a burst has nowhere to go.
var ErrNoSubscriptions = errors.New("fakecxone: no enabled subscription for " + EventType)

// BurstConfig shapes a burst of status reports.
type BurstConfig struct {
	// Messages is how many SMS the burst reports on.
	Messages int
	// Forms are given to messages in turn; empty means all of Forms.
	Forms []Form
	// Lifecycle sends QUEUED, SENT and a terminal report per message, in
	// that order, each only after the previous one was acknowledged; without
	// it each message gets only its terminal report.
	Lifecycle bool
	// FailEvery makes every FailEvery-th message end in a failure
	// (UNDELIVERED, REJECTED, EXPIRED, FAILED in turn) instead of
	// DELIVERED; 0 delivers all.
	FailEvery int
	// Concurrency is how many message lifecycles are in flight at once;
	// default 8.
	Concurrency int
	// RetryBase and RetryMax shape redelivery backoff (default 200 ms and
	// 10 s); a Retry-After from the callback is honoured up to RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// RequestTimeout bounds one delivery attempt; default 10 s.
	RequestTimeout time.Duration
}

func (c BurstConfig) withDefaults() (BurstConfig, error) {
	if c.Messages <= 0 {
		return c, errors.New("fakecxone: BurstConfig.Messages must be positive")
	}
	if len(c.Forms) == 0 {
		c.Forms = Forms
	}
	for _, f := range c.Forms {
		if !f.valid() {
			return c, fmt.Errorf("fakecxone: unknown form %q", f)
		}
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.RetryBase <= 0 {
		c.RetryBase = 200 * time.Millisecond
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	return c, nil
}

// Report records one status report delivered (or not) to one subscription.
type Report struct {
	SubscriptionID string
	MessageID      string
	EventID        string // the same event reaches every subscription with the same id
	Form           Form
	Status         domain.Status // what the report means, for checking what the service stored
	RawStatus      string        // as written in the report
	Attempts       int           // 0: never sent, the burst ended first
	Acknowledged   bool
	LastStatusCode int    // the callback's last answer; 0 after a connection error
	LastError      string // why the last attempt failed, when it did
	FirstSentAt    time.Time
	AckedAt        time.Time
}

// BurstResult lists every report a burst planned, in per-message order.
type BurstResult struct {
	Reports []Report
}

// Acknowledged counts reports a callback answered with a 2xx.
func (r BurstResult) Acknowledged() int {
	n := 0
	for _, rep := range r.Reports {
		if rep.Acknowledged {
			n++
		}
	}
	return n
}

// Unacknowledged returns the reports still owed when the burst ended.
func (r BurstResult) Unacknowledged() []Report {
	var out []Report
	for _, rep := range r.Reports {
		if !rep.Acknowledged {
			out = append(out, rep)
		}
	}
	return out
}

// Redelivered counts reports that needed more than one attempt.
func (r BurstResult) Redelivered() int {
	n := 0
	for _, rep := range r.Reports {
		if rep.Attempts > 1 {
			n++
		}
	}
	return n
}

// Reports returns every report of every burst so far, for a demo to show.
func (s *Server) Reports() []Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reports)
}

// SendBurst plays CXone's sender: it posts cfg.Messages messages' status
// reports to every enabled subscription to EventType, with the
// subscription's headers (X-Webhook-Secret among them), and redelivers each
// report on any non-2xx answer or connection error, with exponential
// backoff, until it is acknowledged or ctx ends. It returns what was sent
// and acknowledged, and an error when ctx ended with reports still owed.
func (s *Server) SendBurst(ctx context.Context, cfg BurstConfig) (BurstResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return BurstResult{}, err
	}
	var subs []Subscription
	for _, sub := range s.Subscriptions() {
		if sub.Enabled && slices.Contains(sub.EventTypes, EventType) {
			subs = append(subs, sub)
		}
	}
	if len(subs) == 0 {
		return BurstResult{}, ErrNoSubscriptions
	}

	var prefix [3]byte
	rand.Read(prefix[:])
	now := s.opts.Now()
	msgs := make([]message, cfg.Messages)
	for i := range msgs {
		msgs[i] = planMessage(fmt.Sprintf("%X", prefix), i, cfg, now, newEventID)
	}

	// One chain per (subscription, message): its reports go out in order,
	// chains run concurrently.
	type chain struct {
		sub     Subscription
		msg     message
		reports []Report
	}
	chains := make([]*chain, 0, len(subs)*len(msgs))
	for _, sub := range subs {
		for _, m := range msgs {
			ch := &chain{sub: sub, msg: m}
			for _, st := range m.steps {
				_, _, raw := m.body(st)
				ch.reports = append(ch.reports, Report{SubscriptionID: sub.ID, MessageID: m.id, EventID: st.eventID,
					Form: st.form, Status: st.out.status, RawStatus: raw})
			}
			chains = append(chains, ch)
		}
	}

	work := make(chan *chain)
	var wg sync.WaitGroup
	for range min(cfg.Concurrency, len(chains)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ch := range work {
				for i, st := range ch.msg.steps {
					body, contentType, _ := ch.msg.body(st)
					if !s.deliver(ctx, cfg, ch.sub, body, contentType, &ch.reports[i]) {
						break // ctx ended; later reports must not overtake this one
					}
				}
			}
		}()
	}
	for _, ch := range chains {
		work <- ch
	}
	close(work)
	wg.Wait()

	var res BurstResult
	for _, ch := range chains {
		res.Reports = append(res.Reports, ch.reports...)
	}
	s.mu.Lock()
	s.reports = append(s.reports, res.Reports...)
	s.mu.Unlock()

	s.log.WithFields(map[string]any{"messages": cfg.Messages, "subscriptions": len(subs), "reports": len(res.Reports),
		"acknowledged": res.Acknowledged(), "redelivered": res.Redelivered()}).Info("fakecxone: burst sent")
	if owed := len(res.Reports) - res.Acknowledged(); owed > 0 {
		return res, fmt.Errorf("fakecxone: burst ended with %d of %d reports unacknowledged: %w", owed, len(res.Reports), context.Cause(ctx))
	}
	return res, nil
}

// deliver posts one report until it is acknowledged; false means ctx ended
// first.
func (s *Server) deliver(ctx context.Context, cfg BurstConfig, sub Subscription, body []byte, contentType string, rep *Report) bool {
	for {
		if ctx.Err() != nil {
			return false
		}
		// Each attempt goes out as the subscription is now, as CXone's
		// do: redelivered with the headers of the first, a report refused
		// for a wrong secret was refused for ever after the service
		// registered the right one.
		if cur, ok := s.subscription(sub.ID); ok {
			sub = cur
		}
		rep.Attempts++
		if rep.FirstSentAt.IsZero() {
			rep.FirstSentAt = time.Now()
		}
		code, retryAfter, err := s.post(ctx, cfg, sub, body, contentType, rep.EventID)
		if err != nil && ctx.Err() != nil {
			// Cut short by the burst ending: the last real answer stays the
			// one on record.
			return false
		}
		rep.LastStatusCode = code
		if err == nil && code >= 200 && code <= 299 {
			rep.Acknowledged, rep.AckedAt, rep.LastError = true, time.Now(), ""
			return true
		}
		if err != nil {
			rep.LastError = err.Error()
		} else {
			rep.LastError = "HTTP " + strconv.Itoa(code)
		}
		delay := redeliveryDelay(cfg, rep.Attempts)
		if retryAfter > delay {
			delay = min(retryAfter, cfg.RetryMax)
		}
		s.log.WithFields(map[string]any{"subscription": sub.ID, "message_id": rep.MessageID, "event_id": rep.EventID,
			"attempt": rep.Attempts, "status": code, "delay": delay.String()}).Debug("fakecxone: report not acknowledged, will redeliver")
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
}

// redeliveryDelay doubles per attempt up to RetryMax, with "equal jitter":
// never less than half the step, so a struggling service gets real relief,
// and randomised so that a burst's reports do not return in lockstep.
func redeliveryDelay(cfg BurstConfig, attempt int) time.Duration {
	d := cfg.RetryBase
	for i := 1; i < attempt && d < cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, cfg.RetryMax)
	half := d / 2
	return half + randv2.N(half+1)
}

// post makes one delivery attempt. Its error never carries the callback
// URL's query, which may hold a credential.
func (s *Server) post(ctx context.Context, cfg BurstConfig, sub Subscription, body []byte, contentType, eventID string) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	method := sub.HTTPMethod
	if method == "" {
		method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, method, sub.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, fmt.Errorf("callback %s: %v", redactURL(sub.CallbackURL), err)
	}
	for k, v := range sub.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set(EventIDHeader, eventID)
	req.Header.Set("User-Agent", "fakecxone-sender/1")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, 0, fmt.Errorf("%s %s: %v", method, redactURL(sub.CallbackURL), err)
	}
	// Drained so the connection is reused: a burst is many small posts.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	retryAfter := time.Duration(0)
	if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(resp.Header.Get("Retry-After")); err == nil {
		retryAfter = max(time.Until(t), 0)
	}
	return resp.StatusCode, retryAfter, nil
}

// newEventID is a random UUID (version 4): every report gets its own
// explicit event id, so the service's dedupe can be checked against it.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

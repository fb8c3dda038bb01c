package eventstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/domain"
)

// insertSQL appends a whole batch in one statement. Arrays of columns keep it
// one prepared statement whatever the batch size, and a single statement
// commits on its own: one round trip and one fsync per batch.
// RETURNING names the rows actually inserted; the rest were duplicates.
// Prices go as text, "" for none: pgx encodes a []string directly, where a
// slice of pointers for a nullable numeric went through reflection.
const insertSQL = `
INSERT INTO events (message_id, event_id, status, raw_status, carrier_code, error_code,
	sender_id, recipient, price, currency, format, occurred_at, received_at, raw)
SELECT m, e, s, rs, c, ec, snd, rcp, NULLIF(p, '')::numeric, cur, f, o, r, raw
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
	$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::timestamptz[], $14::json[])
	AS u(m, e, s, rs, c, ec, snd, rcp, p, cur, f, o, r, raw)
ON CONFLICT (message_id, event_id) DO NOTHING
RETURNING message_id, event_id`

// request is one Append call waiting for its batch.
type request struct {
	ctx    context.Context
	events []domain.StatusReceived
	done   chan result
	queued time.Time // when Append queued it: its retry budget runs from here
}

type result struct {
	dup []bool
	err error
}

// committer is the group commit: Append calls queue requests, and a few
// writers each take every request waiting (up to MaxBatch reports, within
// Window) and insert them in one statement. The batch succeeds or fails as a
// whole (but for reports under a reused event ID, which take a second
// statement: see insert), and no request hears back before its batch is
// committed.
type committer struct {
	pool  *pgxpool.Pool
	opts  Options
	queue chan *request
	// waiting counts the Append calls waiting for their batch to commit,
	// and reports the reports they hold.
	waiting atomic.Int64
	reports atomic.Int64

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup
}

func newCommitter(pool *pgxpool.Pool, opts Options) *committer {
	c := &committer{pool: pool, opts: opts, queue: make(chan *request, opts.QueueLimit)}
	for range opts.Writers {
		c.wg.Add(1)
		go c.run()
	}
	return c
}

func (c *committer) append(ctx context.Context, events []domain.StatusReceived) ([]bool, error) {
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	n := int64(len(events))
	if held := c.reports.Add(n); held > int64(c.opts.QueueReports) && held > n {
		c.reports.Add(-n)
		return nil, fmt.Errorf("%w: %d reports already waiting", ErrOverloaded, held-n)
	}
	defer c.reports.Add(-n)
	req := &request{ctx: ctx, events: events, done: make(chan result, 1), queued: time.Now()}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return nil, fmt.Errorf("%w: shutting down", ErrUnavailable)
	}
	select {
	case c.queue <- req:
	default:
		c.mu.RUnlock()
		return nil, fmt.Errorf("%w: %d requests already waiting", ErrOverloaded, c.opts.QueueLimit)
	}
	c.mu.RUnlock()
	// Wait for the batch even when ctx ends: once queued, the request may be
	// committed, and its caller must not be told otherwise. The batch's own
	// deadline bounds the wait.
	r := <-req.done
	return r.dup, r.err
}

func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.queue)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *committer) run() {
	defer c.wg.Done()
	for first := range c.queue {
		batch := c.gather(first)
		c.commit(batch)
	}
}

// gather takes first and whatever else arrives within the window, up to the
// size cap.
func (c *committer) gather(first *request) []*request {
	batch := []*request{first}
	n := len(first.events)
	var timer <-chan time.Time
	if c.opts.Window > 0 {
		t := time.NewTimer(c.opts.Window)
		defer t.Stop()
		timer = t.C
	}
	for n < c.opts.MaxBatch {
		select {
		case r, ok := <-c.queue:
			if !ok {
				return batch
			}
			batch = append(batch, r)
			n += len(r.events)
			continue
		default:
		}
		if timer == nil {
			return batch
		}
		select {
		case r, ok := <-c.queue:
			if !ok {
				return batch
			}
			batch = append(batch, r)
			n += len(r.events)
		case <-timer:
			return batch
		}
	}
	return batch
}

// commit writes a batch and answers each of its requests. Requests whose
// caller already gave up before the batch began are dropped unwritten.
func (c *committer) commit(batch []*request) {
	live := batch[:0]
	for _, r := range batch {
		if r.ctx.Err() != nil {
			r.done <- result{err: fmt.Errorf("%w: %w", ErrUnavailable, r.ctx.Err())}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	start := time.Now()
	dups, err := c.insertRetrying(live)
	if errors.Is(err, ErrRejected) && len(live) > 1 {
		// One request's content was refused; write each request alone so
		// only that one fails and the others are not punished for it.
		for _, r := range live {
			d, err := c.insertRetrying([]*request{r})
			if err != nil {
				r.done <- result{err: err}
				continue
			}
			r.done <- result{dup: d[0]}
		}
		c.observe(live, start, nil)
		return
	}
	c.observe(live, start, err)
	for i, r := range live {
		if err != nil {
			r.done <- result{err: err}
			continue
		}
		r.done <- result{dup: dups[i]}
	}
}

func (c *committer) observe(batch []*request, start time.Time, err error) {
	if c.opts.Observer == nil {
		return
	}
	n := 0
	for _, r := range batch {
		n += len(r.events)
	}
	c.opts.Observer.BatchCommitted(len(batch), n, time.Since(start), err)
}

// insertRetrying retries transient failures with exponential backoff and
// jitter until RetryFor runs out. Retrying is safe: the insert is idempotent.
// If a commit's outcome was lost with the connection, a retry finds the rows
// already there and calls them duplicates, which is still the truth that
// matters: they are stored.
func (c *committer) insertRetrying(batch []*request) ([][]bool, error) {
	n := 0
	oldest := batch[0].queued
	for _, r := range batch {
		n += len(r.events)
		if r.queued.Before(oldest) {
			oldest = r.queued
		}
	}
	// A big batch gets longer: 10,000 reports take about a second to
	// insert on a quiet machine and three or more on a loaded one (CI with
	// other work beside it answered 503 at 100 µs a report), and a
	// deadline they can never meet would answer 503 to every retry of the
	// same request.
	budget := c.opts.RetryFor + time.Duration(n)*300*time.Microsecond
	// The budget runs from the oldest request's arrival, not from the
	// batch's start: with PostgreSQL down, each batch retried for its 3 s
	// while the batches queued behind it waited their turn, and a tester's
	// senders waited 13-30 s for their 503, some past their own timeout.
	// Now retries stop once the oldest request's budget is spent, so a
	// batch whose budget went by in the queue makes one attempt (refused
	// at once while the database is down) and answers. That attempt still
	// gets half a budget to finish: in a queue that was only busy, the
	// batch is written, not cut short.
	retryUntil := oldest.Add(budget)
	ctx, cancel := context.WithDeadline(context.Background(), later(retryUntil, time.Now().Add(budget/2)))
	defer cancel()
	backoff := 20 * time.Millisecond
	var cause error  // the last failure that was not the deadline itself
	reached := false // whether an attempt may have reached the database
	giveUp := func(attempt int, err error) error {
		if reached {
			return fmt.Errorf("after %d attempts: %w", attempt, err)
		}
		return fmt.Errorf("after %d attempts: %w: %w", attempt, ErrNotReached, err)
	}
	for attempt := 1; ; attempt++ {
		dups, err := c.insert(ctx, batch)
		if err != nil && !neverConnected(err) {
			reached = true
		}
		if err != nil && ctx.Err() != nil && cause != nil {
			// The deadline cut this attempt short: the failure that made
			// us retry says more than "timeout" (a read-only database was
			// answered as a commit that could not be confirmed).
			return nil, giveUp(attempt, cause)
		}
		if err == nil || !transient(err) {
			return dups, err
		}
		cause = err
		sleep := backoff/2 + rand.N(backoff/2+1)
		if time.Until(retryUntil) < sleep {
			return nil, giveUp(attempt, err)
		}
		time.Sleep(sleep)
		backoff = min(backoff*2, 500*time.Millisecond)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// insert runs one INSERT for the batch and works out each report's
// duplicate flag: a key the statement did not return was already in the
// log, and a key repeated within the batch is a duplicate after its first.
func (c *committer) insert(ctx context.Context, batch []*request) ([][]bool, error) {
	n := 0
	for _, r := range batch {
		n += len(r.events)
	}
	first := make(map[domain.Key]*domain.StatusReceived, n) // key -> its first report in this batch
	unique := make([]*domain.StatusReceived, 0, n)
	dups := make([][]bool, len(batch))
	for i, r := range batch {
		dups[i] = make([]bool, len(r.events))
		for j := range r.events {
			e := &r.events[j]
			if f := first[e.Key()]; f != nil && !sameReport(f.Status, f.RawStatus, f.ErrorCode, e) {
				e.EventID = reusedID(e) // another report under the same ID
			}
			if first[e.Key()] != nil {
				dups[i][j] = true
				continue
			}
			first[e.Key()] = e
			unique = append(unique, e)
		}
	}
	// In message order: two batches holding the same messages in other
	// orders (a redelivery racing its original) each waited in the unique
	// index for a key the other held, until PostgreSQL's 1 s
	// deadlock_timeout broke the cycle, and every request behind them
	// waited that second. Inserted in one order, the second batch waits for
	// the first and finds its keys there. The sort is stable and goes by
	// message only: a message's reports keep the order they were sent in,
	// which is the order its history shows (sorted by event ID, a body's
	// QUEUED, SENT, DELIVERED were listed SENT, DELIVERED, QUEUED).
	slices.SortStableFunc(unique, func(a, b *domain.StatusReceived) int {
		return strings.Compare(a.MessageID, b.MessageID)
	})
	inserted := make(map[domain.Key]bool, n)
	if err := c.insertRows(ctx, unique, inserted); err != nil {
		return nil, err
	}
	// A key already in the log holding another report is no redelivery:
	// a gateway that puts the message's own resource ID in "id", or a
	// sender reusing X-CXone-Event-Id, had every status after the first
	// answered duplicate and dropped. Such reports go in under an ID of
	// their own (reusedID); this costs a query only when keys conflict.
	// The first statement has committed by then: kept out of a
	// transaction, the common batch costs one round trip. Should the
	// second fail, the batch is answered 503 all the same, and its
	// redelivery finds the first part as duplicates.
	var conflicts []*domain.StatusReceived
	for _, e := range unique {
		if !inserted[e.Key()] {
			conflicts = append(conflicts, e)
		}
	}
	if len(conflicts) > 0 {
		others, err := c.otherReports(ctx, conflicts)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errPartlyStored, err)
		}
		if err := c.insertRows(ctx, others, inserted); err != nil {
			return nil, fmt.Errorf("%w: %w", errPartlyStored, err)
		}
	}
	for i, r := range batch {
		for j, e := range r.events {
			if !dups[i][j] && !inserted[e.Key()] {
				dups[i][j] = true
			}
		}
	}
	return dups, nil
}

// insertRows inserts events in one statement and adds the keys it stored
// to inserted.
func (c *committer) insertRows(ctx context.Context, events []*domain.StatusReceived, inserted map[domain.Key]bool) error {
	cols := newColumns(len(events))
	for _, e := range events {
		cols.add(*e)
	}
	rows, err := c.pool.Query(ctx, insertSQL, cols.args()...)
	if err != nil {
		return classify(err)
	}
	var k domain.Key
	for rows.Next() {
		if err := rows.Scan(&k.MessageID, &k.EventID); err != nil {
			rows.Close()
			return classify(err)
		}
		inserted[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		if ReadOnly(err) {
			c.pool.Reset()
		}
		return classify(err)
	}
	return nil
}

// otherReports reads the log's reports under the keys of conflicts and
// returns those of conflicts that differ from them, each given its
// reusedID; the rest are redeliveries.
func (c *committer) otherReports(ctx context.Context, conflicts []*domain.StatusReceived) ([]*domain.StatusReceived, error) {
	ids, events := make([]string, len(conflicts)), make([]string, len(conflicts))
	for i, e := range conflicts {
		ids[i], events[i] = e.MessageID, e.EventID
	}
	rows, err := c.pool.Query(ctx, `SELECT e.message_id, e.event_id, e.status, e.raw_status, e.error_code
		FROM unnest($1::text[], $2::text[]) AS k(m, e) JOIN events e ON e.message_id = k.m AND e.event_id = k.e`, ids, events)
	if err != nil {
		return nil, classify(err)
	}
	type facts struct{ status, raw, code string }
	stored := make(map[domain.Key]facts, len(conflicts))
	var k domain.Key
	var f facts
	for rows.Next() {
		if err := rows.Scan(&k.MessageID, &k.EventID, &f.status, &f.raw, &f.code); err != nil {
			rows.Close()
			return nil, classify(err)
		}
		stored[k] = f
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, classify(err)
	}
	var others []*domain.StatusReceived
	for _, e := range conflicts {
		if f, ok := stored[e.Key()]; ok && !sameReport(domain.Status(f.status), f.raw, f.code, e) {
			e.EventID = reusedID(e)
			others = append(others, e)
		}
	}
	return others, nil
}

// sameReport reports whether e says what a report with status, raw status
// and error code said: then it is a redelivery of it. The times are left
// out: a report without one takes the time it was received, which a
// redelivery does not share.
func sameReport(status domain.Status, raw, code string, e *domain.StatusReceived) bool {
	return e.Status == status && e.RawStatus == raw && e.ErrorCode == code
}

// reusedID is the event ID of a report that came under another report's
// ID: that ID, "~", and a hash of what it says, so that its own
// redeliveries find it.
func reusedID(e *domain.StatusReceived) string {
	h := sha256.Sum256([]byte(string(e.Status) + "\x00" + e.RawStatus + "\x00" + e.ErrorCode))
	return e.EventID + "~" + hex.EncodeToString(h[:6])
}

// columns holds a batch as one array per column, as insertSQL takes it.
type columns struct {
	messageID, eventID, status, rawStatus, carrier, errorCode, sender, recipient []string
	price, currency, format                                                      []string
	occurredAt, receivedAt                                                       []time.Time
	raw                                                                          []string
}

func newColumns(n int) *columns {
	return &columns{
		messageID: make([]string, 0, n), eventID: make([]string, 0, n), status: make([]string, 0, n),
		rawStatus: make([]string, 0, n), carrier: make([]string, 0, n), errorCode: make([]string, 0, n),
		sender: make([]string, 0, n), recipient: make([]string, 0, n), price: make([]string, 0, n),
		currency: make([]string, 0, n), format: make([]string, 0, n), occurredAt: make([]time.Time, 0, n),
		receivedAt: make([]time.Time, 0, n), raw: make([]string, 0, n),
	}
}

func (c *columns) add(e domain.StatusReceived) {
	c.messageID = append(c.messageID, e.MessageID)
	c.eventID = append(c.eventID, e.EventID)
	c.status = append(c.status, string(e.Status))
	c.rawStatus = append(c.rawStatus, e.RawStatus)
	c.carrier = append(c.carrier, e.CarrierCode)
	c.errorCode = append(c.errorCode, e.ErrorCode)
	c.sender = append(c.sender, e.SenderID)
	c.recipient = append(c.recipient, e.Recipient)
	price := "" // NULL
	if e.Price != nil {
		price = e.Price.String()
	}
	c.price = append(c.price, price)
	c.currency = append(c.currency, e.Currency)
	c.format = append(c.format, string(e.Format))
	c.occurredAt = append(c.occurredAt, e.OccurredAt)
	c.receivedAt = append(c.receivedAt, e.ReceivedAt)
	c.raw = append(c.raw, string(e.Raw))
}

func (c *columns) args() []any {
	return []any{c.messageID, c.eventID, c.status, c.rawStatus, c.carrier, c.errorCode, c.sender,
		c.recipient, c.price, c.currency, c.format, c.occurredAt, c.receivedAt, c.raw}
}

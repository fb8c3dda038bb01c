package eventstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/domain"
)

// Store is the event log.
type Store struct {
	pool *pgxpool.Pool
	c    *committer
}

// Options tune the group commit; zero values take the defaults.
type Options struct {
	// Writers is how many batches may commit at once. Two lets one batch
	// gather while the other waits for its fsync.
	Writers int
	// MaxBatch caps the reports in one INSERT.
	MaxBatch int
	// Window is how long a writer waits for more requests after the first;
	// it bounds the latency a batch adds.
	Window time.Duration
	// QueueLimit caps the requests waiting for a writer; past it Append
	// answers ErrOverloaded at once, so memory stays bounded under overload.
	QueueLimit int
	// QueueReports caps the reports waiting or being written, across
	// requests: 800 senders of 200 reports each stayed under QueueLimit
	// and waited up to 25 s, past any sender's timeout, where a 503 tells
	// them to come back. A request alone is never refused for its size
	// (the body limit bounds that).
	QueueReports int
	// RetryFor is how long a transient failure is retried before Append
	// gives up with ErrUnavailable.
	RetryFor time.Duration
	// Observer, when set, hears about every batch (for metrics).
	Observer Observer
}

// Observer hears what the committer does. Metrics implement it; nil is fine.
type Observer interface {
	BatchCommitted(requests, reports int, took time.Duration, err error)
}

func (o *Options) defaults() {
	if o.Writers <= 0 {
		o.Writers = 2
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 2000
	}
	if o.Window < 0 {
		o.Window = 0
	}
	if o.QueueLimit <= 0 {
		o.QueueLimit = 4096
	}
	if o.QueueReports <= 0 {
		// About a second of ingest here at 100 reports per request, and
		// five times what 64 such senders keep in flight.
		o.QueueReports = 32000
	}
	if o.RetryFor <= 0 {
		o.RetryFor = 3 * time.Second
	}
}

// New returns a Store over pool and starts its committers; Close stops them.
func New(pool *pgxpool.Pool, opts Options) *Store {
	opts.defaults()
	return &Store{pool: pool, c: newCommitter(pool, opts)}
}

// Close stops the committers after the batches in flight finish. Appends
// after Close fail with ErrUnavailable.
func (s *Store) Close() { s.c.close() }

// Busy reports whether any Append is waiting for its batch to commit: ingest
// is under way, and work that can wait (the projectors) should leave it the
// CPU.
func (s *Store) Busy() bool { return s.c.waiting.Load() > 0 }

// Full reports whether the queue is at a limit (QueueLimit requests or
// QueueReports reports waiting), so that a request may be refused before
// its body is read: read and parsed, it would mostly be refused all the
// same, and reading half-megabyte bodies from 1,500 senders on two cores
// kept each refusal waiting seconds. A request may still be refused when
// Full says no, once its reports are counted (Append).
func (s *Store) Full() bool {
	return s.c.reports.Load() >= int64(s.c.opts.QueueReports) || len(s.c.queue) >= cap(s.c.queue)
}

// Pool returns the store's connection pool, for the packages that read
// read models in the same database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// AppendResult says what became of one report.
type AppendResult struct {
	MessageID string
	EventID   string
	// Duplicate is true when the log already held this (message_id, event_id),
	// from an earlier request or earlier in the same batch.
	Duplicate bool
}

// Append stores events and returns once they are committed, one result per
// event in order. Either every event of the call is committed or none is,
// but for one case: a report that reuses a stored report's event ID for
// something else (committer.insert) goes in a second statement, once the
// first has committed. Should that one fail, the call fails and its first
// part stays: nothing is acknowledged, and a retry finds that part as
// duplicates.
func (s *Store) Append(ctx context.Context, events []domain.StatusReceived) ([]AppendResult, error) {
	if len(events) == 0 {
		return nil, nil
	}
	dup, err := s.c.append(ctx, events)
	if err != nil {
		return nil, fmt.Errorf("eventstore: append %d reports: %w", len(events), err)
	}
	out := make([]AppendResult, len(events))
	for i, e := range events {
		out[i] = AppendResult{MessageID: e.MessageID, EventID: e.EventID, Duplicate: dup[i]}
	}
	return out, nil
}

// Position is an event's place in the log.
type Position struct {
	TransactionID uint64 `json:"transactionId"`
	Offset        int64  `json:"offset"`
}

// Less orders positions as the log does.
func (p Position) Less(q Position) bool {
	if p.TransactionID != q.TransactionID {
		return p.TransactionID < q.TransactionID
	}
	return p.Offset < q.Offset
}

// Recorded is an event as the log holds it.
type Recorded struct {
	Position Position
	domain.StatusReceived
}

// History returns every event of one message in log order, raw payload
// included. It returns ErrNotFound when the log has none.
func (s *Store) History(ctx context.Context, messageID string) ([]Recorded, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT transaction_id::text::bigint, "offset", `+recordedColumns+`, raw::text
		FROM events WHERE message_id = $1
		ORDER BY transaction_id, "offset"`, messageID)
	if err != nil {
		return nil, fmt.Errorf("eventstore: history %s: %w", messageID, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Recorded, error) {
		var r Recorded
		var raw string
		dest := append([]any{&r.Position.TransactionID, &r.Position.Offset}, scanTargets(&r.StatusReceived)...)
		if err := row.Scan(append(dest, &raw)...); err != nil {
			return r, err
		}
		r.Raw = json.RawMessage(raw)
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("eventstore: history %s: %w", messageID, classify(err))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("eventstore: history %s: %w", messageID, ErrNotFound)
	}
	return out, nil
}

// recordedColumns are the normalized columns scanTargets reads, in order.
const recordedColumns = `message_id, event_id, status, raw_status, carrier_code, error_code,
	sender_id, recipient, price::text, currency, format, occurred_at, received_at`

// scanTargets points at e's fields in recordedColumns order. Price goes
// through a text column so no float ever touches money.
func scanTargets(e *domain.StatusReceived) []any {
	return []any{&e.MessageID, &e.EventID, (*string)(&e.Status), &e.RawStatus, &e.CarrierCode, &e.ErrorCode,
		&e.SenderID, &e.Recipient, priceScanner{&e.Price}, &e.Currency, (*string)(&e.Format), &e.OccurredAt, &e.ReceivedAt}
}

// priceScanner reads a nullable numeric rendered as text into *domain.Micros.
type priceScanner struct{ p **domain.Micros }

func (s priceScanner) ScanText(v pgtype.Text) error {
	if !v.Valid {
		*s.p = nil
		return nil
	}
	m, err := domain.ParseMicros(v.String)
	if err != nil {
		return err
	}
	*s.p = &m
	return nil
}

// Ready reports whether the store can serve: the database answers, takes
// writes, and has every migration this binary embeds applied.
func (s *Store) Ready(ctx context.Context) error {
	var v int
	var readOnly, canInsert, canSelect, canUseSeq bool
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0), current_setting('transaction_read_only') = 'on',
		has_any_column_privilege('events', 'INSERT'), has_table_privilege('events', 'SELECT'),
		has_sequence_privilege(pg_get_serial_sequence('events', 'offset'), 'USAGE, UPDATE')
		FROM schema_migrations`).Scan(&v, &readOnly, &canInsert, &canSelect, &canUseSeq)
	if err != nil {
		return fmt.Errorf("eventstore: ready: %w", classify(err))
	}
	// Said apart, each grant by name: ready while every webhook failed on
	// "permission denied", the probe hid the one thing to fix. What
	// PostgreSQL takes instead counts: INSERT on the columns a report
	// fills (the log's positions left out), UPDATE on the sequence.
	var missing []string
	for _, g := range []struct {
		ok    bool
		grant string
	}{{canInsert, "INSERT ON events"}, {canSelect, "SELECT ON events"}, {canUseSeq, "USAGE ON SEQUENCE events_offset_seq"}} {
		if !g.ok {
			missing = append(missing, g.grant)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("eventstore: ready: reports cannot be stored: the database role lacks GRANT %s", strings.Join(missing, ", GRANT "))
	}
	if readOnly {
		// Sessions keep the setting they started with: start new ones, so
		// the next check sees the database as it is by then.
		s.pool.Reset()
		return errors.New("eventstore: ready: the database is read-only (a standby?): reports cannot be stored")
	}
	if want := LatestVersion(); v > want {
		return fmt.Errorf("eventstore: ready: %w", schemaNewer(v, want))
	} else if v < want {
		return fmt.Errorf("eventstore: ready: schema at version %d, binary needs %d: run `cxsms migrate`", v, want)
	}
	return s.lockedOut(ctx)
}

// lockedOut says who holds a lock on events that an INSERT waits for: a
// plain CREATE INDEX, a LOCK TABLE, an ALTER TABLE, held by a session or
// by a prepared transaction (two-phase commit, which outlives a restart).
// A request for such a lock still waiting counts too: inserts queue
// behind it, as behind an ALTER TABLE waiting for a long read. Every
// webhook then waits and is answered 503, while the probe said ready and
// the log only "timeout".
func (s *Store) lockedOut(ctx context.Context) error {
	var pid *int
	var mode, app, state, prepared, blockers string
	var granted bool
	var since *time.Time
	err := s.pool.QueryRow(ctx, `SELECT l.pid, l.mode, l.granted, coalesce(a.application_name, ''), coalesce(a.state, ''), a.xact_start,
			CASE WHEN l.pid IS NULL THEN (SELECT coalesce(string_agg(quote_literal(gid), ', '), '') FROM pg_prepared_xacts
				WHERE database = current_database()) ELSE '' END,
			CASE WHEN l.granted OR l.pid IS NULL THEN '' ELSE (SELECT coalesce(string_agg(b::text, ', '), '') FROM unnest(pg_blocking_pids(l.pid)) b) END
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'relation' AND l.relation = 'events'::regclass
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')
			AND l.pid IS DISTINCT FROM pg_backend_pid()
		ORDER BY l.granted DESC, a.xact_start NULLS FIRST LIMIT 1`).Scan(&pid, &mode, &granted, &app, &state, &since, &prepared, &blockers)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("eventstore: ready: locks on events: %w", classify(err))
	}
	if pid == nil {
		return fmt.Errorf("eventstore: ready: reports cannot be stored: events is locked (%s) by a prepared transaction "+
			"(pg_prepared_xacts: %s); every INSERT waits until it is finished with COMMIT PREPARED or ROLLBACK PREPARED", mode, prepared)
	}
	who := fmt.Sprintf("pid %d", *pid)
	if since != nil { // another role's session shows only its pid to a role that is not a superuser
		who += fmt.Sprintf(", application %q, %s, in a transaction since %s", app, state, since.UTC().Format(time.RFC3339))
	}
	if !granted {
		return fmt.Errorf("eventstore: ready: reports cannot be stored: %s waits for a %s on events behind pid(s) %s, "+
			"and every INSERT queues behind its request (SELECT pg_cancel_backend(%d) withdraws it)", who, mode, blockers, *pid)
	}
	return fmt.Errorf("eventstore: ready: reports cannot be stored: events is locked (%s) by %s; "+
		"every INSERT waits for it (SELECT pg_terminate_backend(%d) ends it)", mode, who, *pid)
}

// IsUnavailable reports whether err means "try again later".
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOverloaded)
}

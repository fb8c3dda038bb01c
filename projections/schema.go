package projections

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/eventstore"
)

// topic is the name watermill knows the log by.
const topic = "events"

// Metadata keys of a batch message: the log range it stands for.
const (
	metaFrom  = "cxsms_from"
	metaTo    = "cxsms_to"
	metaCount = "cxsms_count"
)

// eventsSchema lets watermill-sql read our events table as a topic. It keeps
// watermill's ordering and guard: rows in (transaction_id, offset) order,
// only from transactions older than every open one
// (pg_snapshot_xmin(pg_current_snapshot())), so a row that commits out of
// sequence order is read later instead of skipped.
//
// One watermill message stands for a whole batch of events: the range
// (from, to] of the log that the poll found, up to batchSize events. The
// handler reads that range in the subscriber's transaction and writes the
// whole batch at once. One message per event cost a goroutine, a context, an
// ack round trip and a handler call per event and projection: profiling
// showed that as three quarters of the projectors' CPU. The range is fixed
// once found: every event in it comes from a transaction older than the
// snapshot's xmin, so none can still appear inside it.
//
// Nothing is ever published through watermill: the event store writes the
// log (with its idempotency key and group commit), so InsertQuery refuses.
type eventsSchema struct {
	batchSize int
	// found is how many events the last poll found, for pacing.
	found *atomic.Int64
}

func (s eventsSchema) SchemaInitializingQueries(wsql.SchemaInitializingQueriesParams) ([]wsql.Query, error) {
	return nil, nil // migrations own the schema
}

func (s eventsSchema) InsertQuery(wsql.InsertQueryParams) (wsql.Query, error) {
	return wsql.Query{}, errors.New("projections: the event log is written by eventstore, not watermill")
}

func (s eventsSchema) SelectQuery(params wsql.SelectQueryParams) (wsql.Query, error) {
	next, err := params.OffsetsAdapter.NextOffsetQuery(wsql.NextOffsetQueryParams{
		Topic: params.Topic, ConsumerGroup: params.ConsumerGroup,
	})
	if err != nil {
		return wsql.Query{}, err
	}
	// A row comparison on the primary key lets PostgreSQL walk the index from
	// the last position and stop after batchSize rows, however long the
	// backlog (watermill's default OR form must sort the whole backlog).
	// The answer is one row, the batch's range, or none when there is
	// nothing new.
	q := `
	WITH last_processed AS (` + next.Query + `),
	batch AS (
		SELECT e.transaction_id, e."offset"
		FROM events e
		WHERE (e.transaction_id, e."offset") > (
				(SELECT last_processed_transaction_id FROM last_processed),
				(SELECT offset_acked FROM last_processed))
		  AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY e.transaction_id, e."offset"
		LIMIT ` + strconv.Itoa(s.batchSize) + `
	)
	SELECT (SELECT last_processed_transaction_id FROM last_processed)::text,
		(SELECT offset_acked FROM last_processed),
		b.transaction_id::text, b."offset", (SELECT count(*) FROM batch)
	FROM batch b
	ORDER BY b.transaction_id DESC, b."offset" DESC
	LIMIT 1`
	return wsql.Query{Query: q, Args: next.Args}, nil
}

func (s eventsSchema) UnmarshalMessage(params wsql.UnmarshalMessageParams) (wsql.Row, error) {
	var fromTx, toTx string
	var fromOffset, toOffset, count int64
	if err := params.Row.Scan(&fromTx, &fromOffset, &toTx, &toOffset, &count); err != nil {
		return wsql.Row{}, fmt.Errorf("scan batch range: %w", err)
	}
	to, err := strconv.ParseUint(toTx, 10, 64)
	if err != nil {
		return wsql.Row{}, fmt.Errorf("batch range: transaction id %q: %w", toTx, err)
	}
	s.found.Store(count)
	from := fromTx + "/" + strconv.FormatInt(fromOffset, 10)
	upto := toTx + "/" + strconv.FormatInt(toOffset, 10)
	msg := message.NewMessage(from+"-"+upto, nil)
	msg.Metadata.Set(metaFrom, from)
	msg.Metadata.Set(metaTo, upto)
	msg.Metadata.Set(metaCount, strconv.FormatInt(count, 10))
	return wsql.Row{
		Offset:    toOffset,
		Msg:       msg,
		ExtraData: map[string]any{"transaction_id": wsql.XID8(to)},
	}, nil
}

func (s eventsSchema) SubscribeIsolationLevel() stdsql.IsolationLevel {
	return stdsql.LevelRepeatableRead
}

// batchRange is the part of the log a batch message stands for: every event
// after From, up to and including To.
type batchRange struct {
	From, To eventstore.Position
	Count    int
}

func rangeOf(msg *message.Message) (batchRange, error) {
	var r batchRange
	var err error
	if r.From, err = parsePosition(msg.Metadata.Get(metaFrom)); err != nil {
		return r, fmt.Errorf("batch %s: from: %w", msg.UUID, err)
	}
	if r.To, err = parsePosition(msg.Metadata.Get(metaTo)); err != nil {
		return r, fmt.Errorf("batch %s: to: %w", msg.UUID, err)
	}
	if r.Count, err = strconv.Atoi(msg.Metadata.Get(metaCount)); err != nil {
		return r, fmt.Errorf("batch %s: count: %w", msg.UUID, err)
	}
	return r, nil
}

// parsePosition reads "transaction_id/offset".
func parsePosition(s string) (eventstore.Position, error) {
	txid, off, ok := strings.Cut(s, "/")
	if !ok {
		return eventstore.Position{}, fmt.Errorf("position %q: want transaction_id/offset", s)
	}
	tx, err := strconv.ParseUint(txid, 10, 64)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("position %q: %w", s, err)
	}
	o, err := strconv.ParseInt(off, 10, 64)
	if err != nil {
		return eventstore.Position{}, fmt.Errorf("position %q: %w", s, err)
	}
	return eventstore.Position{TransactionID: tx, Offset: o}, nil
}

// readRange reads the events of r in log order, each with its message's
// state in table as of the transaction's snapshot (nil for a new message),
// so folding a batch needs no query per message.
//
// The state is joined LATERAL with LIMIT 1 to pin the plan to one index
// lookup per event: the generic plan of a plain join, estimating a range
// of unknown size, hashed the whole state table on every batch.
func readRange(ctx context.Context, tx pgx.Tx, table string, r batchRange) ([]Event, error) {
	rows, err := tx.Query(ctx, `
		SELECT `+eventColumnsOf("e")+`, `+nullableStateColumns("s")+`
		FROM events e
		LEFT JOIN LATERAL (SELECT * FROM `+table+` s WHERE s.message_id = e.message_id LIMIT 1) s ON true
		WHERE (e.transaction_id, e."offset") > ($1::text::xid8, $2)
		  AND (e.transaction_id, e."offset") <= ($3::text::xid8, $4)
		ORDER BY e.transaction_id, e."offset"`,
		strconv.FormatUint(r.From.TransactionID, 10), r.From.Offset,
		strconv.FormatUint(r.To.TransactionID, 10), r.To.Offset)
	if err != nil {
		return nil, fmt.Errorf("read batch %v-%v: %w", r.From, r.To, err)
	}
	defer rows.Close()
	out := make([]Event, 0, r.Count)
	var prior nullableState
	scanner := newEventScanner(prior.dest()...)
	for rows.Next() {
		e, err := scanner.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read batch %v-%v: %w", r.From, r.To, err)
		}
		e.Prior = prior.message()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read batch %v-%v: %w", r.From, r.To, err)
	}
	return out, nil
}

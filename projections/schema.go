package projections

import (
	stdsql "database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
)

// topic is the name watermill knows the log by.
const topic = "events"

// lastInBatch marks the last event of a subscriber batch.
const lastInBatch = "cxsms_last_in_batch"

// eventsSchema lets watermill-sql read our events table as a topic. It keeps
// watermill's ordering and guard: rows in (transaction_id, offset) order,
// only from transactions older than every open one
// (pg_snapshot_xmin(pg_current_snapshot())), so a row that commits out of
// sequence order is read later instead of skipped.
//
// Nothing is ever published through watermill: the event store writes the
// log (with its idempotency key and group commit), so InsertQuery refuses.
type eventsSchema struct {
	batchSize int
	// stateTable is the projection's per-message state, joined in so the
	// handler gets each event's prior state without a query of its own.
	stateTable string
	// inflight hands decoded events to the handler by message UUID: a
	// watermill payload would cost a JSON encode and decode per event and
	// projection, which profiling showed as a quarter of the service's CPU.
	inflight *inflight
}

// inflight holds the events read by a subscriber until its handler is done
// with them.
type inflight struct{ m sync.Map }

func (f *inflight) put(e *Event) string {
	key := strconv.FormatUint(e.Pos.TransactionID, 10) + "/" + strconv.FormatInt(e.Pos.Offset, 10)
	f.m.Store(key, e)
	return key
}

func (f *inflight) get(msg *message.Message) (*Event, error) {
	v, ok := f.m.Load(msg.UUID)
	if !ok {
		return nil, fmt.Errorf("event %s is not in flight", msg.UUID)
	}
	return v.(*Event), nil
}

func (f *inflight) done(msg *message.Message) { f.m.Delete(msg.UUID) }

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
	// The outer query numbers the batch's rows, so the handler knows which
	// event ends the batch and flushes there (see Projector.handler).
	q := `
	WITH last_processed AS (` + next.Query + `)
	SELECT b.*, count(*) OVER () AS batch_size, row_number() OVER (ORDER BY b.txid::xid8, b."offset") AS batch_index
	FROM (
		SELECT ` + eventColumnsOf("e") + `, ` + nullableStateColumns("s") + `
		FROM events e LEFT JOIN ` + s.stateTable + ` s ON s.message_id = e.message_id
		WHERE (e.transaction_id, e."offset") > (
				(SELECT last_processed_transaction_id FROM last_processed),
				(SELECT offset_acked FROM last_processed))
		  AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY e.transaction_id, e."offset"
		LIMIT ` + fmt.Sprint(s.batchSize) + `
	) b
	ORDER BY b.txid::xid8, b."offset"`
	return wsql.Query{Query: q, Args: next.Args}, nil
}

func (s eventsSchema) UnmarshalMessage(params wsql.UnmarshalMessageParams) (wsql.Row, error) {
	var prior nullableState
	var size, index int64
	e, err := scanEventAnd(params.Row, append(prior.dest(), &size, &index)...)
	if err != nil {
		return wsql.Row{}, fmt.Errorf("scan event: %w", err)
	}
	e.Prior, e.PriorKnown = prior.message(), true
	msg := message.NewMessage(s.inflight.put(&e), nil)
	if index == size {
		msg.Metadata.Set(lastInBatch, "1")
	}
	return wsql.Row{
		Offset:    e.Pos.Offset,
		Msg:       msg,
		ExtraData: map[string]any{"transaction_id": wsql.XID8(e.Pos.TransactionID)},
	}, nil
}

func (s eventsSchema) SubscribeIsolationLevel() stdsql.IsolationLevel {
	return stdsql.LevelRepeatableRead
}

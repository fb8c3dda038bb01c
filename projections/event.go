package projections

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
)

// Event is a logged report as projections see it: its place in the log and
// its normalized fields (the raw payload is not needed to project).
type Event struct {
	Pos eventstore.Position
	domain.StatusReceived
	// Prior is the message's state in the projection's own state table when
	// the live handler read the event (readRange); nil when the message is
	// new there, and unused by rebuilds and replays, which fold or load the
	// state themselves.
	Prior *domain.Message
	// Shadow marks an event a rebuild applies to its shadow tables
	// (shadowWriter.catchUp). The live projector applies it too, so what
	// measures this service rather than the log (the ingest latency in
	// sla_ingest, which rebuilds keep) is taken there only, not twice.
	Shadow bool
}

// eventColumns are the columns scanEvent reads, in order.
const eventColumns = `transaction_id::text AS txid, "offset", message_id, event_id, status, raw_status,
	carrier_code, error_code, sender_id, recipient, price, currency, format, occurred_at, received_at`

// eventColumnsOf is eventColumns qualified by a table alias, for joins.
func eventColumnsOf(alias string) string {
	return alias + `.transaction_id::text AS txid, ` + alias + `."offset", ` + alias + `.message_id, ` + alias + `.event_id, ` +
		alias + `.status, ` + alias + `.raw_status, ` + alias + `.carrier_code, ` + alias + `.error_code, ` + alias + `.sender_id, ` +
		alias + `.recipient, ` + alias + `.price, ` + alias + `.currency, ` + alias + `.format, ` + alias + `.occurred_at, ` + alias + `.received_at`
}

func scanEvent(row pgx.Row) (Event, error) {
	return newEventScanner().scan(row)
}

// eventScanner scans rows of eventColumns, followed by the columns of more,
// into one set of destinations reused row after row: building them for each
// row was most of the projectors' allocations when reading a batch.
type eventScanner struct {
	e     Event
	txid  string
	price numeric
	dest  []any
}

func newEventScanner(more ...any) *eventScanner {
	s := &eventScanner{}
	e := &s.e
	s.dest = append([]any{&s.txid, &e.Pos.Offset, &e.MessageID, &e.EventID, (*string)(&e.Status), &e.RawStatus,
		&e.CarrierCode, &e.ErrorCode, &e.SenderID, &e.Recipient, &s.price, &e.Currency, (*string)(&e.Format),
		&e.OccurredAt, &e.ReceivedAt}, more...)
	return s
}

// scan reads one row; the more destinations hold that row's extra columns
// until the next call.
func (s *eventScanner) scan(row pgx.Row) (Event, error) {
	s.e = Event{}
	if err := row.Scan(s.dest...); err != nil {
		return Event{}, err
	}
	s.e.Price = s.price.micros()
	var err error
	s.e.Pos.TransactionID, err = strconv.ParseUint(s.txid, 10, 64)
	return s.e, err
}

// readBatch returns up to limit events after pos in log order, only from
// transactions older than every transaction still open (watermill-sql's
// guard), so an event that commits out of sequence order is never skipped.
// Each call is its own short statement: a rebuild reads the log in many of
// them and never holds back other consumers with one long transaction.
func readBatch(ctx context.Context, q querier, after eventstore.Position, limit int) ([]Event, error) {
	rows, err := q.Query(ctx, `
		SELECT `+eventColumns+` FROM events
		WHERE (transaction_id, "offset") > ($1::text::xid8, $2)
		  AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY transaction_id, "offset"
		LIMIT $3`, strconv.FormatUint(after.TransactionID, 10), after.Offset, limit)
	if err != nil {
		return nil, fmt.Errorf("read log after %v: %w", after, err)
	}
	defer rows.Close()
	out := make([]Event, 0, limit)
	scanner := newEventScanner()
	for rows.Next() {
		e, err := scanner.scan(rows)
		if err != nil {
			return nil, fmt.Errorf("read log: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// querier is what reading the log needs: a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func minute(t time.Time) time.Time { return t.UTC().Truncate(time.Minute) }

package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
)

// The per-message state tables (current_status, carrier_cost_messages,
// sla_messages) share one shape: a domain.Message and its region.
var stateColumnNames = []string{"message_id", "status", "raw_status", "carrier_code", "error_code",
	"sender_id", "recipient", "region", "price", "currency", "updated_at", "first_at", "sent_at",
	"terminal_at", "last_received_at", "event_count"}

const stateColumns = `message_id, status, raw_status, carrier_code, error_code, sender_id, recipient,
	region, price, currency, updated_at, first_at, sent_at, terminal_at, last_received_at, event_count`

// loadState reads one message's state from table; ok is false for a message
// not seen before.
func loadState(ctx context.Context, tx pgx.Tx, table, id string) (m domain.Message, ok bool, err error) {
	row := tx.QueryRow(ctx, `SELECT `+stateColumns+` FROM `+table+` WHERE message_id = $1`, id)
	m, err = scanState(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Message{}, false, nil
	}
	if err != nil {
		return m, false, fmt.Errorf("load %s %s: %w", table, id, err)
	}
	return m, true, nil
}

// scanState scans one state row (stateColumns).
func scanState(row pgx.Row) (domain.Message, error) {
	var n nullableState
	if err := row.Scan(n.dest()...); err != nil {
		return domain.Message{}, err
	}
	m := n.message()
	if m == nil { // message_id is the primary key: never NULL in a real row
		return domain.Message{}, pgx.ErrNoRows
	}
	return *m, nil
}

// stateValues are m's column values in stateColumnNames order, for an upsert
// or a COPY.
func stateValues(m domain.Message) []any {
	return []any{m.MessageID, string(m.Status), m.RawStatus, m.CarrierCode, m.ErrorCode, m.SenderID,
		m.Recipient, rules.RegionOf(m.Recipient), toNumeric(m.Price), m.Currency, m.UpdatedAt, m.FirstAt,
		nullTime(m.SentAt), nullTime(m.TerminalAt), m.LastReceivedAt, m.EventCount}
}

func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// stateUpsert makes an INSERT of states overwrite the rows already there.
const stateUpsert = `
	ON CONFLICT (message_id) DO UPDATE SET
		status = EXCLUDED.status, raw_status = EXCLUDED.raw_status, carrier_code = EXCLUDED.carrier_code,
		error_code = EXCLUDED.error_code, sender_id = EXCLUDED.sender_id, recipient = EXCLUDED.recipient,
		region = EXCLUDED.region, price = EXCLUDED.price, currency = EXCLUDED.currency,
		updated_at = EXCLUDED.updated_at, first_at = EXCLUDED.first_at, sent_at = EXCLUDED.sent_at,
		terminal_at = EXCLUDED.terminal_at, last_received_at = EXCLUDED.last_received_at,
		event_count = EXCLUDED.event_count`

// messageFold is the in-memory state of a rebuild of a per-message projection.
type messageFold struct {
	byID  map[string]*domain.Message
	order []string // first-seen order, for deterministic output
}

func newMessageFold() *messageFold { return &messageFold{byID: make(map[string]*domain.Message)} }

// add folds e and returns its message's new state.
func (f *messageFold) add(e Event) *domain.Message {
	m, ok := f.byID[e.MessageID]
	if !ok {
		m = &domain.Message{}
		f.byID[e.MessageID] = m
		f.order = append(f.order, e.MessageID)
	}
	*m = m.Apply(e.StatusReceived)
	return m
}

// copyStates writes the folded states of the messages ids into table with
// COPY.
func (f *messageFold) copyStates(ctx context.Context, tx pgx.Tx, table pgx.Identifier, ids []string) error {
	i := 0
	_, err := tx.CopyFrom(ctx, table, stateColumnNames, pgx.CopyFromFunc(func() ([]any, error) {
		if i >= len(ids) {
			return nil, nil
		}
		m := f.byID[ids[i]]
		i++
		return stateValues(*m), nil
	}))
	if err != nil {
		return fmt.Errorf("copy %d messages into %s: %w", len(ids), table.Sanitize(), err)
	}
	return nil
}

// nullableStateColumns are stateColumns of a LEFT JOINed alias.
func nullableStateColumns(alias string) string {
	out := ""
	for i, c := range stateColumnNames {
		if i > 0 {
			out += ", "
		}
		out += alias + "." + c + " AS " + alias + "_" + c
	}
	return out
}

// nullableState scans a LEFT JOINed state row, which is all NULL for a
// message the projection has not seen.
type nullableState struct {
	id, status, rawStatus, carrier, errorCode, sender, recipient, region, currency pgtype.Text
	price                                                                          numeric
	updatedAt, firstAt, sentAt, terminalAt, lastReceivedAt                         pgtype.Timestamptz
	eventCount                                                                     pgtype.Int4
}

func (n *nullableState) dest() []any {
	return []any{&n.id, &n.status, &n.rawStatus, &n.carrier, &n.errorCode, &n.sender, &n.recipient, &n.region,
		&n.price, &n.currency, &n.updatedAt, &n.firstAt, &n.sentAt, &n.terminalAt, &n.lastReceivedAt, &n.eventCount}
}

func (n *nullableState) message() *domain.Message {
	if !n.id.Valid {
		return nil
	}
	return &domain.Message{
		MessageID: n.id.String, Status: domain.Status(n.status.String), RawStatus: n.rawStatus.String,
		CarrierCode: n.carrier.String, ErrorCode: n.errorCode.String, SenderID: n.sender.String,
		Recipient: n.recipient.String, Price: n.price.micros(), Currency: n.currency.String,
		UpdatedAt: n.updatedAt.Time, FirstAt: n.firstAt.Time, SentAt: n.sentAt.Time, TerminalAt: n.terminalAt.Time,
		LastReceivedAt: n.lastReceivedAt.Time, EventCount: int(n.eventCount.Int32),
	}
}

// queueSaveStates writes many messages' states in one statement each for
// the new ones and the known ones. The caller knows which is which (it read
// each message's prior state under the position lock, so nobody else writes
// the table meanwhile), and a plain INSERT skips the ON CONFLICT check that
// was an eighth of PostgreSQL's CPU under load. Should a "new" message exist
// after all, the INSERT fails, and the caller applies the batch event by
// event with upserts.
func queueSaveStates(b *pgx.Batch, table string, fresh, known []domain.Message) {
	if len(fresh) > 0 {
		b.Queue(`INSERT INTO `+table+` (`+stateColumns+`) SELECT * FROM `+stateUnnest, stateArrays(fresh)...)
	}
	if len(known) > 0 {
		b.Queue(`INSERT INTO `+table+` (`+stateColumns+`) SELECT * FROM `+stateUnnest+stateUpsert, stateArrays(known)...)
	}
}

// stateUnnest turns the 16 arrays of stateArrays into rows.
const stateUnnest = `unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
	$8::text[], $9::numeric[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::timestamptz[],
	$14::timestamptz[], $15::timestamptz[], $16::int[])`

// stateArrays are the states' columns in stateColumnNames order, one array
// per column.
func stateArrays(ms []domain.Message) []any {
	n := len(ms)
	ids, statuses, raws, carriers, errs := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	senders, recipients, regions, currencies := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	prices := make([]pgtype.Numeric, n)
	updated, first, sent, terminal, last := make([]time.Time, n), make([]time.Time, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n), make([]time.Time, n)
	counts := make([]int32, n)
	for i, m := range ms {
		ids[i], statuses[i], raws[i], carriers[i], errs[i] = m.MessageID, string(m.Status), m.RawStatus, m.CarrierCode, m.ErrorCode
		senders[i], recipients[i], regions[i], currencies[i] = m.SenderID, m.Recipient, rules.RegionOf(m.Recipient), m.Currency
		prices[i] = toNumeric(m.Price)
		updated[i], first[i], sent[i], terminal[i], last[i] = m.UpdatedAt, m.FirstAt, nullTime(m.SentAt), nullTime(m.TerminalAt), m.LastReceivedAt
		counts[i] = int32(m.EventCount)
	}
	// FlatArray lets pgx encode the slices of pgtype values directly; as
	// plain slices they went through its reflection path on every batch.
	return []any{ids, statuses, raws, carriers, errs, senders, recipients, regions, pgtype.FlatArray[pgtype.Numeric](prices),
		currencies, updated, first, pgtype.FlatArray[pgtype.Timestamptz](sent), pgtype.FlatArray[pgtype.Timestamptz](terminal),
		last, counts}
}

package projections

import (
	"context"
	stdsql "database/sql"
	"errors"
	"fmt"
	"sync"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
)

// When a subscriber is stopped while a handler runs, watermill-sql gives up
// waiting for the message's ack and commits (or rolls back) the batch's
// transaction from its own goroutine, while the handler may still be using
// it. Two goroutines on one pgx connection corrupt it, and a handler's writes
// could commit without the position that covers them, to be applied again
// after a restart.
//
// So the subscriber gets transactions it cannot end while a handler holds
// them (lockingBeginner, lockTx), each handler moves its consumer group's
// position itself in the same savepoint as its writes (queuePosition), and
// the subscriber's own ack never moves a position backwards (offsets).

// lockingBeginner wraps watermill's beginner so every transaction it hands
// out is a *lockedTx that holds its consumer group's position row before it
// does anything else.
//
// Taking the row first keeps lock order the same as a rebuild's swap (row,
// then tables): the handler reads the projection's state table, and a
// transaction that held that table while waiting for the row would deadlock
// with a swap holding the row while waiting to rename the table.
type lockingBeginner struct {
	wsql.Beginner
	group string
	// guard says why no batch may begin now (Projector.guard), or nil.
	guard func(context.Context) error
}

func (b lockingBeginner) BeginTx(ctx context.Context, opts *stdsql.TxOptions) (wsql.Tx, error) {
	if b.guard != nil {
		if err := b.guard(ctx); err != nil {
			return nil, err
		}
	}
	tx, err := b.Beginner.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	// A projector's commit need not wait for its WAL to reach the disk: its
	// read-model writes and its position commit together or not at all, so
	// a crash can only lose the last few batches, which are then projected
	// again from the (synchronously committed) log. Ingest keeps
	// synchronous_commit on.
	if _, err := tx.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'off', true)
		FROM projection_offsets WHERE consumer_group = $1 FOR UPDATE`, b.group); err != nil {
		_ = tx.Rollback()
		return nil, fmt.Errorf("lock position of %s: %w", b.group, err)
	}
	return &lockedTx{Tx: tx}, nil
}

// lockedTx is a subscriber transaction that a handler can hold.
type lockedTx struct {
	wsql.Tx
	mu sync.Mutex
}

func (t *lockedTx) Commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.Tx.Commit()
}

func (t *lockedTx) Rollback() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.Tx.Rollback()
}

func (t *lockedTx) ExecContext(ctx context.Context, query string, args ...any) (wsql.Result, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.Tx.ExecContext(ctx, query, args...)
}

// pgx returns the pgx transaction underneath.
func (t *lockedTx) pgx() (pgx.Tx, error) {
	p, ok := t.Tx.(*wsql.PgxTx)
	if !ok {
		return nil, fmt.Errorf("subscriber transaction is %T, not pgx", t.Tx)
	}
	return p.Tx, nil
}

type heldTxKey struct{}

// lockTx is the outermost handler middleware: it holds the message's
// transaction for the whole handling (single-event retries included)
// and hands the pgx transaction down in the context.
func lockTx(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		wtx, ok := wsql.TxFromContext(msg.Context())
		if !ok {
			return nil, errors.New("no subscriber transaction in the message context")
		}
		lt, ok := wtx.(*lockedTx)
		if !ok {
			return nil, fmt.Errorf("subscriber transaction is %T, not a lockedTx", wtx)
		}
		tx, err := lt.pgx()
		if err != nil {
			return nil, err
		}
		lt.mu.Lock()
		defer lt.mu.Unlock()
		msg.SetContext(context.WithValue(msg.Context(), heldTxKey{}, tx))
		return h(msg)
	}
}

// txOf returns the subscriber's transaction for msg, held by lockTx.
func txOf(msg *message.Message) (pgx.Tx, error) {
	tx, ok := msg.Context().Value(heldTxKey{}).(pgx.Tx)
	if !ok {
		return nil, errors.New("handler runs without lockTx")
	}
	return tx, nil
}

// queuePosition moves the consumer group past e, in the handler's batch.
func queuePosition(b *pgx.Batch, group string, e Event) {
	b.Queue(`UPDATE projection_offsets SET offset_acked = $2, last_processed_transaction_id = $3::text::xid8
		WHERE consumer_group = $1`, group, e.Pos.Offset, fmt.Sprint(e.Pos.TransactionID))
}

// offsets stores positions in projection_offsets like watermill's
// PostgreSQL adapter, except that an ack never moves a position backwards
// (a handler may already have moved it further, see above), and moves it
// not at all for a batch the handler refused (cxsms.refused is set in its
// transaction): refused batches are acked, to end their transaction at once,
// but they were not applied.
type offsets struct {
	wsql.DefaultPostgreSQLOffsetsAdapter
}

func offsetsAdapter() offsets {
	return offsets{wsql.DefaultPostgreSQLOffsetsAdapter{
		GenerateMessagesOffsetsTableName: func(string) string { return "projection_offsets" },
	}}
}

func (o offsets) AckMessageQuery(params wsql.AckMessageQueryParams) (wsql.Query, error) {
	return wsql.Query{
		Query: `INSERT INTO projection_offsets AS o (offset_acked, last_processed_transaction_id, consumer_group)
			SELECT $1::bigint, $2::xid8, $3::text WHERE current_setting('cxsms.refused', true) IS DISTINCT FROM 'on'
			ON CONFLICT (consumer_group) DO UPDATE SET
				offset_acked = EXCLUDED.offset_acked,
				last_processed_transaction_id = EXCLUDED.last_processed_transaction_id
			WHERE (EXCLUDED.last_processed_transaction_id, EXCLUDED.offset_acked) > (o.last_processed_transaction_id, o.offset_acked)`,
		Args: []any{params.LastRow.Offset, params.LastRow.ExtraData["transaction_id"], params.ConsumerGroup},
	}, nil
}

package eventstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// beginner is what inTx needs: a pool, a connection or a transaction (which
// then opens a savepoint).
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction: it commits when fn returns nil and rolls back
// when fn fails or panics. It is the one place that begins transactions, so
// every one of them is short and always ends.
func InTx(ctx context.Context, db beginner, fn func(tx pgx.Tx) error) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return
		}
		if cerr := tx.Commit(ctx); cerr != nil {
			err = fmt.Errorf("commit: %w", cerr)
		}
	}()
	return fn(tx)
}

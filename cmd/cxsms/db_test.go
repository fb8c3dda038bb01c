package main

import (
	"context"
	"testing"

	"github.com/cxsms/cxsms/eventstore/pgtest"
)

// The service's sessions end a transaction left idle: one held open by a
// frozen process stopped the read models of every node sharing the log.
func TestPoolEndsIdleTransactions(t *testing.T) {
	t.Parallel()
	pool, err := openPool(context.Background(), config{DatabaseURL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var timeout, jit string
	if err := pool.QueryRow(context.Background(), `SELECT current_setting('idle_in_transaction_session_timeout'), current_setting('jit')`).Scan(&timeout, &jit); err != nil {
		t.Fatal(err)
	}
	if timeout != "20s" || jit != "off" {
		t.Errorf("idle_in_transaction_session_timeout %q, jit %q; want 20s and off", timeout, jit)
	}
}

package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/eventstore/pgtest"
)

// A projection registered on its first run has a position row at once: the
// row each batch locks, so two processes starting on a fresh database cannot
// both take the first batch.
func TestRegisterCreatesPositionRow(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	log := logrus.New()
	log.SetOutput(io.Discard)
	p := NewProjector(pool, rules.Default(), log, Options{})
	for _, proj := range p.projections {
		if err := p.recordRules(ctx, proj); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM projection_offsets WHERE consumer_group = $1 AND offset_acked = 0`, proj.Name()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%s has %d position rows before its first batch, want 1", proj.Name(), n)
		}
	}
}

// The lag is exact up to lagCap events and estimated past it, so a large
// backlog costs States no more than a small one.
func TestLagCountedUpToCapThenEstimated(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	log := logrus.New()
	log.SetOutput(io.Discard)
	p := NewProjector(pool, rules.Default(), log, Options{})
	p.lagCap = 10
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	lagOf := func() []int64 {
		t.Helper()
		states, err := p.States(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, s := range states {
			out = append(out, s.LagEvents)
		}
		return out
	}
	appendN := func(from, n int) {
		t.Helper()
		var reports []domain.StatusReceived
		at := time.Now().UTC()
		for i := from; i < from+n; i++ {
			reports = append(reports, domain.StatusReceived{MessageID: fmt.Sprintf("m%d", i), EventID: "e", Status: domain.StatusSent,
				Format: domain.FormatJSON, OccurredAt: at, ReceivedAt: at, Raw: json.RawMessage(`{}`)})
		}
		if _, err := store.Append(ctx, reports); err != nil {
			t.Fatal(err)
		}
	}
	appendN(0, 7)
	for _, lag := range lagOf() {
		if lag != 7 {
			t.Fatalf("lags = %v, want 7 each (counted)", lagOf())
		}
	}
	appendN(7, 43)
	for _, lag := range lagOf() {
		if lag != 50 {
			t.Fatalf("lags = %v, want 50 each (estimated from contiguous offsets)", lagOf())
		}
	}
}

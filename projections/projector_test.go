package projections

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/eventstore/pgtest"
)

// newQuietProjector is a projector with default options over a fresh
// database, logging nothing.
func newQuietProjector(t *testing.T) (*Projector, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.Pool(t)
	log := logrus.New()
	log.SetOutput(io.Discard)
	return NewProjector(pool, rules.Default(), log, Options{}), pool
}

// A projection registered on its first run has a position row at once: the
// row each batch locks, so two processes starting on a fresh database cannot
// both take the first batch.
func TestRegisterCreatesPositionRow(t *testing.T) {
	t.Parallel()
	p, pool := newQuietProjector(t)
	ctx := context.Background()
	for _, proj := range p.projections {
		if _, err := p.recordRules(ctx, proj); err != nil {
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
	p, pool := newQuietProjector(t)
	ctx := context.Background()
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
	// A redelivery stores nothing but uses up an offset, so past the cap
	// the estimate (57) and the count (50) part ways: which one States
	// gives shows which it did.
	appendN(0, 7)
	appendN(7, 43)
	for _, lag := range lagOf() {
		if lag != 57 {
			t.Fatalf("lags = %v, want 57 each (estimated from the offsets, 50 events)", lagOf())
		}
	}
	p.lagCap = 100
	for _, lag := range lagOf() {
		if lag != 50 {
			t.Fatalf("lags = %v, want 50 each (counted under a cap of 100)", lagOf())
		}
	}
}

// holdRebuildLock takes projection's rebuild lock on a connection of pool
// until the test ends, as a rebuild in progress would hold it.
func holdRebuildLock(t *testing.T, pool *pgxpool.Pool, projection string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey(projection)); err != nil {
		conn.Release()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(projection))
		conn.Release()
	})
}

// A rebuild is seen through its advisory lock, which pg_locks lists for
// every database of the cluster: one running in another database on the
// same server is not this one's.
func TestRebuildElsewhereIsNotOurs(t *testing.T) {
	t.Parallel()
	p, pool := newQuietProjector(t)
	other := pgtest.Pool(t) // another database on the same cluster
	ctx := context.Background()
	holdRebuildLock(t, other, "carrier_costs.v1")
	states, err := p.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.State == "rebuilding" {
			t.Errorf("%s shows rebuilding for a lock held in another database", s.Name)
		}
	}
	// The same lock in this database is a rebuild of ours.
	holdRebuildLock(t, pool, "carrier_costs.v1")
	if states, err = p.States(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if (s.State == "rebuilding") != (s.Name == "carrier_costs.v1") {
			t.Errorf("%s state %s with carrier_costs' rebuild lock held here", s.Name, s.State)
		}
	}
}

// A rebuild copies the first projection's states into the others a few
// pages per transaction; with chunks of two pages, every state still lands
// once in every state table.
// TestRebuildWritesInChunks checks that a rebuild writes every shadow table
// in many short transactions: the states and read-model rows it sends from
// Go (shadowChunkRows each), and the states it copies inside PostgreSQL
// (shadowChunkPages each). A row's xmin is the transaction that wrote it.
func TestRebuildWritesInChunks(t *testing.T) {
	t.Parallel()
	p, pool := newQuietProjector(t)
	p.shadowChunkRows, p.shadowChunkPages = 7, 2
	ctx := context.Background()
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	var reports []domain.StatusReceived
	at := time.Now().UTC().Truncate(time.Minute).Add(-24 * time.Hour)
	carriers := []string{"ATT", "TMOBILE", "VERIZON", "VODAFONE", "AIRTEL", "TELEKOM", "ORANGE"}
	for i := range 3000 {
		// 7 carriers and 300 minutes: 2,100 sla_throughput rows.
		received := at.Add(time.Duration(i%300) * time.Minute)
		reports = append(reports, domain.StatusReceived{MessageID: fmt.Sprintf("m%d", i), EventID: "e", Status: domain.StatusDelivered,
			CarrierCode: carriers[i%7], Format: domain.FormatJSON, OccurredAt: received, ReceivedAt: received, Raw: json.RawMessage(`{}`)})
	}
	if _, err := store.Append(ctx, reports); err != nil {
		t.Fatal(err)
	}
	// Other tests' transactions hold the xmin guard too.
	WaitReadable(t, pool)
	if _, err := p.Rebuild(ctx, "all", nil); err != nil {
		t.Fatal(err)
	}
	var pages int64
	if err := pool.QueryRow(ctx, `SELECT pg_relation_size('current_status') / current_setting('block_size')::int`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages < 10 {
		t.Fatalf("current_status has %d pages: too few to copy in several chunks", pages)
	}
	chunks := func(table string) (rows, writers int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT xmin::text) FROM `+table).Scan(&rows, &writers); err != nil {
			t.Fatal(err)
		}
		return rows, writers
	}
	for _, table := range []string{"current_status", "sla_throughput"} {
		if rows, writers := chunks(table); writers < rows/7 {
			t.Errorf("%s: %d rows written by %d transactions; want one per 7 rows", table, rows, writers)
		}
	}
	if rows, _ := chunks("sla_throughput"); rows != 2100 {
		t.Errorf("sla_throughput has %d rows, want 2100", rows)
	}
	for _, proj := range p.projections[1:] {
		// One transaction per 2 pages copied, but pages is measured after
		// the swap, and on a busy machine it counted more than the copy saw
		// (22 transactions for 55 pages once): ask for half of that. Copied
		// in one transaction, as before chunking, there is one.
		if _, writers := chunks(proj.StateTable()); writers < pages/4 {
			t.Errorf("%s: copied by %d transactions from %d pages; want about one per 2 pages", proj.StateTable(), writers, pages)
		}
		var n, differ int64
		if err := pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+proj.StateTable()+`),
			(SELECT count(*) FROM (SELECT * FROM current_status EXCEPT SELECT * FROM `+proj.StateTable()+`) d)`).Scan(&n, &differ); err != nil {
			t.Fatal(err)
		}
		if n != 3000 || differ != 0 {
			t.Errorf("%s holds %d states, %d unlike current_status's; want 3000, 0", proj.StateTable(), n, differ)
		}
	}
}

// WaitReadable waits until every event is below the xmin guard, so a rebuild
// reads them all: other tests' transactions, in other databases too, hold
// it back. Exported to the package's external tests.
func WaitReadable(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var hidden int
		err := pool.QueryRow(context.Background(),
			`SELECT count(*) FROM events WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())`).Scan(&hidden)
		if err != nil {
			t.Fatal(err)
		}
		if hidden == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events still behind an open transaction", hidden)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two processes starting under the same new rules: the second finds the
// first rebuilding, and once that one has recorded these rules, it does
// not rebuild everything again.
func TestRejudgeSkipsWhatAnotherProcessRebuilt(t *testing.T) {
	t.Parallel()
	p, pool := newQuietProjector(t)
	ctx := context.Background()
	for _, proj := range p.projections {
		if _, err := p.recordRules(ctx, proj); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE projection_status SET rules_version = 'old'`); err != nil {
		t.Fatal(err)
	}
	// The other process holds the rebuild lock, then records these rules
	// and lets go, as its rebuild's swap does.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey(p.projections[0].Name())); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		defer close(released)
		time.Sleep(300 * time.Millisecond)
		pool.Exec(ctx, `UPDATE projection_status SET rules_version = $1`, p.rules.Version)
		conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, lockKey(p.projections[0].Name()))
	}()
	names := make([]string, len(p.projections))
	for i, proj := range p.projections {
		names[i] = proj.Name()
	}
	err = p.rejudge(ctx, names)
	<-released // before conn goes back to the pool
	if err != nil {
		t.Fatal(err)
	}
	var rebuilt int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM projection_status WHERE rebuilt_at IS NOT NULL`).Scan(&rebuilt); err != nil {
		t.Fatal(err)
	}
	if rebuilt != 0 {
		t.Errorf("%d projections rebuilt again after another process had rebuilt them under these rules", rebuilt)
	}
}

// A projection behind with no error and no open transaction to blame
// names the process that holds it, which is slow or frozen: a tester's
// SIGSTOPped projector showed "lagging" for 37 s with no reason at all.
func TestStatesNameTheProcessThatLags(t *testing.T) {
	t.Parallel()
	p, pool := newQuietProjector(t)
	ctx := context.Background()
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	old := time.Now().UTC().Add(-time.Minute)
	e := domain.StatusReceived{MessageID: "slow", EventID: "e1", Status: domain.StatusSent, RawStatus: "SENT",
		CarrierCode: "ATT", OccurredAt: old, ReceivedAt: old, Format: domain.FormatJSON, Raw: []byte(`{}`)}
	if _, err := store.Append(ctx, []domain.StatusReceived{e}); err != nil {
		t.Fatal(err)
	}
	// The frozen process: it holds current_status's presence, named as its
	// connection says, and applies nothing.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT set_config('application_name', 'cxsms project frozen-host:4242', false),
		pg_advisory_lock($1)`, presenceKey("current_status.v1")); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	// Polled: another test's transaction, in another database of the
	// cluster, may hold the report back for a while, and is then named
	// instead, rightly.
	lagging := func(p *Projector, want string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			states, err := p.States(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got State
			for _, s := range states {
				if s.Name == "current_status.v1" {
					got = s
				}
			}
			if got.State == "lagging" && strings.Contains(got.LastError, want) && strings.Contains(got.LastError, "not keeping up, or is frozen") {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("current_status: %s (%q), want lagging, naming the process that holds it (%s)", got.State, got.LastError, want)
			}
		}
	}
	lagging(p, "cxsms project frozen-host:4242")

	// A role that is not a superuser sees only the pid of another role's
	// session: the view failed on its NULL start time.
	lagging(NewProjector(ReaderPool(t, pool), rules.Default(), p.log, Options{}), "another role's session")
}

// ReaderPool is a pool on pool's database as a new role that is not a
// superuser and may only read its tables: pg_stat_activity hides other
// roles' sessions from it, as from a service's role. Exported to the
// package's external tests.
func ReaderPool(t *testing.T, pool *pgxpool.Pool) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	role := fmt.Sprintf("watcher_%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, `CREATE ROLE `+role+` LOGIN; GRANT USAGE ON SCHEMA public TO `+role+`;
		GRANT SELECT ON ALL TABLES IN SCHEMA public TO `+role); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pool.Exec(context.Background(), `DROP OWNED BY `+role+`; DROP ROLE `+role) })
	cfg := pool.Config().Copy()
	cfg.ConnConfig.User = role
	reader, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	return reader
}

// Run returns its error while its context is still live: it waited for its
// presence to be let go, which only the context's end did, so a projector
// failing at start hung, its locks telling every node it projected.
func TestRunReturnsItsError(t *testing.T) {
	t.Parallel()
	p, pool := newQuietProjector(t)
	if _, err := pool.Exec(context.Background(), `DROP TABLE projection_status CASCADE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Run returned no error without projection_status")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run has not returned its error 20 s on")
	}
}

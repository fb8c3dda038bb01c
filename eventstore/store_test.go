package eventstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/eventstore/pgtest"
)

func report(msg, event string, st domain.Status) domain.StatusReceived {
	now := time.Now().UTC().Truncate(time.Microsecond)
	price := domain.Micros(7500)
	return domain.StatusReceived{
		MessageID: msg, EventID: event, Status: st, RawStatus: string(st),
		CarrierCode: "VERIZON", SenderID: "12025550100", Recipient: "+14155550123",
		Price: &price, Currency: "USD", Format: domain.FormatJSON,
		OccurredAt: now, ReceivedAt: now,
		Raw: json.RawMessage(fmt.Sprintf(`{"messageId": %q,  "status":%q}`, msg, st)),
	}
}

func newStore(t *testing.T, opts eventstore.Options) (*eventstore.Store, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.Pool(t)
	s := eventstore.New(pool, opts)
	t.Cleanup(s.Close)
	return s, pool
}

// batchLog records the batches the committer reports.
type batchLog struct {
	mu      sync.Mutex
	batches []observedBatch
}

type observedBatch struct {
	requests int
	err      error
}

func (l *batchLog) BatchCommitted(requests, _ int, _ time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches = append(l.batches, observedBatch{requests, err})
}

func (l *batchLog) seen() []observedBatch {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]observedBatch(nil), l.batches...)
}

func countEvents(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestAppendAndHistoryKeepEverything(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, eventstore.Options{})
	ctx := context.Background()
	sent := report("m1", "e1", domain.StatusSent)
	delivered := report("m1", "e2", domain.StatusDelivered)
	delivered.Price = nil
	res, err := s.Append(ctx, []domain.StatusReceived{sent, delivered})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Duplicate || res[1].Duplicate {
		t.Fatalf("results = %+v, want two new events", res)
	}
	h, err := s.History(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 {
		t.Fatalf("history has %d events, want 2", len(h))
	}
	got := h[0].StatusReceived
	if string(got.Raw) != string(sent.Raw) {
		t.Errorf("raw = %s, want byte-faithful %s", got.Raw, sent.Raw)
	}
	if got.Price == nil || *got.Price != 7500 || got.Currency != "USD" || got.Status != domain.StatusSent {
		t.Errorf("normalized fields lost: %+v", got)
	}
	if !got.OccurredAt.Equal(sent.OccurredAt) {
		t.Errorf("occurredAt = %v, want %v", got.OccurredAt, sent.OccurredAt)
	}
	if h[1].Price != nil {
		t.Errorf("absent price came back as %v", *h[1].Price)
	}
	if !h[0].Position.Less(h[1].Position) {
		t.Errorf("history not in log order: %+v then %+v", h[0].Position, h[1].Position)
	}
	if _, err := s.History(ctx, "nope"); !errors.Is(err, eventstore.ErrNotFound) {
		t.Errorf("history of unknown message: err = %v, want ErrNotFound", err)
	}
}

func TestDuplicateIsSuccessAndAddsNoRow(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, eventstore.Options{})
	ctx := context.Background()
	r := report("m1", "e1", domain.StatusDelivered)
	if _, err := s.Append(ctx, []domain.StatusReceived{r}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Append(ctx, []domain.StatusReceived{r, report("m1", "e2", domain.StatusSent)})
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Duplicate || res[1].Duplicate {
		t.Fatalf("results = %+v, want first duplicate, second new", res)
	}
	// The same report twice in one call: the first is new, the second not.
	res, err = s.Append(ctx, []domain.StatusReceived{report("m2", "e1", domain.StatusSent), report("m2", "e1", domain.StatusSent)})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Duplicate || !res[1].Duplicate {
		t.Fatalf("in-call duplicate results = %+v", res)
	}
	if n := countEvents(t, pool); n != 3 {
		t.Fatalf("events = %d, want 3", n)
	}
}

// An event ID that comes back with another report is not a redelivery: a
// gateway putting the message's own resource ID in "id" (or a sender
// reusing X-CXone-Event-Id) had its DELIVERED answered duplicate and
// dropped after the SENT. It is stored under an ID of its own, which its
// redeliveries find; redeliveries keep being duplicates, whatever their
// times (a report without one takes the time it arrived).
func TestReusedEventIDWithAnotherReportIsStored(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, eventstore.Options{})
	ctx := context.Background()
	appendOne := func(r domain.StatusReceived) eventstore.AppendResult {
		t.Helper()
		res, err := s.Append(ctx, []domain.StatusReceived{r})
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	if res := appendOne(report("m3", "gw-77", domain.StatusSent)); res.Duplicate || res.EventID != "gw-77" {
		t.Fatalf("SENT: %+v, want new as gw-77", res)
	}
	delivered := appendOne(report("m3", "gw-77", domain.StatusDelivered))
	if delivered.Duplicate || !strings.HasPrefix(delivered.EventID, "gw-77~") {
		t.Fatalf("DELIVERED under the SENT's ID: %+v, want it stored under gw-77~<hash>", delivered)
	}
	if res := appendOne(report("m3", "gw-77", domain.StatusDelivered)); !res.Duplicate || res.EventID != delivered.EventID {
		t.Fatalf("the DELIVERED again: %+v, want a duplicate of %s", res, delivered.EventID)
	}
	if res := appendOne(report("m3", "gw-77", domain.StatusSent)); !res.Duplicate || res.EventID != "gw-77" {
		t.Fatalf("the SENT again, at another time: %+v, want a duplicate of gw-77", res)
	}
	// Within one call too.
	res, err := s.Append(ctx, []domain.StatusReceived{report("m4", "x", domain.StatusSent), report("m4", "x", domain.StatusDelivered), report("m4", "x", domain.StatusDelivered)})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Duplicate || res[1].Duplicate || !strings.HasPrefix(res[1].EventID, "x~") || !res[2].Duplicate || res[2].EventID != res[1].EventID {
		t.Fatalf("one call with SENT, DELIVERED, DELIVERED under one ID: %+v", res)
	}
	if n := countEvents(t, pool); n != 4 {
		t.Fatalf("events = %d, want 4 (two reports of each message)", n)
	}
}

func TestConcurrentSameReportStoresOneEvent(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, eventstore.Options{Window: time.Millisecond})
	r := report("m-race", "e-race", domain.StatusDelivered)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Append(context.Background(), []domain.StatusReceived{r})
			if err != nil {
				t.Error(err)
				return
			}
			if !res[0].Duplicate {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n := countEvents(t, pool); n != 1 {
		t.Fatalf("events = %d, want 1", n)
	}
	if fresh != 1 {
		t.Fatalf("%d callers were told their report was new, want exactly 1", fresh)
	}
}

func TestLogRefusesUpdateDeleteTruncate(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, eventstore.Options{})
	ctx := context.Background()
	if _, err := s.Append(ctx, []domain.StatusReceived{report("m1", "e1", domain.StatusSent)}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE events SET status = 'DELIVERED'`,
		`DELETE FROM events`,
		`TRUNCATE events`,
	} {
		if _, err := pool.Exec(ctx, stmt); err == nil {
			t.Errorf("%s succeeded; the log must be immutable", stmt)
		}
	}
	if n := countEvents(t, pool); n != 1 {
		t.Fatalf("events = %d after refused changes, want 1", n)
	}
}

// A batch that cannot commit fails every request in it, and none of its
// reports is stored.
func TestBatchFailureFailsEveryRequest(t *testing.T) {
	t.Parallel()
	// One writer and a long window: the five requests share one batch.
	batches := &batchLog{}
	s, pool := newStore(t, eventstore.Options{Writers: 1, Window: time.Second, RetryFor: 200 * time.Millisecond, Observer: batches})
	ctx := context.Background()
	// A store that refuses with a transient error whenever "poison" is in
	// the batch, as a failing disk or a restarting server would.
	_, err := pool.Exec(ctx, `
		CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.message_id = 'poison' THEN
				RAISE EXCEPTION 'simulated outage' USING ERRCODE = '57P03';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER poison BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION poison();`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := fmt.Sprintf("m%d", i)
			if i == 2 {
				msg = "poison"
			}
			_, errs[i] = s.Append(ctx, []domain.StatusReceived{report(msg, "e", domain.StatusSent)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("request %d: err = %v, want ErrUnavailable", i, err)
		}
	}
	if n := countEvents(t, pool); n != 0 {
		t.Fatalf("events = %d, want 0: a failed batch acknowledged nothing and stored nothing", n)
	}
	if b := batches.seen(); len(b) != 1 || b[0].requests != 5 || b[0].err == nil {
		t.Fatalf("batches = %+v, want one failed batch of the 5 requests", b)
	}
}

// A report PostgreSQL refuses (here: raw that is not JSON) fails its own
// request only; the other requests of its batch are stored.
func TestRejectedReportFailsOnlyItsRequest(t *testing.T) {
	t.Parallel()
	batches := &batchLog{}
	s, pool := newStore(t, eventstore.Options{Writers: 1, Window: time.Second, Observer: batches})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := report(fmt.Sprintf("m%d", i), "e", domain.StatusSent)
			if i == 1 {
				r.Raw = json.RawMessage(`{not json`)
			}
			_, errs[i] = s.Append(ctx, []domain.StatusReceived{r})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if i == 1 {
			if !errors.Is(err, eventstore.ErrRejected) {
				t.Errorf("bad request: err = %v, want ErrRejected", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if n := countEvents(t, pool); n != 3 {
		t.Fatalf("events = %d, want 3", n)
	}
	// The four shared one batch, which was then written request by request.
	if b := batches.seen(); len(b) != 1 || b[0].requests != 4 || b[0].err != nil {
		t.Fatalf("batches = %+v, want one batch of the 4 requests", b)
	}
}

func TestOverloadAnswersAtOnce(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, eventstore.Options{Writers: 1, QueueLimit: 1, MaxBatch: 1})
	ctx := context.Background()
	// A slow disk: each insert takes 300 ms, so the one writer is busy and
	// the queue of one fills while the other requests arrive.
	_, err := pool.Exec(ctx, `
		CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_sleep(0.3); RETURN NEW; END $$;
		CREATE TRIGGER slow BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION slow();`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	overloaded := 0
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, err := s.Append(ctx, []domain.StatusReceived{report(fmt.Sprintf("m%d", i), "e", domain.StatusSent)})
			if errors.Is(err, eventstore.ErrOverloaded) {
				if d := time.Since(start); d > 100*time.Millisecond {
					t.Errorf("overload answered after %v, want at once", d)
				}
				mu.Lock()
				overloaded++
				mu.Unlock()
			} else if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if overloaded == 0 {
		t.Fatal("no request was refused with ErrOverloaded past the queue limit")
	}
	if got := countEvents(t, pool); got != 10-overloaded {
		t.Fatalf("events = %d, want %d (every accepted request stored, no refused one)", got, 10-overloaded)
	}
}

func TestMigrateTwiceAndConcurrently(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied, err := eventstore.Migrate(ctx, pool)
			if err != nil {
				t.Error(err)
			}
			if len(applied) != 0 {
				t.Errorf("migrated database re-applied %v", applied)
			}
		}()
	}
	wg.Wait()
	s := eventstore.New(pool, eventstore.Options{})
	defer s.Close()
	if err := s.Ready(ctx); err != nil {
		t.Fatal(err)
	}
}

// Busy says whether ingest is waiting on a commit: the projectors yield to
// it while it is. Full says the queue is at a limit (here its one report),
// for the webhook to refuse before reading a body.
func TestBusyWhileAnAppendWaits(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, eventstore.Options{QueueReports: 1})
	ctx := context.Background()
	if s.Busy() {
		t.Fatal("Busy before any Append")
	}
	// Hold the table so the next insert waits.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE events IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Append(ctx, []domain.StatusReceived{report("m-busy", "e", domain.StatusSent)})
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !s.Busy() {
		if time.Now().After(deadline) {
			t.Fatal("not Busy while an Append waits for its commit")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !s.Full() {
		t.Error("not Full with its one report waiting")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s.Busy() || s.Full() {
		t.Fatalf("still Busy (%v) or Full (%v) after the Append returned", s.Busy(), s.Full())
	}
}

// A database that cannot take the reports right now, but may soon, is
// unavailable (503 + Retry-After), not a failure of ours (500): a standby
// after a failover is read-only, and a service that has not finished
// migrating answers before its tables exist.
func TestUnwritableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct {
		name, setup, ready string
	}{
		{"read-only", `ALTER DATABASE "%s" SET default_transaction_read_only = on`, "read-only"},
		{"not migrated", `DROP TABLE events, schema_migrations CASCADE`, "does not exist"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			execOn(t, url, tt.setup)
			store := storeOn(t, url) // its sessions take the database's settings
			if _, err := store.Append(ctx, []domain.StatusReceived{report("m1", "e1", domain.StatusSent)}); !errors.Is(err, eventstore.ErrUnavailable) {
				t.Errorf("Append: %v, want ErrUnavailable", err)
			}
			if err := store.Ready(ctx); err == nil || !strings.Contains(err.Error(), tt.ready) {
				t.Errorf("Ready: %v, want an error saying %q", err, tt.ready)
			}
		})
	}
}

// A lock on events that every INSERT waits for (a plain CREATE INDEX, a
// LOCK TABLE left in a psql) makes every webhook a 503 after its wait:
// /readyz says so and names who holds it. It said ready, and the log only
// "timeout".
func TestReadyNamesALockOnEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	if err := store.Ready(ctx); err != nil {
		t.Fatalf("Ready before the lock: %v", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL application_name = 'psql'; LOCK TABLE events IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	if err := store.Ready(ctx); err == nil || !strings.Contains(err.Error(), "events is locked (ShareLock) by pid") ||
		!strings.Contains(err.Error(), `application "psql"`) {
		t.Errorf("Ready under a SHARE lock on events: %v, want it named with its holder", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.Ready(ctx); err != nil {
		t.Errorf("Ready once the lock is gone: %v", err)
	}

	// A lock request still waiting holds inserts up too: an ALTER TABLE
	// waiting behind a long read queues every INSERT behind itself.
	reader, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback(ctx)
	if _, err := reader.Exec(ctx, `SELECT count(*) FROM events`); err != nil {
		t.Fatal(err)
	}
	alter, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer alter.Rollback(ctx)
	waited := make(chan error, 1)
	go func() {
		_, err := alter.Exec(ctx, `SET LOCAL lock_timeout = '20s'; LOCK TABLE events IN ACCESS EXCLUSIVE MODE`)
		waited <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		err := store.Ready(ctx)
		if err != nil && strings.Contains(err.Error(), "waits for a AccessExclusiveLock on events behind pid(s)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready while an ACCESS EXCLUSIVE request waits: %v, want it named", err)
		}
	}
	if err := reader.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if err := alter.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// A prepared transaction holds its locks with no session, and through
	// a restart: it is named by its gid.
	gid := fmt.Sprintf("lockit-%d", time.Now().UnixNano())
	if _, err := pool.Exec(ctx, `BEGIN; LOCK TABLE events IN SHARE MODE; PREPARE TRANSACTION '`+gid+`'`); err != nil {
		t.Fatal(err)
	}
	defer pool.Exec(ctx, `ROLLBACK PREPARED '`+gid+`'`)
	if err := store.Ready(ctx); err == nil || !strings.Contains(err.Error(), "events is locked (ShareLock) by a prepared transaction") ||
		!strings.Contains(err.Error(), gid) {
		t.Errorf("Ready under a prepared transaction's lock: %v, want it named by its gid %s", err, gid)
	}
}

// A role that may read but not INSERT into events (a grant forgotten)
// cannot store reports: 503 + Retry-After to the sender, not a 500, and
// /readyz says so, where it said ready while every webhook failed. Its
// migrate finds the schema up to date without asking to CREATE (it was
// refused, and serve retried it for ever).
func TestRoleThatMayOnlyReadIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	role := fmt.Sprintf("reader_%d", time.Now().UnixNano())
	execOn(t, url, `CREATE ROLE `+role+` LOGIN; GRANT USAGE ON SCHEMA public TO `+role+`;
		GRANT SELECT ON ALL TABLES IN SCHEMA public TO `+role)
	t.Cleanup(func() { execOn(t, url, `DROP OWNED BY `+role+`; DROP ROLE `+role) })
	pool := poolAs(t, url, role)
	if applied, err := eventstore.Migrate(ctx, pool); err != nil || len(applied) != 0 {
		t.Errorf("Migrate on an up-to-date schema: %v, %v; want nothing to do", applied, err)
	}
	store := eventstore.New(pool, eventstore.Options{RetryFor: 100 * time.Millisecond})
	defer store.Close()
	if _, err := store.Append(ctx, []domain.StatusReceived{report("m1", "e1", domain.StatusSent)}); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Errorf("Append: %v, want ErrUnavailable", err)
	}
	if err := store.Ready(ctx); err == nil || !strings.Contains(err.Error(), "INSERT ON events") || strings.Contains(err.Error(), "SELECT") {
		t.Errorf("Ready: %v, want an error naming the missing INSERT, and not the SELECT it has", err)
	}
	// A newer release's schema is refused as such, not as the CREATE this
	// role may not run.
	execOn(t, url, `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_later.sql')`)
	if _, err := eventstore.Migrate(ctx, pool); !errors.Is(err, eventstore.ErrSchemaNewer) {
		t.Errorf("Migrate on a newer schema: %v, want ErrSchemaNewer", err)
	}
}

// The README's way to keep the log out of even the service's reach: events
// (and its trigger function) owned by another role, the service granted
// SELECT and INSERT. The service stores and reads reports, and can neither
// rewrite the log nor switch its guard off; as the table's owner it could
// (ALTER TABLE ... DISABLE TRIGGER). Ready names a missing grant, the
// sequence's included.
func TestLogOwnedByAnotherRoleIsOutOfTheServicesReach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	n := time.Now().UnixNano()
	app, owner := fmt.Sprintf("app_%d", n), fmt.Sprintf("log_%d", n)
	// As a deployment has it: the service's role owns the database, and so
	// (PostgreSQL 15) the public schema, whose owner may drop any table in
	// it; it was the README's recipe's gap.
	execOn(t, url, `CREATE ROLE `+app+` LOGIN; CREATE ROLE `+owner+`; ALTER DATABASE "%s" OWNER TO `+app+`;
		GRANT SELECT ON schema_migrations TO `+app) // it owns the rest, having migrated
	// The README's recipe.
	execOn(t, url, `ALTER DATABASE "%s" OWNER TO `+owner+`; ALTER SCHEMA public OWNER TO `+owner+`;
		GRANT USAGE, CREATE ON SCHEMA public TO `+app+`;
		ALTER TABLE events OWNER TO `+owner+`; ALTER FUNCTION events_refuse_change() OWNER TO `+owner+`;
		GRANT SELECT, INSERT ON events TO `+app)
	t.Cleanup(func() {
		execOn(t, url, `ALTER DATABASE "%s" OWNER TO CURRENT_USER; ALTER SCHEMA public OWNER TO pg_database_owner;
			ALTER TABLE events OWNER TO CURRENT_USER; ALTER FUNCTION events_refuse_change() OWNER TO CURRENT_USER;
			DROP OWNED BY `+app+`, `+owner+`; DROP ROLE `+app+`; DROP ROLE `+owner)
	})
	pool := poolAs(t, url, app)
	store := eventstore.New(pool, eventstore.Options{RetryFor: 100 * time.Millisecond})
	defer store.Close()
	if err := store.Ready(ctx); err == nil || !strings.Contains(err.Error(), "events_offset_seq") || strings.Contains(err.Error(), "INSERT") {
		t.Errorf("Ready without the sequence's grant: %v, want an error naming it", err)
	}
	// What PostgreSQL takes instead of the table's INSERT and the
	// sequence's USAGE counts: INSERT on the columns a report fills (the
	// log's positions left out, a hardening), UPDATE on the sequence.
	execOn(t, url, `REVOKE INSERT ON events FROM `+app+`;
		GRANT INSERT (message_id, event_id, status, raw_status, carrier_code, error_code, sender_id, recipient, price, currency,
			format, occurred_at, received_at, raw) ON events TO `+app+`;
		GRANT UPDATE ON SEQUENCE events_offset_seq TO `+app)
	if err := store.Ready(ctx); err != nil {
		t.Errorf("Ready with column INSERT and sequence UPDATE: %v", err)
	}
	execOn(t, url, `REVOKE UPDATE ON SEQUENCE events_offset_seq FROM `+app+`; GRANT USAGE ON SEQUENCE events_offset_seq TO `+app)
	if err := store.Ready(ctx); err != nil {
		t.Errorf("Ready: %v", err)
	}
	if _, err := store.Append(ctx, []domain.StatusReceived{report("m1", "e1", domain.StatusSent)}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if h, err := store.History(ctx, "m1"); err != nil || len(h) != 1 {
		t.Errorf("History: %d events, %v; want the one stored", len(h), err)
	}
	for _, sql := range []string{
		`UPDATE events SET status = 'DELIVERED'`,
		`DELETE FROM events`,
		`TRUNCATE events`,
		`ALTER TABLE events DISABLE TRIGGER events_no_update_delete`,
		`DROP TRIGGER events_no_truncate ON events`,
		`CREATE OR REPLACE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
		`DROP TABLE events`,
		`DROP SCHEMA public CASCADE`,
		`ALTER SCHEMA public RENAME TO elsewhere`,
		`ALTER TABLE events RENAME TO events_old`,
	} {
		if _, err := pool.Exec(ctx, sql); err == nil {
			t.Errorf("the service's role could: %s", sql)
		}
	}
	var count int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE status = 'SENT'`).Scan(&count); err != nil || count != 1 {
		t.Errorf("%d events as stored (%v), want 1", count, err)
	}
}

// A server that refuses the connection itself (a rotated password, a role
// or database that is not there) is unavailable too: 503 + Retry-After to
// the sender, and /readyz says not ready without the driver's details.
func TestRefusedConnectionIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(c *pgxpool.Config){
		"no such role":     func(c *pgxpool.Config) { c.ConnConfig.User = "no_such_role" },
		"no such database": func(c *pgxpool.Config) { c.ConnConfig.Database = "no_such_database" },
	} {
		c := cfg.Copy()
		change(c)
		pool, err := pgxpool.NewWithConfig(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		store := eventstore.New(pool, eventstore.Options{RetryFor: 100 * time.Millisecond})
		if _, err := store.Append(ctx, []domain.StatusReceived{report("m1", "e1", domain.StatusSent)}); !errors.Is(err, eventstore.ErrUnavailable) {
			t.Errorf("%s: Append: %v, want ErrUnavailable", name, err)
		}
		if err := store.Ready(ctx); !eventstore.IsUnavailable(err) {
			t.Errorf("%s: Ready: %v, want unavailable", name, err)
		}
		store.Close()
		pool.Close()
	}
}

// A database a newer release migrated is refused: an old binary left
// running through an upgrade, or rolled back to, would project read models
// the newer code reads otherwise (a tester's rollback split carriers by
// case and zeroed SLA counts for good).
func TestSchemaNewerThanBinaryIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future.sql')`, eventstore.LatestVersion()+1); err != nil {
		t.Fatal(err)
	}
	if _, err := eventstore.Migrate(ctx, pool); !errors.Is(err, eventstore.ErrSchemaNewer) {
		t.Errorf("Migrate: %v, want ErrSchemaNewer", err)
	}
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	if err := store.Ready(ctx); !errors.Is(err, eventstore.ErrSchemaNewer) {
		t.Errorf("Ready: %v, want ErrSchemaNewer", err)
	}
}

// A database that was read-only (a standby, since promoted) takes reports
// again on its own: pooled sessions keep the read-only setting they started
// with, so the store starts new ones. A tester saw 503s for 6 minutes after
// the database was writable again.
func TestReadOnlyDatabaseRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	execOn(t, url, `ALTER DATABASE "%s" SET default_transaction_read_only = on`)
	store := storeOn(t, url)
	if _, err := store.Append(ctx, []domain.StatusReceived{report("m1", "e1", domain.StatusSent)}); !errors.Is(err, eventstore.ErrUnavailable) {
		t.Fatalf("Append on a read-only database: %v, want ErrUnavailable", err)
	}
	execOn(t, url, `ALTER DATABASE "%s" SET default_transaction_read_only = off`)
	// The store gives up after 100 ms, which a busy machine can spend
	// reconnecting: try for a while. Without the recovery every try fails.
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if _, err = store.Append(ctx, []domain.StatusReceived{report("m1", "e1", domain.StatusSent)}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("Append once the database is writable: %v", err)
	}
	if err := store.Ready(ctx); err != nil {
		t.Errorf("Ready once the database is writable: %v", err)
	}
}

// execOn runs sql on the database of url, with %s standing for its name,
// in a session of its own that may write even when the database's sessions
// start read-only.
func execOn(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SET default_transaction_read_only = off`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, strings.ReplaceAll(sql, "%s", conn.Config().Database)); err != nil {
		t.Fatal(err)
	}
}

// poolAs is a pool on url's database that logs in as role.
func poolAs(t *testing.T, url, role string) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.User = role
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// storeOn is a store on a new pool for url, quick to give up retrying,
// closed when t ends.
func storeOn(t *testing.T, url string) *eventstore.Store {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := eventstore.New(pool, eventstore.Options{RetryFor: 100 * time.Millisecond})
	t.Cleanup(store.Close)
	return store
}

// A connection cut while its INSERT waits (a backend killed, a proxy
// restarted) is a 503 to the sender, not a 500: a tester's kill -9 of the
// backend answered "internal error" with no Retry-After, from io's
// unexpected EOF.
func TestConnectionCutMidAppendIsUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.URL(t)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCuttingProxy(t, fmt.Sprintf("%s:%d", cfg.ConnConfig.Host, cfg.ConnConfig.Port))
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", proxy.port()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := eventstore.New(pool, eventstore.Options{RetryFor: 500 * time.Millisecond})
	t.Cleanup(store.Close)

	// Hold the log so that the INSERT waits, and cut it meanwhile.
	locker, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close(ctx)
	tx, err := locker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `LOCK TABLE events IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		proxy.cut()
	}()
	_, err = store.Append(ctx, []domain.StatusReceived{report("m1", "e1", domain.StatusSent)})
	// The INSERT reached the database: whether it committed is unknown,
	// so the error must not say that nothing was stored.
	if !errors.Is(err, eventstore.ErrUnavailable) || errors.Is(err, eventstore.ErrNotReached) {
		t.Errorf("Append over a cut connection: %v, want ErrUnavailable, not ErrNotReached", err)
	}
}

// cuttingProxy forwards TCP connections to a PostgreSQL server until cut,
// which closes every connection open at that moment.
type cuttingProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCuttingProxy(t *testing.T, target string) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(s, c); s.Close() }()
			go func() { _, _ = io.Copy(c, s); c.Close() }()
		}
	}()
	return p
}

func (p *cuttingProxy) port() uint16 { return uint16(p.ln.Addr().(*net.TCPAddr).Port) }

func (p *cuttingProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// Reports count too, not only requests: a few requests of many reports each
// are refused at once past QueueReports, where they waited behind one
// another for longer than a sender waits.
func TestOverloadCountsReports(t *testing.T) {
	t.Parallel()
	s, pool := newStore(t, eventstore.Options{Writers: 1, MaxBatch: 100, QueueReports: 150})
	ctx := context.Background()
	// Hold the log, so that the first request's reports stay in flight.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE events IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	many := func(prefix string) []domain.StatusReceived {
		var rs []domain.StatusReceived
		for i := range 100 {
			rs = append(rs, report(fmt.Sprintf("%s%d", prefix, i), "e", domain.StatusSent))
		}
		return rs
	}
	first := make(chan error, 1)
	go func() { _, err := s.Append(ctx, many("a")); first <- err }()
	for !s.Busy() {
		time.Sleep(time.Millisecond)
	}
	// The second request of 100 would hold 200 reports: refused at once.
	second := make(chan error, 1)
	go func() { _, err := s.Append(ctx, many("b")); second <- err }()
	select {
	case err := <-second:
		if !errors.Is(err, eventstore.ErrOverloaded) {
			t.Errorf("a second 100-report request past a limit of 150: %v, want ErrOverloaded", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("a second 100-report request past a limit of 150 waited, want ErrOverloaded at once")
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-first; err != nil {
		t.Errorf("the first request: %v", err)
	}
	// Alone, a request larger than the limit still goes in.
	if _, err := s.Append(ctx, append(many("c"), many("d")...)); err != nil {
		t.Errorf("a 200-report request alone: %v", err)
	}
}

// Two batches holding the same reports in other orders (a redelivery racing
// its original, two subscriptions to one URL) deadlocked in the unique
// index: PostgreSQL broke the cycle only after its 1 s deadlock_timeout, and
// every request waiting behind either batch waited that second too.
func TestSameReportsInOtherOrdersDoNotDeadlock(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	// A batch takes one request of 1,000 reports, so the two go to the two
	// writers at once.
	s := eventstore.New(pool, eventstore.Options{Writers: 2, MaxBatch: 1000})
	for trial := range 5 {
		forward := make([]domain.StatusReceived, 1000)
		for i := range forward {
			forward[i] = report(fmt.Sprintf("dl-%d-%03d", trial, i), "e", domain.StatusDelivered)
		}
		backward := make([]domain.StatusReceived, len(forward))
		for i, r := range forward {
			backward[len(forward)-1-i] = r
		}
		var wg sync.WaitGroup
		for _, batch := range [][]domain.StatusReceived{forward, backward} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.Append(context.Background(), batch); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	// Closed, the backends leave, and their statistics with them.
	s.Close()
	pool.Close()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var deadlocks int64
	if err := c.QueryRow(context.Background(), `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&deadlocks); err != nil {
		t.Fatal(err)
	}
	if deadlocks != 0 {
		t.Errorf("%d deadlocks between batches of the same reports", deadlocks)
	}
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 5000 {
		t.Errorf("events = %d (%v), want 5000", n, err)
	}
}

// A message's reports keep the order they were sent in, in one body or in
// one batch of several: sorted by event ID for the insert, a body's QUEUED,
// SENT, DELIVERED (evt-9, evt-10, evt-11) showed in its history as SENT,
// DELIVERED, QUEUED.
func TestHistoryKeepsTheOrderSent(t *testing.T) {
	t.Parallel()
	s, _ := newStore(t, eventstore.Options{Window: 20 * time.Millisecond})
	ctx := context.Background()
	body := []domain.StatusReceived{
		report("z-msg", "evt-9", domain.StatusQueued),
		report("a-msg", "evt-1", domain.StatusQueued),
		report("z-msg", "evt-10", domain.StatusSent),
		report("z-msg", "evt-11", domain.StatusDelivered),
	}
	if _, err := s.Append(ctx, body); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, "z-msg")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range h {
		got = append(got, r.EventID)
	}
	if want := []string{"evt-9", "evt-10", "evt-11"}; !slices.Equal(got, want) {
		t.Errorf("history %v, want the order sent %v", got, want)
	}
}

// With PostgreSQL down, a batch retried for its RetryFor while the batches
// queued behind it waited their turn, and then retried for as long again:
// a tester's senders waited 13-30 s for their 503. The budget now runs from
// each request's arrival, so every request hears back about RetryFor after
// it came, however many wait.
func TestDownDatabaseAnswersEveryRequestWithinItsBudget(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close() // nothing listens there now: a database that is down
	pool, err := pgxpool.New(context.Background(), fmt.Sprintf("postgres://cxsms@%s/cxsms?sslmode=disable", ln.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// One writer, one report per batch: ten batches wait in line.
	const retryFor = 300 * time.Millisecond
	s := eventstore.New(pool, eventstore.Options{Writers: 1, MaxBatch: 1, RetryFor: retryFor})
	t.Cleanup(s.Close)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			_, err := s.Append(context.Background(), []domain.StatusReceived{report(fmt.Sprintf("down-%d", i), "e", domain.StatusSent)})
			took := time.Since(start)
			// No attempt reached the database: nothing can have been
			// stored, and the error says so, where it said a commit could
			// not be confirmed.
			if !errors.Is(err, eventstore.ErrUnavailable) || !errors.Is(err, eventstore.ErrNotReached) {
				t.Errorf("Append with the database down: %v, want ErrUnavailable and ErrNotReached", err)
			}
			// Queued one behind the other, the last answered after ten
			// budgets (3 s); 2 s leaves a slow machine its margin.
			if took > 2*time.Second {
				t.Errorf("request %d answered after %v, want about %v", i, took, retryFor)
			}
		}()
	}
	wg.Wait()
}

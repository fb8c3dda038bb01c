package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/eventstore/pgtest"
	"github.com/cxsms/cxsms/projections"
)

var readModelTables = []string{
	"current_status", "carrier_cost_messages", "carrier_costs", "sla_messages", "sla_delivery",
	"sla_throughput", "compliance_messages", "sender_violations",
}

func quietLog() *logrus.Logger {
	l := logrus.New()
	l.SetLevel(logrus.WarnLevel)
	return l
}

// randomStream makes n reports for about n/3 messages: lifecycles with
// duplicates, out-of-order arrivals, several carriers, regions and senders.
func randomStream(rng *rand.Rand, n int) []domain.StatusReceived {
	carriers := []string{"ATT", "VERIZON", "TMOBILE", "VODAFONE", "AIRTEL", ""}
	recipients := []string{"+14155550123", "+447700900123", "+919812345678", "+61412345678", "not-a-number", ""}
	senders := []string{"12025550100", "ACME", "ACMEBANK", "INFO", "ABCDEF", ""}
	terminals := []domain.Status{domain.StatusDelivered, domain.StatusDelivered, domain.StatusDelivered,
		domain.StatusUndelivered, domain.StatusFailed, domain.StatusRejected, domain.StatusExpired}
	base := time.Date(2026, 11, 27, 23, 50, 0, 0, time.UTC)
	var out []domain.StatusReceived
	for msg := 0; len(out) < n; msg++ {
		id := fmt.Sprintf("m-%d", msg)
		carrier := carriers[rng.IntN(len(carriers))]
		rcpt := recipients[rng.IntN(len(recipients))]
		sender := senders[rng.IntN(len(senders))]
		start := base.Add(time.Duration(rng.IntN(40*60)) * time.Second)
		life := []domain.Status{domain.StatusQueued, domain.StatusSent, terminals[rng.IntN(len(terminals))]}
		if rng.IntN(10) == 0 {
			life = append(life, terminals[rng.IntN(len(terminals))]) // a second, conflicting terminal report
		}
		var reports []domain.StatusReceived
		at := start
		for i, st := range life {
			at = at.Add(time.Duration(rng.IntN(90000)) * time.Millisecond)
			r := domain.StatusReceived{
				MessageID: id, EventID: fmt.Sprintf("%s-e%d", id, i), Status: st, RawStatus: string(st),
				Recipient: rcpt, SenderID: sender, Format: domain.FormatJSON,
				OccurredAt: at, ReceivedAt: at.Add(time.Second),
				Raw: json.RawMessage(`{}`),
			}
			if i > 0 || rng.IntN(2) == 0 {
				r.CarrierCode = carrier // the first report often lacks the carrier
			}
			if st.IsTerminal() && rng.IntN(3) == 0 {
				p := domain.Micros(rng.IntN(20000))
				r.Price, r.Currency = &p, "USD"
			}
			reports = append(reports, r)
		}
		rng.Shuffle(len(reports), func(i, j int) { // out of order
			if rng.IntN(4) == 0 {
				reports[i], reports[j] = reports[j], reports[i]
			}
		})
		for _, r := range reports {
			out = append(out, r)
			if rng.IntN(8) == 0 {
				out = append(out, r) // redelivered
			}
		}
	}
	return out
}

// logStream appends stream to the log, chunk reports per Append.
func logStream(t *testing.T, store *eventstore.Store, stream []domain.StatusReceived, chunk int) {
	t.Helper()
	for from := 0; from < len(stream); from += chunk {
		if _, err := store.Append(context.Background(), stream[from:min(from+chunk, len(stream))]); err != nil {
			t.Fatal(err)
		}
	}
}

func snapshot(t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range readModelTables {
		rows, err := pool.Query(context.Background(), `SELECT t::text FROM `+table+` t ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], s)
		}
		rows.Close()
	}
	return out
}

func waitCaughtUp(t *testing.T, p *projections.Projector) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		states, err := p.States(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		lag := int64(0)
		for _, s := range states {
			lag += s.LagEvents
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("projections still %d events behind: %+v", lag, states)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The property that makes the log the truth: whatever order and repetition
// reports arrive in, projecting them live (here by two projectors at once,
// as two serve processes would) gives exactly the rows a rebuild from the
// log gives.
func TestLiveProjectionEqualsRebuild(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := rules.Default()
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()

	var wg sync.WaitGroup
	projectors := []*projections.Projector{
		projections.NewProjector(pool, r, quietLog(), projections.Options{BatchSize: 37}),
		projections.NewProjector(pool, r, quietLog(), projections.Options{BatchSize: 100}),
	}
	for _, p := range projectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	stream := randomStream(rng, 1500)
	// Several concurrent writers, so transactions commit out of sequence order.
	var writers sync.WaitGroup
	chunks := 6
	for c := range chunks {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for i := c; i < len(stream); i += chunks * 5 {
				end := min(i+5, len(stream))
				if _, err := store.Append(ctx, stream[i:end]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	writers.Wait()
	waitCaughtUp(t, projectors[0])
	live := snapshot(t, pool)

	res, err := projectors[0].Rebuild(ctx, "all", nil)
	if err != nil {
		t.Fatal(err)
	}
	var events int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if res.Events != events {
		t.Errorf("rebuild read %d events, log has %d", res.Events, events)
	}
	rebuilt := snapshot(t, pool)
	for _, table := range readModelTables {
		if len(live[table]) == 0 {
			t.Errorf("%s is empty: the stream should fill it", table)
		}
	}
	compareTables(t, live, rebuilt)
	// The swapped-in tables keep their index names, so the next rebuild
	// (and anyone reading the schema) finds what the migrations made.
	var idx string
	if err := pool.QueryRow(ctx, `SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes
		WHERE tablename IN ('current_status', 'carrier_costs')`).Scan(&idx); err != nil {
		t.Fatal(err)
	}
	if idx != "carrier_costs_pkey,current_status_pkey" {
		t.Errorf("indexes after rebuild: %s", idx)
	}
	// A message counts once under its current status, however many reports.
	var messages, counted int64
	pool.QueryRow(ctx, `SELECT count(*) FROM current_status`).Scan(&messages)
	pool.QueryRow(ctx, `SELECT coalesce(sum(total), 0) FROM carrier_costs`).Scan(&counted)
	if messages != counted {
		t.Errorf("carrier_costs counts %d messages, current_status has %d", counted, messages)
	}
	cancel()
	wg.Wait()
}

// compareTables fails t for every read-model table whose live rows differ
// from the rebuilt ones.
func compareTables(t *testing.T, live, rebuilt map[string][]string) {
	t.Helper()
	for _, table := range readModelTables {
		a, b := live[table], rebuilt[table]
		if strings.Join(a, "\n") != strings.Join(b, "\n") {
			t.Errorf("%s: live has %d rows, rebuild %d; first difference:\n%s", table, len(a), len(b), firstDiff(a, b))
		}
	}
}

func firstDiff(a, b []string) string {
	for i := 0; i < max(len(a), len(b)); i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			return "live:    " + x + "\nrebuilt: " + y
		}
	}
	return ""
}

func sr(msg, event string, st domain.Status, carrier string, at time.Time) domain.StatusReceived {
	return domain.StatusReceived{MessageID: msg, EventID: event, Status: st, RawStatus: string(st), CarrierCode: carrier,
		Recipient: "+14155550123", SenderID: "12025550100", Format: domain.FormatJSON, OccurredAt: at, ReceivedAt: at, Raw: json.RawMessage(`{}`)}
}

// stopOnApply stops a projector the first time a batch is written.
type stopOnApply struct {
	stop    context.CancelFunc
	stopped atomic.Bool
}

func (o *stopOnApply) Applied(string, time.Duration) {
	if !o.stopped.Swap(true) {
		o.stop()
	}
}
func (o *stopOnApply) Failed(string)                        {}
func (o *stopOnApply) DeadLettered(string)                  {}
func (o *stopOnApply) RebuildProgress(string, int64, int64) {}

// rebuildWatch records the rebuild progress a projector reports.
type rebuildWatch struct {
	mu    sync.Mutex
	names map[string]int64 // projection -> events read, last heard
}

func (w *rebuildWatch) Applied(string, time.Duration) {}
func (w *rebuildWatch) Failed(string)                 {}
func (w *rebuildWatch) DeadLettered(string)           {}
func (w *rebuildWatch) RebuildProgress(name string, read, _ int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.names == nil {
		w.names = map[string]int64{}
	}
	w.names[name] = read
}

func (w *rebuildWatch) heard() map[string]int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return maps.Clone(w.names)
}

func startProjector(t *testing.T, pool *pgxpool.Pool) (*projections.Projector, context.CancelFunc) {
	t.Helper()
	// Small batches, so that a stop is likely to land inside one.
	return startProjectorWith(t, pool, projections.Options{Retries: 2, BatchSize: 150})
}

func startProjectorWith(t *testing.T, pool *pgxpool.Pool, opts projections.Options) (*projections.Projector, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := projections.NewProjector(pool, rules.Default(), quietLog(), opts)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Error(err)
		}
	}()
	// Run registers every projection before it projects; on an empty log
	// waitCaughtUp could return before that, and a test's own write to
	// projection_status then came before the registration it meant to
	// change.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM projection_status`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d projections registered after 30 s, want 4", n)
		}
	}
	return p, func() { cancel(); <-done }
}

// poison makes carrier_costs refuse every write of the message "poison"
// (a trigger), until the trigger is dropped.
func poison(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `
		CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.message_id = 'poison' THEN RAISE EXCEPTION 'carrier costs cannot take this'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER poison BEFORE INSERT OR UPDATE ON carrier_cost_messages FOR EACH ROW EXECUTE FUNCTION poison();`)
	if err != nil {
		t.Fatal(err)
	}
}

// equalsRebuild fails t unless the live read models are row for row what
// a rebuild of every projection makes of the log. Stop live projectors
// first.
func equalsRebuild(t *testing.T, pool *pgxpool.Pool, p *projections.Projector) {
	t.Helper()
	live := snapshot(t, pool)
	if _, err := p.Rebuild(context.Background(), "all", nil); err != nil {
		t.Fatal(err)
	}
	compareTables(t, live, snapshot(t, pool))
}

// poisonedProjection logs three reports, one of which carrier_costs cannot
// take (a trigger refuses it), and projects them until caught up.
func poisonedProjection(t *testing.T) (*pgxpool.Pool, *projections.Projector) {
	t.Helper()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	poison(t, pool)
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	at := time.Now().UTC().Truncate(time.Millisecond)
	for _, r := range []domain.StatusReceived{
		sr("m1", "e1", domain.StatusDelivered, "ATT", at),
		sr("poison", "e1", domain.StatusDelivered, "ATT", at),
		sr("m2", "e1", domain.StatusFailed, "ATT", at),
	} {
		if _, err := store.Append(ctx, []domain.StatusReceived{r}); err != nil {
			t.Fatal(err)
		}
	}
	p, stop := startProjector(t, pool)
	t.Cleanup(stop)
	waitCaughtUp(t, p)
	return pool, p
}

// An event a projection cannot apply is retried, then dead-lettered, and the
// projection moves on; the other projections are not held up. Once the cause
// is fixed, a replay applies it exactly once.
func TestDeadLetterAndReplay(t *testing.T) {
	t.Parallel()
	pool, p := poisonedProjection(t)
	ctx := context.Background()

	var costed int64
	pool.QueryRow(ctx, `SELECT sum(total) FROM carrier_costs`).Scan(&costed)
	if costed != 2 {
		t.Fatalf("carrier_costs counts %d messages, want 2 (m1, m2; poison dead-lettered)", costed)
	}
	var statuses int64
	pool.QueryRow(ctx, `SELECT count(*) FROM current_status`).Scan(&statuses)
	if statuses != 3 {
		t.Fatalf("current_status has %d messages, want 3: one projection's failure must not stop the others", statuses)
	}
	dls, err := p.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].MessageID != "poison" || dls[0].Projection != "carrier_costs.v1" || !strings.Contains(dls[0].Error, "cannot take this") {
		t.Fatalf("dead letters = %+v", dls)
	}
	states, _ := p.States(ctx)
	for _, s := range states {
		if s.Name == "carrier_costs.v1" && (s.DeadLetters != 1 || s.LastError == "") {
			t.Errorf("carrier_costs state = %+v, want one dead letter and its error", s)
		}
	}
	if _, err := p.ReplayDeadLetter(ctx, dls[0].ID); !errors.Is(err, projections.ErrStillFails) {
		t.Fatalf("replay while the cause is still there: %v, want ErrStillFails (the API's 409 with the reason, not a 500)", err)
	}
	if _, err := pool.Exec(ctx, `DROP TRIGGER poison ON carrier_cost_messages`); err != nil {
		t.Fatal(err)
	}
	// A process on other rules may not replay it: the event would be
	// costed at its rate card in a read model that names the first rules.
	other := projections.NewProjector(pool, rulesV2(t), logrus.New(), projections.Options{})
	if _, err := other.ReplayDeadLetter(ctx, dls[0].ID); !errors.Is(err, projections.ErrOtherRules) {
		t.Fatalf("replay under other rules: %v, want ErrOtherRules", err)
	}
	pool.QueryRow(ctx, `SELECT sum(total) FROM carrier_costs`).Scan(&costed)
	if costed != 2 {
		t.Fatalf("a refused replay changed carrier_costs: %d messages, want 2", costed)
	}
	if _, err := p.ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReplayDeadLetter(ctx, dls[0].ID); !errors.Is(err, projections.ErrAlreadyReplayed) {
		t.Fatalf("second replay: err = %v, want ErrAlreadyReplayed", err)
	}
	pool.QueryRow(ctx, `SELECT sum(total) FROM carrier_costs`).Scan(&costed)
	if costed != 3 {
		t.Fatalf("after replay carrier_costs counts %d, want 3", costed)
	}
	// Replayed, the error clears with the next batch that applies: it
	// stayed in the admin view, in red, on a live projection.
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	logStream(t, store, []domain.StatusReceived{sr("after", "e1", domain.StatusDelivered, "ATT", time.Now().UTC())}, 1)
	waitCaughtUp(t, p)
	states, _ = p.States(ctx)
	for _, s := range states {
		if s.Name == "carrier_costs.v1" && (s.LastError != "" || s.LastErrorAt != nil) {
			t.Errorf("carrier_costs still says %q (at %v) after its dead letter was replayed and a batch applied", s.LastError, s.LastErrorAt)
		}
	}
}

// One poisoned event in a full batch costs a few batch writes, not one
// write per event: the batch is split in halves until the event is alone.
// Applying 2,000 events one by one overran the batch's ack deadline, and the
// projection read the same batch again for ever. Events of one message on
// both sides of a split fold in order, so the result equals a rebuild.
func TestPoisonInLargeBatch(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	poison(t, pool)
	// 2,000 reports in one append, so one batch: every message's QUEUED
	// report in the first half, its DELIVERED in the second, and the poison
	// in the middle.
	const messages = 999
	at := time.Now().UTC().Truncate(time.Millisecond)
	var reports []domain.StatusReceived
	for i := range messages {
		reports = append(reports, sr(fmt.Sprintf("m%d", i), "e1", domain.StatusQueued, "ATT", at))
	}
	reports = append(reports, sr("poison", "e1", domain.StatusDelivered, "ATT", at))
	for i := range messages {
		reports = append(reports, sr(fmt.Sprintf("m%d", i), "e2", domain.StatusDelivered, "ATT", at.Add(time.Second)))
	}
	reports = append(reports, sr("m0", "e3", domain.StatusFailed, "ATT", at.Add(2*time.Second)))
	store := eventstore.New(pool, eventstore.Options{})
	if _, err := store.Append(ctx, reports); err != nil {
		t.Fatal(err)
	}
	store.Close()

	// A short ack deadline: a batch applied event by event cannot meet it.
	p, stop := startProjectorWith(t, pool, projections.Options{Retries: 1, BatchSize: 2000, AckDeadline: 2 * time.Second})
	waitCaughtUp(t, p)
	stop()
	dls, err := p.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].MessageID != "poison" {
		t.Fatalf("dead letters = %+v, want the poison alone", dls)
	}
	var delivered, failed int64
	pool.QueryRow(ctx, `SELECT sum(delivered), sum(failed) FROM carrier_costs`).Scan(&delivered, &failed)
	if delivered != messages-1 || failed != 1 {
		t.Fatalf("carrier_costs counts %d delivered, %d failed; want %d and 1", delivered, failed, messages-1)
	}

	// With the cause gone and the dead letter replayed, the live read models
	// are exactly what a rebuild makes of the log.
	if _, err := pool.Exec(ctx, `DROP TRIGGER poison ON carrier_cost_messages`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ReplayDeadLetter(ctx, dls[0].ID); err != nil {
		t.Fatal(err)
	}
	equalsRebuild(t, pool, p)
}

// A batch that fails as a whole (here its projection's state table is
// gone) is read again and again, with no dead letter to show for it: the
// admin view says the projection is failing, and why, until the cause is
// fixed. The other projections go on.
func TestFailingProjectionSaysWhy(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	p, stop := startProjector(t, pool)
	defer stop()
	waitCaughtUp(t, p)
	if _, err := pool.Exec(ctx, `ALTER TABLE carrier_cost_messages RENAME TO carrier_cost_messages_away`); err != nil {
		t.Fatal(err)
	}
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	if _, err := store.Append(ctx, []domain.StatusReceived{sr("m1", "e1", domain.StatusDelivered, "ATT", time.Now().UTC())}); err != nil {
		t.Fatal(err)
	}
	costs := func() projections.State {
		t.Helper()
		costs, states := stateOf(t, p, "carrier_costs.v1")
		for _, s := range states {
			if s.Name != costs.Name && s.LagEvents != 0 && s.LagSeconds > 5 {
				t.Errorf("%s stopped too: %+v", s.Name, s)
			}
		}
		return costs
	}
	// Watched until it names the table: a retry that outlasts the batch's
	// ack deadline records that instead for a moment, and a single look
	// after "failing" caught it there (a CI run).
	deadline := time.Now().Add(30 * time.Second)
	for s := costs(); s.State != "failing" || !strings.Contains(s.LastError, "carrier_cost_messages"); s = costs() {
		if time.Now().After(deadline) {
			t.Fatalf("carrier_costs state = %+v, want failing, naming the missing table", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := costs(); s.DeadLetters != 0 {
		t.Fatalf("carrier_costs state = %+v, want no dead letter", s)
	}
	if _, err := pool.Exec(ctx, `ALTER TABLE carrier_cost_messages_away RENAME TO carrier_cost_messages`); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, p)
	if s := costs(); s.State != "live" {
		t.Fatalf("carrier_costs state after the fix = %+v, want live", s)
	}
}

// A rebuild folds the dead-lettered events too: once it has, they count
// once, and a replay is refused instead of counting them again.
func TestRebuildSettlesDeadLetters(t *testing.T) {
	t.Parallel()
	pool, p := poisonedProjection(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `DROP TRIGGER poison ON carrier_cost_messages`); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Rebuild(ctx, "carrier_costs", nil); err != nil {
		t.Fatal(err)
	}
	var costed int64
	pool.QueryRow(ctx, `SELECT sum(total) FROM carrier_costs`).Scan(&costed)
	if costed != 3 {
		t.Fatalf("after the rebuild carrier_costs counts %d, want 3", costed)
	}
	dls, err := p.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 1 || dls[0].ReplayedAt == nil {
		t.Fatalf("dead letters after the rebuild = %+v, want the one marked applied", dls)
	}
	if _, err := p.ReplayDeadLetter(ctx, dls[0].ID); !errors.Is(err, projections.ErrAlreadyReplayed) {
		t.Fatalf("replay after the rebuild: err = %v, want ErrAlreadyReplayed", err)
	}
	pool.QueryRow(ctx, `SELECT sum(total) FROM carrier_costs`).Scan(&costed)
	if costed != 3 {
		t.Fatalf("after the refused replay carrier_costs counts %d, want 3", costed)
	}
	states, _ := p.States(ctx)
	for _, s := range states {
		if s.Name == "carrier_costs.v1" && s.DeadLetters != 0 {
			t.Errorf("carrier_costs still shows %d dead letters", s.DeadLetters)
		}
	}
}

// A stop in the middle of a batch is a clean shutdown: the batch is rolled
// back, to be read again, and nothing is logged as an error, so an operator
// reading the logs after a deploy is not sent after a failure that is not.
func TestStopLogsNoError(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	if _, err := store.Append(ctx, randomStream(rand.New(rand.NewPCG(5, 6)), 600)); err != nil {
		t.Fatal(err)
	}
	log, hook := logtest.NewNullLogger()
	for range 3 {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		obs := &stopOnApply{stop: cancel}
		p := projections.NewProjector(pool, rules.Default(), log, projections.Options{BatchSize: 50, Observer: obs})
		err := p.Run(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range hook.AllEntries() {
		if e.Level <= logrus.ErrorLevel {
			t.Errorf("stop logged %s: %s %v", e.Level, e.Message, e.Data)
		}
	}
}

// A rebuild keeps no transaction open for long (design.md, the xmin guard):
// at every point it reports progress, including after its fold, the other
// projections still take new reports. Reports logged during the rebuild
// count in the rebuilt model too.
func TestOtherProjectionsKeepUpDuringRebuild(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	stream := randomStream(rand.New(rand.NewPCG(7, 7)), 30000)
	logStream(t, store, stream, 1000)
	p, stop := startProjectorWith(t, pool, projections.Options{})
	defer stop()
	waitCaughtUp(t, p)

	probes, sent := 0, 0 // probes in this rebuild, and in all
	// The progress names the read model as metrics label it, however the
	// rebuild was asked for: "carrier_costs" and "carrier_costs.v1" were
	// two series of one rebuild.
	wantName := "carrier_costs.v1"
	progress := func(pr projections.Progress) {
		if pr.Name != wantName {
			t.Errorf("progress of %s names %q", wantName, pr.Name)
		}
		if probes > 0 && pr.Read < pr.Total {
			return // probe at the first report and once the fold is done
		}
		probes++
		sent++
		id := fmt.Sprintf("probe-%d", sent)
		if _, err := store.Append(ctx, []domain.StatusReceived{sr(id, "e1", domain.StatusDelivered, "ATT", time.Now().UTC())}); err != nil {
			t.Error(err)
			return
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			// Live in current_status, and in sla_latency's live state, so
			// the live projector has measured it before the swap.
			var n int
			pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM current_status WHERE message_id = $1)
				+ (SELECT count(*) FROM public.sla_messages WHERE message_id = $1)`, id).Scan(&n)
			if n == 2 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s logged during the rebuild (read %d of %d) is not in current_status after 15 s", id, pr.Read, pr.Total)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if _, err := p.Rebuild(ctx, "carrier_costs", progress); err != nil {
		t.Fatal(err)
	}
	if probes < 2 {
		t.Fatalf("rebuild reported progress %d times, want at least 2", probes)
	}
	// sla_latency too, with a report logged while it rebuilds: the ingest
	// latency (sla_ingest, kept across rebuilds) counts each report once,
	// though the live projector and the rebuild's catch-up both apply it.
	probes, wantName = 0, "sla_latency.v1"
	if _, err := p.Rebuild(ctx, "sla_latency", progress); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, p)
	ingestCounted := func(when string) {
		t.Helper()
		var logged, measured int64
		pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&logged)
		pool.QueryRow(ctx, `SELECT coalesce(sum(count), 0) FROM sla_ingest`).Scan(&measured)
		if measured != logged {
			t.Errorf("%s: sla_ingest measured %d reports, the log holds %d", when, measured, logged)
		}
	}
	ingestCounted("rebuilt while the live projector kept up")
	// And with the live projector stopped, so the reports logged since are
	// applied by the rebuild alone: its swap measures them.
	stop()
	for i := range 5 {
		if _, err := store.Append(ctx, []domain.StatusReceived{sr(fmt.Sprintf("late-%d", i), "e1", domain.StatusSent, "ATT", time.Now().UTC())}); err != nil {
			t.Fatal(err)
		}
	}
	projections.WaitReadable(t, pool) // so the rebuild, not the restarted projector, applies them
	if _, err := p.Rebuild(ctx, "sla_latency", nil); err != nil {
		t.Fatal(err)
	}
	ingestCounted("rebuilt while the live projector was stopped")
	p, stop = startProjectorWith(t, pool, projections.Options{})
	waitCaughtUp(t, p)
	ingestCounted("restarted")
	var messages, counted int64
	pool.QueryRow(ctx, `SELECT count(*) FROM current_status`).Scan(&messages)
	pool.QueryRow(ctx, `SELECT coalesce(sum(total), 0) FROM carrier_costs`).Scan(&counted)
	if counted != messages {
		t.Fatalf("rebuilt carrier_costs counts %d messages, current_status has %d (probes among them)", counted, messages)
	}
	stop()
	equalsRebuild(t, pool, p)
}

// Reads go on during a rebuild and never see an error or an empty answer.
func TestReadsDuringRebuild(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	stream := randomStream(rand.New(rand.NewPCG(1, 2)), 3000)
	logStream(t, store, stream, 500)
	p, stop := startProjector(t, pool)
	defer stop()
	waitCaughtUp(t, p)
	reader := projections.NewReader(pool, rules.Default())

	done := make(chan struct{})
	var rebuilt atomic.Bool
	var reads, failures int
	var firstErr error
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			default:
			}
			st, err1 := reader.CurrentStatus(ctx, "m-0")
			cs, _, err2 := reader.Carriers(ctx, projections.Filter{})
			reads++
			if err := errors.Join(err1, err2); err != nil || st.MessageID != "m-0" || len(cs) == 0 {
				failures++
				if firstErr == nil {
					firstErr = fmt.Errorf("status %+v carriers %d: %v", st, len(cs), err)
				}
			}
			if reads > 10 && rebuilt.Load() {
				return
			}
		}
	}()
	for range 3 {
		if _, err := p.Rebuild(ctx, "all", nil); err != nil {
			t.Fatal(err)
		}
	}
	rebuilt.Store(true)
	<-done
	if failures > 0 {
		t.Fatalf("%d of %d reads during rebuilds failed; first: %v", failures, reads, firstErr)
	}
	t.Logf("%d reads during 3 rebuilds, none failed", reads)
}

// Stopping a projector in the middle of a batch, again and again, neither
// loses nor repeats an event: what it wrote and how far it got commit
// together, and the read models end up equal to a rebuild.
func TestStopMidBatchIsExactlyOnce(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	stream := randomStream(rand.New(rand.NewPCG(3, 4)), 4000)
	appendChunk := func(from int) {
		t.Helper()
		if _, err := store.Append(ctx, stream[from:min(from+400, len(stream))]); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2800; i += 400 {
		appendChunk(i)
	}
	for i := range 6 {
		_, stop := startProjector(t, pool)
		time.Sleep(time.Duration(30+i*40) * time.Millisecond)
		stop()
	}
	// And stops that surely land inside a batch: after its writes, before
	// its transaction commits (the observer hears of a batch in between).
	// Each run gets new events, so it has a batch to stop in.
	for from := 2800; from < len(stream); from += 400 {
		appendChunk(from)
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		obs := &stopOnApply{stop: cancel}
		p := projections.NewProjector(pool, rules.Default(), quietLog(), projections.Options{BatchSize: 150, Observer: obs})
		err := p.Run(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if !obs.stopped.Load() {
			t.Fatal("the projector applied no batch in 30 s")
		}
	}
	p, stop := startProjector(t, pool)
	defer stop()
	waitCaughtUp(t, p)
	// Never rebuilt: each projection judged the whole log under the rules
	// it first ran with, and says so.
	states, err := p.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.RulesVersion != rules.Default().Version {
			t.Errorf("%s judged under rules %q, want %q", s.Name, s.RulesVersion, rules.Default().Version)
		}
	}
	live := snapshot(t, pool)
	if _, err := p.Rebuild(ctx, "all", nil); err != nil {
		t.Fatal(err)
	}
	rebuilt := snapshot(t, pool)
	for _, table := range readModelTables {
		if strings.Join(live[table], "\n") != strings.Join(rebuilt[table], "\n") {
			t.Errorf("%s differs after stops mid-batch:\n%s", table, firstDiff(live[table], rebuilt[table]))
		}
	}
}

// rulesV2 changes the default rules: ATT's US price doubles, and the GB
// rule for generic senders is gone, so INFO to a UK number is no longer a
// violation.
func rulesV2(t *testing.T) *rules.Rules {
	t.Helper()
	return rulesEdited(t, func(doc map[string]any) {
		doc["version"] = "test-v2"
		doc["rateCard"].(map[string]any)["countries"].(map[string]any)["US"].(map[string]any)["carriers"].(map[string]any)["ATT"] = "0.0170"
		delete(doc["countries"].(map[string]any), "GB")
	})
}

// Rules are applied at projection time: reports judged under rules v1, the
// rules changed to v2, a rebuild, and violations and costs follow v2, with
// every report still counted once.
func TestRulesChangeRejudgesHistory(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	v1, v2 := rules.Default(), rulesV2(t)

	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	at := time.Now().UTC().Truncate(time.Millisecond)
	var reports []domain.StatusReceived
	for i := range 10 {
		us := sr(fmt.Sprintf("us-%d", i), "e1", domain.StatusDelivered, "ATT", at) // priced from the card
		uk := sr(fmt.Sprintf("uk-%d", i), "e1", domain.StatusDelivered, "VODAFONE", at)
		uk.Recipient, uk.SenderID = "+447700900123", "INFO"
		reports = append(reports, us, uk, us) // and a redelivery
	}
	if _, err := store.Append(ctx, reports); err != nil {
		t.Fatal(err)
	}
	// The log is read only below every open transaction in the cluster (the
	// xmin guard), and parallel tests hold some: wait until all is readable.
	projections.WaitReadable(t, pool)
	judge := func(r *rules.Rules) (attCost float64, ukViolations int64, messages int64) {
		t.Helper()
		p := projections.NewProjector(pool, r, quietLog(), projections.Options{})
		if _, err := p.Rebuild(ctx, "all", nil); err != nil {
			t.Fatal(err)
		}
		reader := projections.NewReader(pool, r)
		cs, _, err := reader.Carriers(ctx, projections.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			messages += c.Total
			if c.Carrier == "ATT" {
				attCost = c.TotalCost
			}
		}
		vs, _, err := reader.Violations(ctx, "GB", "")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			ukViolations += v.Count
		}
		return
	}
	cost, violations, messages := judge(v1)
	if cost < 0.0849 || cost > 0.0851 || violations != 10 || messages != 20 {
		t.Fatalf("under v1: ATT cost %v, GB violations %d, messages %d; want 0.085, 10, 20", cost, violations, messages)
	}
	cost, violations, messages = judge(v2)
	if cost < 0.1699 || cost > 0.1701 || violations != 0 || messages != 20 {
		t.Fatalf("under v2: ATT cost %v, GB violations %d, messages %d; want 0.17, 0, 20", cost, violations, messages)
	}
	var version string
	pool.QueryRow(ctx, `SELECT rules_version FROM projection_status WHERE name = 'carrier_costs.v1'`).Scan(&version)
	if version != "test-v2" {
		t.Errorf("projection_status says rules %q, want test-v2", version)
	}
}

// rebuildCarrierCosts logs reports and rebuilds carrier_costs from the log,
// so a test reads the costs as a rebuild leaves them.
func rebuildCarrierCosts(t *testing.T, pool *pgxpool.Pool, store *eventstore.Store, reports []domain.StatusReceived) {
	t.Helper()
	logStream(t, store, reports, len(reports))
	projections.WaitReadable(t, pool)
	if _, err := projections.NewProjector(pool, rules.Default(), quietLog(), projections.Options{}).Rebuild(context.Background(), "carrier_costs", nil); err != nil {
		t.Fatal(err)
	}
}

// costPerDelivered divides the exact total, not its nearest double: 0.3
// over 6 deliveries is 0.05, where 0.3/6 in floats is 0.049999999999999996.
func TestCostPerDeliveredIsExact(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	at := time.Now().UTC().Truncate(time.Millisecond)
	price := domain.Micros(50000)
	var reports []domain.StatusReceived
	for i := range 6 {
		e := sr(fmt.Sprintf("exact-%d", i), "e1", domain.StatusDelivered, "CEXACT", at)
		e.Price, e.Currency = &price, "USD"
		reports = append(reports, e)
	}
	rebuildCarrierCosts(t, pool, store, reports)
	cs, _, err := projections.NewReader(pool, rules.Default()).Carriers(context.Background(), projections.Filter{Carrier: "CEXACT"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].TotalCost != 0.3 || cs[0].CostPerDelivered == nil || *cs[0].CostPerDelivered != 0.05 {
		t.Fatalf("got %+v, want totalCost 0.3 and costPerDelivered 0.05", cs)
	}
}

// A carrier is judged as a whole: its deliveries priced in EUR and its
// failures priced from the (USD) rate card are two entries for costs, but
// one carrier with 30 terminal messages, half failed, to recommend on.
// Judged per entry, each had 15, under the 20 needed, and both said KEEP.
func TestCarriersJudgedAcrossCurrencies(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)
	eur := domain.Micros(50000)
	var reports []domain.StatusReceived
	for i := range 15 {
		ok := sr(fmt.Sprintf("ok-%d", i), "e1", domain.StatusDelivered, "CSPLIT", at)
		ok.Price, ok.Currency = &eur, "EUR"
		reports = append(reports, ok, sr(fmt.Sprintf("ko-%d", i), "e1", domain.StatusFailed, "CSPLIT", at))
	}
	rebuildCarrierCosts(t, pool, store, reports)
	cs, _, err := projections.NewReader(pool, rules.Default()).Carriers(ctx, projections.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 {
		t.Fatalf("got %d entries, want 2 (EUR and USD): %+v", len(cs), cs)
	}
	for _, c := range cs {
		if c.Recommendation != "REROUTE" || !strings.HasPrefix(c.Reason, "across its currencies: ") || !strings.Contains(c.Reason, "30") {
			t.Errorf("%s %s: %s (%s), want REROUTE judged from 30 terminal messages", c.Carrier, c.Currency, c.Recommendation, c.Reason)
		}
		// The USD entry holds only failures: it has no cost per delivery
		// (null), where 0 read as free.
		switch {
		case c.Delivered == 0 && c.CostPerDelivered != nil:
			t.Errorf("%s %s: nothing delivered, costPerDelivered %v, want null", c.Carrier, c.Currency, *c.CostPerDelivered)
		case c.Delivered > 0 && (c.CostPerDelivered == nil || *c.CostPerDelivered != 0.05):
			t.Errorf("%s %s: costPerDelivered %v, want 0.05", c.Carrier, c.Currency, c.CostPerDelivered)
		}
	}
}

// A carrier's entries with equal rates come in currency order: they came
// in the order a rebuild wrote them, so the same log, rebuilt, answered
// with the rows swapped.
func TestCarrierEntriesInAStableOrder(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)
	price := domain.Micros(50000)
	currencies := []string{"USD", "JPY", "INR", "GBP", "EUR"} // logged in reverse
	var reports []domain.StatusReceived
	for i, cur := range currencies {
		e := sr(fmt.Sprintf("tie-%d", i), "e1", domain.StatusDelivered, "TIES", at)
		e.Price, e.Currency = &price, cur
		reports = append(reports, e)
	}
	rebuildCarrierCosts(t, pool, store, reports)
	cs, _, err := projections.NewReader(pool, rules.Default()).Carriers(ctx, projections.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		got = append(got, c.Currency)
	}
	if want := []string{"EUR", "GBP", "INR", "JPY", "USD"}; !slices.Equal(got, want) {
		t.Errorf("currencies in order %v, want %v", got, want)
	}
}

// A sum of prices may pass what one price can be (numeric(18,6)), what an
// int64 of millionths holds (9.2*10^12), and what the column held (10^14):
// two IDR reports of 6*10^11 read as a totalCost of 0, ten of 999,999,999,999
// wrapped to a negative total, and past 10^14 a day's reports were
// dead-lettered. Live and rebuilt alike.
func TestCarrierCostsPastOnePricesBound(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)
	price := domain.Micros(999_999_999_999 * 1_000_000)
	var reports []domain.StatusReceived
	for i := range 150 {
		st := domain.StatusDelivered
		if i%3 == 0 {
			st = domain.StatusFailed
		}
		e := sr(fmt.Sprintf("big-%d", i), "e1", st, "IDRBIG", at)
		e.Price, e.Currency = &price, "IDR"
		reports = append(reports, e)
	}
	p, stop := startProjector(t, pool)
	logStream(t, store, reports, 50)
	waitCaughtUp(t, p)
	stop()
	reader := projections.NewReader(pool, rules.Default())
	check := func(when string) {
		t.Helper()
		cs, _, err := reader.Carriers(ctx, projections.Filter{Carrier: "IDRBIG"})
		if err != nil {
			t.Fatal(err)
		}
		const total, wasted = 150 * 999_999_999_999.0, 50 * 999_999_999_999.0
		if len(cs) != 1 || cs[0].TotalCost != total || cs[0].WastedCost != wasted || cs[0].CostPerDelivered == nil ||
			*cs[0].CostPerDelivered != total/100 {
			t.Fatalf("%s: got %+v, want totalCost %g, wastedCost %g, costPerDelivered %g", when, cs, total, wasted, total/100)
		}
	}
	check("live")
	if _, err := p.Rebuild(ctx, "carrier_costs", nil); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}

// Messages count under the UTC day of their first report, and a filter
// takes every day it overlaps: a "to" inside a day keeps that day (it was
// sent as a date, its own day cut off), and a range within one day finds it.
func TestCarriersFilterTakesOverlappingDays(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	rebuildCarrierCosts(t, pool, store, []domain.StatusReceived{
		sr("d0", "e1", domain.StatusDelivered, "ATT", day.Add(10*time.Hour)),
		sr("d1", "e1", domain.StatusDelivered, "ATT", day.Add(34*time.Hour)),
	})
	reader := projections.NewReader(pool, rules.Default())
	for _, tt := range []struct {
		name     string
		from, to time.Time
		want     int64
	}{
		{"to inside the first day", time.Time{}, day.Add(23*time.Hour + 59*time.Minute), 1},
		{"half an hour of the first day", day.Add(12 * time.Hour), day.Add(12*time.Hour + 30*time.Minute), 1},
		{"to at the second day's midnight", time.Time{}, day.Add(24 * time.Hour), 1},
		{"from inside the first day", day.Add(11 * time.Hour), time.Time{}, 2},
		{"both days", day, day.Add(48 * time.Hour), 2},
	} {
		cs, _, err := reader.Carriers(ctx, projections.Filter{From: tt.from, To: tt.to})
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, c := range cs {
			total += c.Total
		}
		if total != tt.want {
			t.Errorf("%s: %d messages, want %d", tt.name, total, tt.want)
		}
	}
}

// A projector started under other rules than its read models were built
// with rebuilds them before it applies a live event. Applied live instead,
// a report took its message's old contribution out as the new rules price
// it, not as the read model held it, and the answers said the new version
// over numbers judged under the old.
func TestRulesChangeRebuildsOnStart(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)
	var reports []domain.StatusReceived
	for i := range 10 {
		uk := sr(fmt.Sprintf("uk-%d", i), "e1", domain.StatusDelivered, "VODAFONE", at)
		uk.Recipient, uk.SenderID = "+447700900123", "INFO"
		reports = append(reports, uk, sr(fmt.Sprintf("us-%d", i), "e1", domain.StatusSent, "ATT", at))
	}
	logStream(t, store, reports, len(reports))
	run := func(r *rules.Rules) (*projections.Projector, func()) {
		ctx, cancel := context.WithCancel(ctx)
		p := projections.NewProjector(pool, r, quietLog(), projections.Options{PollInterval: 10 * time.Millisecond})
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		return p, func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		}
	}
	p, stop := run(rules.Default())
	waitCaughtUp(t, p)
	stop()

	v2 := rulesV2(t)
	p, stop = run(v2)
	// The log is caught up already: wait for the rebuild to record v2.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var stale []string
		if err := pool.QueryRow(ctx, `SELECT coalesce(array_agg(name || ' under ' || rules_version), '{}') FROM projection_status
			WHERE rules_version <> 'test-v2'`).Scan(&stale); err != nil {
			t.Fatal(err)
		}
		if len(stale) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still judged under the old rules after starting under test-v2: %v", stale)
		}
	}
	waitCaughtUp(t, p)
	vs, _, err := projections.NewReader(pool, v2).Violations(ctx, "GB", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 0 {
		t.Errorf("GB violations under test-v2, which has no GB rule: %+v", vs)
	}
	// A live report for a message judged before the change.
	logStream(t, store, []domain.StatusReceived{sr("us-0", "e2", domain.StatusDelivered, "ATT", at.Add(time.Second))}, 1)
	waitCaughtUp(t, p)
	stop()
	equalsRebuild(t, pool, projections.NewProjector(pool, v2, quietLog(), projections.Options{}))
}

// Delivery compliance is counted exactly as each message is projected: 20
// deliveries of 58 s and 10 of 62 s against the default 60 s threshold are
// 66.67 % compliant, live and after a rebuild. Estimated from the histogram
// (58 s and 62 s share the bucket of 56.5-70.7 s), they read as 28 %.
func TestDeliveryComplianceIsExact(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Minute)
	var reports []domain.StatusReceived
	for i := range 30 {
		took := 58 * time.Second
		if i >= 20 {
			took = 62 * time.Second
		}
		id := fmt.Sprintf("m%d", i)
		reports = append(reports, sr(id, "sent", domain.StatusSent, "C58", at), sr(id, "done", domain.StatusDelivered, "C58", at.Add(took)))
	}
	logStream(t, store, reports, len(reports))
	reader := projections.NewReader(pool, rules.Default())
	check := func(when string) {
		t.Helper()
		rep, err := reader.SLA(ctx, projections.Filter{From: at.Add(-time.Hour), To: at.Add(time.Hour), Carrier: "C58"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Delivery.Count != 30 || rep.Delivery.Compliance != 66.67 {
			t.Errorf("%s: %d deliveries, %.2f %% compliant; want 30, 66.67 %%", when, rep.Delivery.Count, rep.Delivery.Compliance)
		}
	}
	p, stop := startProjector(t, pool)
	waitCaughtUp(t, p)
	stop()
	check("live")
	if _, err := p.Rebuild(ctx, "sla_latency", nil); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}

// "Orange" from one gateway and "ORANGE" from another are one carrier in
// the read models, as in the rate card: split, each had too few reports to
// judge, and a filter for one missed the other.
func TestCarrierCodesCountInUpperCase(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-5 * time.Minute)
	logStream(t, store, []domain.StatusReceived{
		sr("a", "e1", domain.StatusDelivered, "Orange", at),
		sr("b", "e1", domain.StatusDelivered, "ORANGE", at),
		sr("c", "e1", domain.StatusFailed, "orange", at),
	}, 3)
	p, stop := startProjector(t, pool)
	waitCaughtUp(t, p)
	stop()
	reader := projections.NewReader(pool, rules.Default())
	cs, _, err := reader.Carriers(ctx, projections.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Carrier != "ORANGE" || cs[0].Total != 3 {
		t.Errorf("carriers %+v, want one ORANGE of 3 messages", cs)
	}
	rep, err := reader.SLA(ctx, projections.Filter{From: at.Add(-time.Hour), To: at.Add(time.Hour), Carrier: "ORANGE"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Throughput != 3 || len(rep.Carriers) != 1 {
		t.Errorf("SLA for ORANGE: %d reports over %d carriers, want 3 over 1", rep.Throughput, len(rep.Carriers))
	}
	equalsRebuild(t, pool, p)
}

// newLog is a fresh database and a store appending to its log, closed when
// t ends.
func newLog(t *testing.T) (*pgxpool.Pool, *eventstore.Store) {
	t.Helper()
	pool := pgtest.Pool(t)
	store := eventstore.New(pool, eventstore.Options{})
	t.Cleanup(store.Close)
	return pool, store
}

// A read model another process rebuilt under other rules is left alone
// until the processes agree: this projector's judgments folded into it
// would mix two rules for good. The other projections go on.
func TestOtherRulesInTheReadModelStopItsProjection(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	failures := &failureCount{}
	p, stop := startProjectorWith(t, pool, projections.Options{Retries: 2, BatchSize: 150, Observer: failures})
	defer stop()
	waitCaughtUp(t, p)
	// Another process, with another RULES_FILE, rebuilt carrier_costs.
	if _, err := pool.Exec(ctx, `UPDATE projection_status SET rules_version = 'other' WHERE name = 'carrier_costs.v1'`); err != nil {
		t.Fatal(err)
	}
	logStream(t, store, []domain.StatusReceived{sr("m1", "e1", domain.StatusDelivered, "ATT", time.Now().UTC())}, 1)
	costs := func() projections.State {
		t.Helper()
		s, _ := stateOf(t, p, "carrier_costs.v1")
		return s
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(costs().LastError, `under rules "other"`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("carrier_costs = %+v, want it to say the rules differ", costs())
		}
	}
	if failures.of("carrier_costs.v1") == 0 {
		t.Error("the refused batches are not counted as failures (cxsms_projection_errors_total)")
	}
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM carrier_cost_messages`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("carrier_cost_messages holds %d rows (%v): the batch was applied under other rules", n, err)
	}
	if _, err := pool.Exec(ctx, `UPDATE projection_status SET rules_version = $1 WHERE name = 'carrier_costs.v1'`, rules.Default().Version); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, p)
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM carrier_cost_messages`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("carrier_cost_messages holds %d rows (%v) once the rules agree, want 1", n, err)
	}
}

// stateOf returns the admin state of the projection name, and every
// projection's.
func stateOf(t *testing.T, p *projections.Projector, name string) (projections.State, []projections.State) {
	t.Helper()
	states, err := p.States(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.Name == name {
			return s, states
		}
	}
	t.Fatalf("no %s state", name)
	return projections.State{}, nil
}

// A violation's firstSeen is never after its lastSeen, and live and rebuilt
// agree: firstSeen is the carrier's time and lastSeen ours. A carrier clock
// an hour ahead put a single report's firstSeen an hour after its
// lastSeen; clamping lastSeen up to it kept, live, a lastSeen in the future
// after an earlier report came, which a rebuild did not.
func TestViolationSeenInOrderWithCarrierClockAhead(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ahead := sr("skewed", "e1", domain.StatusDelivered, "VODAFONE", now.Add(time.Hour))
	ahead.Recipient, ahead.SenderID, ahead.ReceivedAt = "+447700900123", "INFO", now
	earlier := sr("skewed", "e2", domain.StatusSent, "VODAFONE", now.Add(-2*time.Hour))
	earlier.Recipient, earlier.SenderID, earlier.ReceivedAt = "+447700900123", "INFO", now.Add(time.Millisecond)
	p, stop := startProjector(t, pool)
	logStream(t, store, []domain.StatusReceived{ahead}, 1)
	waitCaughtUp(t, p)
	reader := projections.NewReader(pool, rules.Default())
	check := func(when string) projections.Violation {
		t.Helper()
		vs, _, err := reader.Violations(ctx, "GB", "INFO")
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 {
			t.Fatalf("%s: %d violations, want 1: %+v", when, len(vs), vs)
		}
		if vs[0].LastSeen.Before(vs[0].FirstSeen) || vs[0].LastSeen.After(now.Add(time.Second)) {
			t.Errorf("%s: firstSeen %s, lastSeen %s; want lastSeen not before firstSeen, nor after %s, when the last report came",
				when, vs[0].FirstSeen, vs[0].LastSeen, now.Add(time.Millisecond))
		}
		return vs[0]
	}
	check("live, one report")
	logStream(t, store, []domain.StatusReceived{earlier}, 1)
	waitCaughtUp(t, p)
	stop()
	live := check("live")
	if _, err := p.Rebuild(ctx, "sender_compliance", nil); err != nil {
		t.Fatal(err)
	}
	rebuilt := check("rebuilt")
	if !live.FirstSeen.Equal(rebuilt.FirstSeen) || !live.LastSeen.Equal(rebuilt.LastSeen) {
		t.Errorf("live %s - %s, rebuilt %s - %s: want the same", live.FirstSeen, live.LastSeen, rebuilt.FirstSeen, rebuilt.LastSeen)
	}
}

// A sender written two ways is one violation row, live and rebuilt, found
// by either spelling: "+1 (800) 123-4567" and "+18001234567" were two rows
// though judged as one number.
func TestViolationsCountASenderUnderOneSpelling(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	var evs []domain.StatusReceived
	for i, sender := range []string{"+1 (800) 123-4567", "+18001234567", " +1.800.123.4567 ", "INFO", " INFO"} {
		e := sr(fmt.Sprintf("m%d", i), "e1", domain.StatusSent, "ATT", now)
		e.Recipient, e.SenderID = "+12025550100", sender
		evs = append(evs, e)
	}
	p, stop := startProjector(t, pool)
	logStream(t, store, evs, 1)
	waitCaughtUp(t, p)
	stop()
	reader := projections.NewReader(pool, rules.Default())
	check := func(when string) {
		t.Helper()
		all, _, err := reader.Violations(ctx, "US", "")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, v := range all {
			got[v.SenderID+" "+v.Rule] += v.Count
		}
		want := map[string]int64{"+18001234567 " + rules.RuleTollFreeInvalid: 3, "INFO " + rules.RuleAlphanumericNotAllowed: 2}
		if len(all) != len(want) || got["+18001234567 "+rules.RuleTollFreeInvalid] != 3 || got["INFO "+rules.RuleAlphanumericNotAllowed] != 2 {
			t.Fatalf("%s: violations %+v, want one row per sender: %v", when, all, want)
		}
		for _, spelling := range []string{"+1 (800) 123-4567", "+18001234567", "INFO "} {
			vs, _, err := reader.Violations(ctx, "", spelling)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != 1 {
				t.Errorf("%s: senderId %q finds %+v, want its one row", when, spelling, vs)
			}
		}
	}
	check("live")
	if _, err := p.Rebuild(ctx, "sender_compliance", nil); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}

// rulesEdited is the default rules file with edit applied to its JSON.
func rulesEdited(t *testing.T, edit func(doc map[string]any)) *rules.Rules {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(rules.DefaultJSON(), &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	raw, _ := json.Marshal(doc)
	r, err := rules.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// What an answer judges as it is read (a carrier's recommendation, the SLA
// thresholds) follows the rules its read model was built under: a process
// still running the old rules after `cxsms rebuild` under new ones said the
// new version over the old thresholds.
func TestReadsJudgeUnderTheReadModelsRules(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)
	var reports []domain.StatusReceived
	for i := range 25 { // 20 % failed: REROUTE by default, WATCH under lenient
		st := domain.StatusDelivered
		if i%5 == 0 {
			st = domain.StatusFailed
		}
		reports = append(reports, sr(fmt.Sprintf("m-%d", i), "e1", st, "ATT", at))
	}
	logStream(t, store, reports, len(reports))
	projections.WaitReadable(t, pool)
	lenient := rulesEdited(t, func(doc map[string]any) {
		doc["version"] = "lenient"
		doc["thresholds"].(map[string]any)["rerouteFailureRate"] = 0.3
		doc["sla"].(map[string]any)["deliveryThresholdMs"] = 90000
	})
	if _, err := projections.NewProjector(pool, lenient, quietLog(), projections.Options{}).Rebuild(ctx, "all", nil); err != nil {
		t.Fatal(err)
	}
	reader := projections.NewReader(pool, rules.Default()) // a process left on the old rules
	cs, version, err := reader.Carriers(ctx, projections.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Recommendation != "WATCH" || version != "lenient" {
		t.Errorf("carriers under %q: %+v, want ATT at WATCH under lenient, as the rules the read model holds judge 20 %%", version, cs)
	}
	rep, err := reader.SLA(ctx, projections.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Delivery.ThresholdMs != 90000 || rep.RulesVersion != "lenient" {
		t.Errorf("SLA delivery threshold %d ms under %q, want the lenient rules' 90000", rep.Delivery.ThresholdMs, rep.RulesVersion)
	}
}

// A rules file edited without a new version is other rules all the same:
// the projector re-judges the log under it when it starts. It kept costs
// priced from the old rate card.
func TestRulesEditedUnderSameVersionRebuildsOnStart(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)
	logStream(t, store, []domain.StatusReceived{sr("m1", "e1", domain.StatusDelivered, "ATT", at)}, 1)
	p, stop := startProjector(t, pool)
	waitCaughtUp(t, p)
	stop()

	edited := rulesEdited(t, func(doc map[string]any) {
		doc["rateCard"].(map[string]any)["countries"].(map[string]any)["US"].(map[string]any)["carriers"].(map[string]any)["ATT"] = "0.5"
	})
	if edited.Version != rules.Default().Version {
		t.Fatalf("the edit changed the version: %q", edited.Version)
	}
	runCtx, cancel := context.WithCancel(ctx)
	p = projections.NewProjector(pool, edited, quietLog(), projections.Options{PollInterval: 10 * time.Millisecond})
	done := make(chan error, 1)
	go func() { done <- p.Run(runCtx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	reader := projections.NewReader(pool, edited)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cs, _, err := reader.Carriers(ctx, projections.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 1 && cs[0].TotalCost == 0.5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still priced from the old rate card after starting under the edited one: %+v", cs)
		}
	}
}

// On a database a newer release migrated, serve stores reports but does not
// project: the admin routes must not write read models either (a rebuild
// there moved positions and filled current_status), and the admin view says
// the projections are stopped rather than live.
func TestNewerSchemaStopsAdminWrites(t *testing.T) {
	t.Parallel()
	pool, p := poisonedProjection(t)
	ctx := context.Background()
	dls, err := p.DeadLetters(ctx)
	if err != nil || len(dls) != 1 {
		t.Fatalf("dead letters %+v, %v; want the poisoned one", dls, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future.sql')`, eventstore.LatestVersion()+1); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Rebuild(ctx, "all", nil); !errors.Is(err, eventstore.ErrSchemaNewer) {
		t.Errorf("Rebuild: %v, want ErrSchemaNewer", err)
	}
	if _, err := p.ReplayDeadLetter(ctx, dls[0].ID); !errors.Is(err, eventstore.ErrSchemaNewer) {
		t.Errorf("ReplayDeadLetter: %v, want ErrSchemaNewer", err)
	}
	states, err := p.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.State != "stopped" || !strings.Contains(s.LastError, "newer") {
			t.Errorf("%s: state %q (%s), want stopped, saying why", s.Name, s.State, s.LastError)
		}
	}
}

// failureCount counts Observer.Failed per projection.
type failureCount struct {
	mu sync.Mutex
	n  map[string]int
}

func (f *failureCount) Applied(string, time.Duration)        {}
func (f *failureCount) DeadLettered(string)                  {}
func (f *failureCount) RebuildProgress(string, int64, int64) {}
func (f *failureCount) Failed(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[name]++
}

func (f *failureCount) of(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n[name]
}

// A process already running when a newer release migrates the database
// stops projecting too: it went on writing read models while /readyz and
// the admin view said it had stopped.
func TestRunningProjectorStopsOnNewerSchema(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	p, stop := startProjector(t, pool)
	defer stop()
	logStream(t, store, []domain.StatusReceived{sr("before", "e1", domain.StatusDelivered, "ATT", time.Now().UTC())}, 1)
	waitCaughtUp(t, p)
	if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, 'from_the_future.sql')`, eventstore.LatestVersion()+1); err != nil {
		t.Fatal(err)
	}
	logStream(t, store, []domain.StatusReceived{sr("after", "e1", domain.StatusDelivered, "ATT", time.Now().UTC())}, 1)
	time.Sleep(2 * time.Second) // past the guard's one-second pass, and a few polls
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM current_status WHERE message_id = 'after'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("current_status holds the report logged after the newer migration (%d rows, %v)", n, err)
	}
	states, err := p.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.State != "stopped" {
			t.Errorf("%s: %s, want stopped", s.Name, s.State)
		}
	}
}

// Any process can tell whether anything projects the database: an
// ingest-only node said "live", then "lagging", with its `cxsms project`
// gone and nothing moving.
func TestStatesSayWhenNothingProjects(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	appendSent(t, store, "p1")
	p, stop := startProjector(t, pool)
	waitCaughtUp(t, p)
	appendSent(t, store, "p2")
	waitCaughtUp(t, p)
	stop()
	// Another process's view: it projects nothing itself.
	ingestOnly := projections.NewProjector(pool, rules.Default(), quietLog(), projections.Options{})
	states, err := ingestOnly.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.State != "live" {
			t.Errorf("%s caught up: %s (%s), want live", s.Name, s.State, s.LastError)
		}
	}
	appendSent(t, store, "p3")
	states, err = ingestOnly.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if s.State != "stopped" || !strings.Contains(s.LastError, "no process projects it") {
			t.Errorf("%s with nothing projecting: %s (%q), want stopped with the reason", s.Name, s.State, s.LastError)
		}
	}
}

// A process that refuses a read model (other rules) lets go of its
// presence: on every other node the projection shows stopped, with a reason
// that names the read model's rules, instead of "lagging" or another
// process's batch error.
func TestStatesSayWhenEveryProjectorRefuses(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := context.Background()
	store := eventstore.New(pool, eventstore.Options{})
	defer store.Close()
	appendSent(t, store, "r1")
	p, stop := startProjector(t, pool)
	defer stop()
	waitCaughtUp(t, p)
	// The read models are rebuilt under other rules, as by a `cxsms
	// rebuild` with another RULES_FILE: the running projector refuses them.
	other := projections.NewProjector(pool, rulesV2(t), quietLog(), projections.Options{})
	if _, err := other.Rebuild(ctx, "all", nil); err != nil {
		t.Fatal(err)
	}
	appendSent(t, store, "r2")
	ingestOnly := projections.NewProjector(pool, rules.Default(), quietLog(), projections.Options{})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		states, err := ingestOnly.States(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stopped := 0
		for _, s := range states {
			if s.State == "stopped" && strings.Contains(s.LastError, strconv.Quote(rulesV2(t).Version)) {
				stopped++
			}
		}
		if stopped == len(states) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("states with every projector refusing: %+v, want all stopped naming the read model's rules", states)
		}
	}
	var lastError string
	if err := pool.QueryRow(ctx, `SELECT string_agg(last_error, '') FROM projection_status`).Scan(&lastError); err != nil {
		t.Fatal(err)
	}
	if lastError != "" {
		t.Errorf("a refusing process wrote its refusal as the shared last error: %q", lastError)
	}
}

// A transaction left open elsewhere holds back every reader of the log;
// the admin view names it instead of "lagging" with no reason.
func TestStatesNameAnOpenTransaction(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	p, stop := startProjector(t, pool)
	defer stop()
	waitCaughtUp(t, p)
	// An operator's psql: BEGIN; SELECT txid_current(); and away, in
	// another database of the cluster: its transaction IDs are the
	// cluster's.
	tx, err := pgtest.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT txid_current()`); err != nil {
		t.Fatal(err)
	}
	waitHeldBack(t, store, p, "held back by a transaction open since")
}

// waitHeldBack logs a report received 10 s ago, which waits behind the
// transaction the caller left open, and waits until every projection's
// state is lagging and names it with all of want.
func waitHeldBack(t *testing.T, store *eventstore.Store, p *projections.Projector, want ...string) {
	t.Helper()
	ctx := context.Background()
	r := sr(fmt.Sprintf("held-%d", time.Now().UnixNano()), "e1", domain.StatusSent, "ATT", time.Now().UTC())
	r.ReceivedAt = time.Now().UTC().Add(-10 * time.Second)
	if _, err := store.Append(ctx, []domain.StatusReceived{r}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		states, err := p.States(ctx)
		if err != nil {
			t.Fatal(err)
		}
		named := 0
		for _, s := range states {
			if s.State == "lagging" && containsAll(s.LastError, want) {
				named++
			}
		}
		if named == len(states) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("states behind an open transaction, want each naming %q: %+v", want, states)
		}
	}
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// The same, seen by a role that is not a superuser: pg_stat_activity hides
// other roles' transactions from it, and a DBA's open psql was reported as
// "no transaction holding the log back", blaming a healthy process.
func TestStatesNameATransactionThisRoleCannotSee(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	watcher := projections.NewProjector(projections.ReaderPool(t, pool), rules.Default(), quietLog(), projections.Options{})
	p, stop := startProjector(t, pool)
	defer stop()
	waitCaughtUp(t, p)
	tx, err := pgtest.Pool(t).Begin(ctx) // a superuser's, in another database
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT txid_current()`); err != nil {
		t.Fatal(err)
	}
	waitHeldBack(t, store, watcher, "held back by an open transaction (xid", ", pid ", "this role cannot see")
}

// A prepared transaction (two-phase commit) holds back the log with no
// session at all: it was named as another role's hidden session, with a
// query that finds nothing. It is named by its gid.
func TestStatesNameAPreparedTransaction(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	p, stop := startProjector(t, pool)
	defer stop()
	waitCaughtUp(t, p)
	other := pgtest.Pool(t) // prepared in another database of the cluster
	gid := fmt.Sprintf("holdback-%d", time.Now().UnixNano())
	if _, err := other.Exec(ctx, `BEGIN; SELECT txid_current(); PREPARE TRANSACTION '`+gid+`'`); err != nil {
		t.Fatal(err)
	}
	defer other.Exec(ctx, `ROLLBACK PREPARED '`+gid+`'`)
	waitHeldBack(t, store, p, "held back by a prepared transaction", gid)
}

// appendSent logs a SENT report for each message id.
func appendSent(t *testing.T, store *eventstore.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := store.Append(context.Background(), []domain.StatusReceived{sr(id, "e1", domain.StatusSent, "ATT", time.Now().UTC())}); err != nil {
			t.Fatal(err)
		}
	}
}

// A batch refused for other rules inside its transaction (the rules
// changed after the guard let it begin) lets go of its transaction at
// once. It used to be sent again in that transaction until its ack
// deadline, holding the position row and an xid that held back every
// consumer, the process that should take over included (5 s, a tester saw).
func TestRefusedBatchLetsGoOfItsTransaction(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	p, stop := startProjectorWith(t, pool, projections.Options{BatchSize: 150, AckDeadline: time.Minute})
	defer stop()
	waitCaughtUp(t, p)
	// Another process rebuilt carrier_costs under other rules, and an event
	// follows at once, inside the second the guard trusts its last pass.
	if _, err := pool.Exec(ctx, `UPDATE projection_status SET rules_version = 'other' WHERE name = 'carrier_costs.v1'`); err != nil {
		t.Fatal(err)
	}
	logStream(t, store, []domain.StatusReceived{sr("m1", "e1", domain.StatusDelivered, "ATT", time.Now().UTC())}, 1)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s, _ := stateOf(t, p, "carrier_costs.v1"); strings.Contains(s.LastError, `under rules "other"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("carrier_costs never said the rules differ")
		}
	}
	// Well within the minute's ack deadline, the position row is free and
	// still where it was: nothing of the refused batch was applied.
	free := func() bool {
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		var acked int64
		err = tx.QueryRow(ctx, `SELECT coalesce(offset_acked, 0) FROM projection_offsets
			WHERE consumer_group = 'carrier_costs.v1' FOR UPDATE NOWAIT`).Scan(&acked)
		if err != nil {
			return false // 55P03: locked by the refusing batch
		}
		if acked != 0 {
			t.Fatalf("carrier_costs' position moved to %d over a refused batch", acked)
		}
		return true
	}
	for deadline := time.Now().Add(10 * time.Second); !free(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the refusing process still holds carrier_costs' position row 10 s after refusing (ack deadline 1 min)")
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE projection_status SET rules_version = $1 WHERE name = 'carrier_costs.v1'`, rules.Default().Version); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, p)
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM carrier_cost_messages`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("carrier_cost_messages holds %d rows (%v) once the rules agree, want 1", n, err)
	}
}

// A read model an earlier release built (before migration 0007 knew every
// calling code) is rebuilt when a projector of this release starts, even
// under the same rules and however it came to be marked: an old release's
// rebuild that began before the migration and ended after it left the old
// regions in place for good, the projectors live and silent.
func TestReadModelOfAnEarlierReleaseIsRebuilt(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	e := sr("sk1", "e1", domain.StatusDelivered, "ORANGE", time.Now().UTC())
	e.Recipient = "+421912123456"
	logStream(t, store, []domain.StatusReceived{e}, 1)
	p, stop := startProjector(t, pool)
	waitCaughtUp(t, p)
	// What the earlier release left: its regions, and its rebuild's record
	// (the same rules, no schema).
	if _, err := pool.Exec(ctx, `UPDATE current_status SET region = 'UNKNOWN';
		UPDATE projection_status SET built_by_schema = 0, rebuilt_at = now()`); err != nil {
		t.Fatal(err)
	}
	// A process of this release already running refuses to fold into it,
	// and answers still name the rules it was built under.
	logStream(t, store, []domain.StatusReceived{sr("later", "e1", domain.StatusSent, "ORANGE", time.Now().UTC())}, 1)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		s, _ := stateOf(t, p, "current_status.v1")
		if strings.Contains(s.LastError, "earlier release") {
			if s.RulesVersion != rules.Default().Version {
				t.Errorf("rulesVersion %q while the rebuild is due, want the rules it was built under, %q", s.RulesVersion, rules.Default().Version)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("current_status = %+v 30 s on, want it refused as built by an earlier release", s)
		}
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM current_status WHERE message_id = 'later'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows (%v): a report was folded into an earlier release's read model", n, err)
	}
	stop()
	// Its rebuild is heard as an asked-for one is (metrics): after an
	// upgrade it is the one an operator watches, and it went unreported.
	watch := &rebuildWatch{}
	_, stop = startProjectorWith(t, pool, projections.Options{Retries: 2, BatchSize: 150, Observer: watch})
	defer stop()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var region string
		var schema int
		if err := pool.QueryRow(ctx, `SELECT region, (SELECT min(built_by_schema) FROM projection_status) FROM current_status WHERE message_id = 'sk1'`).
			Scan(&region, &schema); err != nil {
			t.Fatal(err)
		}
		if region == "SK" && schema >= 7 {
			// The rebuild reads the log up to where no open transaction
			// holds it back; a parallel test's may leave "later" to the
			// live projector, so 1 event read is as right as 2.
			if heard := watch.heard(); heard["all"] < 1 || heard["all"] > 2 {
				t.Errorf("rebuild progress heard %v, want all at 1 or 2 events read", heard)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("region %q, built by schema %d 30 s on; want SK, rebuilt by this release (schema >= 7)", region, schema)
		}
	}
}

// An SLA answer's rules version and its compliance come from one state of
// the read model: read statement by statement, a rebuild under other rules
// swapping its tables in between gave answers naming the old rules beside
// the new rules' compliance (a tester's reads during rebuilds).
func TestSLAAnswerDuringRebuildsNamesTheRulesOfItsFigures(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Minute)
	// Deliveries of 45 s: all within the default 60 s, none within 30 s.
	var reports []domain.StatusReceived
	for i := range 20 {
		id := fmt.Sprintf("m%d", i)
		reports = append(reports, sr(id, "sent", domain.StatusSent, "C45", at), sr(id, "done", domain.StatusDelivered, "C45", at.Add(45*time.Second)))
	}
	logStream(t, store, reports, len(reports))
	p, stop := startProjector(t, pool)
	waitCaughtUp(t, p)
	stop()
	strict := rulesEdited(t, func(doc map[string]any) {
		doc["version"] = "strict"
		doc["sla"].(map[string]any)["deliveryThresholdMs"] = 30000
	})
	want := map[string]float64{rules.Default().Version: 100, "strict": 0}
	reader := projections.NewReader(pool, rules.Default())
	rebuilt := make(chan struct{})
	go func() {
		defer close(rebuilt)
		for i := range 40 {
			r := rules.Default()
			if i%2 == 0 {
				r = strict
			}
			if _, err := projections.NewProjector(pool, r, quietLog(), projections.Options{}).Rebuild(ctx, "sla_latency", nil); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var mixed []string
	for reading := true; reading; {
		select {
		case <-rebuilt:
			reading = false
		default:
		}
		rep, err := reader.SLA(ctx, projections.Filter{From: at.Add(-time.Hour), To: at.Add(time.Hour)})
		if err != nil {
			t.Error(err)
			<-rebuilt
			break
		}
		if c, ok := want[rep.RulesVersion]; !ok || rep.Delivery.Compliance != c || rep.Delivery.Count != 20 {
			mixed = append(mixed, fmt.Sprintf("%s: %d deliveries, %.2f %% compliant", rep.RulesVersion, rep.Delivery.Count, rep.Delivery.Compliance))
		}
	}
	if len(mixed) > 0 {
		t.Errorf("%d answers whose figures are not their rules version's, e.g. %v", len(mixed), mixed[:min(3, len(mixed))])
	}
}

// Violations that tie on count and last seen come in one order, sender
// first: left to the table's order, each rebuild listed them otherwise, and
// changed which senders made the 1,000-row cap.
func TestViolationsTieInOneOrder(t *testing.T) {
	t.Parallel()
	pool, store := newLog(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	var reports []domain.StatusReceived
	for _, sender := range []string{"ZZZZZZ", "AAAAAA", "MMMMMM", "QQQQQQ", "BBBBBB"} {
		r := sr("m-"+sender, "e", domain.StatusSent, "ATT", at)
		r.SenderID = sender // alphanumeric, to the US: a violation
		reports = append(reports, r)
	}
	logStream(t, store, reports, len(reports))
	p, stop := startProjector(t, pool)
	waitCaughtUp(t, p)
	stop()
	reader := projections.NewReader(pool, rules.Default())
	for i := range 6 {
		if i > 0 {
			if _, err := p.Rebuild(ctx, "sender_compliance", nil); err != nil {
				t.Fatal(err)
			}
		}
		vs, _, err := reader.Violations(ctx, "US", "")
		if err != nil {
			t.Fatal(err)
		}
		var senders []string
		for _, v := range vs {
			senders = append(senders, v.SenderID)
		}
		if want := []string{"AAAAAA", "BBBBBB", "MMMMMM", "QQQQQQ", "ZZZZZZ"}; !slices.Equal(senders, want) {
			t.Fatalf("after %d rebuilds: %v, want %v", i, senders, want)
		}
	}
}

package projections

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
)

// Options tune the projector; zero values take the defaults.
type Options struct {
	// PollInterval is how long a caught-up consumer waits before looking
	// again; it bounds how stale a read model is after a 200.
	PollInterval time.Duration
	// BatchSize is how many events one subscriber transaction takes.
	BatchSize int
	// Retries is how many times a failing event is retried (with
	// exponential backoff) before it goes to dead_letters.
	Retries int
	// Concurrency is how many projections may apply a batch at once while
	// IngestBusy says ingest is under way. The default, half the CPUs (at
	// least one), leaves the rest to ingest: a projection's batch keeps a
	// CPU busy between the handler and PostgreSQL, and four at once on two
	// cores took CPU from the webhook while doing no more per second.
	Concurrency int
	// IngestBusy reports whether this process is ingesting right now. While
	// it is, Concurrency applies; when it is not, every projection applies
	// its batches at once, to catch up after a burst sooner. Nil means
	// always busy: Concurrency always applies.
	IngestBusy func() bool
	// AckDeadline is how long one batch may take before watermill gives
	// up on it, rolls it back and reads it again.
	AckDeadline time.Duration
	// Observer hears about applied events and failures (metrics); may be nil.
	Observer Observer
}

// Observer hears what the projector does.
type Observer interface {
	Applied(projection string, took time.Duration)
	Failed(projection string)
	DeadLettered(projection string)
	// RebuildProgress hears how far the rebuild a projector runs itself
	// (read models built under other rules or an older release) has read.
	RebuildProgress(projection string, read, total int64)
}

func (o *Options) defaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
	if o.Retries <= 0 {
		o.Retries = 3
	}
	if o.Concurrency <= 0 {
		o.Concurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if o.AckDeadline <= 0 {
		o.AckDeadline = 5 * time.Second
	}
}

// Projector runs every projection as a watermill consumer group over the log.
type Projector struct {
	pool        *pgxpool.Pool
	log         *logrus.Logger
	rules       *rules.Rules
	projections []projection
	opts        Options
	// slots holds a token for each batch being applied (Options.Concurrency).
	slots chan struct{}
	// lagCap is how many events States counts one by one (see States).
	lagCap int64
	// refused holds, by projection name, why this process does not project
	// it now (guard), for its admin view: the reason in projection_status
	// is shared by every process, and was another's.
	refused sync.Map
	// shadowChunkRows is how many rows a rebuild writes per transaction
	// from Go, and shadowChunkPages how many pages it copies per
	// transaction from one shadow state table into another (smaller in
	// tests).
	shadowChunkRows  int
	shadowChunkPages int64
}

// NewProjector returns a projector for every projection, judged under r.
func NewProjector(pool *pgxpool.Pool, r *rules.Rules, log *logrus.Logger, opts Options) *Projector {
	opts.defaults()
	return &Projector{pool: pool, log: log, rules: r, projections: All(r), opts: opts,
		slots: make(chan struct{}, opts.Concurrency), lagCap: 100000,
		shadowChunkRows: shadowChunkRows, shadowChunkPages: shadowChunkPages}
}

// Run projects until ctx ends. Several processes may run it on one database:
// a consumer group's position row is locked while a batch is applied, so
// each event is applied once per projection.
func (p *Projector) Run(ctx context.Context) error {
	// The presence is held until Run returns, whatever ends it: held until
	// ctx ended, a Run failing early waited for it for ever, its locks
	// telling every node the projections were projected.
	presenceCtx, letGo := context.WithCancel(ctx)
	present := make(chan struct{})
	go func() {
		defer close(present)
		p.holdPresence(presenceCtx)
	}()
	defer func() { letGo(); <-present }()
	polls := &pollErrors{every: 10 * time.Second, log: p.log.WithField("component", "projector")}
	wlog := logrusAdapter{e: p.log.WithField("component", "projector"), stopping: func() bool { return ctx.Err() != nil }}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	var stale []string
	// The guard holds only once every subscriber has subscribed: watermill
	// begins a transaction to subscribe too, and a refusal there fails the
	// whole router (a test saw the projector stop). Until then the handler's
	// own check inside each batch is the guard.
	subscribed := &atomic.Bool{}
	go func() {
		select {
		case <-router.Running():
			subscribed.Store(true)
		case <-ctx.Done():
		}
	}()
	for _, proj := range p.projections {
		judged, err := p.recordRules(ctx, proj)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !judged.is(p.rules) {
			stale = append(stale, proj.Name())
			if judged.version == p.rules.Version && !judged.sameRules(p.rules) {
				p.log.WithFields(logrus.Fields{"projection": proj.Name(), "rules_version": p.rules.Version}).
					Warn("the rules file changed but kept its version: re-judging the log under it; give changed rules a new version, so that answers tell the two apart")
			}
		}
		ackDeadline := p.opts.AckDeadline
		found := &atomic.Int64{}
		sub, err := wsql.NewSubscriber(lockingBeginner{wsql.BeginnerFromPgx(p.pool), proj.Name(), p.guard(proj, subscribed)}, wsql.SubscriberConfig{
			ConsumerGroup: proj.Name(),
			// A batch whose connection died is abandoned after this and read
			// again, instead of retrying on a dead transaction for 30 s.
			AckDeadline:    &ackDeadline,
			PollInterval:   p.opts.PollInterval,
			ResendInterval: 200 * time.Millisecond,
			RetryInterval:  time.Second,
			SchemaAdapter:  eventsSchema{batchSize: p.opts.BatchSize, found: found},
			OffsetsAdapter: offsetsAdapter(),
			BackoffManager: pacing{found: found, full: int64(p.opts.BatchSize), gather: p.opts.PollInterval, polls: polls,
				fallback: wsql.NewDefaultBackoffManager(p.opts.PollInterval, time.Second)},
		}, wlog)
		if err != nil {
			return fmt.Errorf("projector: subscriber %s: %w", proj.Name(), err)
		}
		// The handler retries and dead-letters single events itself; an
		// error it returns means the transaction is lost, and watermill rolls
		// it back and reads the batch again.
		router.AddConsumerHandler(proj.Name(), topic, sub, p.handler(ctx, proj)).AddMiddleware(lockTx)
	}
	if err := p.rejudge(ctx, stale); err != nil {
		return nil // stopped
	}
	if err := router.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil // stopped, perhaps while still subscribing: not an error
}

// recordRules registers a projection the first time it runs, and returns
// the rules its read model was judged under. A projection new to the
// database has judged nothing yet, so the whole log it will project is
// judged under these rules. A read model recorded before documents were
// (migration 0005) takes this process's document when the versions agree:
// the version is all that can be compared then.
//
// It also creates the consumer group's position row, so that the first batch
// already has a row to lock: without it, two processes starting on a fresh
// database would both take the first batch.
func (p *Projector) recordRules(ctx context.Context, proj projection) (j judged, err error) {
	var b pgx.Batch
	b.Queue(`INSERT INTO projection_status (name, rules_version, rules_document, built_by_schema) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
		proj.Name(), p.rules.Version, string(p.rules.Document), eventstore.LatestVersion())
	b.Queue(`UPDATE projection_status SET rules_document = $3 WHERE name = $1 AND rules_version = $2 AND rules_document IS NULL`,
		proj.Name(), p.rules.Version, string(p.rules.Document))
	b.Queue(`INSERT INTO projection_offsets (consumer_group, offset_acked, last_processed_transaction_id)
		VALUES ($1, 0, '0') ON CONFLICT DO NOTHING`, proj.Name())
	b.Queue(`SELECT rules_version, coalesce(rules_document, ''), built_by_schema FROM projection_status WHERE name = $1`, proj.Name()).QueryRow(func(row pgx.Row) error {
		return row.Scan(&j.version, &j.document, &j.schema)
	})
	if err := p.pool.SendBatch(ctx, &b).Close(); err != nil {
		return judged{}, fmt.Errorf("projector: register %s: %w", proj.Name(), err)
	}
	return j, nil
}

// rejudge rebuilds the projections judged under other rules than these
// before any of them applies a live event. Applied live, a report would
// take its message's old contribution out as these rules compute it, not
// as the read model holds it: a rate card priced in another currency left
// a carrier with -1 pending messages. Rebuilding re-judges the whole log
// (design.md: rules are projection-time), and reads go on meanwhile.
//
// A failed rebuild is tried again, with backoff, until it succeeds or ctx
// ends (its only error); the live projector does not start before.
func (p *Projector) rejudge(ctx context.Context, stale []string) error {
	if len(stale) == 0 {
		return nil
	}
	names := stale
	if len(stale) == len(p.projections) {
		names = []string{"all"} // one pass over the log for all of them
	}
	log := p.log.WithFields(logrus.Fields{"projections": stale, "rules_version": p.rules.Version})
	log.Warn("these read models were built under other rules, or a migration asks for them to be rebuilt: rebuilding them before projecting")
	// Its progress goes where an asked-for rebuild's goes: after an
	// upgrade, this is the rebuild an operator watches, and the metrics
	// showed nothing of it.
	var progress func(Progress)
	if p.opts.Observer != nil {
		progress = func(pr Progress) { p.opts.Observer.RebuildProgress(pr.Name, pr.Read, pr.Total) }
	}
	wait := time.Second
	for _, n := range names {
		for {
			_, err := p.Rebuild(ctx, n, progress)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, ErrRebuildRunning) {
				// Another process (started with us, say) is rebuilding: once
				// it is done under these same rules, there is nothing left.
				log.Infof("another process is rebuilding; looking again in %s", wait)
			} else {
				log.WithError(err).Errorf("rebuild under the new rules failed; trying again in %s", wait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 30*time.Second)
			if done, err := p.judgedUnderThese(ctx, n); err == nil && done {
				break
			}
		}
	}
	log.Info("read models rebuilt under the new rules")
	return nil
}

// judgedUnderThese reports whether name ("all" or one projection) is now
// recorded as judged under this process's rules.
func (p *Projector) judgedUnderThese(ctx context.Context, name string) (bool, error) {
	projs, err := p.find(name)
	if err != nil {
		return false, err
	}
	for _, proj := range projs {
		judged, err := judgedUnder(ctx, p.pool, proj.Name())
		if err != nil || !judged.is(p.rules) {
			return false, err
		}
	}
	return true, nil
}

// rowQuerier is a pool or a transaction, for one row.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// judged is the rules a read model was built under, as projection_status
// records them.
type judged struct {
	version string
	// document is the rules' Document; "" for a read model recorded before
	// documents were, when the version is all there is to compare.
	document string
	// schema is the schema version of the release that built the read
	// model (its first run, or its last rebuild); 0 before migration 0007.
	schema int
}

// readModelSchema is the first schema whose releases fold the log as this
// one does: a read model built by a release before it is rebuilt, even
// under the same rules. Migration 0007 came with every calling code's
// country (a read model built before holds UNKNOWN for most of them), 0008
// with sender numbers read through their separators (one built before
// holds false violations), 0009 with a violation counted under its
// sender's one spelling (one built before has a row per spelling) and SLA
// buckets up to 90 days (one built before has its two-day overflow in an
// ordinary bucket) and cost sums that no longer wrap (one built before
// may hold a wrapped total). It is the schema recorded, not a flag a migration resets: an older
// release's rebuild that ends after the migration (it began before) left
// its read model marked fresh, for good.
const readModelSchema = 9

// nameBeside names these rules for a message that sets them beside r:
// by version, or, when r has the same version, as another file of it.
func (j judged) nameBeside(r *rules.Rules) string {
	if j.version == r.Version {
		return fmt.Sprintf("another rules file of the same version %q", j.version)
	}
	return fmt.Sprintf("rules %q", j.version)
}

// is reports whether the read model was judged under r, by a release that
// folds the log as this one does.
func (j judged) is(r *rules.Rules) bool {
	return j.sameRules(r) && j.current()
}

// sameRules reports whether the read model was judged under r.
func (j judged) sameRules(r *rules.Rules) bool {
	return j.version == r.Version && (j.document == "" || j.document == string(r.Document))
}

// current reports whether a release that folds the log as this one does
// built the read model.
func (j judged) current() bool { return j.schema >= readModelSchema }

// judgedUnder returns the rules projection_status records for the
// projection name (versioned, or bare: "carrier_costs"); pgx.ErrNoRows
// (wrapped) before a projector has registered it.
func judgedUnder(ctx context.Context, q rowQuerier, name string) (judged, error) {
	var j judged
	err := q.QueryRow(ctx, `SELECT rules_version, coalesce(rules_document, ''), built_by_schema FROM projection_status
		WHERE name = $1 OR split_part(name, '.', 1) = $1`, name).Scan(&j.version, &j.document, &j.schema)
	if err != nil {
		return judged{}, fmt.Errorf("rules of %s: %w", name, err)
	}
	return j, nil
}

// pacing decides how long a subscriber waits before its next poll. A full
// batch means a backlog: poll again at once. A partial one means the
// projection is caught up: wait before polling again so that the next batch
// gathers more events, since each batch costs a poll, a transaction and its
// round trips whatever its size. A busy log (a poll found busyBatch events
// or more) waits busyWaits intervals: under heavy ingest that turns batches
// of a few hundred events into batches of thousands, a third less CPU per
// event, for half a second of staleness. A quiet log keeps one interval and
// its low lag. Errors and empty polls are left to watermill's default
// manager.
type pacing struct {
	found    *atomic.Int64
	full     int64
	gather   time.Duration
	fallback wsql.BackoffManager
	// polls logs failed polls, spaced out, and the first that works again
	// (may be nil: watermill's fallback logs each).
	polls *pollErrors
}

const (
	busyBatch = 100
	busyWaits = 10
)

func (p pacing) HandleError(logger watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if p.polls != nil {
		if err == nil {
			p.polls.succeeded()
		} else {
			// The fallback decides the wait; a wait means it would have
			// logged the error (a deadlock is retried at once, quietly).
			wait := p.fallback.HandleError(watermill.NopLogger{}, noMsg, err)
			if wait > 0 {
				p.polls.failed(logger, err)
			}
			return wait
		}
	}
	if err != nil || noMsg {
		return p.fallback.HandleError(logger, noMsg, err)
	}
	switch found := p.found.Load(); {
	case found >= p.full:
		return 0
	case found >= busyBatch:
		return busyWaits * p.gather
	default:
		return p.gather
	}
}

// handler applies one batch message: it reads the batch's events with their
// messages' prior states, folds them in memory and writes the result in the
// subscriber's transaction: one upsert of every message state the batch
// touched and one write per read-model row it moved, with the new position.
//
// If those writes fail, the batch is split until the events at fault are
// alone (applyBatch), so one bad event is dead-lettered and the rest still
// count.
func (p *Projector) handler(running context.Context, proj projection) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		r, err := rangeOf(msg)
		if err != nil {
			return err
		}
		tx, err := txOf(msg)
		if err != nil {
			return err
		}
		ctx := msg.Context()
		if p.opts.IngestBusy == nil || p.opts.IngestBusy() {
			select {
			case p.slots <- struct{}{}:
				defer func() { <-p.slots }()
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// In a savepoint: should the handler fail half-way, watermill sends
		// the batch again in this same transaction, which must not see the
		// first attempt's writes.
		err = eventstore.InTx(ctx, tx, func(tx pgx.Tx) error {
			if err := p.mayProject(ctx, tx, proj); err != nil {
				return err
			}
			events, err := readRange(ctx, tx, proj.StateTable(), r)
			if err != nil {
				return fmt.Errorf("%s: %w", proj.Name(), err)
			}
			if len(events) == 0 {
				return nil
			}
			return p.applyBatch(ctx, tx, proj, events)
		})
		switch {
		case err == nil || running.Err() != nil: // done, or a shutdown
		case refusal(err):
			p.refuse(proj, err)
			// Let go of the batch at once. Returned, the error would have
			// watermill send the batch again in this same transaction
			// until its ack deadline: 5 s holding the position row and an
			// xid that held back every consumer, the one that should take
			// over included. Acked instead, with the position left where
			// it is (offsets.AckMessageQuery), the transaction commits
			// nothing and ends, and the guard refuses the next one.
			if _, markErr := tx.Exec(ctx, `SELECT set_config('cxsms.refused', 'on', true)`); markErr == nil {
				return nil
			}
		case p.isRefused(proj.Name()):
			// What follows a refusal in the same transaction ("tx is
			// closed", its ack deadline) is this process's, and the
			// refusal says it: written to projection_status, it showed on
			// every node as the reason a projection stood still.
		default:
			p.noteFailure(ctx, proj, err)
		}
		return err
	}
}

// refusal reports whether err is mayProject's: this process may not apply
// batches to the read model now.
func refusal(err error) bool {
	return errors.Is(err, ErrOtherRules) || errors.Is(err, eventstore.ErrSchemaNewer)
}

// refuse records why this process does not project proj, for its own admin
// view (the reason in projection_status is shared by every process, and
// would be taken for another's), logs it once and counts it. The presence
// lock of proj is let go (holdPresence), so other nodes can tell when no
// process projects it.
func (p *Projector) refuse(proj projection, err error) {
	if old, _ := p.refused.Swap(proj.Name(), err.Error()); old != err.Error() {
		p.log.WithField("projection", proj.Name()).Error(err.Error())
	}
	if p.opts.Observer != nil {
		p.opts.Observer.Failed(proj.Name())
	}
}

func (p *Projector) isRefused(name string) bool {
	_, ok := p.refused.Load(name)
	return ok
}

// mayProject says why this process must not apply a batch to proj's read
// model now, or nil: a newer release migrated the database (the projector
// waits at start for that, but a process already running must stop too: it
// went on writing read models the newer code reads otherwise), or the read
// model holds other rules (sameRules).
func (p *Projector) mayProject(ctx context.Context, q rowQuerier, proj projection) error {
	if err := eventstore.CheckSchema(ctx, q); err != nil {
		return fmt.Errorf("%s: not projecting: %w", proj.Name(), err)
	}
	return p.sameRules(ctx, q, proj)
}

// guard is what a subscriber asks before it begins a batch's transaction
// (lockingBeginner): a process that may not project must not take the
// position row either, or it held it, batch after refused batch, while the
// process whose rules the read model holds waited 5 s for each of its own.
// A pass holds for a second (the handler checks again inside the batch);
// a refusal is kept for this process's admin view, and asked again each
// time.
func (p *Projector) guard(proj projection, subscribed *atomic.Bool) func(context.Context) error {
	var passedAt atomic.Int64
	return func(ctx context.Context) error {
		// A pass is trusted for a second, unless a batch was refused since.
		if !subscribed.Load() || (!p.isRefused(proj.Name()) && time.Since(time.Unix(0, passedAt.Load())) < time.Second) {
			return nil
		}
		if err := p.mayProject(ctx, p.pool, proj); err != nil {
			if ctx.Err() != nil || eventstore.Unavailable(err) {
				return err // watermill logs and retries those as any other
			}
			// Said once, not on every poll (watermill's own line for it
			// is kept to debug: logrusAdapter.Error).
			p.refuse(proj, err)
			return fmt.Errorf("%w: %w", errRefused, err)
		}
		if _, was := p.refused.LoadAndDelete(proj.Name()); was {
			p.log.WithField("projection", proj.Name()).Info("projecting again")
		}
		passedAt.Store(time.Now().UnixNano())
		return nil
	}
}

// errRefused marks a batch this process may not begin (guard).
var errRefused = errors.New("not projecting")

// sameRules refuses to apply a batch to a read model another process has
// rebuilt under other rules: folding this process's judgments into it would
// mix the two for good (a tester's two processes, one started with another
// RULES_FILE, left costs and compliance that neither rules give). The
// projection stands still, failing with the reason, until the processes
// agree; the one whose rules the read model holds goes on.
func (p *Projector) sameRules(ctx context.Context, q rowQuerier, proj projection) error {
	judged, err := judgedUnder(ctx, q, proj.Name())
	if err != nil {
		return err
	}
	if !judged.sameRules(p.rules) {
		return fmt.Errorf("%s: %w: it was built under %s and this process runs %q: "+
			"not applying events until every process projecting this database runs the same RULES_FILE",
			proj.Name(), ErrOtherRules, judged.nameBeside(p.rules), p.rules.Version)
	}
	if !judged.current() {
		return fmt.Errorf("%s: %w: it was built by an earlier release (schema %d), which folds the log otherwise: "+
			"not applying events until it is rebuilt (a serve or cxsms project of this release starting rebuilds it; or run cxsms rebuild all)",
			proj.Name(), ErrOtherRules, judged.schema)
	}
	return nil
}

// noteFailure records why a batch failed as a whole, for the admin view:
// watermill reads the batch again, and until then the projection stands
// still with no dead letter to show for it.
func (p *Projector) noteFailure(batch context.Context, proj projection, err error) {
	// Counted, as a failing event is: a batch refused whole (other rules in
	// the read model, an ack deadline) left cxsms_projection_errors_total
	// at zero while the projection stood still.
	if p.opts.Observer != nil {
		p.opts.Observer.Failed(proj.Name())
	}
	reason := err.Error()
	if batch.Err() != nil {
		reason = fmt.Sprintf("a batch took longer than its %s ack deadline and is read again: %v", p.opts.AckDeadline, err)
		// watermill's own line for this error is kept to debug, as every
		// cancellation is (logrusAdapter.Error): say it here.
		p.log.WithField("projection", proj.Name()).Error(reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := p.pool.Exec(ctx, `UPDATE projection_status SET last_error = $2, last_error_at = now() WHERE name = $1`,
		proj.Name(), reason); err != nil {
		p.log.WithError(err).WithField("projection", proj.Name()).Warn("could not record the batch's failure")
	}
}

// touched is a message's newest state as a batch folds it, and whether its
// state row exists in the projection's state table.
type touched struct {
	m     domain.Message
	known bool
}

// applyBatch folds events (in log order, each with its prior state) and
// writes the batch in one round trip.
//
// Should the write fail, the batch is split in halves, each written on its
// own, down to the single event that fails: that one is retried, then
// dead-lettered, and the rest still count. One bad event in 2,000 costs
// about twenty writes; applying them one by one cost 2,000, more than the
// batch's ack deadline allows.
func (p *Projector) applyBatch(ctx context.Context, tx pgx.Tx, proj projection, events []Event) error {
	err := p.writeBatch(ctx, tx, proj, events, nil)
	if err == nil || lost(ctx, err) {
		return err
	}
	p.log.WithError(err).WithField("projection", proj.Name()).Warn("batch write failed; splitting it to find the events at fault")
	// written carries the states of the parts already written: the events
	// of a later part fold from them, not from the prior states read with
	// the batch.
	return p.applyHalves(ctx, tx, proj, events, map[string]touched{})
}

// applyHalves writes each half of a part that failed on its own, splitting
// again a half that fails too; a single event that keeps failing is
// dead-lettered (applyOne).
func (p *Projector) applyHalves(ctx context.Context, tx pgx.Tx, proj projection, events []Event, written map[string]touched) error {
	half := len(events) / 2
	for _, part := range [][]Event{events[:half], events[half:]} {
		var err error
		switch len(part) {
		case 0:
			continue
		case 1:
			err = p.applyOne(ctx, tx, proj, part[0], written)
		default:
			if err = p.writeBatch(ctx, tx, proj, part, written); err != nil && !lost(ctx, err) {
				err = p.applyHalves(ctx, tx, proj, part, written)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// applyOne writes a single event, retrying a few times, and dead-letters it
// if it still fails. Only an error that loses the transaction is returned.
func (p *Projector) applyOne(ctx context.Context, tx pgx.Tx, proj projection, e Event, written map[string]touched) error {
	var err error
	backoff := 20 * time.Millisecond
	for attempt := 0; attempt <= p.opts.Retries; attempt++ {
		if attempt > 0 {
			if p.opts.Observer != nil {
				p.opts.Observer.Failed(proj.Name())
			}
			// The batch's ack deadline bounds the retries: past it the
			// transaction is rolled back and the batch read again.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 3
		}
		if err = p.writeBatch(ctx, tx, proj, []Event{e}, written); err == nil || lost(ctx, err) {
			return err
		}
	}
	if p.opts.Observer != nil {
		p.opts.Observer.Failed(proj.Name())
	}
	return p.recordDeadLetter(ctx, tx, proj, e, err)
}

// errTxLost marks a write after which the transaction is unusable.
var errTxLost = errors.New("transaction lost")

// lost reports whether err ends the batch: its transaction is gone, or its
// ack deadline (or a shutdown) ended ctx. Watermill then reads it again.
func lost(ctx context.Context, err error) bool {
	return errors.Is(err, errTxLost) || ctx.Err() != nil
}

// writeBatch folds events and writes the result in a savepoint: every
// message state the events touch, the read-model rows they move and the new
// position, in one round trip. On failure the savepoint is rolled back and
// nothing of the batch remains. On success written, when not nil, is
// brought up to date (see queueFold).
func (p *Projector) writeBatch(ctx context.Context, tx pgx.Tx, proj projection, events []Event, written map[string]touched) error {
	start := time.Now()
	var b pgx.Batch
	b.Queue(`SAVEPOINT flush`)
	finals := queueFold(&b, proj, events, written)
	queuePosition(&b, proj.Name(), events[len(events)-1])
	// A batch that applies clears the last error once no dead letter waits
	// for a replay: one fixed long ago stayed in the admin view, in red, on
	// a live projection. Its time stays.
	b.Queue(`UPDATE projection_status SET last_error = '' WHERE name = $1 AND last_error <> ''
		AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE projection = $1 AND replayed_at IS NULL)`, proj.Name())
	b.Queue(`RELEASE SAVEPOINT flush`)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		if _, rbErr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT flush`); rbErr != nil {
			return fmt.Errorf("%s: write batch: %w", proj.Name(), errors.Join(err, rbErr, errTxLost))
		}
		return fmt.Errorf("%s: write batch: %w", proj.Name(), err)
	}
	if written != nil {
		for _, t := range finals {
			written[t.m.MessageID] = touched{t.m, true}
		}
	}
	if p.opts.Observer != nil {
		per := time.Since(start) / time.Duration(len(events))
		for range events {
			p.opts.Observer.Applied(proj.Name(), per)
		}
	}
	return nil
}

// queueFold folds events into their messages' states and queues the writes:
// one insert of the new states, one upsert of the known ones, and the
// read-model rows they move. A message's state before the events comes from
// written when a part of the same batch wrote it already (written may be
// nil), else from the event's Prior. It returns the states it queued.
func queueFold(b *pgx.Batch, proj projection, events []Event, written map[string]touched) []touched {
	index := make(map[string]int, len(events)) // message ID -> index in finals
	finals := make([]touched, 0, len(events))
	d := proj.NewDelta()
	for i := range events {
		e := &events[i]
		var before domain.Message
		existed := false
		j, seen := index[e.MessageID]
		if seen {
			before, existed = finals[j].m, true // folded earlier in this batch: newer
		} else if w, ok := written[e.MessageID]; ok {
			before, existed = w.m, true
		} else if e.Prior != nil {
			before, existed = *e.Prior, true
		}
		after := before.Apply(e.StatusReceived)
		if seen {
			finals[j].m = after
		} else {
			index[e.MessageID] = len(finals)
			finals = append(finals, touched{after, existed})
		}
		d.Add(*e, before, existed, after)
	}
	fresh := make([]domain.Message, 0, len(finals))
	known := make([]domain.Message, 0, len(finals))
	for _, t := range finals {
		if t.known {
			known = append(known, t.m)
		} else {
			fresh = append(fresh, t.m)
		}
	}
	queueSaveStates(b, proj.StateTable(), fresh, known)
	d.Queue(b)
	return finals
}

// recordDeadLetter records e as failed in proj, moves the projection past
// it, and notes the error for the admin view, all in tx.
func (p *Projector) recordDeadLetter(ctx context.Context, tx pgx.Tx, proj projection, e Event, cause error) error {
	var b pgx.Batch
	b.Queue(`INSERT INTO dead_letters (projection, transaction_id, "offset", message_id, event_id, error)
		VALUES ($1, $2::text::xid8, $3, $4, $5, $6)
		ON CONFLICT (projection, transaction_id, "offset") DO UPDATE SET error = EXCLUDED.error, failed_at = now(), replayed_at = NULL`,
		proj.Name(), fmt.Sprint(e.Pos.TransactionID), e.Pos.Offset, e.MessageID, e.EventID, cause.Error())
	b.Queue(`UPDATE projection_status SET last_error = $2, last_error_at = now() WHERE name = $1`, proj.Name(), cause.Error())
	queuePosition(&b, proj.Name(), e)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return err
	}
	p.log.WithError(cause).WithFields(logrus.Fields{"projection": proj.Name(), "message_id": e.MessageID}).Error("event dead-lettered")
	if p.opts.Observer != nil {
		p.opts.Observer.DeadLettered(proj.Name())
	}
	return nil
}

// logrusAdapter lets watermill log through logrus. watermill asks for
// loggers with fields (With) and logs at debug level on every poll, so the
// fields are only merged into a logrus entry when a line is actually written.
type logrusAdapter struct {
	e      *logrus.Entry
	fields watermill.LogFields
	// stopping reports whether the projector is shutting down, when
	// watermill's errors about the batches it cancels are expected.
	stopping func() bool
}

// pollErrors spaces out the line each subscriber logs when its poll fails:
// while PostgreSQL was down, the four logged one a second each, 16,000 an
// hour at level error, burying whatever else was said. One is logged at
// once, then at most one per interval, with the count of those held back;
// and the first poll that works again says so, or the log ended on errors
// long after the projections were back.
type pollErrors struct {
	every   time.Duration
	log     *logrus.Entry
	failing atomic.Bool
	mu      sync.Mutex
	last    time.Time
	held    int
}

// failed logs a failed poll through logger, unless one was logged less
// than an interval ago; then it is counted for the next line.
func (p *pollErrors) failed(logger watermill.LoggerAdapter, err error) {
	p.failing.Store(true)
	p.mu.Lock()
	now := time.Now()
	if !p.last.IsZero() && now.Sub(p.last) < p.every {
		p.held++
		p.mu.Unlock()
		return
	}
	held := p.held
	p.last, p.held = now, 0
	p.mu.Unlock()
	logger.Error("polling the log failed (logged at most once every "+p.every.String()+")", err, watermill.LogFields{"heldBack": held})
}

// succeeded hears that a poll worked; the first after failures is logged.
func (p *pollErrors) succeeded() {
	if !p.failing.Load() || !p.failing.CompareAndSwap(true, false) {
		return
	}
	p.mu.Lock()
	held := p.held
	p.last, p.held = time.Time{}, 0
	p.mu.Unlock()
	p.log.WithField("heldBack", held).Info("polling the log again")
}

func (l logrusAdapter) entry(f watermill.LogFields) *logrus.Entry {
	return l.e.WithFields(logrus.Fields(l.fields.Add(f)))
}

func (l logrusAdapter) Error(msg string, err error, f watermill.LogFields) {
	// A stop cancels the batch in flight, and watermill reports its
	// rollback as an error on every clean shutdown; the batch is read again
	// on the next start. A batch cancelled by its ack deadline is reported
	// by the handler (Projector.noteFailure).
	if errors.Is(err, context.Canceled) || errors.Is(err, errRefused) || (l.stopping != nil && l.stopping()) {
		l.entry(f).WithError(err).Debug(msg)
		return
	}
	l.entry(f).WithError(err).Error(msg)
}

func (l logrusAdapter) Info(msg string, f watermill.LogFields) {
	// watermill's info lines are about its own lifecycle; ours say enough.
	if l.e.Logger.IsLevelEnabled(logrus.DebugLevel) {
		l.entry(f).Debug(msg)
	}
}
func (l logrusAdapter) Debug(msg string, f watermill.LogFields) {
	if l.e.Logger.IsLevelEnabled(logrus.TraceLevel) {
		l.entry(f).Trace(msg)
	}
}
func (l logrusAdapter) Trace(msg string, f watermill.LogFields) {}
func (l logrusAdapter) With(f watermill.LogFields) watermill.LoggerAdapter {
	return logrusAdapter{l.e, l.fields.Add(f), l.stopping}
}

package projections

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
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
	// Observer hears about applied events and failures (metrics); may be nil.
	Observer Observer
}

// Observer hears what the projector does.
type Observer interface {
	Applied(projection string, took time.Duration)
	Failed(projection string)
	DeadLettered(projection string)
}

func (o *Options) defaults() {
	if o.PollInterval <= 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Retries <= 0 {
		o.Retries = 3
	}
}

// Projector runs every projection as a watermill consumer group over the log.
type Projector struct {
	pool        *pgxpool.Pool
	log         *logrus.Logger
	rules       *rules.Rules
	projections []projection
	opts        Options
}

// NewProjector returns a projector for every projection, judged under r.
func NewProjector(pool *pgxpool.Pool, r *rules.Rules, log *logrus.Logger, opts Options) *Projector {
	opts.defaults()
	return &Projector{pool: pool, log: log, rules: r, projections: All(r), opts: opts}
}

// Run projects until ctx ends. Several processes may run it on one database:
// a consumer group's position row is locked while a batch is applied, so
// each event is applied once per projection.
func (p *Projector) Run(ctx context.Context) error {
	wlog := logrusAdapter{p.log.WithField("component", "projector")}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return fmt.Errorf("projector: %w", err)
	}
	for _, proj := range p.projections {
		if err := p.recordRules(ctx, proj); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		ackDeadline := 5 * time.Second
		st := &stage{}
		events := &inflight{}
		sub, err := wsql.NewSubscriber(lockingBeginner{wsql.BeginnerFromPgx(p.pool), proj.Name()}, wsql.SubscriberConfig{
			ConsumerGroup: proj.Name(),
			// A batch whose connection died is abandoned after this and read
			// again, instead of retrying on a dead transaction for 30 s.
			AckDeadline:    &ackDeadline,
			PollInterval:   p.opts.PollInterval,
			ResendInterval: 200 * time.Millisecond,
			RetryInterval:  time.Second,
			SchemaAdapter:  eventsSchema{batchSize: p.opts.BatchSize, stateTable: proj.StateTable(), inflight: events},
			OffsetsAdapter: offsetsAdapter(st.unflushed),
			BackoffManager: pacing{st: st, full: p.opts.BatchSize, gather: p.opts.PollInterval,
				fallback: wsql.NewDefaultBackoffManager(p.opts.PollInterval, time.Second)},
		}, wlog)
		if err != nil {
			return fmt.Errorf("projector: subscriber %s: %w", proj.Name(), err)
		}
		h := router.AddConsumerHandler(proj.Name(), topic, sub, p.handler(proj, st, events))
		h.AddMiddleware(
			lockTx,
			p.deadLetter(proj, events),
			middleware.Retry{
				MaxRetries:      p.opts.Retries,
				InitialInterval: 20 * time.Millisecond,
				MaxInterval:     time.Second,
				Multiplier:      3,
				Logger:          wlog,
			}.Middleware,
		)
	}
	if err := router.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil // stopped, perhaps while still subscribing: not an error
}

// recordRules notes which rules version a projection judges with, so the
// admin view can say when a rebuild is due.
func (p *Projector) recordRules(ctx context.Context, proj projection) error {
	_, err := p.pool.Exec(ctx, `INSERT INTO projection_status (name) VALUES ($1) ON CONFLICT DO NOTHING`, proj.Name())
	if err != nil {
		return fmt.Errorf("projector: register %s: %w", proj.Name(), err)
	}
	return nil
}

// stage holds what a projection's handler has folded in the current
// subscriber batch but not written yet.
type stage struct {
	mu      sync.Mutex
	tx      pgx.Tx
	states  map[string]stagedState // newest state per message in this batch
	pending []staged
	written int // events in the last batch written, for pacing
}

type stagedState struct {
	m       domain.Message
	existed bool
}

type staged struct {
	e       Event
	before  domain.Message
	existed bool
	after   domain.Message
}

// lastWritten is how many events the last batch wrote.
func (st *stage) lastWritten() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.written
}

// pacing decides how long a subscriber waits before its next poll. A full
// batch means a backlog: poll again at once. A partial one means the
// projection is caught up with a steady stream: wait a little so the next
// batch gathers more events, since each batch costs a poll, a transaction
// and a write whatever its size (polling back to back under load gave
// batches of a few events and most of the projectors' cost). Errors and
// empty polls are left to watermill's default manager.
type pacing struct {
	st       *stage
	full     int
	gather   time.Duration
	fallback wsql.BackoffManager
}

func (p pacing) HandleError(logger watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if err != nil || noMsg {
		return p.fallback.HandleError(logger, noMsg, err)
	}
	if p.st.lastWritten() >= p.full {
		return 0
	}
	return p.gather
}

// unflushed reports whether folded events wait to be written; the
// subscriber must not move the position past them (see offsets).
func (st *stage) unflushed() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.pending) > 0
}

// handler folds each event in memory and writes a whole subscriber batch at
// its last event, in the subscriber's transaction: one upsert for every
// message state the batch touched and one write per read-model row it moved,
// instead of several statements per event. The message's prior state came
// with the event (eventsSchema joins it); states folded earlier in the batch
// are newer and win.
//
// If the batch's writes fail, it falls back to one event at a time, each in
// a savepoint, so one bad event is dead-lettered and the rest still count.
func (p *Projector) handler(proj projection, st *stage, events *inflight) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		ev, err := events.get(msg)
		if err != nil {
			return err
		}
		e := *ev
		tx, err := txOf(msg)
		if err != nil {
			return err
		}
		ctx := msg.Context()
		st.mu.Lock()
		defer st.mu.Unlock()
		if tx != st.tx {
			st.tx, st.states, st.pending = tx, map[string]stagedState{}, nil
		}
		// A retry of the batch's last event must not fold it twice.
		if n := len(st.pending); n == 0 || st.pending[n-1].e.Pos != e.Pos {
			prior, ok := st.states[e.MessageID]
			switch {
			case ok:
			case e.PriorKnown:
				if e.Prior != nil {
					prior = stagedState{*e.Prior, true}
				}
			default:
				m, existed, err := loadState(ctx, tx, proj.StateTable(), e.MessageID)
				if err != nil {
					return err
				}
				prior = stagedState{m, existed}
			}
			after := prior.m.Apply(e.StatusReceived)
			st.states[e.MessageID] = stagedState{after, true}
			st.pending = append(st.pending, staged{e, prior.m, prior.existed, after})
		}
		if msg.Metadata.Get(lastInBatch) != "1" {
			return nil
		}
		return p.flush(ctx, tx, proj, st)
	}
}

// flush writes the staged events of st. The caller holds st.mu.
func (p *Projector) flush(ctx context.Context, tx pgx.Tx, proj projection, st *stage) error {
	start := time.Now()
	var b pgx.Batch
	b.Queue(`SAVEPOINT flush`)
	seen := map[string]int{}
	var finals []domain.Message
	d := proj.NewDelta()
	for _, s := range st.pending {
		if i, ok := seen[s.e.MessageID]; ok {
			finals[i] = s.after
		} else {
			seen[s.e.MessageID] = len(finals)
			finals = append(finals, s.after)
		}
		d.Add(s.e, s.before, s.existed, s.after)
	}
	queueSaveStates(&b, proj.StateTable(), finals)
	d.Queue(&b)
	queuePosition(&b, proj.Name(), st.pending[len(st.pending)-1].e)
	b.Queue(`RELEASE SAVEPOINT flush`)
	err := tx.SendBatch(ctx, &b).Close()
	if err == nil {
		if p.opts.Observer != nil {
			per := time.Since(start) / time.Duration(len(st.pending))
			for range st.pending {
				p.opts.Observer.Applied(proj.Name(), per)
			}
		}
		st.written = len(st.pending)
		st.pending = st.pending[:0]
		return nil
	}
	if _, rbErr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT flush`); rbErr != nil {
		return fmt.Errorf("%s: write batch: %w", proj.Name(), errors.Join(err, rbErr))
	}
	p.log.WithError(err).WithField("projection", proj.Name()).Warn("batch write failed; applying its events one by one")
	for _, s := range st.pending {
		if err := p.applyOne(ctx, tx, proj, s.e); err != nil {
			if err := p.recordDeadLetter(ctx, tx, proj, s.e, err); err != nil {
				return err
			}
		}
	}
	st.pending = st.pending[:0]
	// The states in st.states assumed every event applied; forget them.
	st.states = map[string]stagedState{}
	return nil
}

// applyOne applies one event in its own savepoint, retrying a few times.
func (p *Projector) applyOne(ctx context.Context, tx pgx.Tx, proj projection, e Event) error {
	var err error
	backoff := 20 * time.Millisecond
	for attempt := 0; attempt <= p.opts.Retries; attempt++ {
		if attempt > 0 {
			time.Sleep(backoff)
			backoff *= 3
		}
		err = eventstore.InTx(ctx, tx, func(sp pgx.Tx) error {
			if err := apply(ctx, sp, proj, e); err != nil {
				return err
			}
			var b pgx.Batch
			queuePosition(&b, proj.Name(), e)
			return sp.SendBatch(ctx, &b).Close()
		})
		if err == nil {
			if p.opts.Observer != nil {
				p.opts.Observer.Applied(proj.Name(), 0)
			}
			return nil
		}
		if p.opts.Observer != nil {
			p.opts.Observer.Failed(proj.Name())
		}
	}
	return err
}

// deadLetter sits outside the retries: if handling still fails (the batch
// could not be written even event by event, typically because the database
// went away), it tries to record the event in dead_letters in the same
// transaction; if even that fails, the error goes back to watermill, which
// rolls back and reads the batch again later: nothing is skipped silently.
func (p *Projector) deadLetter(proj projection, events *inflight) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err == nil {
				events.done(msg)
				return out, nil
			}
			ev, gerr := events.get(msg)
			if gerr != nil {
				return nil, errors.Join(err, gerr)
			}
			e := *ev
			tx, txErr := txOf(msg)
			if txErr != nil {
				return nil, errors.Join(err, txErr)
			}
			if dlErr := p.recordDeadLetter(msg.Context(), tx, proj, e, err); dlErr != nil {
				return nil, errors.Join(err, dlErr)
			}
			events.done(msg)
			return nil, nil
		}
	}
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

// logrusAdapter lets watermill log through logrus.
type logrusAdapter struct{ e *logrus.Entry }

func (l logrusAdapter) Error(msg string, err error, f watermill.LogFields) {
	l.e.WithFields(logrus.Fields(f)).WithError(err).Error(msg)
}
func (l logrusAdapter) Info(msg string, f watermill.LogFields) {
	// watermill's info lines are about its own lifecycle; ours say enough.
	l.e.WithFields(logrus.Fields(f)).Debug(msg)
}
func (l logrusAdapter) Debug(msg string, f watermill.LogFields) {
	l.e.WithFields(logrus.Fields(f)).Trace(msg)
}
func (l logrusAdapter) Trace(msg string, f watermill.LogFields) {}
func (l logrusAdapter) With(f watermill.LogFields) watermill.LoggerAdapter {
	return logrusAdapter{l.e.WithFields(logrus.Fields(f))}
}

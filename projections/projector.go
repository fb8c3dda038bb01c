package projections

import (
	"context"
	"encoding/json"
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
		sub, err := wsql.NewSubscriber(lockingBeginner{wsql.BeginnerFromPgx(p.pool), proj.Name()}, wsql.SubscriberConfig{
			ConsumerGroup: proj.Name(),
			// A batch whose connection died is abandoned after this and read
			// again, instead of retrying on a dead transaction for 30 s.
			AckDeadline:    &ackDeadline,
			PollInterval:   p.opts.PollInterval,
			ResendInterval: 200 * time.Millisecond,
			RetryInterval:  time.Second,
			SchemaAdapter:  eventsSchema{batchSize: p.opts.BatchSize, stateTable: proj.StateTable()},
			OffsetsAdapter: offsetsAdapter(),
		}, wlog)
		if err != nil {
			return fmt.Errorf("projector: subscriber %s: %w", proj.Name(), err)
		}
		h := router.AddConsumerHandler(proj.Name(), topic, sub, p.handler(proj))
		h.AddMiddleware(
			lockTx,
			p.deadLetter(proj),
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

// handler applies one event inside a savepoint of the subscriber's
// transaction: if it fails, only its own writes are undone and the
// transaction stays usable for the retry or the dead letter.
//
// One round trip per event: the message's prior state came with the event
// (eventsSchema joins it), and the savepoint, the state save, the read-model
// writes and the release go out as one pipelined batch. States written
// earlier in the same subscriber transaction are remembered, because the
// joined state of a message's second event in a batch predates its first.
func (p *Projector) handler(proj projection) message.NoPublishHandlerFunc {
	var (
		mu      sync.Mutex
		batchTx pgx.Tx
		written map[string]domain.Message
	)
	return func(msg *message.Message) error {
		start := time.Now()
		var e Event
		if err := json.Unmarshal(msg.Payload, &e); err != nil {
			return fmt.Errorf("decode event %s: %w", msg.UUID, err)
		}
		tx, err := txOf(msg)
		if err != nil {
			return err
		}
		ctx := msg.Context()
		mu.Lock()
		defer mu.Unlock()
		if tx != batchTx {
			batchTx, written = tx, map[string]domain.Message{}
		}
		var before domain.Message
		existed := false
		if m, ok := written[e.MessageID]; ok {
			before, existed = m, true
		} else if e.PriorKnown {
			if e.Prior != nil {
				before, existed = *e.Prior, true
			}
		} else if before, existed, err = loadState(ctx, tx, proj.StateTable(), e.MessageID); err != nil {
			return err
		}
		var b pgx.Batch
		b.Queue(`SAVEPOINT apply`)
		after := queueApply(&b, proj, e, before, existed)
		queuePosition(&b, proj.Name(), e)
		b.Queue(`RELEASE SAVEPOINT apply`)
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			if _, rbErr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT apply`); rbErr != nil {
				err = errors.Join(err, rbErr)
			}
			if p.opts.Observer != nil {
				p.opts.Observer.Failed(proj.Name())
			}
			return fmt.Errorf("%s: apply %s/%s: %w", proj.Name(), e.MessageID, e.EventID, err)
		}
		written[e.MessageID] = after
		if p.opts.Observer != nil {
			p.opts.Observer.Applied(proj.Name(), time.Since(start))
		}
		return nil
	}
}

// deadLetter sits outside the retries: an event that still fails is recorded
// in dead_letters, in the same transaction that moves the consumer group past
// it, and the projection goes on. If even that write fails (the database is
// gone), the error goes back to watermill, which rolls back and retries the
// whole batch later: nothing is skipped silently.
func (p *Projector) deadLetter(proj projection) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if err == nil {
				return out, nil
			}
			var e Event
			if jerr := json.Unmarshal(msg.Payload, &e); jerr != nil {
				return nil, errors.Join(err, jerr)
			}
			tx, txErr := txOf(msg)
			if txErr != nil {
				return nil, errors.Join(err, txErr)
			}
			ctx := msg.Context()
			_, dlErr := tx.Exec(ctx, `
				INSERT INTO dead_letters (projection, transaction_id, "offset", message_id, event_id, error)
				VALUES ($1, $2::text::xid8, $3, $4, $5, $6)
				ON CONFLICT (projection, transaction_id, "offset") DO UPDATE SET error = EXCLUDED.error, failed_at = now(), replayed_at = NULL`,
				proj.Name(), fmt.Sprint(e.Pos.TransactionID), e.Pos.Offset, e.MessageID, e.EventID, err.Error())
			if dlErr == nil {
				_, dlErr = tx.Exec(ctx, `UPDATE projection_status SET last_error = $2, last_error_at = now() WHERE name = $1`, proj.Name(), err.Error())
			}
			if dlErr == nil {
				var b pgx.Batch
				queuePosition(&b, proj.Name(), e)
				dlErr = tx.SendBatch(ctx, &b).Close()
			}
			if dlErr != nil {
				return nil, errors.Join(err, dlErr)
			}
			p.log.WithError(err).WithField("projection", proj.Name()).Error("event dead-lettered")
			if p.opts.Observer != nil {
				p.opts.Observer.DeadLettered(proj.Name())
			}
			return nil, nil
		}
	}
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

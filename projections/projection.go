package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
)

// projection is one read model: how to apply one event live, and how to
// rebuild the whole model from the log.
type projection interface {
	// Name is the consumer group, versioned: a new version replays the log.
	Name() string
	// Tables are the read-model tables a rebuild replaces.
	Tables() []string
	// StateTable holds the projection's own per-message state.
	StateTable() string
	// NewDelta starts collecting the read-model changes of a run of events
	// (the state rows themselves are saved by the caller).
	NewDelta() delta
	// NewRebuild starts an in-memory rebuild.
	NewRebuild() rebuild
}

// delta sums the changes a run of events makes to a read model, so a batch of
// events costs one write per touched row instead of one per event. It does
// no I/O.
type delta interface {
	// Add records the move of one message from before to after because of e.
	Add(e Event, before domain.Message, existed bool, after domain.Message)
	// Queue adds the summed writes to b.
	Queue(b *pgx.Batch)
}

// rebuild folds the log in memory and writes the result into shadow tables.
// Every projection folds messages the same way, so one messageFold, shared by
// all, holds the per-message state and fills every state table; a rebuild
// keeps only what is its own.
type rebuild interface {
	// Add sees each event after the shared fold has applied it; m is the
	// message's state after e.
	Add(e Event, m *domain.Message)
	// Rows are the read-model rows of each of Tables() but the state table,
	// from the finished fold. The shadow writer copies them in chunks, each
	// its own transaction: years of per-minute histograms are millions of
	// rows, and one long transaction would hold every projection's xmin
	// guard back while it ran.
	Rows(fold *messageFold) []tableRows
}

// tableRows are rows for one read-model table, in columns order.
type tableRows struct {
	table   string
	columns []string
	rows    [][]any
}

// measurer is a projection that also measures this service while it applies
// events live: slaLatency, the time from a report's 200 to its read model,
// kept in sla_ingest across rebuilds. A rebuild applies events to its
// shadows without measuring (Event.Shadow); its swap measures those the
// live projector had not reached, so each report counts once.
type measurer interface {
	// queueMeasure queues the measurements of events, each with its
	// message's state after it.
	queueMeasure(b *pgx.Batch, events []Event, after []domain.Message)
}

// All returns every projection, judged under r.
func All(r *rules.Rules) []projection {
	return []projection{
		currentStatus{},
		carrierCosts{rules: r},
		slaLatency{deliveryThreshold: time.Duration(r.SLA.DeliveryThresholdMs) * time.Millisecond},
		senderCompliance{rules: r},
	}
}

// apply folds e into proj's read model inside tx, loading the message's
// state. The live handler reads states with the batch (readRange); replays
// of dead letters use this.
func apply(ctx context.Context, tx pgx.Tx, proj projection, e Event) error {
	before, existed, err := loadState(ctx, tx, proj.StateTable(), e.MessageID)
	if err != nil {
		return err
	}
	e.Prior = nil
	if existed {
		e.Prior = &before
	}
	var b pgx.Batch
	queueFold(&b, proj, []Event{e}, nil)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return fmt.Errorf("%s: apply %s/%s: %w", proj.Name(), e.MessageID, e.EventID, err)
	}
	return nil
}

package projections

import (
	"context"

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
	// Apply folds one event into the read model, inside tx.
	Apply(ctx context.Context, tx pgx.Tx, e Event) error
	// NewRebuild starts an in-memory rebuild.
	NewRebuild() rebuild
}

// rebuild folds the log in memory and writes the result into shadow tables.
// Every projection folds messages the same way, so one messageFold, shared by
// all, holds the per-message state; a rebuild keeps only what is its own.
type rebuild interface {
	// Add sees each event after the shared fold has applied it; m is the
	// message's state after e.
	Add(e Event, m *domain.Message)
	// Write fills the tables named by shadow(table) for each of Tables().
	Write(ctx context.Context, tx pgx.Tx, fold *messageFold, shadow func(table string) string) error
}

// All returns every projection, judged under r.
func All(r *rules.Rules) []projection {
	return []projection{
		currentStatus{},
		carrierCosts{rules: r},
		slaLatency{},
		senderCompliance{rules: r},
	}
}

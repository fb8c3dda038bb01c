package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/domain"
)

// currentStatus keeps one row per message: the fold of its reports under the
// never-regress rules of domain.Message.Apply.
type currentStatus struct{}

func (currentStatus) Name() string     { return "current_status.v1" }
func (currentStatus) Tables() []string { return []string{"current_status"} }

func (currentStatus) Apply(ctx context.Context, tx pgx.Tx, e Event) error {
	var b pgx.Batch
	if _, _, _, err := foldState(ctx, tx, &b, "current_status", e); err != nil {
		return err
	}
	return sendBatch(ctx, tx, &b)
}

func (currentStatus) NewRebuild() rebuild { return currentStatusRebuild{} }

type currentStatusRebuild struct{}

func (currentStatusRebuild) Add(Event, *domain.Message) {}

func (currentStatusRebuild) Write(ctx context.Context, tx pgx.Tx, fold *messageFold, shadow func(string) string) error {
	return fold.copyStates(ctx, tx, shadow("current_status"))
}

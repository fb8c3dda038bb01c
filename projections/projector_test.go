package projections

import (
	"context"
	"io"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain/rules"
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

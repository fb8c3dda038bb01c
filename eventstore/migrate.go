package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/migrations"
)

// migrationLock is the advisory lock key that serializes migrations, so two
// processes starting at once apply each file exactly once.
const migrationLock = 0x6378736d73 // "cxsms"

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var out []migration
	for _, f := range files {
		num, _, ok := strings.Cut(f, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", f)
		}
		body, err := fs.ReadFile(migrations.FS, f)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", f, err)
		}
		out = append(out, migration{version: v, name: f, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share version %d", out[i-1].name, out[i].name, out[i].version)
		}
	}
	return out, nil
}

// ErrSchemaNewer means a newer release migrated the database: this binary's
// projections would write read models the newer code reads otherwise (a
// rollback, or an old process left running through an upgrade), so it
// refuses to migrate, project or rebuild, and /readyz says why.
var ErrSchemaNewer = errors.New("the database schema is newer than this binary")

func schemaNewer(current, latest int) error {
	return fmt.Errorf("%w: it is at version %d, this binary knows up to %d; run a release at least as new", ErrSchemaNewer, current, latest)
}

// CheckSchema returns ErrSchemaNewer when a newer release migrated the
// database q reaches: what writes read models (a rebuild, a replay) asks
// first, as the projector waits before it starts.
func CheckSchema(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) error {
	var v int
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return fmt.Errorf("eventstore: schema version: %w", classify(err))
	}
	if latest := LatestVersion(); v > latest {
		return schemaNewer(v, latest)
	}
	return nil
}

// LatestVersion is the newest migration embedded in this binary. /readyz
// asks on every probe; the embedded files never change, so they are read
// once.
var LatestVersion = sync.OnceValue(func() int {
	ms, err := loadMigrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
})

// Migrate applies every embedded migration not yet applied, all in one
// transaction under an advisory lock, so a failing one leaves the schema as
// it was. It is safe to run twice and from two
// processes at once. It returns the names of the files it applied.
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	ms, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	// An up-to-date schema needs nothing, not even the CREATE privilege:
	// serve may run as a role that can only read and write rows (migrate
	// run by the tables' owner), which was refused at CREATE TABLE IF NOT
	// EXISTS and retried for ever. A newer one is refused as such.
	var current int
	err = pool.QueryRow(ctx, `SELECT CASE WHEN to_regclass('schema_migrations') IS NULL THEN 0
		ELSE (SELECT coalesce(max(version), 0) FROM schema_migrations) END`).Scan(&current)
	if latest := ms[len(ms)-1].version; err == nil && current > latest {
		// Said as such, not as the CREATE such a role is refused below.
		return nil, fmt.Errorf("eventstore: migrate: %w", schemaNewer(current, latest))
	} else if err == nil && current == latest {
		return nil, nil
	}
	var applied []string
	err = InTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			name       text NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("read version: %w", err)
		}
		if latest := ms[len(ms)-1].version; current > latest {
			return schemaNewer(current, latest)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
			applied = append(applied, m.name)
		}
		return nil
	})
	if errors.Is(err, ErrSchemaNewer) {
		return nil, fmt.Errorf("eventstore: migrate: %w", err)
	}
	if err != nil {
		return nil, fmt.Errorf("eventstore: migrate: %w", classify(err))
	}
	return applied, nil
}

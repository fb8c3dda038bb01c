package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/eventstore"
)

var (
	// ErrUnknownProjection means a rebuild named no projection we have.
	ErrUnknownProjection = errors.New("unknown projection")
	// ErrRebuildRunning means another rebuild of that projection is under way.
	ErrRebuildRunning = errors.New("a rebuild of this projection is already running")
	// ErrAlreadyReplayed means a dead letter was applied already.
	ErrAlreadyReplayed = errors.New("already replayed")
)

// rebuildBatch is how many events one read of the log takes: large enough
// that a million events is fifty short statements, small enough that none
// holds back other consumers (see design.md on the xmin guard).
const rebuildBatch = 20000

// Progress is reported while a rebuild reads the log.
type Progress struct {
	Read  int64 // events read so far
	Total int64 // events in the log when the rebuild began (an estimate)
}

// RebuildResult says what a rebuild did.
type RebuildResult struct {
	Projections []string
	Events      int64
	Messages    int
	Took        time.Duration
	// Rate is events per second, reading through swapping.
	Rate float64
}

// Names lists the projections, for `cxsms rebuild` and the admin API.
func (p *Projector) Names() []string {
	out := make([]string, len(p.projections))
	for i, proj := range p.projections {
		out[i] = proj.Name()
	}
	return out
}

// find resolves "all", a versioned name or a bare name (current_status).
func (p *Projector) find(name string) ([]projection, error) {
	if name == "all" {
		return p.projections, nil
	}
	for _, proj := range p.projections {
		if proj.Name() == name || strings.SplitN(proj.Name(), ".", 2)[0] == name {
			return []projection{proj}, nil
		}
	}
	return nil, fmt.Errorf("%w %q (have: all, %s)", ErrUnknownProjection, name, strings.Join(p.Names(), ", "))
}

// Rebuild throws a projection's read model away and builds it again from the
// log, while the live projector and the reads go on:
//
//  1. the log is read in many short keyset batches and folded in memory;
//  2. in one transaction, the consumer group's position row is locked (the
//     live handler waits), the tail written since is folded in, shadow
//     tables are filled with COPY and renamed over the live ones, and the
//     consumer group is moved to where the rebuild stopped.
//
// Readers see the old tables until that commit and the new ones after it;
// never an error or an empty answer. name is a projection or "all".
func (p *Projector) Rebuild(ctx context.Context, name string, progress func(Progress)) (RebuildResult, error) {
	projs, err := p.find(name)
	if err != nil {
		return RebuildResult{}, err
	}
	start := time.Now()
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return RebuildResult{}, fmt.Errorf("rebuild %s: %w", name, err)
	}
	defer conn.Release()
	// Session advisory locks, one per projection, so two rebuilds (two
	// operators, two processes) never race on the same shadow tables.
	for _, proj := range projs {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey(proj.Name())).Scan(&ok); err != nil {
			return RebuildResult{}, fmt.Errorf("rebuild %s: lock: %w", proj.Name(), err)
		}
		if !ok {
			return RebuildResult{}, fmt.Errorf("rebuild %s: %w", proj.Name(), ErrRebuildRunning)
		}
		defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lockKey(proj.Name()))
	}

	var total int64
	if err := p.pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&total); err != nil {
		return RebuildResult{}, fmt.Errorf("rebuild: count events: %w", err)
	}
	fold := newMessageFold()
	rebuilds := make([]rebuild, len(projs))
	for i, proj := range projs {
		rebuilds[i] = proj.NewRebuild()
	}
	var pos eventstore.Position
	var read int64
	fold1 := func(batch []Event) {
		for _, e := range batch {
			m := fold.add(e)
			for _, r := range rebuilds {
				r.Add(e, m)
			}
		}
		if len(batch) > 0 {
			pos = batch[len(batch)-1].Pos
		}
		read += int64(len(batch))
		if progress != nil {
			progress(Progress{Read: read, Total: max(total, read)})
		}
	}
	feed := func(q querier) (int, error) {
		batch, err := readBatch(ctx, q, pos, rebuildBatch)
		if err != nil {
			return 0, err
		}
		fold1(batch)
		return len(batch), nil
	}
	// The fold keeps a large heap of long-lived state; collecting it less
	// often is most of a rebuild's CPU saved.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	// Read the next batch while folding this one: PostgreSQL and Go each
	// get a core.
	batches := make(chan []Event, 2)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		var at eventstore.Position
		for {
			batch, err := readBatch(ctx, p.pool, at, rebuildBatch)
			if err != nil {
				readErr <- err
				return
			}
			if len(batch) > 0 {
				at = batch[len(batch)-1].Pos
				batches <- batch
			}
			if len(batch) < rebuildBatch {
				return
			}
		}
	}()
	for batch := range batches {
		fold1(batch)
	}
	select {
	case err := <-readErr:
		return RebuildResult{}, fmt.Errorf("rebuild: %w", err)
	default:
	}

	// Take every connection the swap needs before locking anything: while
	// the swap holds the consumer groups' rows, live subscribers wait on them
	// holding pool connections, and a worker that then asked the pool could
	// wait for ever.
	workers := min(2, len(projs))
	conns := make([]*pgxpool.Conn, workers+1)
	for i := range conns {
		if conns[i], err = p.pool.Acquire(ctx); err != nil {
			return RebuildResult{}, fmt.Errorf("rebuild: connection: %w", err)
		}
		defer conns[i].Release()
	}
	var res RebuildResult
	err = eventstore.InTx(ctx, conns[0], func(tx pgx.Tx) error {
		for _, proj := range projs {
			if _, err := tx.Exec(ctx, `INSERT INTO projection_offsets (consumer_group, offset_acked, last_processed_transaction_id)
				VALUES ($1, 0, '0') ON CONFLICT DO NOTHING`, proj.Name()); err != nil {
				return err
			}
			// Holding this row stops the live handler between batches.
			if _, err := tx.Exec(ctx, `SELECT 1 FROM projection_offsets WHERE consumer_group = $1 FOR UPDATE`, proj.Name()); err != nil {
				return err
			}
		}
		for {
			n, err := feed(tx)
			if err != nil {
				return err
			}
			if n < rebuildBatch {
				break
			}
		}
		// Fill the shadow tables in parallel, each projection in its own
		// short transaction on its own connection, while this transaction
		// keeps the live handlers parked; then swap them all in here.
		if err := writeShadows(ctx, conns[1:], projs, rebuilds, fold); err != nil {
			return err
		}
		for _, proj := range projs {
			for _, t := range proj.Tables() {
				if _, err := tx.Exec(ctx, `ALTER TABLE `+t+` RENAME TO `+t+`_old; ALTER TABLE `+shadow(t)+` RENAME TO `+t+`; DROP TABLE `+t+`_old`); err != nil {
					return fmt.Errorf("swap %s: %w", t, err)
				}
				if err := restoreIndexNames(ctx, tx, t); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE projection_offsets SET offset_acked = $2, last_processed_transaction_id = $3::text::xid8
				WHERE consumer_group = $1`, proj.Name(), pos.Offset, strconv.FormatUint(pos.TransactionID, 10)); err != nil {
				return fmt.Errorf("move %s: %w", proj.Name(), err)
			}
			// The rebuild folded the dead-lettered events too: they are
			// applied now, and replaying one would count it twice.
			if _, err := tx.Exec(ctx, `UPDATE dead_letters SET replayed_at = now()
				WHERE projection = $1 AND replayed_at IS NULL
				  AND (transaction_id, "offset") <= ($2::text::xid8, $3)`,
				proj.Name(), strconv.FormatUint(pos.TransactionID, 10), pos.Offset); err != nil {
				return fmt.Errorf("settle dead letters of %s: %w", proj.Name(), err)
			}
		}
		res = RebuildResult{Events: read, Messages: len(fold.order), Took: time.Since(start)}
		res.Rate = float64(read) / res.Took.Seconds()
		for _, proj := range projs {
			res.Projections = append(res.Projections, proj.Name())
			_, err := tx.Exec(ctx, `INSERT INTO projection_status (name, rules_version, rebuilt_at, rebuild_rate, rebuild_events, last_error)
				VALUES ($1, $2, now(), $3, $4, '')
				ON CONFLICT (name) DO UPDATE SET rules_version = EXCLUDED.rules_version, rebuilt_at = now(),
					rebuild_rate = EXCLUDED.rebuild_rate, rebuild_events = EXCLUDED.rebuild_events, last_error = ''`,
				proj.Name(), p.rules.Version, res.Rate, read)
			if err != nil {
				return fmt.Errorf("record %s: %w", proj.Name(), err)
			}
		}
		return nil
	})
	if err != nil {
		return RebuildResult{}, fmt.Errorf("rebuild %s: %w", name, err)
	}
	return res, nil
}

// writeShadows creates and fills every projection's shadow tables, one
// connection each at a time (PostgreSQL does the COPY and index work in its
// own process for each connection, so two use both cores of a small machine).
func writeShadows(ctx context.Context, conns []*pgxpool.Conn, projs []projection, rebuilds []rebuild, fold *messageFold) error {
	errs := make([]error, len(projs))
	write := func(conn *pgxpool.Conn, i int) {
		proj := projs[i]
		errs[i] = eventstore.InTx(ctx, conn, func(tx pgx.Tx) error {
			// Indexes are built after the COPY: one sort per index
			// is about twice as fast as maintaining them row by row.
			for _, t := range proj.Tables() {
				if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+shadow(t)+`;
							CREATE TABLE `+shadow(t)+` (LIKE `+t+` INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`); err != nil {
					return fmt.Errorf("shadow of %s: %w", t, err)
				}
			}
			if err := rebuilds[i].Write(ctx, tx, fold, shadow); err != nil {
				return fmt.Errorf("%s: %w", proj.Name(), err)
			}
			for _, t := range proj.Tables() {
				if err := copyIndexes(ctx, tx, t, shadow(t)); err != nil {
					return err
				}
			}
			return nil
		})
	}
	// Every projection keeps the same per-message states: send them once,
	// for the first, and let the others copy that table server-side.
	write(conns[0], 0)
	if errs[0] != nil || len(projs) == 1 {
		return errs[0]
	}
	fold.copied = shadow(projs[0].StateTable())
	jobs := make(chan int)
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				write(conn, i)
			}
		}()
	}
	for i := 1; i < len(projs); i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return errors.Join(errs...)
}

func shadow(table string) string { return table + "_rebuild" }

// shadowSuffix marks the constraints and indexes of a shadow table until the
// swap gives them their tables' names back.
const shadowSuffix = "_rb"

// copyIndexes gives shadow the primary key, unique constraints and indexes
// of table, under suffixed names (index names are unique per schema).
func copyIndexes(ctx context.Context, tx pgx.Tx, table, shadowTable string) error {
	rows, err := tx.Query(ctx, `
		SELECT 'ALTER TABLE ' || quote_ident($2) || ' ADD CONSTRAINT ' || quote_ident(c.conname || $3) || ' ' || pg_get_constraintdef(c.oid)
		FROM pg_constraint c WHERE c.conrelid = $1::regclass AND c.contype IN ('p', 'u')
		UNION ALL
		SELECT regexp_replace(pg_get_indexdef(i.indexrelid), '^CREATE (UNIQUE )?INDEX (\S+) ON (\S+)',
			'CREATE \1INDEX \2' || $3 || ' ON ' || quote_ident($2))
		FROM pg_index i WHERE i.indrelid = $1::regclass
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`, table, shadowTable, shadowSuffix)
	if err != nil {
		return fmt.Errorf("indexes of %s: %w", table, err)
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("indexes of %s: %w", table, err)
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("index %s: %w", shadowTable, err)
		}
	}
	return nil
}

// restoreIndexNames renames table's suffixed constraints and indexes back to
// their usual names once the old table (and its names) is gone.
func restoreIndexNames(ctx context.Context, tx pgx.Tx, table string) error {
	_, err := tx.Exec(ctx, `DO $$
		DECLARE r record;
		BEGIN
			FOR r IN SELECT c.relname AS idx FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
			         WHERE i.indrelid = '`+table+`'::regclass AND c.relname LIKE '%`+shadowSuffix+`'
			LOOP
				EXECUTE format('ALTER INDEX %I RENAME TO %I', r.idx, left(r.idx, -length('`+shadowSuffix+`')));
			END LOOP;
		END $$`)
	if err != nil {
		return fmt.Errorf("rename indexes of %s: %w", table, err)
	}
	return nil
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rebuild:" + name))
	return int64(h.Sum64() >> 1)
}

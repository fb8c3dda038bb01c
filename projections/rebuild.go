package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
)

var (
	// ErrUnknownProjection means a rebuild named no projection we have.
	ErrUnknownProjection = errors.New("unknown projection")
	// ErrRebuildRunning means another rebuild of that projection is under way.
	ErrRebuildRunning = errors.New("a rebuild of this projection is already running")
	// ErrAlreadyReplayed means a dead letter was applied already.
	ErrAlreadyReplayed = errors.New("already replayed")
	// ErrStillFails means a replayed dead letter failed again: its cause
	// is not fixed yet.
	ErrStillFails = errors.New("still fails")
	// ErrOtherRules means the read model was judged under other rules than
	// this process runs: applying events to it would mix the two.
	ErrOtherRules = errors.New("the read model holds other rules")
)

// rebuildBatch is how many events one read of the log takes: large enough
// that a million events is fifty short statements, small enough that none
// holds back other consumers (see design.md on the xmin guard).
const rebuildBatch = 20000

// Progress is reported while a rebuild reads the log.
type Progress struct {
	// Name is what is rebuilt: "all", or one projection's versioned name
	// however it was asked for ("current_status" is current_status.v1),
	// so that metrics show one series per read model.
	Name  string
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

// Known returns ErrUnknownProjection, naming the projections there are,
// unless name is one of them or "all". It needs no database.
func (p *Projector) Known(name string) error {
	_, err := p.find(name)
	return err
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

// RebuildWarning says what rebuilding name ("all" or one projection) under
// this process's rules does to the processes projecting it, when its read
// model holds other rules: they stop applying events until they run these.
// "" when the rules are the same. From a node with another RULES_FILE (an
// ingest-only one, an on-call shell without it), a rebuild stopped every
// projector of the deployment without a word.
func (p *Projector) RebuildWarning(ctx context.Context, name string) (string, error) {
	projs, err := p.find(name)
	if err != nil {
		return "", err
	}
	var others []string
	for _, proj := range projs {
		j, err := judgedUnder(ctx, p.pool, proj.Name())
		if errors.Is(err, pgx.ErrNoRows) || err == nil && (j.version == "" || j.sameRules(p.rules)) {
			continue // never projected, marked for a rebuild, or the same rules
		}
		if err != nil {
			return "", err
		}
		if other := j.nameBeside(p.rules); !slices.Contains(others, other) {
			others = append(others, other)
		}
	}
	if len(others) == 0 {
		return "", nil
	}
	return fmt.Sprintf("the read models were judged under %s and are rebuilt under %q: a process projecting them under other rules "+
		"stops applying events until it runs these (RULES_FILE)", strings.Join(others, ", "), p.rules.Version), nil
}

// Rebuild throws a projection's read model away and builds it again from the
// log, while the live projector and the reads go on:
//
//  1. the log is read in many short keyset batches and folded in memory;
//  2. the fold is written into shadow tables (schema rebuild), a short COPY
//     transaction per chunk;
//  3. the events logged meanwhile are applied to the shadows as the live
//     projector applies them, a short transaction per batch, up to the end
//     of the log;
//  4. in one short transaction the consumer groups' rows are locked (the
//     live handlers wait), the last few events are applied, the shadows
//     replace the live tables, and the consumer groups move to where the
//     rebuild stopped.
//
// No step keeps a transaction open for long, so the other projections keep
// up meanwhile (design.md, the xmin guard). Readers see the old tables until
// the swap commits and the new ones after it; never an error or an empty
// answer. name is a projection or "all".
func (p *Projector) Rebuild(ctx context.Context, name string, progress func(Progress)) (RebuildResult, error) {
	projs, err := p.find(name)
	if err != nil {
		return RebuildResult{}, err
	}
	// serve goes on answering (and storing reports) on a database a newer
	// release migrated, but must not write its read models: the admin
	// route rebuilt them there while the projector waited.
	if err := eventstore.CheckSchema(ctx, p.pool); err != nil {
		return RebuildResult{}, fmt.Errorf("rebuild %s: %w", name, err)
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

	rebuilding := "all"
	if name != "all" {
		rebuilding = projs[0].Name()
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
			progress(Progress{Name: rebuilding, Read: read, Total: max(total, read)})
		}
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

	// Write the fold into shadow tables and bring them up to the log
	// written meanwhile, all in short transactions: any transaction open
	// for long holds back every consumer (design.md, the xmin guard), and
	// the live projections go on while this one rebuilds.
	shadows := &shadowWriter{pool: p.pool, projs: projs, fold: fold,
		chunkRows: p.shadowChunkRows, chunkPages: p.shadowChunkPages}
	defer func() {
		if err != nil {
			shadows.drop(context.WithoutCancel(ctx))
		}
	}()
	if err = shadows.create(ctx); err != nil {
		return RebuildResult{}, fmt.Errorf("rebuild %s: %w", name, err)
	}
	if err = shadows.fill(ctx, rebuilds); err != nil {
		return RebuildResult{}, fmt.Errorf("rebuild %s: %w", name, err)
	}
	// Catch up until a read finds the end of the log. Should ingest outrun
	// the catch-up for a minute, the swap applies the rest under its lock:
	// late, but never a rebuild that cannot end.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		var n int
		err = eventstore.InTx(ctx, p.pool, func(tx pgx.Tx) error {
			n, err = shadows.catchUp(ctx, tx, &pos)
			return err
		})
		if err != nil {
			return RebuildResult{}, fmt.Errorf("rebuild %s: catch up: %w", name, err)
		}
		read += int64(n)
		if progress != nil {
			progress(Progress{Name: rebuilding, Read: read, Total: max(total, read)})
		}
		if n < catchUpBatch {
			break
		}
	}

	// The swap: lock the consumer groups' rows (the live handlers wait),
	// apply what little the log gained since, and put the shadow tables in
	// place of the live ones.
	var res RebuildResult
	err = eventstore.InTx(ctx, p.pool, func(tx pgx.Tx) error {
		live := make([]eventstore.Position, len(projs))
		for i, proj := range projs {
			// A projection that never ran live has no row yet.
			if _, err := tx.Exec(ctx, `INSERT INTO projection_offsets (consumer_group, offset_acked, last_processed_transaction_id)
				VALUES ($1, 0, '0') ON CONFLICT DO NOTHING`, proj.Name()); err != nil {
				return err
			}
			// Holding this row stops the live handler between batches.
			var at string
			if err := tx.QueryRow(ctx, `SELECT last_processed_transaction_id::text || '/' || coalesce(offset_acked, 0)
				FROM projection_offsets WHERE consumer_group = $1 FOR UPDATE`, proj.Name()).Scan(&at); err != nil {
				return err
			}
			var perr error
			if live[i], perr = parsePosition(at); perr != nil {
				return perr
			}
		}
		for {
			n, err := shadows.catchUp(ctx, tx, &pos)
			if err != nil {
				return err
			}
			read += int64(n)
			if n < catchUpBatch {
				break
			}
		}
		if err := shadows.measure(ctx, tx, live, pos); err != nil {
			return err
		}
		for _, proj := range projs {
			for _, t := range proj.Tables() {
				// Dropping the live table first frees its index names for the
				// shadow's, which were made with the same ones.
				if _, err := tx.Exec(ctx, `DROP TABLE public.`+t+`; ALTER TABLE `+shadowSchema+`.`+t+` SET SCHEMA public`); err != nil {
					return fmt.Errorf("swap %s: %w", t, err)
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
			_, err := tx.Exec(ctx, `INSERT INTO projection_status (name, rules_version, rules_document, rebuilt_at, rebuild_rate, rebuild_events, last_error, built_by_schema)
				VALUES ($1, $2, $3, now(), $4, $5, '', $6)
				ON CONFLICT (name) DO UPDATE SET rules_version = EXCLUDED.rules_version, rules_document = EXCLUDED.rules_document,
					rebuilt_at = now(), rebuild_rate = EXCLUDED.rebuild_rate, rebuild_events = EXCLUDED.rebuild_events, last_error = '',
					built_by_schema = EXCLUDED.built_by_schema`,
				proj.Name(), p.rules.Version, string(p.rules.Document), res.Rate, read, eventstore.LatestVersion())
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

// shadowSchema holds a rebuild's tables until the swap moves them into
// public. They keep their live names there, so the live projector's writes
// (queueFold) apply to them unchanged under search_path shadowSchema, public.
const shadowSchema = "rebuild"

const (
	// shadowChunkRows is how many rows (message states, read-model rows)
	// one COPY transaction writes.
	shadowChunkRows = 20000
	// shadowChunkPages is how many pages of one shadow state table a
	// transaction copies into another: about 20,000 states.
	shadowChunkPages = 600
	// catchUpBatch is how many events one catch-up transaction applies.
	catchUpBatch = 2000
)

// shadowWriter writes a rebuild's fold into the shadow tables of projs.
type shadowWriter struct {
	pool  *pgxpool.Pool
	projs []projection
	fold  *messageFold
	// chunkRows and chunkPages are shadowChunkRows and shadowChunkPages,
	// smaller in tests.
	chunkRows  int
	chunkPages int64
}

// measure takes, for each measurer rebuilt, the measurements of the events
// after where its live projector stood (live) up to end, where the rebuild
// stopped: those the live projector never applied and, once the swap moves
// it to end, never will. A message's carrier is taken from its state at the
// end of the fold. A projection that never ran live measured nothing, and
// its first rebuild measures nothing either: the log's history was not
// ingested through it, and reading all of it here would make the swap long.
func (w *shadowWriter) measure(ctx context.Context, tx pgx.Tx, live []eventstore.Position, end eventstore.Position) error {
	for i, proj := range w.projs {
		m, ok := proj.(measurer)
		if !ok || live[i] == (eventstore.Position{}) {
			continue
		}
		for at := live[i]; ; {
			events, err := readBatch(ctx, tx, at, catchUpBatch)
			if err != nil {
				return fmt.Errorf("%s: measure: %w", proj.Name(), err)
			}
			for len(events) > 0 && end.Less(events[len(events)-1].Pos) {
				events = events[:len(events)-1] // committed since the catch-up read
			}
			if len(events) == 0 {
				break
			}
			after := make([]domain.Message, len(events))
			for j, e := range events {
				if s := w.fold.byID[e.MessageID]; s != nil {
					after[j] = *s
				}
			}
			var b pgx.Batch
			m.queueMeasure(&b, events, after)
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return fmt.Errorf("%s: measure %d events: %w", proj.Name(), len(events), err)
			}
			at = events[len(events)-1].Pos
		}
	}
	return nil
}

func (w *shadowWriter) tables() []string {
	var out []string
	for _, proj := range w.projs {
		out = append(out, proj.Tables()...)
	}
	return out
}

// create makes an empty shadow of each table, without its indexes: a
// COPY is about twice as fast without them, and fill builds them at the end.
func (w *shadowWriter) create(ctx context.Context) error {
	for _, t := range w.tables() {
		_, err := w.pool.Exec(ctx, `DROP TABLE IF EXISTS `+shadowSchema+`.`+t+`;
			CREATE TABLE `+shadowSchema+`.`+t+` (LIKE public.`+t+` INCLUDING DEFAULTS INCLUDING CONSTRAINTS)`)
		if err != nil {
			return fmt.Errorf("shadow of %s: %w", t, err)
		}
	}
	return nil
}

// drop removes the shadow tables of a rebuild that failed.
func (w *shadowWriter) drop(ctx context.Context) {
	for _, t := range w.tables() {
		w.pool.Exec(ctx, `DROP TABLE IF EXISTS `+shadowSchema+`.`+t)
	}
}

// fill writes the fold: the first projection's message states and each
// projection's read-model rows from Go in chunks, then the other projections'
// states copied inside PostgreSQL from the first's (every state table has
// the same shape), each chunk its own transaction; last, it gives each
// shadow the live table's primary key and indexes (one sort each), which
// the catch-up's upserts need. Two connections share the work, so
// PostgreSQL's COPY and index work takes both cores of a small machine.
func (w *shadowWriter) fill(ctx context.Context, rebuilds []rebuild) error {
	into := func(t string) pgx.Identifier { return pgx.Identifier{shadowSchema, t} }
	first := w.projs[0].StateTable()
	var jobs []func(pgx.Tx) error
	for from := 0; from < len(w.fold.order); from += w.chunkRows {
		ids := w.fold.order[from:min(from+w.chunkRows, len(w.fold.order))]
		jobs = append(jobs, func(tx pgx.Tx) error { return w.fold.copyStates(ctx, tx, into(first), ids) })
	}
	for i, proj := range w.projs {
		for _, t := range rebuilds[i].Rows(w.fold) {
			for from := 0; from < len(t.rows); from += w.chunkRows {
				part := t.rows[from:min(from+w.chunkRows, len(t.rows))]
				jobs = append(jobs, func(tx pgx.Tx) error {
					if _, err := tx.CopyFrom(ctx, into(t.table), t.columns, pgx.CopyFromRows(part)); err != nil {
						return fmt.Errorf("%s: copy %d rows into %s: %w", proj.Name(), len(part), t.table, err)
					}
					return nil
				})
			}
		}
	}
	if err := w.run(ctx, jobs); err != nil {
		return err
	}
	copies, err := w.copyStateJobs(ctx, first)
	if err != nil {
		return err
	}
	if err := w.run(ctx, copies); err != nil {
		return err
	}
	var indexes []func(pgx.Tx) error
	for _, t := range w.tables() {
		indexes = append(indexes, func(tx pgx.Tx) error { return copyIndexes(ctx, tx, t) })
	}
	return w.run(ctx, indexes)
}

// copyStateJobs copies the shadow state table first into the other
// projections' shadow state tables, a range of first's pages per job (a TID
// range scan), so no statement runs long.
func (w *shadowWriter) copyStateJobs(ctx context.Context, first string) ([]func(pgx.Tx) error, error) {
	var pages int64
	if err := w.pool.QueryRow(ctx, `SELECT pg_relation_size($1) / current_setting('block_size')::int`,
		shadowSchema+"."+first).Scan(&pages); err != nil {
		return nil, fmt.Errorf("size of %s: %w", first, err)
	}
	var jobs []func(pgx.Tx) error
	for _, proj := range w.projs[1:] {
		table := proj.StateTable()
		for from := int64(0); from < pages; from += w.chunkPages {
			lo, hi := fmt.Sprintf("(%d,0)", from), fmt.Sprintf("(%d,0)", from+w.chunkPages)
			jobs = append(jobs, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO `+shadowSchema+`.`+table+` (`+stateColumns+`)
					SELECT `+stateColumns+` FROM `+shadowSchema+`.`+first+` WHERE ctid >= $1::tid AND ctid < $2::tid`, lo, hi)
				if err != nil {
					return fmt.Errorf("copy states into %s: %w", table, err)
				}
				return nil
			})
		}
	}
	return jobs, nil
}

// run runs jobs on two connections, each in its own transaction.
func (w *shadowWriter) run(ctx context.Context, jobs []func(pgx.Tx) error) error {
	next := make(chan func(pgx.Tx) error)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			var err error
			for job := range next {
				if err == nil {
					err = eventstore.InTx(ctx, w.pool, job)
				}
			}
			errs <- err
		}()
	}
	for _, job := range jobs {
		next <- job
	}
	close(next)
	return errors.Join(<-errs, <-errs)
}

// copyIndexes gives the shadow of table the primary key, unique constraints
// and indexes of the live table, under the same names: the schemas differ.
func copyIndexes(ctx context.Context, tx pgx.Tx, table string) error {
	rows, err := tx.Query(ctx, `
		SELECT 'ALTER TABLE `+shadowSchema+`.' || quote_ident($1) || ' ADD CONSTRAINT ' || quote_ident(c.conname) || ' ' || pg_get_constraintdef(c.oid)
		FROM pg_constraint c WHERE c.conrelid = ('public.' || quote_ident($1))::regclass AND c.contype IN ('p', 'u')
		UNION ALL
		SELECT regexp_replace(pg_get_indexdef(i.indexrelid), ' ON public\.', ' ON `+shadowSchema+`.')
		FROM pg_index i WHERE i.indrelid = ('public.' || quote_ident($1))::regclass
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)`, table)
	if err != nil {
		return fmt.Errorf("indexes of %s: %w", table, err)
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("indexes of %s: %w", table, err)
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("index the shadow of %s: %w", table, err)
		}
	}
	return nil
}

// catchUp reads the events after pos (at most catchUpBatch), folds them and
// applies them to every shadow as the live projector would, in tx. It
// moves pos past them and returns how many it read.
func (w *shadowWriter) catchUp(ctx context.Context, tx pgx.Tx, pos *eventstore.Position) (int, error) {
	events, err := readBatch(ctx, tx, *pos, catchUpBatch)
	if err != nil || len(events) == 0 {
		return 0, err
	}
	// Every message the fold knows has its row in the shadows: its state
	// before the event is the event's Prior, as readRange gives it live.
	for i := range events {
		if m, ok := w.fold.byID[events[i].MessageID]; ok {
			prior := *m
			events[i].Prior = &prior
		}
		events[i].Shadow = true
		w.fold.add(events[i])
	}
	var b pgx.Batch
	b.Queue(`SET LOCAL search_path TO ` + shadowSchema + `, public`)
	for _, proj := range w.projs {
		queueFold(&b, proj, events, nil)
	}
	b.Queue(`SET LOCAL search_path TO DEFAULT`)
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		return 0, fmt.Errorf("apply %d events to the shadows: %w", len(events), err)
	}
	*pos = events[len(events)-1].Pos
	return len(events), nil
}

func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("rebuild:" + name))
	return int64(h.Sum64() >> 1)
}

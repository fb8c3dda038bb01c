package projections

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/eventstore"
)

// State is what an operator sees of one projection.
type State struct {
	Name         string     `json:"name"`
	State        string     `json:"state"` // live, lagging, rebuilding, failing, stopped
	Position     string     `json:"position"`
	LagEvents    int64      `json:"lagEvents"`
	LagSeconds   float64    `json:"lagSeconds"`
	RulesVersion string     `json:"rulesVersion"` // the rules it judged the log with: its last rebuild's, or its first run's
	RebuiltAt    *time.Time `json:"rebuiltAt,omitempty"`
	RebuildRate  *float64   `json:"rebuildEventsPerSecond,omitempty"`
	LastError    string     `json:"lastError,omitempty"`
	LastErrorAt  *time.Time `json:"lastErrorAt,omitempty"`
	DeadLetters  int64      `json:"deadLetters"`
}

// States reports every projection's position and lag behind the log.
func (p *Projector) States(ctx context.Context) ([]State, error) {
	out := make([]State, 0, len(p.projections))
	// On a database a newer release migrated nothing projects (serve waits),
	// which "live" hid.
	newer := eventstore.CheckSchema(ctx, p.pool)
	if newer != nil && !errors.Is(newer, eventstore.ErrSchemaNewer) {
		newer = nil // the queries below say what is wrong with the database
	}
	for _, proj := range p.projections {
		s := State{Name: proj.Name(), State: "live"}
		var txid string
		var off int64
		err := p.pool.QueryRow(ctx, `SELECT last_processed_transaction_id::text, coalesce(offset_acked, 0)
			FROM projection_offsets WHERE consumer_group = $1`, proj.Name()).Scan(&txid, &off)
		if errors.Is(err, pgx.ErrNoRows) {
			txid, off = "0", 0
		} else if err != nil {
			return nil, fmt.Errorf("projection %s: %w", proj.Name(), err)
		}
		s.Position = txid + "/" + strconv.FormatInt(off, 10)
		// The lag is counted exactly up to lagCap events; past that it is
		// estimated from the offsets, which the log's sequence hands out in
		// order (a duplicate uses one up too, so it may run a little high).
		// Counting a whole backlog took 300 ms per million events per
		// projection, on every /metrics scrape, just when one is far behind.
		var oldest *time.Time
		var newest int64
		err = p.pool.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM (SELECT FROM events WHERE (transaction_id, "offset") > ($1::text::xid8, $2) LIMIT $3) n),
				(SELECT received_at FROM events WHERE (transaction_id, "offset") > ($1::text::xid8, $2)
					ORDER BY transaction_id, "offset" LIMIT 1),
				coalesce((SELECT "offset" FROM events ORDER BY transaction_id DESC, "offset" DESC LIMIT 1), 0)`,
			txid, off, p.lagCap+1).Scan(&s.LagEvents, &oldest, &newest)
		if err != nil {
			return nil, fmt.Errorf("projection %s lag: %w", proj.Name(), err)
		}
		if s.LagEvents > p.lagCap {
			s.LagEvents = max(p.lagCap, newest-off)
		}
		if oldest != nil {
			s.LagSeconds = time.Since(*oldest).Seconds()
		}
		err = p.pool.QueryRow(ctx, `SELECT rules_version, rebuilt_at, rebuild_rate, last_error, last_error_at,
				(SELECT count(*) FROM dead_letters WHERE projection = $1 AND replayed_at IS NULL)
			FROM projection_status WHERE name = $1`, proj.Name()).
			Scan(&s.RulesVersion, &s.RebuiltAt, &s.RebuildRate, &s.LastError, &s.LastErrorAt, &s.DeadLetters)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("projection %s status: %w", proj.Name(), err)
		}
		if s.LastError == "" {
			// An error cleared by a batch that applied keeps its time in
			// the table; shown alone it dated an error nobody could read.
			s.LastErrorAt = nil
		}
		// A rebuild holds the projection's lock; a process that may
		// project it holds its presence lock (holdPresence). pg_locks shows
		// every database of the cluster; advisory locks are per database,
		// so another database's are not ours.
		var rebuilding, present bool
		if err := p.pool.QueryRow(ctx, `SELECT coalesce(bool_or(key = $1), false), coalesce(bool_or(key = $2 AND granted), false)
				FROM (SELECT ((classid::bigint << 32) | objid::bigint) AS key, granted FROM pg_locks WHERE locktype = 'advisory'
					AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) l`,
			lockKey(proj.Name()), presenceKey(proj.Name())).Scan(&rebuilding, &present); err != nil {
			return nil, fmt.Errorf("projection %s locks: %w", proj.Name(), err)
		}
		if rebuilding {
			s.State = "rebuilding"
		} else if s.LagSeconds > 5 && s.LastErrorAt != nil && time.Since(*s.LastErrorAt) < time.Minute {
			s.State = "failing" // behind, and failed lately: see LastError
		} else if s.LagSeconds > 5 {
			s.State = "lagging"
		}
		if !present && s.LagEvents > 0 && s.State != "rebuilding" {
			s.State, s.LastError = "stopped", "no process projects it: none runs (start serve with PROJECTORS=on, or cxsms project), "+
				"or every one refuses it, running other rules than the read model's "+strconv.Quote(s.RulesVersion)+" or an older release (see their logs)"
		}
		if newer != nil {
			s.State, s.LastError = "stopped", "not projecting: "+newer.Error()
		} else if why, ok := p.refused.Load(proj.Name()); ok {
			s.State, s.LastError = "stopped", why.(string)
		}
		out = append(out, s)
	}
	// A projection lagging for no reason of its own may be held back by a
	// transaction left open elsewhere: the log is read in commit order, and
	// an open one holds back every consumer (design.md). Name it; else name
	// the process that holds the projection, which is slow or frozen.
	var holder string
	looked := false
	for i, s := range out {
		if s.State != "lagging" || s.LastError != "" {
			continue
		}
		if !looked { // once per call: it is the cluster's, not the projection's
			var err error
			if holder, err = p.oldestTransaction(ctx); err != nil {
				return nil, err
			}
			looked = true
		}
		if holder != "" {
			out[i].LastError = holder
			continue
		}
		who, err := p.presentProcess(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		out[i].LastError = fmt.Sprintf("behind by %d events (%.0f s) with no error and no transaction holding the log back: "+
			"the process projecting it (%s) is not keeping up, or is frozen; see its log and its cxsms_projection_* metrics", s.LagEvents, s.LagSeconds, who)
	}
	return out, nil
}

// presentProcess describes the connection that holds name's presence lock
// (holdPresence): the process that projects it, as PostgreSQL sees it.
func (p *Projector) presentProcess(ctx context.Context, name string) (string, error) {
	var addr, app string
	var since *time.Time
	var pid int
	// Another role's session shows only its pid to a role that is not a
	// superuser: its other columns are NULL.
	err := p.pool.QueryRow(ctx, `SELECT coalesce(host(a.client_addr), 'a local socket'), coalesce(a.application_name, ''), a.backend_start, a.pid
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
			AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		LIMIT 1`, presenceKey(name)).Scan(&addr, &app, &since, &pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return "none holds it now", nil
	}
	if err != nil {
		return "", fmt.Errorf("projection %s: who projects it: %w", name, err)
	}
	if since == nil {
		return fmt.Sprintf("pid %d, another role's session, which this role cannot see", pid), nil
	}
	if app == "" {
		app = "no application_name"
	}
	return fmt.Sprintf("%s, connected from %s since %s", app, addr, since.UTC().Format(time.RFC3339)), nil
}

// oldestTransaction describes the oldest transaction of the cluster that
// holds back the log's readers (it has written, or taken an ID, and is
// open for more than 5 s), or "" when there is none. Any database's count:
// transaction IDs, and the snapshots the log is read by, are the cluster's.
func (p *Projector) oldestTransaction(ctx context.Context) (string, error) {
	var pid int
	var since time.Time
	var state, app, db string
	err := p.pool.QueryRow(ctx, `SELECT pid, xact_start, coalesce(state, ''), coalesce(application_name, ''), coalesce(datname, '')
		FROM pg_stat_activity WHERE backend_xid IS NOT NULL
			AND xact_start < now() - interval '5 seconds' AND pid <> pg_backend_pid()
		ORDER BY xact_start LIMIT 1`).Scan(&pid, &since, &state, &app, &db)
	if errors.Is(err, pgx.ErrNoRows) {
		return p.hiddenTransaction(ctx)
	}
	if err != nil {
		return "", fmt.Errorf("open transactions: %w", err)
	}
	return fmt.Sprintf("held back by a transaction open since %s (pid %d, %s, database %q, application %q): every reader of the log waits for it to end",
		since.UTC().Format(time.RFC3339), pid, state, db, app), nil
}

// hiddenTransaction finds a transaction holding back the log's readers that
// pg_stat_activity hides from this role: another role's session shows its
// pid and transaction ID to a role that is not a superuser (or a member of
// pg_read_all_stats), but not when it began. A DBA's psql left open is the
// likely one. The log tells its age instead: a report received more than
// 5 s ago still waits above the oldest open transaction ID
// (pg_snapshot_xmin).
func (p *Projector) hiddenTransaction(ctx context.Context) (string, error) {
	var xid int64
	var waiting *time.Time
	var pid *int
	var prepared string // a prepared transaction (two-phase commit) has no session at all
	var seen bool       // a session this role sees in full holds it: young, not hidden
	err := p.pool.QueryRow(ctx, `WITH s AS (SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::numeric % 4294967296)::bigint AS xid,
			pg_snapshot_xmin(pg_current_snapshot()) AS xmin)
		SELECT s.xid,
			(SELECT received_at FROM events WHERE transaction_id >= s.xmin ORDER BY transaction_id, "offset" LIMIT 1),
			(SELECT pid FROM pg_stat_activity WHERE backend_xid::text = s.xid::text LIMIT 1),
			EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_xid::text = s.xid::text AND xact_start IS NOT NULL),
			coalesce((SELECT format('%L, owner %s, prepared at %s', gid, owner, to_char(prepared AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
				FROM pg_prepared_xacts WHERE transaction::text = s.xid::text), '')
		FROM s`).Scan(&xid, &waiting, &pid, &seen, &prepared)
	if err != nil {
		return "", fmt.Errorf("open transactions: %w", err)
	}
	if seen || waiting == nil || time.Since(*waiting) < 5*time.Second {
		return "", nil
	}
	if prepared != "" {
		return fmt.Sprintf("held back by a prepared transaction (xid %d, gid %s): reports received since %s wait for it to end, "+
			"as every reader of the log does; it has no session and outlives a restart: finish it with COMMIT PREPARED or ROLLBACK PREPARED",
			xid, prepared, waiting.UTC().Format(time.RFC3339)), nil
	}
	holder := fmt.Sprintf("xid %d", xid)
	if pid != nil {
		holder += fmt.Sprintf(", pid %d", *pid)
	}
	return fmt.Sprintf("held back by an open transaction (%s) of another role's session, which this role cannot see in full: "+
		"reports received since %s wait for it to end, as every reader of the log does. A superuser sees it with "+
		"SELECT pid, usename, application_name, xact_start FROM pg_stat_activity WHERE backend_xid = '%d'",
		holder, waiting.UTC().Format(time.RFC3339), xid), nil
}

// DeadLetter is an event a projection could not apply.
type DeadLetter struct {
	ID         int64      `json:"id"`
	Projection string     `json:"projection"`
	MessageID  string     `json:"messageId"`
	EventID    string     `json:"eventId"`
	Position   string     `json:"position"`
	Error      string     `json:"error"`
	FailedAt   time.Time  `json:"failedAt"`
	ReplayedAt *time.Time `json:"replayedAt,omitempty"`
}

// DeadLetters lists the newest dead letters.
func (p *Projector) DeadLetters(ctx context.Context) ([]DeadLetter, error) {
	rows, err := p.pool.Query(ctx, `SELECT id, projection, message_id, event_id,
			transaction_id::text || '/' || "offset", error, failed_at, replayed_at
		FROM dead_letters ORDER BY id DESC LIMIT 500`)
	if err != nil {
		return nil, fmt.Errorf("dead letters: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (DeadLetter, error) {
		var d DeadLetter
		return d, row.Scan(&d.ID, &d.Projection, &d.MessageID, &d.EventID, &d.Position, &d.Error, &d.FailedAt, &d.ReplayedAt)
	})
}

// ReplayDeadLetter applies a dead-lettered event again. It holds the
// projection's position row while it does, so it never races the live
// handler over the same message. It returns eventstore.ErrNotFound for an
// unknown id and the apply error when the event still fails.
func (p *Projector) ReplayDeadLetter(ctx context.Context, id int64) (DeadLetter, error) {
	var d DeadLetter
	err := eventstore.InTx(ctx, p.pool, func(tx pgx.Tx) error {
		var txid string
		var off int64
		var replayed *time.Time
		err := tx.QueryRow(ctx, `SELECT projection, transaction_id::text, "offset", replayed_at FROM dead_letters WHERE id = $1 FOR UPDATE`, id).
			Scan(&d.Projection, &txid, &off, &replayed)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("dead letter %d: %w", id, eventstore.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if replayed != nil {
			// Applying it twice would count it twice.
			return fmt.Errorf("dead letter %d: %w at %s", id, ErrAlreadyReplayed, replayed.Format(time.RFC3339))
		}
		projs, err := p.find(d.Projection)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM projection_offsets WHERE consumer_group = $1 FOR UPDATE`, d.Projection); err != nil {
			return err
		}
		// As for a live batch (mayProject): not on a database a newer
		// release migrated, and not on a read model judged under other
		// rules (the event's cost went in at another rate card while the
		// answers named the read model's rules).
		if err := p.mayProject(ctx, tx, projs[0]); err != nil {
			return fmt.Errorf("replay dead letter %d: %w", id, err)
		}
		e, err := scanEvent(tx.QueryRow(ctx, `SELECT `+eventColumns+` FROM events WHERE transaction_id = $1::text::xid8 AND "offset" = $2`, txid, off))
		if err != nil {
			return fmt.Errorf("dead letter %d: read event: %w", id, err)
		}
		if err := apply(ctx, tx, projs[0], e); err != nil {
			if eventstore.Unavailable(err) {
				return err
			}
			return fmt.Errorf("dead letter %d %w (fix its cause first): %w", id, ErrStillFails, err)
		}
		return tx.QueryRow(ctx, `UPDATE dead_letters SET replayed_at = now() WHERE id = $1
			RETURNING id, projection, message_id, event_id, transaction_id::text || '/' || "offset", error, failed_at, replayed_at`, id).
			Scan(&d.ID, &d.Projection, &d.MessageID, &d.EventID, &d.Position, &d.Error, &d.FailedAt, &d.ReplayedAt)
	})
	return d, err
}

package eventstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var (
	// ErrUnavailable means the store could not commit in time; the caller
	// should ask the sender to retry later (HTTP 503 + Retry-After). Nothing
	// of the request is acknowledged.
	ErrUnavailable = errors.New("event store unavailable")
	// ErrOverloaded means more appends are waiting than the store will queue;
	// refusing keeps memory bounded under overload.
	ErrOverloaded = errors.New("event store overloaded")
	// ErrRejected means PostgreSQL refused a report's content (a value it
	// cannot store). Retrying will not help; the request is bad.
	ErrRejected = errors.New("report refused by the store")
	// ErrNotFound means no row matched.
	ErrNotFound = errors.New("not found")
	// ErrNotReached comes with ErrUnavailable when no attempt of an
	// Append reached the database (each failed to connect): then nothing
	// of it was stored, which a lost answer cannot say.
	ErrNotReached = errors.New("the database could not be reached")
)

// neverConnected reports whether err is a failure to connect: the
// statement never reached the database.
func neverConnected(err error) bool {
	var connectErr *pgconn.ConnectError
	return errors.As(err, &connectErr) && !errors.Is(err, errPartlyStored)
}

// errPartlyStored marks a batch's failure after its first statement
// committed (committer.insert): it reached the database, whatever the
// second statement's failure says.
var errPartlyStored = errors.New("after the batch's first statement committed")

// classify turns a driver error into one of ours, keeping the original
// wrapped for logs. It is the only place that reads PostgreSQL error codes.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "22": // data exception: a value PostgreSQL cannot store (bad UTF-8, NUL, ...)
			return fmt.Errorf("%w: %s", ErrRejected, pgErr.Message)
		case "08", "53", "57", "58", "40": // connection, resources, shutdown, system, serialization/deadlock
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		case "28", "3D": // refused at connect: a rotated password, a wrong role or database name
			// A configuration to fix, but until then the sender must be told
			// to come back (503), not that its report is bad or we broke.
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		switch pgErr.Code {
		// A read-only database (a standby after a failover) or one not yet
		// migrated (the service answers while it migrates): the sender
		// should come back later, as for a database that is down.
		case "25006", "42P01": // read_only_sql_transaction, undefined_table
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		case "42501": // insufficient_privilege: a role without INSERT on events
			// A grant to fix, as a rotated password is: until then the
			// sender must come back (503), not be told we broke (500).
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	// A connection lost mid-statement (the backend killed, a proxy or the
	// network cutting it): whether the statement committed is unknown, and
	// a retry is safe, since appends are idempotent.
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// ReadOnly reports whether err is PostgreSQL refusing a write in a
// read-only transaction. A session takes default_transaction_read_only when
// it starts, so pooled connections keep refusing after the database is
// writable again (a standby promoted, the setting turned off): the caller
// resets the pool, and the next connections start afresh.
func ReadOnly(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "25006"
}

// PermissionDenied returns PostgreSQL's message when err is the database
// refusing this role something ("permission denied for schema public"): a
// grant to fix, which a retry alone will not.
func PermissionDenied(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return pgErr.Message, true
	}
	return "", false
}

// RefusedLogin reports whether PostgreSQL refused the connection's own
// settings: no such database (3D000), or a user or password it does not
// accept (28000, 28P01). Unlike a server starting late, it does not fix
// itself.
func RefusedLogin(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "3D000", "28000", "28P01":
		return true
	}
	return false
}

// NotMigrated reports whether err is a query on a table the migrations
// create that is not there yet: a database `cxsms migrate` has not run on.
func NotMigrated(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// Unavailable reports whether err, from any query on the store's database,
// means the database cannot answer right now (down, restarting, out of
// connections, timed out): the caller should retry later, not treat it as
// a bug.
func Unavailable(err error) bool { return errors.Is(classify(err), ErrUnavailable) }

// transient reports whether retrying err could succeed.
func transient(err error) bool { return errors.Is(err, ErrUnavailable) }

// Package eventstore appends delivery reports to the events table and reads
// them back, with pgx. It owns the log's guarantees: one event per
// (message_id, event_id), nothing acknowledged before it is committed, and
// one place (errors.go) that turns PostgreSQL's errors into ours.
//
// Concurrent appends share one INSERT (group commit, see committer.go), which
// is how ingest outruns PostgreSQL's single-row ceiling while every
// acknowledged report stays durable.
package eventstore

// Package projections turns the event log into read models. Each projection
// is a watermill consumer group over the events table (named with a version,
// such as current_status.v1) whose handler writes its tables in the
// subscriber's own transaction, so a read-model update and the group's
// position commit together: no event counted twice, none missed. One
// watermill message stands for a batch, a range of the log (schema.go): the
// handler reads it with each message's prior state, folds it in memory and
// writes it in one round trip (projector.go).
//
// Every projection can also be rebuilt: the log is read in large keyset
// batches and folded into shadow tables, a short transaction at a time, and
// they are swapped in, with the consumer group moved to where the rebuild
// stopped, in one short transaction (rebuild.go).
// Live handling and rebuilds fold events with the same pure functions, so
// both give the same rows.
package projections

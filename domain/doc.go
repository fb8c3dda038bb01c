// Package domain holds what cxsms knows about SMS delivery reports: the
// StatusReceived event, the closed set of statuses, the parsers that turn
// CXone webhook bodies into events, and the pure rules that fold events into
// a message's current status.
//
// It does no I/O and imports only the standard library, so every rule here is
// tested with fast table tests.
package domain

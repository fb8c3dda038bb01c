// Package http is cxsms's HTTP API: the CXone webhook, the read models, the
// admin and simulator routes, health and metrics. routes.go lists every route
// on one screen; each handler parses, calls one thing, and hands its error to
// respond.go, the one place that turns errors into status codes.
//
// The outbound CXone client lives beside it in http/cxone.
package http

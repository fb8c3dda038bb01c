// Package fakecxone is a stand-in for NICE CXone, faithful enough to test the
// cxone client and to demo cxsms end to end without a tenant.
//
// As an http.Handler (mount it on httptest.NewServer, or call Listen) it
// serves OpenID discovery, an OAuth token endpoint that checks HTTP Basic
// client authentication, the grant and the scopes, and the webhook
// subscription API, in memory, refusing tokens it did not issue or that have
// expired. Faults (401, 403, 429 with Retry-After, 5xx, slowness) can be
// switched on for the next N requests to a path, every listing of the
// subscriptions can be made slow (Options.ListDelay), and every request is
// logged without its credentials.
//
// It also plays CXone's sender: SendBurst posts SMS status reports, in the
// JSON, SMPP-wrapped JSON and SMPP receipt forms the service must parse, to
// every enabled subscription, and redelivers each one until it is
// acknowledged with a 2xx, as CXone does.
package fakecxone

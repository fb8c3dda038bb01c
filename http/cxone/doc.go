// Package cxone is cxsms's outbound client for NICE CXone: it gets OAuth
// access tokens and keeps exactly one webhook subscription pointing CXone's
// SMS status reports at this service.
//
// The tutorial this service replaces fetched a token in an unbounded 429
// loop, registered localhost as its callback and created a new subscription
// on every start. Here instead:
//
//   - one token is shared by every caller and refreshed once, ahead of its
//     expiry, however many goroutines ask at the same moment;
//   - 429 and 5xx answers are retried honouring Retry-After, with jittered
//     backoff, an attempt cap and a time budget, and always stop with the
//     caller's context;
//   - 401 and 403 become typed errors that say what to fix;
//   - EnsureWebhook reconciles instead of creating, so running it again
//     changes nothing, rotating WEBHOOK_SECRET updates the subscription
//     in place, and processes registering at the same moment converge on
//     one subscription, deleting the copies they made;
//   - secrets are held in Secret values whose printed forms are redacted,
//     tokens never reach a log line or an error, and text CXone echoes is
//     scrubbed of our secrets however it escapes them.
//
// Package fakecxone provides a CXone double to test and demo this against.
package cxone

// Package simulate generates synthetic CXone SMS delivery reports: whole
// message lifecycles (QUEUED, SENT, then DELIVERED or a failure) with carrier
// delays in their timestamps, per-carrier failure rates and prices, E.164
// recipients and sender IDs that fit each destination's rules, and, on
// request, the mess real traffic carries: redeliveries, reports out of order,
// SMPP-wrapped JSON, bare SMPP receipts and non-compliant senders.
//
// It is pure: it draws from a seeded generator and renders bytes, and leaves
// sending them to its callers, POST /simulator/sms (http/simulator.go) and
// `cxsms simulate` (cmd/cxsms/simulate.go). The same seed gives the same
// messages, reports and send order; timestamps follow the anchor time the
// caller passes, so a pinned anchor gives the same bytes too. Message IDs
// follow the seed and every other option, and event IDs each report's
// content too: the same seed with other options (another status, carrier,
// share) makes other messages, never duplicates of the first run's, while
// the same seed and options sent again later resend the same reports.
//
// Shares are promises the tests hold it to: Duplicates is the share of the
// reports sent that repeat one sent before, OutOfOrder the share of messages
// with two or more reports whose reports are sent in another order than they
// happened, SMPPJSON and SMPPReceipt the shares of messages whose carrier
// reports (all but CXone's own QUEUED or PENDING) come in those forms, and
// BadSenders the share of messages whose sender ID the default rules refuse
// for their destination. One exception: with a pinned carrier and no
// lifecycle, a message that would be one bare receipt (which names no
// carrier) is sent as SMPP JSON, so the carrier asked for reaches the service.
package simulate

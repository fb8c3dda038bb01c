// Package rules holds the judgements cxsms makes about the facts in its event
// log: which sender IDs each country's carriers accept, what a segment costs
// on each carrier, when a carrier's failure rate earns WATCH or REROUTE, and
// the latency targets of the SLA report.
//
// # One versioned file
//
// All of it lives in one JSON rules file, not in code, because events store
// facts only and projections apply the rules as they read the log. The binary
// embeds default.json (this folder); RULES_FILE names a file that replaces it
// whole. Parse is strict and a bad file stops `cxsms serve` with an error
// naming the field and the problem, since a rule silently ignored would
// re-judge all of history wrongly.
//
// To change a rule and re-judge everything already received:
//
//  1. copy default.json (DefaultJSON returns it), edit it and change its
//     "version", which read models record so readers know which rules
//     judged what they see;
//  2. set RULES_FILE to the edited file;
//  3. run `cxsms rebuild all`.
//
// The file has these parts:
//
//   - "countries", keyed by ISO 3166-1 alpha-2 code: for each sender type
//     (alphanumeric, longCode, shortCode, tollFree) whether it is allowed;
//     alphanumeric length, pattern (an RE2 expression the whole ID must
//     match), blocked generic IDs, and registration (required, from when, by
//     which authority, and the IDs registered); shortCode lengths, which also
//     decide which all-digit senders are short codes; longCode.domesticOnly.
//     Each country cites its "source" (carrier or regulator guideline pages)
//     and says in "notes" what the sources leave open.
//   - "rateCard": a currency, a global default price per segment, and per
//     country a default and per-carrier prices. Prices are decimal strings
//     ("0.0083") read exactly into domain.Micros.
//   - "thresholds": rerouteFailureRate and watchFailureRate as fractions,
//     and minTerminalReports.
//   - "sla": thresholdMs (ingest) and deliveryThresholdMs.
//
// # How senders are judged
//
// RegionOf turns a recipient into its country by E.164 calling code; a
// recipient that is not an E.164 number is Unknown, never a default country.
// CheckSender classifies the sender (a letter makes it alphanumeric; digits
// make a toll-free number, a short code or a long code by prefix and length)
// and applies that country's rule. Where a source was unclear the default
// file allows the sender type and says so in the notes, so that a reported
// violation always points at a rule a source states. Registration cannot be
// seen in a delivery report: where a country requires it, the file's
// registered list is the operator's record, and IDs missing from it are
// reported as unregistered.
//
// The package is pure: it parses bytes it is given and reads no files, clock
// or environment; loading RULES_FILE is cmd/cxsms's job.
package rules

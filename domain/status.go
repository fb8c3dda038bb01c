package domain

import "strings"

// Status is a report's normalized delivery status. The set is closed: every
// value a carrier sends maps to one of these, and what we do not recognise is
// StatusUnknown with the original kept in RawStatus.
type Status string

const (
	StatusQueued      Status = "QUEUED"
	StatusPending     Status = "PENDING"
	StatusSent        Status = "SENT"
	StatusDelivered   Status = "DELIVERED"
	StatusUndelivered Status = "UNDELIVERED"
	StatusFailed      Status = "FAILED"
	StatusRejected    Status = "REJECTED"
	StatusExpired     Status = "EXPIRED"
	StatusDeleted     Status = "DELETED"
	StatusUnknown     Status = "UNKNOWN"
)

// Statuses lists every status, in the order reports usually arrive.
var Statuses = []Status{
	StatusQueued, StatusPending, StatusSent, StatusDelivered, StatusUndelivered,
	StatusFailed, StatusRejected, StatusExpired, StatusDeleted, StatusUnknown,
}

// IsTerminal reports whether no later report should move the message on
// (except a later terminal report, see Fold).
func (s Status) IsTerminal() bool {
	switch s {
	case StatusDelivered, StatusUndelivered, StatusFailed, StatusRejected, StatusExpired, StatusDeleted:
		return true
	}
	return false
}

// IsFailure reports whether analytics count the status as a failed message:
// every terminal status but DELIVERED.
func (s Status) IsFailure() bool { return s.IsTerminal() && s != StatusDelivered }

// Valid reports whether s is one of the closed set.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// rank orders non-terminal statuses: a message never moves back from SENT to
// QUEUED. UNKNOWN ranks lowest so that it never hides a status we do know.
func (s Status) rank() int {
	switch s {
	case StatusUnknown:
		return 0
	case StatusQueued:
		return 1
	case StatusPending:
		return 2
	case StatusSent:
		return 3
	}
	return 4 // terminal
}

// terminalRank orders the terminal statuses for a tie in carrier time
// (Supersedes): a delivery first, then the failures as design.md lists them.
func (s Status) terminalRank() int {
	switch s {
	case StatusDelivered:
		return 6
	case StatusUndelivered:
		return 5
	case StatusFailed:
		return 4
	case StatusRejected:
		return 3
	case StatusExpired:
		return 2
	case StatusDeleted:
		return 1
	}
	return 0
}

// statusWords maps every status spelling we have seen (CXone JSON, SMPP stat:
// codes, SMPP message_state names, common vendor words) to a Status. Keys are
// upper case with spaces and dashes turned into underscores.
var statusWords = map[string]Status{
	"QUEUED": StatusQueued, "QUEUE": StatusQueued, "SCHEDULED": StatusQueued, "CREATED": StatusQueued, "NEW": StatusQueued,
	"PENDING": StatusPending, "PROCESSING": StatusPending, "SUBMITTED": StatusPending, "BUFFERED": StatusPending,
	"SENT": StatusSent, "SENDING": StatusSent, "ACCEPTED": StatusSent, "ACCEPTD": StatusSent, "ENROUTE": StatusSent, "EN_ROUTE": StatusSent,
	"DELIVERED": StatusDelivered, "DELIVRD": StatusDelivered, "DELIVERED_TO_HANDSET": StatusDelivered, "READ": StatusDelivered,
	"UNDELIVERED": StatusUndelivered, "UNDELIV": StatusUndelivered, "UNDELIVERABLE": StatusUndelivered, "NOT_DELIVERED": StatusUndelivered,
	"FAILED": StatusFailed, "FAILURE": StatusFailed, "ERROR": StatusFailed,
	"REJECTED": StatusRejected, "REJECTD": StatusRejected, "BLOCKED": StatusRejected,
	"EXPIRED": StatusExpired,
	"DELETED": StatusDeleted, "CANCELED": StatusDeleted, "CANCELLED": StatusDeleted,
	"UNKNOWN": StatusUnknown,
}

// messageStates is the SMPP message_state TLV (SMPP 3.4, 5.2.28).
var messageStates = map[string]Status{
	"1": StatusSent,        // ENROUTE
	"2": StatusDelivered,   // DELIVERED
	"3": StatusExpired,     // EXPIRED
	"4": StatusDeleted,     // DELETED
	"5": StatusUndelivered, // UNDELIVERABLE
	"6": StatusSent,        // ACCEPTED
	"7": StatusUnknown,     // UNKNOWN
	"8": StatusRejected,    // REJECTED
}

var statusSeparators = strings.NewReplacer(" ", "_", "-", "_")

// ParseStatus normalizes a status as a carrier or CXone spells it. It never
// fails: what it does not know is StatusUnknown, and the caller keeps the raw
// value.
func ParseStatus(raw string) Status {
	s := strings.ToUpper(strings.TrimSpace(strings.Trim(raw, "\x00")))
	s = strings.TrimPrefix(s, "STAT:")
	s = statusSeparators.Replace(s)
	if st, ok := statusWords[s]; ok {
		return st
	}
	return StatusUnknown
}

// ParseMessageState maps the numeric SMPP message_state TLV to a Status.
func ParseMessageState(raw string) Status {
	if st, ok := messageStates[strings.TrimSpace(raw)]; ok {
		return st
	}
	return StatusUnknown
}

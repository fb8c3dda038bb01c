package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// StatusReceived is the one event cxsms records: a delivery report as a
// carrier or CXone sent it, with its fields normalized. It is a fact and is
// never updated or deleted; every read model is derived from a log of them.
type StatusReceived struct {
	MessageID   string
	EventID     string
	Status      Status
	RawStatus   string // as received: "DELIVRD", "stat:UNDELIV", message_state "2", ...
	CarrierCode string
	ErrorCode   string
	SenderID    string
	Recipient   string
	Price       *Micros // nil when the report carries no price
	Currency    string
	OccurredAt  time.Time // the carrier's time; ReceivedAt when the report has none we can read
	ReceivedAt  time.Time
	Format      Format
	Raw         json.RawMessage // the report exactly as received (a JSON string for receipt text)
}

// Format says which shape a report arrived in; metrics and the simulator use it.
type Format string

const (
	FormatJSON        Format = "json"         // CXone's own JSON fields
	FormatSMPPJSON    Format = "smpp_json"    // JSON carrying SMPP field names or TLVs
	FormatSMPPReceipt Format = "smpp_receipt" // SMPP delivery-receipt text
)

// Key is the idempotency key of a report: the log holds one event per key.
type Key struct {
	MessageID string
	EventID   string
}

// Key returns the report's idempotency key.
func (e StatusReceived) Key() Key { return Key{e.MessageID, e.EventID} }

// Errors callers test for.
var (
	// ErrNoMessageID means a report carries no message ID we can read; such a
	// report is refused, because nothing could ever find it again.
	ErrNoMessageID = errors.New("report has no message ID")
	// ErrEmptyBody means the request carried nothing to parse.
	ErrEmptyBody = errors.New("body is empty")
)

// ParseError says which part of a body could not be parsed and why. Index is
// the report's position in a batch (0 for a single report), or bodyLevel when
// the body as a whole is wrong (empty, not JSON, no reports...).
type ParseError struct {
	Index  int
	Field  string
	Reason string
	Err    error // a sentinel such as ErrNoMessageID, when one applies
}

// bodyLevel is ParseError.Index for errors about the body as a whole.
const bodyLevel = -1

func (e *ParseError) Error() string {
	var b strings.Builder
	if e.Index != bodyLevel {
		b.WriteString("report ")
		b.WriteString(strconv.Itoa(e.Index))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Micros is an amount of money in millionths of a currency unit. Carrier
// prices such as 0.0075 USD per segment are exact in it, where a float is not.
type Micros int64

// ParseMicros reads a decimal amount ("0.0075", "12", "-1.5") with at most six
// decimal places.
func ParseMicros(s string) (Micros, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("empty amount")
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("amount %q has no digits", s)
	}
	for _, part := range []string{whole, frac} {
		for _, c := range part {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("amount %q is not a decimal number", s)
			}
		}
	}
	// Carriers quote to at most 5 places; more is noise, so round it off
	// (half away from zero, as PostgreSQL rounds numeric) rather than refuse
	// the report. It was cut off: 0.0089999 was 0.008999, every total low.
	roundUp := false
	if len(frac) > 6 {
		roundUp = frac[6] >= '5'
		frac = frac[:6]
	}
	if len(whole) > 12 {
		return 0, fmt.Errorf("amount %q is too large", s)
	}
	var w, f int64
	if whole != "" {
		w, _ = strconv.ParseInt(whole, 10, 64)
	}
	if frac != "" {
		f, _ = strconv.ParseInt((frac + "000000")[:6], 10, 64)
	}
	m := Micros(w*1_000_000 + f)
	if roundUp {
		if m++; m > maxMicros {
			return 0, fmt.Errorf("amount %q is too large", s)
		}
	}
	if neg {
		m = -m
	}
	return m, nil
}

// maxMicros is the largest amount the store's numeric(18,6) holds.
const maxMicros Micros = 999_999_999_999_999_999

// String formats m as a plain decimal with six places, as PostgreSQL's numeric
// input reads it.
func (m Micros) String() string {
	sign := ""
	v := int64(m)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%06d", sign, v/1_000_000, v%1_000_000)
}

// Float returns m in currency units, for display and ratios only.
func (m Micros) Float() float64 { return float64(m) / 1e6 }

package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Request is what the HTTP layer hands the parser: the body and the few
// headers that change its meaning.
type Request struct {
	Body          []byte
	ContentType   string // may be empty; "text/plain" bodies are receipt text (unless they are a JSON object or array)
	EventIDHeader string // X-CXone-Event-Id, else webhook-id header; may be empty
	// FallbackEventIDHeader names the delivery when EventIDHeader cannot:
	// webhook-id beside an X-CXone-Event-Id that is malformed or holds a
	// message ID. May be empty.
	FallbackEventIDHeader string
	ReceivedAt            time.Time // set on every event's ReceivedAt, and OccurredAt fallback

	// deep says the body nests deeper than maxJSONDepth somewhere, so each
	// report's own depth must be checked (parseJSONBody sets it).
	deep bool
	// headerNamesMessage says EventIDHeader holds one of a report's
	// message IDs (the report parsers set it; see Parse).
	headerNamesMessage bool
}

// maxJSONDepth bounds a report's JSON nesting. A real report is three
// levels deep at most; checking before decoding turns a hostile body into a
// clear 400 instead of work for encoding/json's own (much deeper) limit.
// Each report is checked on its own, so a report accepted alone is not
// refused inside an array or events object (with its whole batch), and the
// error names it; the body as a whole is held to maxBodyDepth first, to
// bound the work a hostile one makes before that.
const (
	maxJSONDepth = 32
	maxBodyDepth = 128
)

// Parse turns a webhook body into events, one per report. The body may be one
// report, a JSON array of reports, {"events":[...]}, or SMPP receipt text;
// each JSON report may be bare or wrapped in the CXone envelope
// {"eventType":..., "eventId":..., "payload":{...}}.
//
// Where a JSON report also carries receipt text (shortMessage, short_message,
// receipt), its JSON fields win and the receipt fills only what they leave
// out. A report without an event ID gets one from the request header, or
// else from a hash of its content (see jsonEventID).
//
// Any error refuses the whole request, so that a batch is stored entirely or
// not at all and the sender's retry carries every report again. The error is
// a *ParseError; it wraps ErrNoMessageID when a report has no usable message
// ID, and ErrEmptyBody when there is nothing to parse.
//
// Events never alias req.Body, so the caller may reuse its buffer.
func Parse(req Request) ([]StatusReceived, error) {
	// The first header that can name this delivery does: one that is
	// malformed, or holds one report's message ID, names no delivery. As
	// an event ID base for the other reports ("B2:1"), such a header made
	// every later status of theirs a duplicate, acknowledged and lost.
	// With neither, the content names each report.
	var events []StatusReceived
	var err error
	headers := []string{req.EventIDHeader, req.FallbackEventIDHeader, ""}
	for i, h := range headers {
		if i < len(headers)-1 && headerEventID(h, 0, 1) == "" {
			continue // absent or malformed
		}
		req.EventIDHeader, req.headerNamesMessage = h, false
		if events, err = parse(&req); err != nil {
			return nil, err
		}
		if !req.headerNamesMessage {
			break
		}
	}
	for i := range events {
		clipLengths(&events[i])
		// A carrier time far in the future is a clock or a unit gone wrong,
		// not a fact: kept, a terminal report dated 5138 would win every
		// later one. Like a time we cannot read, it falls back on received_at.
		if e := &events[i]; e.OccurredAt.After(e.ReceivedAt.Add(maxClockSkew)) {
			e.OccurredAt = e.ReceivedAt
		}
		// PostgreSQL keeps microseconds, and the way there rounded some
		// spellings of a time and cut others: one instant was stored 1 µs
		// apart as 1714978805.999999999 and as ...05.999999999Z, and a
		// terminal report 800 ns later could lose to an earlier one. Cut
		// here, every spelling is one time, as stored.
		events[i].OccurredAt = events[i].OccurredAt.Truncate(time.Microsecond)
	}
	return events, nil
}

// maxClockSkew is how far past our own clock a carrier's time may be.
const maxClockSkew = 24 * time.Hour

// maxFieldLen bounds the normalized free-text fields of a report. Real ones
// are a few characters (a carrier code, an E.164 number, an 11-character
// sender ID), but carriers do send an error's whole description as its code.
// Several of these fields key read-model rows, whose index PostgreSQL
// refuses beyond about 2.7 kB.
const maxFieldLen = 100

// clipLengths cuts a free-text field over maxFieldLen characters down to
// that, whatever shape the report came in. Refusing the report instead
// would lose it (a sender does not retry a 400), and design.md lets only
// the message ID make a report invalid; its raw keeps the whole text.
func clipLengths(e *StatusReceived) {
	for _, f := range []*string{&e.RawStatus, &e.CarrierCode, &e.ErrorCode, &e.SenderID, &e.Recipient, &e.Currency} {
		if len(*f) <= maxFieldLen {
			continue
		}
		n := 0
		for i := range *f {
			if n == maxFieldLen {
				*f = strings.TrimSpace((*f)[:i])
				break
			}
			n++
		}
	}
}

func parse(req *Request) ([]StatusReceived, error) {
	body := trimBody(req.Body)
	if len(body) == 0 {
		return nil, &ParseError{Index: bodyLevel, Reason: "body is empty", Err: ErrEmptyBody}
	}
	// Content decides before Content-Type: senders label JSON as text/plain
	// often enough, and a JSON body can never be read as a receipt anyway.
	if body[0] == '{' || body[0] == '[' {
		return parseJSONBody(req, body)
	}
	if body[0] == '"' && json.Valid(body) {
		// Receipt text sent as a JSON string, as inside an array.
		return parseReceiptString(req, body, 0, 1)
	}
	text := string(body)
	if !isTextPlain(req.ContentType) && json.Valid(body) {
		return nil, &ParseError{Index: bodyLevel, Reason: "body is " + jsonKind(body[0]) + ", not a report"}
	}
	if _, keys, _ := parseReceipt(text); keys < 2 && !isTextPlain(req.ContentType) {
		// One key could be anything ("note: hi"); two receipt keys are a receipt,
		// and from here a missing id: is reported as such.
		return nil, &ParseError{Index: bodyLevel, Reason: "body is neither JSON nor an SMPP delivery receipt"}
	}
	return receiptReports(req, text, jsonString(req.Body), -1, 1)
}

// receiptReports reads receipt text: one receipt, or several one per line
// (splitReceipts), as some gateways batch them. raw is the text as it goes
// into the log when it is one receipt; several are logged each as its own
// text. index is the report's place in a JSON array, or -1 for a text body,
// where each receipt counts as a report of its own.
func receiptReports(req *Request, text string, raw json.RawMessage, index, n int) ([]StatusReceived, error) {
	parts := splitReceipts(text)
	if len(parts) <= 1 {
		parts = []string{text}
	}
	out := make([]StatusReceived, len(parts))
	for k, part := range parts {
		rc, _, err := parseReceipt(part)
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				// parseReceipt reads one receipt; say which report it is:
				// the array's string, or the text body's receipt.
				pe.Index = index
				if index < 0 {
					pe.Index = k
				}
			}
			return nil, err
		}
		req.noteHeaderNames(rc.ID)
		e := receiptEvent(rc, req.ReceivedAt)
		e.Format = FormatSMPPReceipt
		switch {
		case len(parts) == 1:
			e.Raw = raw
			if e.EventID = headerEventID(req.EventIDHeader, max(index, 0), n); e.EventID == "" {
				e.EventID = receiptEventID(text)
			}
		case index < 0: // the receipts of a text body
			e.Raw = jsonString([]byte(part))
			if e.EventID = headerEventID(req.EventIDHeader, k, len(parts)); e.EventID == "" {
				e.EventID = receiptEventID(part)
			}
		default: // the receipts of one string in an array: the header's ID names the string
			e.Raw = jsonString([]byte(part))
			e.EventID = receiptEventID(part)
		}
		out[k] = e
	}
	return out, nil
}

// noteHeaderNames notes whether the event-ID header holds the message ID
// id, in any case: such a header names a message, not this delivery, and
// Parse reads the body again without it.
func (req *Request) noteHeaderNames(id string) {
	if req.EventIDHeader != "" && strings.EqualFold(trimID(req.EventIDHeader), id) {
		req.headerNamesMessage = true
	}
}

// splitReceipts splits receipt text into its receipts: one per line, or
// one after another on a line, each ended by the NULs of a C string or by a
// space. A receipt's text: holds the start of the SMS, which may hold line
// breaks and even "id:" ("Hello\nid:4821 is your code"), so a piece starts
// the next receipt only when it is one whole (it starts with id: and has a
// stat:) and the receipt before it is whole too (it has its stat:). On one
// line, a space-separated "id:" inside the text: is the SMS's, unless what
// follows is a receipt as SMSCs write one (wholeReceipt); after a NUL the
// text has ended. Lines may end in \r\n, \n or \r; blank lines are
// dropped. One receipt, the usual body, comes back as
// one part.
//
// Two receipts on one line, after a NUL ("...text:hi\x00id:2 stat:...")
// or a space, were read as one: the second's id: a repeat, ignored, and its
// report acknowledged and never stored.
func splitReceipts(text string) []string {
	lines := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' })
	var parts []string
	complete := false // the last part has its stat:
	for _, line := range lines {
		if strings.Trim(line, " \t\x00") == "" {
			continue
		}
		for k, piece := range receiptPieces(line) {
			var last receiptField
			if len(parts) > 0 {
				_, _, last, _ = scanReceipt(parts[len(parts)-1])
			}
			start := strings.TrimLeft(piece, " \t\x00")
			starts := len(parts) == 0 ||
				complete && len(start) >= 3 && strings.EqualFold(start[:3], "id:") && hasStat(piece) &&
					(k == 0 || last != rfText || strings.HasSuffix(parts[len(parts)-1], "\x00") || wholeReceipt(piece))
			switch {
			case starts:
				parts = append(parts, piece)
			case k == 0:
				parts[len(parts)-1] += "\n" + piece
			default: // the rest of its line, separators kept
				parts[len(parts)-1] += piece
			}
			complete = hasStat(parts[len(parts)-1])
		}
	}
	return parts
}

// wholeReceipt reports whether a piece of a line holds a receipt of its
// own, not a few words of the SMS in the text: before it: an id:, a stat:
// that is a receipt's status code as SMSCs write it (upper case: DELIVRD,
// UNDELIV, ...), and one more receipt field (a date, err:, sub:, dlvrd:).
// Receipts end in text:, so receipts joined by spaces had every one after
// the first read as the first's text, their reports acknowledged and never
// stored; an SMS whose start reads "Parcel id:8801 stat:delivered" or
// "your id:42 stat:ok" stays text (split, it made a phantom report that
// changed message 8801's status).
func wholeReceipt(piece string) bool {
	rc, found, _ := parseReceipt(piece)
	return found >= 3 && receiptStatCodes[rc.Stat]
}

// receiptStatCodes are the stat: values SMSCs write, SMPP's codes and the
// words some use instead, in upper case as they write them.
var receiptStatCodes = map[string]bool{
	"DELIVRD": true, "UNDELIV": true, "REJECTD": true, "EXPIRED": true, "DELETED": true, "ACCEPTD": true,
	"ENROUTE": true, "UNKNOWN": true, "DELIVERED": true, "UNDELIVERABLE": true, "REJECTED": true, "ACCEPTED": true,
}

// receiptPieces cuts a line before every "id:" that follows a separator
// (isReceiptSep), keeping the separators at the end of the piece before:
// the places where another receipt may start. Joined, the pieces are the
// line.
func receiptPieces(line string) []string {
	var pieces []string
	from := 0
	for i := 1; i+3 <= len(line); i++ {
		if isReceiptSep(line[i-1]) && !isReceiptSep(line[i]) && strings.EqualFold(line[i:i+3], "id:") {
			pieces = append(pieces, line[from:i])
			from = i
		}
	}
	return append(pieces, line[from:])
}

// hasStat reports whether receipt text has a stat: field.
func hasStat(s string) bool {
	rc, _, _ := parseReceipt(s)
	return rc.Stat != ""
}

// isReport reports whether a JSON object is a report whatever else it holds:
// it names a message, carries a CXone envelope's payload or a receipt. A
// member that is null or empty ("messageId":null, as serializers that write
// every field do) holds none of those: such a wrapper's batch was refused.
func isReport(m object) bool {
	fields := reportFields{m: m}
	if id, _, _ := fields.text(messageIDKeys, trimMessageID); id != "" {
		return true
	}
	if text, _, _ := fields.text(receiptKeys, trimReceipt); text != "" {
		return true
	}
	p, ok := m.get("payload")
	return ok && p[0] == '{'
}

// receiptEvent fills the fields a receipt carries. Receipts name no carrier,
// sender or recipient.
func receiptEvent(rc Receipt, receivedAt time.Time) StatusReceived {
	e := StatusReceived{
		MessageID:  rc.ID,
		Status:     ParseStatus(rc.Stat),
		RawStatus:  rc.Stat,
		ErrorCode:  rc.Err,
		OccurredAt: rc.DoneDate,
		ReceivedAt: receivedAt,
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = receivedAt
	}
	return e
}

func parseJSONBody(req *Request, body []byte) ([]StatusReceived, error) {
	depth := jsonDepth(body, maxBodyDepth)
	if depth > maxBodyDepth {
		return nil, &ParseError{Index: bodyLevel, Reason: fmt.Sprintf("JSON nested deeper than %d levels (a report may nest %d)", maxBodyDepth, maxJSONDepth)}
	}
	// A report is never deeper than its body: most bodies need no second
	// scan, report by report.
	req.deep = depth > maxJSONDepth
	// Validate once; from here the body is split by hand (jsonsplit.go).
	if !json.Valid(body) {
		var v any
		return nil, jsonSyntaxError(json.Unmarshal(body, &v))
	}
	var reports []json.RawMessage
	var err error
	if body[0] == '[' {
		if reports, err = splitArray(body); err != nil {
			return nil, jsonSyntaxError(err)
		}
		if len(reports) == 0 {
			return nil, &ParseError{Index: bodyLevel, Reason: "no reports: the array is empty"}
		}
	} else {
		top, err := splitObject(body)
		if err != nil {
			return nil, jsonSyntaxError(err)
		}
		events, ok := top.get("events")
		if ok && isReport(top) {
			// A report with a member of its own named events (a
			// message's event list, say) is a report, not a wrapper:
			// read as one, its own status was acknowledged and lost.
			ok = false
		}
		if ok && top.repeated("events") {
			// The last one would win, and the reports of the others be
			// acknowledged and lost.
			return nil, &ParseError{Index: bodyLevel, Field: "events", Reason: "given more than once: send the reports in one array"}
		}
		if !ok {
			e, err := parseJSONReport(req, bytes.Clone(body), top, 0, 1)
			if err != nil {
				return nil, err
			}
			return []StatusReceived{e}, nil
		}
		if events[0] != '[' {
			return nil, &ParseError{Index: bodyLevel, Field: "events", Reason: "must be an array of reports, not " + jsonKind(events[0])}
		}
		if reports, err = splitArray(events); err != nil {
			return nil, jsonSyntaxError(err)
		}
		if len(reports) == 0 {
			return nil, &ParseError{Index: bodyLevel, Field: "events", Reason: "no reports: the array is empty"}
		}
	}
	out := make([]StatusReceived, 0, len(reports))
	for i, raw := range reports {
		switch raw[0] {
		case '{':
			m, err := splitObject(raw)
			if err != nil {
				return nil, jsonSyntaxError(err)
			}
			e, err := parseJSONReport(req, bytes.Clone(raw), m, i, len(reports))
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		case '"':
			es, err := parseReceiptString(req, raw, i, len(reports))
			if err != nil {
				return nil, err
			}
			out = append(out, es...)
		default:
			return nil, &ParseError{Index: i, Reason: "report is " + jsonKind(raw[0]) + ", not an object or SMPP receipt text"}
		}
	}
	return out, nil
}

// parseReceiptString reads a report of a batch given as a JSON string of
// SMPP receipt text, as gateways that batch raw receipts send them.
func parseReceiptString(req *Request, raw []byte, index, n int) ([]StatusReceived, error) {
	text, err := decodeJSONString(raw)
	if err != nil {
		return nil, &ParseError{Index: index, Reason: "report is not a valid JSON string"}
	}
	if _, keys, _ := parseReceipt(text); keys < 2 {
		return nil, &ParseError{Index: index, Reason: "report is a JSON string but not an SMPP delivery receipt"}
	}
	return receiptReports(req, text, validUTF8(bytes.Clone(raw)), index, n)
}

// JSON field names, in order of preference. They follow the CXone tutorial's
// parser, plus the SMPP names carrier gateways pass through, and the names
// this service's own answers use (senderId, recipient).
var (
	messageIDKeys   = []string{"messageId", "smppMessageId", "externalId", "receipted_message_id"}
	statusKeys      = []string{"status", "deliveryStatus"}
	messageStateKey = []string{"message_state"}
	carrierKeys     = []string{"carrier", "carrierCode"}
	errorCodeKeys   = []string{"errorCode", "smppErrorCode", "network_error_code"}
	senderKeys      = []string{"from", "sourceAddress", "source_addr", "senderId"}
	recipientKeys   = []string{"to", "destinationAddress", "destination_addr", "recipient"}
	priceKey        = []string{"price"}
	currencyKey     = []string{"currency"}
	occurredKeys    = []string{"timestamp", "deliveryTime"}
	receiptKeys     = []string{"shortMessage", "short_message", "receipt"}
	eventIDKeys     = []string{"eventId", "id"} // in this order: eventIDField splits them

	// smppKeys mark a report as FormatSMPPJSON: names taken from SMPP PDUs
	// and TLVs rather than CXone's own API.
	smppKeys = []string{
		"smppMessageId", "smppErrorCode", "receipted_message_id", "message_state",
		"network_error_code", "source_addr", "destination_addr", "sourceAddress",
		"destinationAddress", "shortMessage", "short_message", "receipt",
	}
)

// A deliver_sm that notifies of an earlier message (a delivery receipt,
// esm_class: see notifiesPDU) carries its addresses reversed (SMPP 3.4
// §4.6.1): source_addr is the handset the message went to, and
// destination_addr the sender. Read as written, the sender ID was the
// handset's number and the region UNKNOWN.
var (
	notificationSenderKeys    = []string{"from", "sourceAddress", "destination_addr", "senderId"}
	notificationRecipientKeys = []string{"to", "destinationAddress", "source_addr", "recipient"}
	esmClassKey               = []string{"esm_class"}
)

// parseJSONReport reads one report. raw is the report exactly as received
// (the envelope, when there is one) and m its decoded top level.
//
// Where a report carries both JSON fields and a receipt text
// (shortMessage, short_message, receipt), the JSON fields win: the gateway
// that wrote them parsed the receipt already, and may have corrected it.
// The receipt fills only what the JSON leaves out.
func parseJSONReport(req *Request, raw []byte, m object, index, n int) (StatusReceived, error) {
	e := StatusReceived{ReceivedAt: req.ReceivedAt, Format: FormatJSON}
	if req.deep && jsonDepth(raw, maxJSONDepth) > maxJSONDepth {
		return e, &ParseError{Index: index, Reason: fmt.Sprintf("JSON nested deeper than %d levels in a report", maxJSONDepth)}
	}
	r := reportFields{m: m, index: index}
	// A payload that is not an object (null, mostly) is no envelope: the
	// report's fields are then read from the top level.
	if m.repeated("payload") {
		// The last one would win, and the report of the others be lost.
		return e, &ParseError{Index: index, Field: "payload", Reason: "given more than once: send one report per payload"}
	}
	p, ok := m.get("payload")
	if ok && p[0] == '"' {
		// A payload encoded twice, as a JSON string holding the object
		// (queues and gateways that forward a body as text do it): it was
		// read as no payload, and its report refused for a missing
		// messageId. The object inside is the payload; the raw report
		// keeps the string.
		if text, err := decodeJSONString(p); err == nil {
			if inner := bytes.TrimSpace([]byte(text)); len(inner) > 0 && inner[0] == '{' && json.Valid(inner) &&
				(!req.deep || jsonDepth(inner, maxJSONDepth) <= maxJSONDepth) {
				p = inner
			}
		}
	}
	if ok && p[0] == '{' {
		pm, err := splitObject(p)
		if err != nil {
			return e, jsonSyntaxError(err)
		}
		r = reportFields{m: pm, prefix: "payload.", index: index, envelope: &reportFields{m: m, index: index}}
	}
	if r.hasAny(smppKeys) {
		e.Format = FormatSMPPJSON
	}

	id, idKey, mistyped := r.orEnvelope(messageIDKeys, trimMessageID)
	var rc Receipt
	var rcErr error
	text, rcKey, _ := r.text(receiptKeys, trimReceipt)
	if text != "" {
		// One report, one receipt: of two in the text of a report that
		// names its message by the receipt's id: alone, the second was
		// acknowledged and stored nowhere, and which of the report's JSON
		// fields are whose cannot be told. A report that names its message
		// itself is that message's, whatever its receipt text holds.
		if id == "" {
			if parts := splitReceipts(text); len(parts) > 1 {
				return e, r.errorf(rcKey, nil, "holds %d receipts and the report no message ID of its own; a report carries one: send them as a JSON array of receipt strings, or as a text body", len(parts))
			}
		}
		rc, _, rcErr = parseReceipt(text)
	}

	var err error
	switch {
	case id != "":
		if e.MessageID, err = checkID(id, maxMessageIDLen); err != nil {
			return e, r.errorf(idKey, ErrNoMessageID, "%v", err)
		}
	case mistyped != nil:
		return e, mistyped
	case text != "" && rcErr == nil:
		e.MessageID = rc.ID
	case text != "":
		return e, r.errorf(rcKey, ErrNoMessageID, "no message ID field, and the receipt's id: %s", rcErr.(*ParseError).Reason)
	default:
		if _, zeroKey, _ := r.orEnvelope(messageIDKeys, trimID); zeroKey != "" {
			return e, r.errorf(zeroKey, ErrNoMessageID, "is 0, which names no message (what serializers write for an unset number), and none of %s names one",
				strings.Join(messageIDKeys, ", "))
		}
		return e, r.errorf(r.prefix+"messageId", ErrNoMessageID, "missing: none of %s is present", strings.Join(messageIDKeys, ", "))
	}

	// The other fields are facts we keep when we can read them: one of the
	// wrong type or form is left out (the raw report keeps it), never a
	// reason to refuse the report.
	// The status from the first of these sources that names one we know:
	// the status field, the message_state TLV, the receipt's stat:. A
	// gateway's own code in "status" (2, "processed") must not hide a
	// message_state or stat: that says what happened. With none known, the
	// first given is kept as raw_status, with UNKNOWN.
	state, _, _ := r.text(messageStateKey, normField)
	status, _, _ := r.text(statusKeys, normField)
	for _, s := range []struct {
		raw   string
		parse func(string) Status
	}{{status, ParseStatus}, {state, messageState}, {rc.Stat, ParseStatus}} {
		if s.raw == "" {
			continue
		}
		if st := s.parse(s.raw); st != StatusUnknown || e.RawStatus == "" {
			e.RawStatus, e.Status = s.raw, st
			if st != StatusUnknown {
				break
			}
		}
	}
	if e.RawStatus == "" && r.envelope != nil {
		// A payload that says nothing of the status: the envelope's, as
		// a sender that puts it there means it.
		if e.RawStatus, _, _ = r.envelope.text(statusKeys, normField); e.RawStatus != "" {
			e.Status = ParseStatus(e.RawStatus)
		} else if e.RawStatus, _, _ = r.envelope.text(messageStateKey, normField); e.RawStatus != "" {
			e.Status = messageState(e.RawStatus)
		}
	}
	if e.RawStatus == "" {
		e.Status = StatusUnknown
	}

	e.CarrierCode, _, _ = r.orEnvelope(carrierKeys, normField)
	if e.ErrorCode, _, _ = r.text(errorCodeKeys, normField); e.ErrorCode == "" {
		e.ErrorCode = rc.Err
	}
	if e.ErrorCode == "" && r.envelope != nil {
		e.ErrorCode, _, _ = r.envelope.text(errorCodeKeys, normField)
	}
	senders, recipients := senderKeys, recipientKeys
	if r.notifiesPDU() {
		senders, recipients = notificationSenderKeys, notificationRecipientKeys
	}
	e.SenderID, _, _ = r.orEnvelope(senders, normField)
	e.Recipient, _, _ = r.orEnvelope(recipients, normField)
	e.Currency, _, _ = r.orEnvelope(currencyKey, normCurrency)
	e.Price, e.Currency = r.price(e.Currency)

	e.OccurredAt = r.occurredAt()
	if e.OccurredAt.IsZero() {
		e.OccurredAt = rc.DoneDate
	}
	if e.OccurredAt.IsZero() && r.envelope != nil {
		e.OccurredAt = r.envelope.occurredAt()
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = req.ReceivedAt
	}

	if req.EventIDHeader != "" && r.namesMessage(trimID(req.EventIDHeader), e.MessageID) {
		req.headerNamesMessage = true // see Parse
	}
	if e.EventID, err = jsonEventID(&r, e.MessageID, req.EventIDHeader, index, n, raw); err != nil {
		return e, err
	}
	e.Raw = validUTF8(raw)
	return e, nil
}

// validUTF8 returns raw, or a copy with U+FFFD for invalid UTF-8: valid
// JSON can still hold it inside strings, PostgreSQL refuses it, and U+FFFD
// is what any JSON decoder reads there.
func validUTF8(raw []byte) json.RawMessage {
	if utf8.Valid(raw) {
		return raw
	}
	return bytes.ToValidUTF8(raw, []byte("\uFFFD"))
}

// messageState reads the message_state TLV, which some gateways send as its
// SMPP name ("DELIVERED") or zero-padded ("02") rather than the bare number.
func messageState(s string) Status {
	if st := ParseMessageState(strings.TrimLeft(s, "0")); st != StatusUnknown {
		return st
	}
	return ParseStatus(s)
}

// reportFields reads one JSON object's scalar fields by name.
type reportFields struct {
	m      object
	prefix string // "payload." inside an envelope, so errors name the right field
	index  int
	// envelope is where a field the payload lacks is looked for next (see
	// orEnvelope); nil for a bare report.
	envelope *reportFields
}

// errorf describes a problem with field, a path as text returns it.
func (r *reportFields) errorf(field string, sentinel error, format string, args ...any) *ParseError {
	return &ParseError{Index: r.index, Field: field, Reason: fmt.Sprintf(format, args...), Err: sentinel}
}

func (r *reportFields) hasAny(keys []string) bool {
	for _, k := range keys {
		if v, ok := r.m.get(k); ok && v[0] != 'n' {
			return true
		}
	}
	return false
}

// text returns the first of keys that holds a string or a number which is
// not empty once cleaned by clean, and the path of the key it came from
// ("payload.to"). null counts as absent, as JSON writers emit it for "no
// value", and so does a bool, object or array; mistyped describes the first
// key that held one of those, for the callers that refuse it (the message
// ID).
func (r *reportFields) text(keys []string, clean func(string) string) (s, key string, mistyped *ParseError) {
	for _, k := range keys {
		raw, ok := r.m.get(k)
		if !ok {
			continue
		}
		switch c := raw[0]; {
		case c == '"':
			var err error
			if s, err = decodeJSONString(raw); err != nil && mistyped == nil {
				mistyped = r.errorf(r.prefix+k, nil, "is not a valid JSON string")
			}
		case c == '-' || c >= '0' && c <= '9':
			s = jsonNumberText(string(raw))
		case c == 'n':
			continue
		default:
			if mistyped == nil {
				mistyped = r.errorf(r.prefix+k, nil, "must be a string or a number, not %s", jsonKind(c))
			}
			continue
		}
		if s = clean(s); s != "" {
			return s, r.prefix + k, nil
		}
	}
	return "", "", mistyped
}

// orEnvelope is text, looked for in the envelope when the payload has none
// of keys: CXone puts the event's ID there, and senders the message's ID,
// or its status and carrier. The payload's fields win whatever name they go
// by, and a field the payload gives in any form (a status as message_state
// or receipt stat:, a time as deliveryTime or a receipt's done date) is not
// looked for outside: the envelope's "timestamp" is when the webhook was
// sent, its "status" may be its own processing's.
// price reads the report's price in currency (the report's currency field,
// "" for none), from the payload, or from the envelope when the payload's
// cannot be read, as a time is. A price that names its currency ("€0.05")
// fills an empty one; one that names another is no price, nor is "N/A".
func (r *reportFields) price(currency string) (*Micros, string) {
	for _, f := range []*reportFields{r, r.envelope} {
		if f == nil {
			continue
		}
		text, _, _ := f.text(priceKey, normField)
		if text == "" {
			continue
		}
		if f == r.envelope && currency != "" {
			// The envelope's price is in the envelope's currency: counted
			// in the payload's, pounds were added to euros.
			if own, _, _ := f.text(currencyKey, normCurrency); own != "" && own != currency {
				continue
			}
		}
		if p, err := parsePrice(text); err == nil {
			return &p, currency // a plain number, as nearly every report sends
		}
		amount, named := splitPrice(text)
		if p, err := parsePrice(amount); err == nil {
			if fits, fill := priceIn(named, currency); fits {
				return &p, fill
			}
		}
	}
	return nil, currency
}

// notifiesPDU reports whether the report is an SMPP deliver_sm that
// notifies of an earlier message: its esm_class (a number, decimal or 0x
// hex) has a message type in bits 2-5, a delivery receipt (0x04), an SME
// acknowledgement (0x08, 0x10) or an intermediate notification (0x20).
func (r *reportFields) notifiesPDU() bool {
	v, _, _ := r.orEnvelope(esmClassKey, normField)
	if v == "" {
		return false
	}
	n, err := strconv.ParseUint(v, 0, 8)
	return err == nil && n&0x3C != 0
}

func (r *reportFields) orEnvelope(keys []string, clean func(string) string) (s, key string, mistyped *ParseError) {
	s, key, mistyped = r.text(keys, clean)
	if s != "" || r.envelope == nil {
		return s, key, mistyped
	}
	s, key, outer := r.envelope.text(keys, clean)
	if mistyped == nil {
		mistyped = outer
	}
	return s, key, mistyped
}

// occurredAt is the first of occurredKeys that holds a time that can be
// read, or zero.
func (r *reportFields) occurredAt() time.Time {
	for i := range occurredKeys {
		ts, _, _ := r.text(occurredKeys[i:i+1], normField)
		if t := parseTimestamp(ts); !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// decodeJSONString decodes a JSON string, skipping encoding/json for the
// common case of no escapes.
func decodeJSONString(raw []byte) (string, error) {
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// trimBody drops what senders put around a body without meaning it: a
// byte-order mark, whitespace, and the NUL padding of C-string buffers.
func trimBody(b []byte) []byte {
	b = bytes.TrimLeft(b, " \t\r\n\x00")
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	return bytes.Trim(b, " \t\r\n\x00")
}

func isTextPlain(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "text/plain")
}

// jsonDepth is how deep b nests arrays and objects, counted up to limit+1
// (it stops there). It only has to be right for valid JSON; the decoder
// refuses the rest.
func jsonDepth(b []byte, limit int) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > deepest {
				if deepest = depth; deepest > limit {
					return deepest
				}
			}
		case '}', ']':
			depth--
		}
	}
	return deepest
}

func jsonSyntaxError(err error) *ParseError {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &ParseError{Index: bodyLevel, Reason: fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)}
	}
	return &ParseError{Index: bodyLevel, Reason: "invalid JSON: " + err.Error()}
}

// jsonKind names the JSON type that starts with c, for error messages.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "a JSON object"
	case '[':
		return "a JSON array"
	case '"':
		return "a JSON string"
	case 't', 'f':
		return "a JSON boolean"
	case 'n':
		return "JSON null"
	}
	return "a JSON number"
}

// jsonString encodes b as one JSON string, so receipt text can sit in Raw
// beside JSON reports. NULs stay, escaped; invalid UTF-8 becomes U+FFFD.
func jsonString(b []byte) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)  // keep "<" and "&" readable; both are valid either way
	_ = enc.Encode(string(b)) // a string always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

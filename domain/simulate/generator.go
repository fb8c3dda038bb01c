package simulate

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cxsms/cxsms/domain"
)

// Options choose what a Generator makes. Status, Carrier and Region pin what
// would otherwise be drawn.
type Options struct {
	Scenario Scenario
	Seed     uint64
	// Stream picks one of many independent sequences of the same seed: one
	// per worker of a load generator, so each worker's traffic repeats.
	Stream uint64
	// Status is every message's outcome (the last status of a lifecycle, or
	// the single report's status), in any spelling ParseStatus reads
	// ("DELIVRD", "delivered"); empty draws it from the carrier's profile.
	// Reports that spell their status freely spell it as given (see
	// Report.RawStatus), and the webhook normalizes it as it would CXone's.
	Status domain.Status
	// Carrier is any carrier the webhook would store as given (see
	// ParseCarrier); empty draws one that serves the region. Bare SMPP
	// receipts name no carrier, so a pinned carrier's message that would
	// be one receipt alone is sent as that receipt inside SMPP JSON instead.
	Carrier string
	// Region is a destination from RegionCodes (UK is read as GB); empty
	// draws one, among the carrier's regions when Carrier is known.
	Region string
}

// ParseStatus reads a status as a request names it: any spelling the
// webhook understands (domain.ParseStatus: our names, SMPP stat: values such
// as DELIVRD or UNDELIV, common vendor words), in any case, as the status
// the webhook would store. A spelling the webhook would store as UNKNOWN is
// an error naming what is accepted: pinning it would simulate something the
// caller did not mean. UNKNOWN named outright is a status like any other.
func ParseStatus(s string) (domain.Status, error) {
	st := domain.ParseStatus(s)
	if st != domain.StatusUnknown || isUnknown(s) {
		return st, nil
	}
	digits := strings.TrimLeft(strings.TrimSpace(s), "0")
	if ms := domain.ParseMessageState(digits); ms != domain.StatusUnknown && strings.Trim(digits, "0123456789") == "" {
		// The webhook too reads a number in a status field as the
		// gateway's own code, never as message_state: say what it meant.
		return "", fmt.Errorf("unknown status %q: the webhook reads a number only as SMPP message_state, where %s is %s; name the status instead (have: %s)",
			s, digits, ms, statusNames())
	}
	return "", fmt.Errorf("unknown status %q (have: %s)", s, statusNames())
}

// smppStats are the stat: values of SMPP 3.4 receipts (appendix B), which
// ParseStatus accepts alongside our own names.
var smppStats = []string{"ENROUTE", "ACCEPTD", "DELIVRD", "UNDELIV", "REJECTD", "EXPIRED", "DELETED", "UNKNOWN"}

// statusNames lists what ParseStatus accepts, for its errors.
func statusNames() string {
	names := make([]string, len(domain.Statuses))
	for i, v := range domain.Statuses {
		names[i] = string(v)
	}
	return strings.Join(names, ", ") + "; or an SMPP stat: value, " + strings.Join(smppStats, ", ")
}

// isUnknown reports whether s names UNKNOWN itself, as domain.ParseStatus
// reads it, rather than a word it does not know.
func isUnknown(s string) bool {
	u := strings.ToUpper(strings.TrimSpace(strings.Trim(s, "\x00")))
	return strings.TrimSpace(strings.TrimPrefix(u, "STAT:")) == string(domain.StatusUnknown)
}

// maxCarrierLen is the webhook's limit on a carrier code (domain's
// maxFieldLen, in characters): it clips a longer one, so a longer pinned
// carrier would be stored as another. TestCarrierLimitIsTheWebhooks holds
// the two together.
const maxCarrierLen = 100

// ParseCarrier reads a carrier as a request names it and returns it as the
// webhook would store it: trimmed, case kept, any letters, digits, spaces
// or punctuation ("T-Mobile US"), since CXone passes the carrier's own name
// through. What the webhook could not store as given is an error: blank,
// longer than its limit, or holding a control or format character (which
// it drops or turns into a space). A known carrier in any case is that
// carrier ("tmobile" is TMOBILE), so it gets its profile and its rows.
func ParseCarrier(s string) (string, error) {
	c := strings.TrimSpace(s)
	if c == "" {
		return "", fmt.Errorf("carrier %q is blank; leave it out to draw one (known: %s)", s, strings.Join(CarrierCodes(), ", "))
	}
	if !utf8.ValidString(c) {
		return "", fmt.Errorf("carrier %q is not UTF-8 text", s)
	}
	for _, r := range c {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029' {
			return "", fmt.Errorf("carrier %q holds %U, a control character the webhook would not store as given", s, r)
		}
	}
	if n := utf8.RuneCountInString(c); n > maxCarrierLen {
		return "", fmt.Errorf("carrier is %d characters long, more than the webhook's limit of %d", n, maxCarrierLen)
	}
	for _, k := range CarrierCodes() {
		if strings.EqualFold(k, c) {
			return k, nil
		}
	}
	return c, nil
}

// Generator draws messages. It is not safe for concurrent use: give each
// goroutine its own, on its own Stream.
type Generator struct {
	sc     Scenario
	status domain.Status
	// spelling is the pinned status as the caller wrote it.
	spelling string
	carrier  string
	region   *Region
	// carrierRegions are the regions a pinned, known carrier serves.
	carrierRegions []*Region
	src            *source
	seq            int
	// idKey is a digest of the options, mixed into message IDs (see
	// optionsKey); h and buf hash each report's content into its event ID.
	idKey [2]uint64
	h     hash.Hash
	buf   []byte
	sum   [sha256.Size]byte
}

// New validates o and returns a generator for it.
func New(o Options) (*Generator, error) {
	if err := o.Scenario.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{sc: o.Scenario, src: &source{rand.New(rand.NewPCG(o.Seed, o.Stream^0x9e3779b97f4a7c15))}, h: sha256.New()}
	if o.Status != "" {
		st, err := ParseStatus(string(o.Status))
		if err != nil {
			return nil, err
		}
		g.status, g.spelling = st, string(o.Status)
	}
	if o.Carrier != "" {
		c, err := ParseCarrier(o.Carrier)
		if err != nil {
			return nil, err
		}
		g.carrier = c
		for i := range regions {
			if _, ok := regions[i].carrier(c); ok {
				g.carrierRegions = append(g.carrierRegions, &regions[i])
			}
		}
	}
	if o.Region != "" {
		r, ok := findRegion(o.Region)
		if !ok {
			return nil, fmt.Errorf("unknown region %q (have: %s)", o.Region, strings.Join(RegionCodes(), ", "))
		}
		g.region = r
	}
	g.idKey = g.optionsKey()
	return g, nil
}

// optionsKey digests every option that shapes the traffic but the seed and
// stream, which the draws already follow. Message IDs mix it in, so that the
// same seed with other options (status FAILED where it was DELIVERED) makes
// other messages, never new reports about the first run's: a tester's FAILED
// run was stored as duplicates of the DELIVERED one. The same seed and
// options still make the same IDs, and the anchor time is not an option: a
// repeat at another time resends the same reports, stored once.
func (g *Generator) optionsKey() [2]uint64 {
	sc := g.sc
	region := ""
	if g.region != nil {
		region = g.region.Code
	}
	h := sha256.New()
	fmt.Fprintf(h, "scenario=%q lifecycle=%t duplicates=%x outOfOrder=%x smppJson=%x smppReceipt=%x badSenders=%x inFlight=%x status=%q carrier=%q region=%q",
		sc.Name, sc.Lifecycle, sc.Duplicates, sc.OutOfOrder, sc.SMPPJSON, sc.SMPPReceipt, sc.BadSenders, sc.InFlight,
		g.spelling, g.carrier, region)
	sum := h.Sum(nil)
	return [2]uint64{binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])}
}

// Message is one simulated SMS and the reports sent about it.
type Message struct {
	ID        string
	Region    string
	Carrier   string
	Sender    string
	Recipient string
	Text      string
	// Compliant is false when the sender is one of the region's BadSenders.
	Compliant bool
	Segments  int
	// Price is what the carrier charges for all segments, in Currency; it
	// travels on the outcome report when that is CXone JSON.
	Price    domain.Micros
	Currency string
	// Form is the form of the carrier's reports; CXone's own QUEUED and
	// PENDING are always JSON.
	Form domain.Format
	// Final is the last status of the message's life.
	Final domain.Status
	// SubmittedAt is when the carrier took the message (the SMPP submit date).
	SubmittedAt time.Time
	// OutOfOrder is true when Reports do not follow the order of events.
	OutOfOrder bool
	// Reports are in the order they are to be sent, redeliveries included.
	Reports []*Report
	// smppVariant picks between the two SMPP JSON layouts.
	smppVariant int
}

// Report is one report about a message.
type Report struct {
	Message *Message
	// EventID is derived from the report's content and its message's ID
	// (see eventID): a report that differs in anything but its time has
	// another one.
	EventID string
	Status  domain.Status
	// RawStatus is the status as the report spells it, where the form
	// spells it freely (CXone JSON's status, SMPP JSON's deliveryStatus):
	// the pinned status as the caller wrote it, on the report of the
	// outcome. Empty means the canonical spelling (Status, or the SMPP code).
	RawStatus string
	// Seq is the report's place in the message's life, from 0.
	Seq int
	// Form is the form the report has when it is sent alone.
	Form       domain.Format
	OccurredAt time.Time
	ErrorCode  string
	// Duplicate marks a redelivery of the report sent before with the same
	// EventID; its bytes are the same.
	Duplicate bool
}

// Distinct returns the message's reports without redeliveries, in send order.
func (m *Message) Distinct() []*Report {
	out := make([]*Report, 0, len(m.Reports))
	for _, r := range m.Reports {
		if !r.Duplicate {
			out = append(out, r)
		}
	}
	return out
}

// Next draws the next message. Its last report happens a webhook delay
// before anchor, and the others as long before that as the carrier took:
// the caller sends them all around anchor.
func (g *Generator) Next(anchor time.Time) *Message {
	r := g.src
	g.seq++
	reg := g.pickRegion()
	car := g.pickCarrier(reg)
	hi, lo := r.Uint64(), r.Uint64()
	m := &Message{
		ID:        "SIM-" + string(appendUUID(make([]byte, 0, 36), hi^g.idKey[0], lo^g.idKey[1], 4)),
		Region:    reg.Code,
		Carrier:   car.Code,
		Recipient: reg.number(r),
		Text:      texts[r.IntN(len(texts))],
		Currency:  card.RateCard.Currency,
	}
	if r.chance(g.sc.BadSenders) && len(reg.BadSenders) > 0 {
		m.Sender = reg.BadSenders[r.IntN(len(reg.BadSenders))]
	} else {
		m.Sender = reg.Senders[r.IntN(len(reg.Senders))]
		m.Compliant = true
	}
	m.Segments = segments(r.Float64())
	m.Price = car.Price * domain.Micros(m.Segments)
	switch x := r.Float64(); {
	case x < g.sc.SMPPJSON:
		m.Form = domain.FormatSMPPJSON
	case x < g.sc.SMPPJSON+g.sc.SMPPReceipt:
		m.Form = domain.FormatSMPPReceipt
	default:
		m.Form = domain.FormatJSON
	}
	m.smppVariant = r.IntN(2)
	if g.carrier != "" && !g.sc.Lifecycle && m.Form == domain.FormatSMPPReceipt {
		// Receipt text names no carrier, and without a lifecycle (whose
		// QUEUED is JSON) it would be the message's only report: the
		// pinned carrier would never reach the service. The same receipt
		// inside a deliver_sm's JSON, beside carrierCode, carries it.
		m.Form, m.smppVariant = domain.FormatSMPPJSON, 1
	}
	m.Final = g.outcome(m, car)
	if !smppCanSay(m.Final) {
		// SMPP has no FAILED (a gateway reports UNDELIV), and QUEUED or
		// PENDING are CXone's own states, which it reports in its JSON.
		if m.Form != domain.FormatJSON && m.Final == domain.StatusFailed && g.status == "" {
			m.Final = domain.StatusUndelivered
		} else {
			m.Form = domain.FormatJSON
		}
	}

	chain := lifecycle(m.Final)
	times := g.timeline(m, car, chain, anchor)
	for i, st := range chain {
		if st == domain.StatusSent {
			m.SubmittedAt = times[i]
		}
	}
	if m.SubmittedAt.IsZero() {
		m.SubmittedAt = times[0]
	}
	first := 0
	if !g.sc.Lifecycle {
		first = len(chain) - 1 // one report: the message's latest
	}
	distinct := make([]*Report, 0, len(chain))
	for i := first; i < len(chain); i++ {
		rep := &Report{
			Message:    m,
			Status:     chain[i],
			Seq:        i - first,
			Form:       m.formOf(chain[i]),
			OccurredAt: times[i],
		}
		if g.spelling != "" && i == len(chain)-1 {
			rep.RawStatus = g.spelling // the pinned outcome, as written
		}
		rep.ErrorCode = errorCode(rep.Status, rep.Form != domain.FormatJSON, r)
		rep.EventID = g.eventID(rep)
		distinct = append(distinct, rep)
	}
	if len(distinct) > 1 && r.chance(g.sc.OutOfOrder) {
		m.OutOfOrder = true
		shuffleNotIdentity(r, distinct)
	}
	m.Reports = g.redeliver(distinct)
	return m
}

func (g *Generator) pickRegion() *Region {
	switch {
	case g.region != nil:
		return g.region
	case len(g.carrierRegions) > 0:
		return pickWeighted(g.src, g.carrierRegions, func(r *Region) int { return r.weight })
	}
	return pickWeighted(g.src, regionPtrs, func(r *Region) int { return r.weight })
}

var regionPtrs = func() []*Region {
	out := make([]*Region, len(regions))
	for i := range regions {
		out[i] = &regions[i]
	}
	return out
}()

func (g *Generator) pickCarrier(reg *Region) Carrier {
	if g.carrier == "" {
		return pickWeighted(g.src, reg.Carriers, func(c Carrier) int { return c.weight })
	}
	if c, ok := reg.carrier(g.carrier); ok {
		return c
	}
	// A carrier we have no profile for: an average one, at the price the
	// rate card gives a carrier it does not list (the country's default).
	return Carrier{Code: g.carrier, FailureRate: 0.05, Price: cardPrice(g.carrier, reg.Code), Deliver: 2 * time.Second}
}

// eventID names a report by what it says: a hash of its message's ID (which
// carries the seed, stream, place in the sequence and options) and of every
// field the report sends but its time, as a version 8 (custom) UUID. A
// redelivery is a copy and keeps it; a report with other content, from other
// options, never shares it. Times are left out, so the same seed and options
// sent again later are the same reports, stored once.
func (g *Generator) eventID(rep *Report) string {
	m := rep.Message
	b := g.buf[:0]
	for _, f := range [...]string{m.ID, string(rep.Status), rep.RawStatus, string(rep.Form), rep.ErrorCode,
		m.Carrier, m.Sender, m.Recipient, m.Text, m.Currency} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	b = binary.AppendUvarint(b, uint64(rep.Seq))
	b = binary.AppendUvarint(b, uint64(m.smppVariant))
	b = binary.AppendUvarint(b, uint64(m.Segments))
	b = binary.AppendVarint(b, int64(m.Price))
	g.buf = b
	g.h.Reset()
	g.h.Write(b)
	sum := g.h.Sum(g.sum[:0])
	return string(appendUUID(make([]byte, 0, 36), binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16]), 8))
}

func pickWeighted[T any](r *source, items []T, weight func(T) int) T {
	total := 0
	for _, it := range items {
		total += weight(it)
	}
	n := r.IntN(total)
	for _, it := range items {
		if n -= weight(it); n < 0 {
			return it
		}
	}
	return items[len(items)-1]
}

type failureKind struct {
	status domain.Status
	weight int
}

// failures is how a failed message ends, and how often, once it fails.
var failures = []failureKind{
	{domain.StatusUndelivered, 45}, {domain.StatusFailed, 25}, {domain.StatusRejected, 17},
	{domain.StatusExpired, 10}, {domain.StatusDeleted, 3},
}

// outcome draws how the message ends. Every draw is made whatever is pinned,
// so pinning one thing does not change the rest of the sequence.
func (g *Generator) outcome(m *Message, c Carrier) domain.Status {
	r := g.src
	inFlight := r.chance(g.sc.InFlight)
	filtered := !m.Compliant && r.chance(0.5)
	failed := r.chance(c.FailureRate)
	kind := pickWeighted(r, failures, func(f failureKind) int { return f.weight }).status
	switch {
	case g.status != "":
		return g.status
	case inFlight && g.sc.Lifecycle:
		return domain.StatusSent
	case inFlight:
		return domain.StatusPending
	case filtered:
		return domain.StatusRejected
	case failed:
		return kind
	}
	return domain.StatusDelivered
}

// lifecycle is the chain of statuses that ends in final.
func lifecycle(final domain.Status) []domain.Status {
	switch final {
	case domain.StatusQueued:
		return []domain.Status{domain.StatusQueued}
	case domain.StatusPending, domain.StatusSent:
		return []domain.Status{domain.StatusQueued, final}
	}
	return []domain.Status{domain.StatusQueued, domain.StatusSent, final}
}

func smppCanSay(s domain.Status) bool {
	switch s {
	case domain.StatusQueued, domain.StatusPending, domain.StatusFailed:
		return false
	}
	return true
}

// formOf is the form of one report: CXone's own states are its JSON.
func (m *Message) formOf(s domain.Status) domain.Format {
	if s == domain.StatusQueued || s == domain.StatusPending {
		return domain.FormatJSON
	}
	return m.Form
}

// secondsOnly reports whether a report's time can only be told to the
// second: receipt dates have no fractions.
func (m *Message) secondsOnly(s domain.Status) bool {
	f := m.formOf(s)
	return f == domain.FormatSMPPReceipt || (f == domain.FormatSMPPJSON && m.smppVariant == 1)
}

// timeline places each status of chain in time: carrier delays between them,
// the last a webhook delay before anchor. Times a report states only to the
// second are whole seconds, and still strictly after the one before.
func (g *Generator) timeline(m *Message, c Carrier, chain []domain.Status, anchor time.Time) []time.Time {
	r := g.src
	rel := make([]time.Duration, len(chain))
	if !m.secondsOnly(chain[0]) {
		rel[0] = time.Duration(r.IntN(1000)) * time.Millisecond
	}
	for i := 1; i < len(chain); i++ {
		t := rel[i-1] + delay(r, chain[i], c)
		if m.secondsOnly(chain[i]) {
			t = (t + time.Second - 1).Truncate(time.Second)
			if t <= rel[i-1] {
				t += time.Second
			}
		}
		rel[i] = t
	}
	webhook := r.lognormal(150*time.Millisecond, 0.5)
	base := anchor.Add(-webhook - rel[len(rel)-1]).UTC().Truncate(time.Second)
	out := make([]time.Time, len(chain))
	for i, d := range rel {
		out[i] = base.Add(d)
	}
	return out
}

// delay is how long the carrier took to reach status next.
func delay(r *source, next domain.Status, c Carrier) time.Duration {
	switch next {
	case domain.StatusPending, domain.StatusSent:
		return r.lognormal(250*time.Millisecond, 0.5)
	case domain.StatusDelivered:
		return r.lognormal(c.Deliver, 0.6)
	case domain.StatusUndelivered, domain.StatusFailed:
		return r.lognormal(3*c.Deliver, 0.8) // the carrier retried first
	case domain.StatusRejected:
		return r.lognormal(400*time.Millisecond, 0.5) // filtered on submission
	case domain.StatusExpired:
		return r.lognormal(2*time.Hour, 0.3) // the validity period ran out
	case domain.StatusDeleted:
		return r.lognormal(30*time.Second, 0.5)
	}
	return r.lognormal(2*c.Deliver, 0.6)
}

// redeliver inserts byte-identical redeliveries so that they make up the
// scenario's share of what is sent: each report is redelivered with
// probability d/(1-d), some time after the original (later in the message's
// sequence, never before the original).
func (g *Generator) redeliver(distinct []*Report) []*Report {
	d := g.sc.Duplicates
	if d <= 0 {
		return distinct
	}
	p := d / (1 - d)
	r := g.src
	var after map[int][]*Report // slot -> redeliveries sent after distinct[slot]
	for i, rep := range distinct {
		if !r.chance(p) {
			continue
		}
		if after == nil {
			after = map[int][]*Report{}
		}
		slot := i + r.IntN(len(distinct)-i)
		dup := *rep
		dup.Duplicate = true
		after[slot] = append(after[slot], &dup)
	}
	if after == nil {
		return distinct
	}
	out := make([]*Report, 0, len(distinct)+len(after))
	for i, rep := range distinct {
		out = append(out, rep)
		out = append(out, after[i]...)
	}
	return out
}

// shuffleNotIdentity permutes rs into any order but the one they are in.
func shuffleNotIdentity(r *source, rs []*Report) {
	orig := append([]*Report(nil), rs...)
	for {
		r.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
		for i := range rs {
			if rs[i] != orig[i] {
				return
			}
		}
	}
}

func segments(x float64) int {
	switch {
	case x < 0.80:
		return 1
	case x < 0.95:
		return 2
	}
	return 3
}

var texts = []string{
	"Your verification code is 482913",
	"Your order 1182 has shipped",
	"Reminder - appointment tomorrow at 10.30",
	"Your balance is below 20.00",
	"Thanks for your payment",
	"Reply STOP to opt out",
}

// errorCode is the error a report carries: CXone's codes in JSON, SMPP err:
// values otherwise ("000" for success).
func errorCode(s domain.Status, smpp bool, r *source) string {
	if smpp {
		switch s {
		case domain.StatusUndelivered:
			return [...]string{"001", "00B", "069"}[r.IntN(3)]
		case domain.StatusRejected:
			return "045"
		case domain.StatusExpired:
			return "005"
		case domain.StatusDeleted:
			return "006"
		case domain.StatusUnknown:
			return "008"
		}
		return "000"
	}
	switch s {
	case domain.StatusUndelivered:
		return [...]string{"30003", "30005", "30006"}[r.IntN(3)]
	case domain.StatusFailed:
		return [...]string{"30008", "30004"}[r.IntN(2)]
	case domain.StatusRejected:
		return "30007"
	case domain.StatusExpired:
		return "30036"
	case domain.StatusDeleted:
		return "30009"
	}
	return ""
}

// source is the generator's randomness, with the draws it needs.
type source struct{ *rand.Rand }

func (r *source) chance(p float64) bool { return r.Float64() < p }

// lognormal draws a duration whose median is median, to the millisecond,
// between 10 ms and a day.
func (r *source) lognormal(median time.Duration, sigma float64) time.Duration {
	d := time.Duration(float64(median) * math.Exp(sigma*r.NormFloat64()))
	return min(max(d, 10*time.Millisecond), 24*time.Hour).Truncate(time.Millisecond)
}

func (r *source) appendDigits(b []byte, n int) []byte {
	for range n {
		b = append(b, byte('0'+r.IntN(10)))
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendUUID appends the 128 bits hi, lo as a UUID of the given version
// (4 for random bits, 8 for a hash).
func appendUUID(b []byte, hi, lo, version uint64) []byte {
	hi = hi&^(0xf<<12) | version<<12
	lo = lo&^(0x3<<62) | 0x2<<62 // RFC 9562 variant
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(hi >> (56 - 8*i))
		raw[8+i] = byte(lo >> (56 - 8*i))
	}
	for i, c := range raw {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
	}
	return b
}

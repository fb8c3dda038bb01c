package projections

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
)

// Reader answers queries from the read models.
type Reader struct {
	pool  *pgxpool.Pool
	rules *rules.Rules
	// parsed holds the rules documents of read models built under other
	// rules than r's (another process's, or a rebuild's), parsed once.
	mu     sync.Mutex
	parsed map[string]*rules.Rules
}

// NewReader returns a Reader; r supplies thresholds and the rules version
// until a read model records its own.
func NewReader(pool *pgxpool.Pool, r *rules.Rules) *Reader {
	return &Reader{pool: pool, rules: r, parsed: map[string]*rules.Rules{}}
}

// Rules returns the active rules.
func (r *Reader) Rules() *rules.Rules { return r.rules }

// JudgedUnder returns the version of the rules the read model of the
// projection named (bare: "carrier_costs") was built under: the active
// rules' until a projector has registered it. Answers say this, not the
// active version: while a rules change is being rebuilt, or while another
// process's rules hold the read model, the two differ.
func (r *Reader) JudgedUnder(ctx context.Context, projection string) (string, error) {
	j, err := judgedUnder(ctx, r.pool, projection)
	if errors.Is(err, pgx.ErrNoRows) {
		return r.rules.Version, nil
	}
	return j.version, err
}

// rulesOf returns the rules the read model of projection was built under,
// and their version, for what an answer judges as it is read (a carrier's
// recommendation, the SLA thresholds) and the rulesVersion it names, from
// one read: judged under this process's rules over numbers a rebuild with
// another RULES_FILE made, an answer said one version and meant two. A read
// model recorded before documents were, or with a document this binary
// cannot read (a newer release's), is judged under this process's rules, as
// before, under its recorded version.
func (r *Reader) rulesOf(ctx context.Context, q rowQuerier, projection string) (*rules.Rules, string, error) {
	j, err := judgedUnder(ctx, q, projection)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return r.rules, r.rules.Version, nil
	case err != nil:
		return nil, "", err
	case j.document == "" || j.sameRules(r.rules):
		return r.rules, j.version, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rs, ok := r.parsed[j.document]
	if !ok {
		if rs, err = rules.Parse([]byte(j.document)); err != nil {
			rs = r.rules
		}
		if len(r.parsed) >= 8 { // rules change rarely; forget old ones rather than grow
			clear(r.parsed)
		}
		r.parsed[j.document] = rs
	}
	return rs, j.version, nil
}

// snapshot begins a read-only transaction that sees one state of the
// database: an answer's figures and the rules version it names come from
// the same read model. Read statement by statement, a rebuild under other
// rules that swapped its tables in between gave SLA answers naming the old
// rules beside compliance figures of the new (a tester's reads during
// rebuilds). A snapshot alone is not enough: a swap drops tables and moves
// others in, and a table's name is looked up in the catalog as it is now,
// not as the snapshot saw it. So the read model's tables are locked first
// (ACCESS SHARE, which only a swap's DROP waits for), and the snapshot is
// taken after, at the first query. End it with end: it writes nothing.
func (r *Reader) snapshot(ctx context.Context, tables string) (pgx.Tx, error) {
	tx, err := r.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE `+tables+` IN ACCESS SHARE MODE`); err != nil {
		end(ctx, tx)
		return nil, err
	}
	return tx, nil
}

// end ends a snapshot, even once ctx is done.
func end(ctx context.Context, tx pgx.Tx) { _ = tx.Rollback(context.WithoutCancel(ctx)) }

// MessageStatus is a message's current status.
type MessageStatus struct {
	MessageID   string    `json:"messageId"`
	Status      string    `json:"status"`
	RawStatus   string    `json:"rawStatus"`
	CarrierCode string    `json:"carrierCode"`
	ErrorCode   string    `json:"errorCode"`
	SenderID    string    `json:"senderId"`
	Recipient   string    `json:"recipient"`
	Region      string    `json:"region"`
	UpdatedAt   time.Time `json:"updatedAt"`
	EventCount  int       `json:"eventCount"`
	Price       *float64  `json:"price,omitempty"`
	Currency    string    `json:"currency,omitempty"`
}

// CurrentStatus returns one message's status, or eventstore.ErrNotFound.
func (r *Reader) CurrentStatus(ctx context.Context, id string) (MessageStatus, error) {
	row := r.pool.QueryRow(ctx, `SELECT `+stateColumns+` FROM current_status WHERE message_id = $1`, id)
	m, err := scanState(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return MessageStatus{}, fmt.Errorf("message %s: %w", id, eventstore.ErrNotFound)
	}
	if err != nil {
		return MessageStatus{}, fmt.Errorf("current status %s: %w", id, err)
	}
	out := MessageStatus{
		MessageID: m.MessageID, Status: string(m.Status), RawStatus: m.RawStatus, CarrierCode: m.CarrierCode,
		ErrorCode: m.ErrorCode, SenderID: m.SenderID, Recipient: m.Recipient, Region: rules.RegionOf(m.Recipient),
		UpdatedAt: m.UpdatedAt, EventCount: m.EventCount, Currency: m.Currency,
	}
	if m.Price != nil {
		f := m.Price.Float()
		out.Price = &f
	}
	return out, nil
}

// Filter narrows analytics to a time range (From inclusive, To exclusive;
// zero means open), a region and a carrier.
type Filter struct {
	From, To time.Time
	Region   string
	Carrier  string
	// Window is the span of /analytics/sla's windows, a whole number of
	// minutes from From; 0 is one minute.
	Window time.Duration
}

// CarrierStats is one carrier's delivery and cost picture.
type CarrierStats struct {
	Carrier      string  `json:"carrier"`
	Currency     string  `json:"currency"`
	Total        int64   `json:"total"`
	Delivered    int64   `json:"delivered"`
	Failed       int64   `json:"failed"`
	Pending      int64   `json:"pending"`
	DeliveryRate float64 `json:"deliveryRate"` // percent of terminal messages
	FailureRate  float64 `json:"failureRate"`  // percent of terminal messages
	TotalCost    float64 `json:"totalCost"`
	WastedCost   float64 `json:"wastedCost"`
	// CostPerDelivered is nil (null) while nothing is delivered: a carrier
	// that delivered nothing has no cost per delivery, and 0 read as free.
	CostPerDelivered *float64 `json:"costPerDelivered"`
	EstimatedCosts   int64    `json:"estimatedCosts"` // messages priced from the rate card
	Recommendation   string   `json:"recommendation"`
	Reason           string   `json:"reason"`
}

// Carriers sums carrier_costs over the filter, one entry per carrier and
// currency (costs in different currencies do not add up), worst failure rate
// first. The recommendation judges the carrier as a whole, across its
// currencies: a carrier whose failures are priced from the rate card (USD)
// and whose deliveries carry EUR prices is one carrier, not two that each
// have too few reports to judge.
//
// Messages count under the UTC day of their first report, so the filter
// takes every day that overlaps [From, To). It also returns the version of
// the rules the recommendations were judged under (rulesOf).
func (r *Reader) Carriers(ctx context.Context, f Filter) ([]CarrierStats, string, error) {
	q := `SELECT carrier, currency, sum(total), sum(delivered), sum(failed), sum(pending),
			sum(cost)::text, sum(wasted)::text, sum(estimated)
		FROM carrier_costs WHERE true`
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if !f.From.IsZero() {
		q += ` AND day >= ` + arg(f.From.UTC().Truncate(24*time.Hour))
	}
	if !f.To.IsZero() {
		// A day overlaps [From, To) when it starts before To. As a time, To
		// went out as a date, its own day cut off.
		to := f.To.UTC()
		day := to.Truncate(24 * time.Hour)
		if day.Before(to) {
			day = day.Add(24 * time.Hour)
		}
		q += ` AND day < ` + arg(day)
	}
	if f.Region != "" {
		q += ` AND region = ` + arg(f.Region)
	}
	if f.Carrier != "" {
		q += ` AND carrier = ` + arg(f.Carrier)
	}
	q += ` GROUP BY carrier, currency`
	tx, err := r.snapshot(ctx, "carrier_costs")
	if err != nil {
		return nil, "", fmt.Errorf("carriers: %w", err)
	}
	defer end(ctx, tx)
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("carriers: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (CarrierStats, error) {
		var c CarrierStats
		var cost, wasted string
		err := row.Scan(&c.Carrier, &c.Currency, &c.Total, &c.Delivered, &c.Failed, &c.Pending, &cost, &wasted, &c.EstimatedCosts)
		if err != nil {
			return c, err
		}
		// Sums read exactly, then as the nearest float, not as Micros: a
		// report's price fits Micros (numeric(18,6)), but a sum of them
		// need not, and one of 10^12 or more, refused by ParseMicros,
		// read as 0.
		total, ok := new(big.Rat).SetString(cost)
		if !ok {
			return c, fmt.Errorf("cost %q of %s: not a decimal", cost, c.Carrier)
		}
		c.TotalCost, _ = total.Float64()
		if c.WastedCost, err = strconv.ParseFloat(wasted, 64); err != nil {
			return c, fmt.Errorf("wasted cost %q of %s: %w", wasted, c.Carrier, err)
		}
		if terminal := c.Delivered + c.Failed; terminal > 0 {
			c.DeliveryRate, c.FailureRate = Rates(c.Delivered, c.Failed)
		}
		if c.Delivered > 0 {
			// From the exact sum, not its float: 0.3 over 6 came out as
			// 0.049999999999999996.
			per, _ := new(big.Rat).Quo(total, new(big.Rat).SetInt64(c.Delivered)).Float64()
			c.CostPerDelivered = &per
		}
		return c, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("carriers: %w", err)
	}
	type outcome struct{ terminal, failed int }
	byCarrier := map[string]outcome{}
	for _, c := range out {
		o := byCarrier[c.Carrier]
		byCarrier[c.Carrier] = outcome{o.terminal + int(c.Delivered+c.Failed), o.failed + int(c.Failed)}
	}
	judged, version, err := r.rulesOf(ctx, tx, "carrier_costs")
	if err != nil {
		return nil, "", fmt.Errorf("carriers: %w", err)
	}
	entries := map[string]int{}
	for _, c := range out {
		entries[c.Carrier]++
	}
	for i, c := range out {
		o := byCarrier[c.Carrier]
		out[i].Recommendation, out[i].Reason = judged.Thresholds.Recommend(o.terminal, o.failed)
		if entries[c.Carrier] > 1 {
			// Beside this entry's own rates, say whose figures these are.
			out[i].Reason = "across its currencies: " + out[i].Reason
		}
	}
	// Ties broken down to the currency: a carrier's entries came back in
	// the order a rebuild happened to write them, so the same log gave
	// answers that differed byte for byte.
	sort.Slice(out, func(i, j int) bool {
		if out[i].FailureRate != out[j].FailureRate {
			return out[i].FailureRate > out[j].FailureRate
		}
		if out[i].Carrier != out[j].Carrier {
			return out[i].Carrier < out[j].Carrier
		}
		return out[i].Currency < out[j].Currency
	})
	return out, version, nil
}

func round2(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// Percent is n of total as a percentage with two decimals, as every rate in
// the answers is, rounded half up from the exact fraction (through a
// float, 599 of 4000 read 14.97 where the reason beside it says 14.98%).
func Percent(n, total int64) float64 { return float64(hundredths(n, total)) / 100 }

// hundredths is n of total in hundredths of a percent, rounded half up.
func hundredths(n, total int64) int64 { return (n*20000 + total) / (2 * total) }

// Rates are delivered and failed messages' shares of the terminal ones, in
// percent with two decimals: the failure rate as Percent, the delivery rate
// what it leaves of 100, so the two add up (599 of 4000 failed: 14.98 and
// 85.02, where each rounded alone gave 85.03, 100.01 in all).
func Rates(delivered, failed int64) (deliveryRate, failureRate float64) {
	f := hundredths(failed, delivered+failed)
	return float64(10000-f) / 100, float64(f) / 100
}

// Percentiles summarizes a latency histogram.
type Percentiles struct {
	Count       int64   `json:"count"`
	Mean        float64 `json:"mean"` // milliseconds, from the buckets' middles
	P50         float64 `json:"p50"`
	P90         float64 `json:"p90"`
	P99         float64 `json:"p99"`
	ThresholdMs int     `json:"thresholdMs"`
	Compliance  float64 `json:"compliance"` // percent within the threshold
}

func percentiles(h domain.Histogram, thresholdMs int) Percentiles {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Percentiles{
		Count: h.Total(), Mean: ms(h.Mean()), P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		ThresholdMs: thresholdMs, Compliance: round2(100 * h.Within(time.Duration(thresholdMs)*time.Millisecond)),
	}
}

// deliveryPercentiles is percentiles with the compliance counted exactly:
// within of h's deliveries met the threshold when they were projected.
func deliveryPercentiles(h domain.Histogram, within int64, thresholdMs int) Percentiles {
	p := percentiles(h, thresholdMs)
	if p.Count > 0 {
		p.Compliance = Percent(within, p.Count)
	}
	return p
}

// SLACarrier is one carrier's latency.
type SLACarrier struct {
	Carrier  string      `json:"carrier"`
	Ingest   Percentiles `json:"ingest"`
	Delivery Percentiles `json:"delivery"`
	Reports  int64       `json:"reports"`
}

// SLAWindow is one minute.
type SLAWindow struct {
	Minute     time.Time   `json:"minute"`     // the window's first minute
	Throughput int64       `json:"throughput"` // reports accepted in the window
	Ingest     Percentiles `json:"ingest"`
	Delivery   Percentiles `json:"delivery"`
}

// SLAReport is the answer of GET /analytics/sla.
type SLAReport struct {
	Ingest     Percentiles  `json:"ingest"`
	Delivery   Percentiles  `json:"delivery"`
	Throughput int64        `json:"throughput"` // reports in the range
	Carriers   []SLACarrier `json:"carriers"`
	Windows    []SLAWindow  `json:"windows"`
	// RulesVersion is the rules the thresholds came from, as the read
	// model records them (the answer says it at its top).
	RulesVersion string `json:"-"`
}

// SLA combines the per-minute histograms in the filter's range into true
// percentiles, overall, per carrier and per minute. With neither end given
// the range is the last hour; with only to, it runs from the beginning.
func (r *Reader) SLA(ctx context.Context, f Filter) (SLAReport, error) {
	none := f.From.IsZero() && f.To.IsZero()
	if f.To.IsZero() {
		f.To = time.Now().Add(time.Minute)
	}
	if none {
		f.From = f.To.Add(-time.Hour)
	}
	tx, err := r.snapshot(ctx, "sla_delivery, sla_throughput, sla_ingest")
	if err != nil {
		return SLAReport{}, fmt.Errorf("sla: %w", err)
	}
	defer end(ctx, tx)
	judged, version, err := r.rulesOf(ctx, tx, "sla_latency")
	if err != nil {
		return SLAReport{}, fmt.Errorf("sla: %w", err)
	}
	ingestMs, deliveryMs := judged.SLA.ThresholdMs, judged.SLA.DeliveryThresholdMs
	type cell struct {
		carrier string
		minute  time.Time
		bucket  int
		count   int64
		within  int64 // sla_delivery only
	}
	load := func(table, within string) ([]cell, error) {
		rows, err := tx.Query(ctx, `SELECT carrier, minute, bucket, count, `+within+` FROM `+table+`
			WHERE minute >= $1 AND minute < $2 AND ($3 = '' OR upper(carrier) = $3)`, f.From, f.To, f.Carrier)
		if err != nil {
			return nil, fmt.Errorf("sla %s: %w", table, err)
		}
		return pgx.CollectRows(rows, func(row pgx.CollectableRow) (cell, error) {
			var c cell
			return c, row.Scan(&c.carrier, &c.minute, &c.bucket, &c.count, &c.within)
		})
	}
	ingest, err := load("sla_ingest", "0::bigint")
	if err != nil {
		return SLAReport{}, err
	}
	delivery, err := load("sla_delivery", "within")
	if err != nil {
		return SLAReport{}, err
	}
	rows, err := tx.Query(ctx, `SELECT carrier, minute, events FROM sla_throughput
		WHERE minute >= $1 AND minute < $2 AND ($3 = '' OR upper(carrier) = $3)`, f.From, f.To, f.Carrier)
	if err != nil {
		return SLAReport{}, fmt.Errorf("sla throughput: %w", err)
	}
	through, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (cell, error) {
		var c cell
		return c, row.Scan(&c.carrier, &c.minute, &c.count)
	})
	if err != nil {
		return SLAReport{}, fmt.Errorf("sla throughput: %w", err)
	}

	type hists struct {
		ingest, delivery domain.Histogram
		within           int64 // deliveries within the threshold
	}
	newHists := func() *hists { return &hists{ingest: domain.Histogram{}, delivery: domain.Histogram{}} }
	all := newHists()
	byCarrier := map[string]*hists{}
	byMinute := map[time.Time]*hists{}
	reports := map[string]int64{}
	perMinute := map[time.Time]int64{}
	get := func(m map[string]*hists, k string) *hists {
		if m[k] == nil {
			m[k] = newHists()
		}
		return m[k]
	}
	// A window longer than a minute starts at From and every Window
	// after: over 90 days, a window per minute was 129,000 of them, a
	// 34 MB answer that took seconds to build.
	window := max(f.Window, time.Minute)
	from, span := f.From.Unix(), int64(window/time.Second)
	bin := func(minute time.Time) time.Time {
		minute = minute.UTC()
		if window == time.Minute {
			return minute
		}
		// In seconds: a Duration ends at 292 years, and a from before that
		// put every report in one window of a made-up date.
		return time.Unix(from+(minute.Unix()-from)/span*span, 0).UTC()
	}
	getM := func(k time.Time) *hists {
		k = bin(k)
		if byMinute[k] == nil {
			byMinute[k] = newHists()
		}
		return byMinute[k]
	}
	// sla_ingest is measured live and never rebuilt: rows from before
	// carriers counted in upper case still spell them as reports did.
	for i := range ingest {
		ingest[i].carrier = strings.ToUpper(ingest[i].carrier)
	}
	for _, c := range ingest {
		all.ingest[c.bucket] += c.count
		get(byCarrier, c.carrier).ingest[c.bucket] += c.count
		getM(c.minute.UTC()).ingest[c.bucket] += c.count
	}
	for _, c := range delivery {
		for _, h := range []*hists{all, get(byCarrier, c.carrier), getM(c.minute.UTC())} {
			h.delivery[c.bucket] += c.count
			h.within += c.within
		}
	}
	out := SLAReport{RulesVersion: version}
	for _, c := range through {
		out.Throughput += c.count
		reports[c.carrier] += c.count
		perMinute[bin(c.minute)] += c.count
		get(byCarrier, c.carrier)
		getM(c.minute.UTC())
	}
	out.Ingest = percentiles(all.ingest, ingestMs)
	out.Delivery = deliveryPercentiles(all.delivery, all.within, deliveryMs)
	out.Carriers = []SLACarrier{}
	for carrier, h := range byCarrier {
		out.Carriers = append(out.Carriers, SLACarrier{Carrier: carrier, Ingest: percentiles(h.ingest, ingestMs),
			Delivery: deliveryPercentiles(h.delivery, h.within, deliveryMs), Reports: reports[carrier]})
	}
	sort.Slice(out.Carriers, func(i, j int) bool { return out.Carriers[i].Carrier < out.Carriers[j].Carrier })
	out.Windows = []SLAWindow{}
	for m, h := range byMinute {
		out.Windows = append(out.Windows, SLAWindow{Minute: m, Throughput: perMinute[m],
			Ingest: percentiles(h.ingest, ingestMs), Delivery: deliveryPercentiles(h.delivery, h.within, deliveryMs)})
	}
	sort.Slice(out.Windows, func(i, j int) bool { return out.Windows[i].Minute.Before(out.Windows[j].Minute) })
	return out, nil
}

// Violation is one sender ID breaking one rule in one region.
type Violation struct {
	SenderID  string    `json:"senderId"`
	Region    string    `json:"region"`
	Rule      string    `json:"rule"`
	Reason    string    `json:"reason"`
	Count     int64     `json:"count"`
	FirstSeen time.Time `json:"firstSeen"`
	LastSeen  time.Time `json:"lastSeen"`
}

// Violations lists sender-ID violations, most frequent first: in region
// unless it is "", of sender (however spelled) unless it is blank. It
// returns the version of the rules they were judged under, read with them.
// Ties are broken by sender, region and rule: left to the table's order,
// a rebuild reordered them, and changed which senders made the cap.
func (r *Reader) Violations(ctx context.Context, region, sender string) ([]Violation, string, error) {
	tx, err := r.snapshot(ctx, "sender_violations")
	if err != nil {
		return nil, "", fmt.Errorf("violations: %w", err)
	}
	defer end(ctx, tx)
	// A carrier clock ahead of ours puts first_seen after last_seen, when
	// we last received a report: firstSeen is never after lastSeen.
	rows, err := tx.Query(ctx, `SELECT sender_id, region, rule, reason, count, least(first_seen, last_seen), last_seen
		FROM sender_violations WHERE ($1 = '' OR region = $1) AND (NOT $2 OR sender_id = $3)
		ORDER BY count DESC, last_seen DESC, sender_id, region, rule LIMIT 1000`, region, strings.TrimSpace(sender) != "", rules.SenderKey(sender))
	if err != nil {
		return nil, "", fmt.Errorf("violations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Violation, error) {
		var v Violation
		return v, row.Scan(&v.SenderID, &v.Region, &v.Rule, &v.Reason, &v.Count, &v.FirstSeen, &v.LastSeen)
	})
	if err != nil {
		return nil, "", fmt.Errorf("violations: %w", err)
	}
	_, version, err := r.rulesOf(ctx, tx, "sender_compliance")
	if err != nil {
		return nil, "", fmt.Errorf("violations: %w", err)
	}
	return out, version, nil
}

package projections

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/domain"
)

// slaLatency keeps latency histograms and throughput per carrier and minute:
//   - delivery latency, per message (first QUEUED/SENT report to the terminal
//     one, carrier time), moved like carrier costs when a late report changes it;
//     Each histogram cell also counts its deliveries within the rules'
//     threshold, exactly, so compliance needs no estimate;
//   - throughput, reports accepted per minute;
//   - ingest latency, from accepting a report to projecting it, measured live
//     only (a rebuild cannot measure it, so it keeps what was measured).
type slaLatency struct {
	deliveryThreshold time.Duration
}

func (slaLatency) Name() string { return "sla_latency.v1" }
func (slaLatency) Tables() []string {
	return []string{"sla_messages", "sla_delivery", "sla_throughput"}
}

type histKey struct {
	carrier string
	minute  time.Time
	bucket  int
}

// carrierOf is the carrier a message counts under in the read models: its
// code in upper case, as the rate card reads codes, so that "Orange" from
// one gateway and "ORANGE" from another are one carrier to judge.
func carrierOf(m domain.Message) string {
	if m.CarrierCode == "" {
		return "UNKNOWN"
	}
	return strings.ToUpper(m.CarrierCode)
}

// deliveryContribution is the histogram cell a message counts in, if any,
// and whether its latency is within the threshold.
func (p slaLatency) deliveryContribution(m domain.Message) (k histKey, within, ok bool) {
	d, ok := m.DeliveryLatency()
	if !ok {
		return histKey{}, false, false
	}
	return histKey{carrierOf(m), minute(m.TerminalAt), domain.LatencyBucket(d)}, d <= p.deliveryThreshold, true
}

// cellDelta is a change to one sla_delivery cell: deliveries, and those of
// them within the threshold.
type cellDelta struct{ count, within int64 }

func (c *cellDelta) add(n int64, within bool) {
	c.count += n
	if within {
		c.within += n
	}
}

func (slaLatency) StateTable() string { return "sla_messages" }

func (p slaLatency) NewDelta() delta {
	return &slaDelta{p: p, delivery: map[histKey]*cellDelta{}, throughput: map[histKey]int64{}, ingest: map[histKey]int64{}}
}

// slaDelta sums histogram and throughput changes per cell.
type slaDelta struct {
	p                  slaLatency
	delivery           map[histKey]*cellDelta
	throughput, ingest map[histKey]int64
}

func (d *slaDelta) cell(k histKey) *cellDelta {
	if d.delivery[k] == nil {
		d.delivery[k] = &cellDelta{}
	}
	return d.delivery[k]
}

func (d *slaDelta) Add(e Event, before domain.Message, existed bool, after domain.Message) {
	oldK, oldIn, hadOld := d.p.deliveryContribution(before)
	newK, newIn, hasNew := d.p.deliveryContribution(after)
	if !existed {
		hadOld = false
	}
	if hadOld != hasNew || oldK != newK || oldIn != newIn {
		if hadOld {
			d.cell(oldK).add(-1, oldIn)
		}
		if hasNew {
			d.cell(newK).add(1, newIn)
		}
	}
	d.throughput[histKey{carrier: carrierOf(after), minute: minute(e.ReceivedAt)}]++
	if !e.Shadow {
		d.ingest[ingestCell(e, after, time.Now())]++
	}
}

// ingestCell is the sla_ingest cell of e, applied at now.
func ingestCell(e Event, after domain.Message, now time.Time) histKey {
	return histKey{carrierOf(after), minute(now), domain.LatencyBucket(now.Sub(e.ReceivedAt))}
}

func (slaLatency) queueMeasure(b *pgx.Batch, events []Event, after []domain.Message) {
	cells := map[histKey]int64{}
	now := time.Now()
	for i, e := range events {
		cells[ingestCell(e, after[i], now)]++
	}
	for k, n := range cells {
		queueHistDelta(b, "sla_ingest", k, n)
	}
}

func (d *slaDelta) Queue(b *pgx.Batch) {
	for k, c := range d.delivery {
		if c.count == 0 && c.within == 0 {
			continue
		}
		b.Queue(`INSERT INTO sla_delivery AS h (carrier, minute, bucket, count, within) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (carrier, minute, bucket) DO UPDATE SET count = h.count + EXCLUDED.count, within = h.within + EXCLUDED.within`,
			k.carrier, k.minute, k.bucket, c.count, c.within)
		if c.count < 0 {
			b.Queue(`DELETE FROM sla_delivery WHERE carrier = $1 AND minute = $2 AND bucket = $3 AND count = 0`,
				k.carrier, k.minute, k.bucket)
		}
	}
	for k, n := range d.throughput {
		b.Queue(`INSERT INTO sla_throughput AS t (carrier, minute, events) VALUES ($1, $2, $3)
			ON CONFLICT (carrier, minute) DO UPDATE SET events = t.events + EXCLUDED.events`, k.carrier, k.minute, n)
	}
	for k, n := range d.ingest {
		queueHistDelta(b, "sla_ingest", k, n)
	}
}

func queueHistDelta(b *pgx.Batch, table string, k histKey, delta int64) {
	b.Queue(`INSERT INTO `+table+` AS h (carrier, minute, bucket, count) VALUES ($1, $2, $3, $4)
		ON CONFLICT (carrier, minute, bucket) DO UPDATE SET count = h.count + EXCLUDED.count`,
		k.carrier, k.minute, k.bucket, delta)
	if delta < 0 {
		b.Queue(`DELETE FROM `+table+` WHERE carrier = $1 AND minute = $2 AND bucket = $3 AND count = 0`,
			k.carrier, k.minute, k.bucket)
	}
}

func (p slaLatency) NewRebuild() rebuild { return &slaRebuild{p: p, throughput: map[histKey]int64{}} }

type slaRebuild struct {
	p          slaLatency
	throughput map[histKey]int64 // bucket unused
}

func (r *slaRebuild) Add(e Event, m *domain.Message) {
	r.throughput[histKey{carrier: carrierOf(*m), minute: minute(e.ReceivedAt)}]++
}

func (r *slaRebuild) Rows(fold *messageFold) []tableRows {
	hist := map[histKey]*cellDelta{}
	for _, id := range fold.order {
		if k, within, ok := r.p.deliveryContribution(*fold.byID[id]); ok {
			if hist[k] == nil {
				hist[k] = &cellDelta{}
			}
			hist[k].add(1, within)
		}
	}
	delivery := make([][]any, 0, len(hist))
	for k, c := range hist {
		delivery = append(delivery, []any{k.carrier, k.minute, k.bucket, c.count, c.within})
	}
	throughput := make([][]any, 0, len(r.throughput))
	for k, n := range r.throughput {
		throughput = append(throughput, []any{k.carrier, k.minute, n})
	}
	return []tableRows{
		{table: "sla_delivery", columns: []string{"carrier", "minute", "bucket", "count", "within"}, rows: delivery},
		{table: "sla_throughput", columns: []string{"carrier", "minute", "events"}, rows: throughput},
	}
}

package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
)

// carrierCosts counts each message once, under its current status, per
// carrier, region, day and currency, with what it cost: the report's own
// price when it has one, else the rate card's. When a report moves a message
// (SENT to DELIVERED, say) the message's old contribution is taken away and
// its new one added, so the totals always equal a fresh count.
type carrierCosts struct{ rules *rules.Rules }

func (carrierCosts) Name() string { return "carrier_costs.v1" }
func (carrierCosts) Tables() []string {
	return []string{"carrier_cost_messages", "carrier_costs"}
}

type costKey struct {
	carrier, region string
	day             time.Time
	currency        string
}

type costRow struct {
	total, delivered, failed, pending, estimated int64
	cost, wasted                                 microSum
}

func (r *costRow) add(o costRow, sign int64) {
	r.total += sign * o.total
	r.delivered += sign * o.delivered
	r.failed += sign * o.failed
	r.pending += sign * o.pending
	r.estimated += sign * o.estimated
	r.cost.addSum(o.cost, sign)
	r.wasted.addSum(o.wasted, sign)
}

// contribution is what one message adds to the carrier costs.
func (p carrierCosts) contribution(m domain.Message) (costKey, costRow) {
	region := rules.RegionOf(m.Recipient)
	k := costKey{carrier: carrierOf(m), region: region, day: m.FirstAt.UTC().Truncate(24 * time.Hour)}
	v := costRow{total: 1}
	switch {
	case m.Status == domain.StatusDelivered:
		v.delivered = 1
	case m.Status.IsFailure():
		v.failed = 1
	default:
		v.pending = 1
	}
	if m.Price != nil {
		v.cost, k.currency = microSum{}.plus(*m.Price), m.Currency
	} else if price, currency, ok := p.rules.PricePerSegment(k.carrier, region); ok {
		v.cost, k.currency, v.estimated = microSum{}.plus(price), currency, 1
	}
	if v.failed == 1 {
		v.wasted = v.cost
	}
	return k, v
}

func (carrierCosts) StateTable() string { return "carrier_cost_messages" }

func (p carrierCosts) NewDelta() delta { return &costDelta{p: p, rows: map[costKey]*costRow{}} }

// costDelta sums contribution changes per carrier-costs row.
type costDelta struct {
	p    carrierCosts
	rows map[costKey]*costRow
}

func (d *costDelta) row(k costKey) *costRow {
	if d.rows[k] == nil {
		d.rows[k] = &costRow{}
	}
	return d.rows[k]
}

func (d *costDelta) Add(e Event, before domain.Message, existed bool, after domain.Message) {
	if existed {
		k, v := d.p.contribution(before)
		d.row(k).add(v, -1)
	}
	k, v := d.p.contribution(after)
	d.row(k).add(v, 1)
}

func (d *costDelta) Queue(b *pgx.Batch) {
	for k, r := range d.rows {
		if *r == (costRow{}) {
			continue
		}
		queueCostDelta(b, "carrier_costs", k, *r)
	}
}

func queueCostDelta(b *pgx.Batch, table string, k costKey, d costRow) {
	b.Queue(`INSERT INTO `+table+` AS c (carrier, region, day, currency, total, delivered, failed, pending, cost, wasted, estimated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
		ON CONFLICT (carrier, region, day, currency) DO UPDATE SET
			total = c.total + EXCLUDED.total, delivered = c.delivered + EXCLUDED.delivered,
			failed = c.failed + EXCLUDED.failed, pending = c.pending + EXCLUDED.pending,
			cost = c.cost + EXCLUDED.cost, wasted = c.wasted + EXCLUDED.wasted,
			estimated = c.estimated + EXCLUDED.estimated`,
		k.carrier, k.region, k.day, k.currency, d.total, d.delivered, d.failed, d.pending,
		d.cost.numeric(), d.wasted.numeric(), d.estimated)
	// A group a message left may now be empty; a rebuild would have no row
	// for it, so neither do we.
	if d.total < 0 {
		b.Queue(`DELETE FROM `+table+` WHERE carrier = $1 AND region = $2 AND day = $3 AND currency = $4 AND total = 0`,
			k.carrier, k.region, k.day, k.currency)
	}
}

func (p carrierCosts) NewRebuild() rebuild { return carrierCostsRebuild{p} }

type carrierCostsRebuild struct{ p carrierCosts }

func (carrierCostsRebuild) Add(Event, *domain.Message) {}

func (r carrierCostsRebuild) Rows(fold *messageFold) []tableRows {
	sums := map[costKey]*costRow{}
	for _, id := range fold.order {
		k, v := r.p.contribution(*fold.byID[id])
		if sums[k] == nil {
			sums[k] = &costRow{}
		}
		sums[k].add(v, 1)
	}
	rows := make([][]any, 0, len(sums))
	for k, v := range sums {
		rows = append(rows, []any{k.carrier, k.region, k.day, k.currency, v.total, v.delivered, v.failed,
			v.pending, v.cost.numeric(), v.wasted.numeric(), v.estimated})
	}
	return []tableRows{{table: "carrier_costs", rows: rows,
		columns: []string{"carrier", "region", "day", "currency", "total", "delivered", "failed", "pending", "cost", "wasted", "estimated"}}}
}

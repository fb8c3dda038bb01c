package projections

import (
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/rules"
)

// senderCompliance judges each message's sender ID against the rules for its
// recipient's region, at projection time: the report itself is stored and
// counted everywhere else whatever the verdict, and a rules change plus a
// rebuild re-judges all history.
type senderCompliance struct{ rules *rules.Rules }

func (senderCompliance) Name() string { return "sender_compliance.v1" }
func (senderCompliance) Tables() []string {
	return []string{"compliance_messages", "sender_violations"}
}

type violationKey struct{ sender, region, rule string }

type violation struct {
	reason      string
	count       int64
	first, last time.Time
}

// verdict is the violation a message counts as, if any.
func (p senderCompliance) verdict(m domain.Message) (violationKey, violation, bool) {
	if m.SenderID == "" || m.Recipient == "" {
		return violationKey{}, violation{}, false // nothing to judge yet
	}
	// Judged and counted under one spelling, so a sender written two ways
	// is one row, and its reason quotes the sender as the row names it.
	sender := rules.SenderKey(m.SenderID)
	v := p.rules.CheckSenderAt(sender, rules.RegionOf(m.Recipient), m.FirstAt)
	if v.Valid {
		return violationKey{}, violation{}, false
	}
	// first is the carrier time of the message's first report, last when we
	// last received one: both only ever move outwards as reports arrive, so
	// least()/greatest() live give what a rebuild gives. A carrier clock
	// ahead of ours may put first after last; the reader clamps that
	// (Reader.Violations). Clamped here, last moved inwards when an earlier
	// report came, and the live row kept a lastSeen hours in the future
	// that a rebuild did not.
	return violationKey{sender, v.Region, v.Rule}, violation{reason: v.Reason, count: 1, first: m.FirstAt, last: m.LastReceivedAt}, true
}

func (senderCompliance) StateTable() string { return "compliance_messages" }

func (p senderCompliance) NewDelta() delta {
	return &complianceDelta{p: p, rows: map[violationKey]*violationChange{}}
}

// violationChange sums what a run of events does to one violation row:
// messages added or removed, and the outermost first/last seen of the
// messages that count in it.
type violationChange struct {
	count       int64
	seen        bool // some message counts in it after the run: upsert
	reason      string
	first, last time.Time
}

type complianceDelta struct {
	p    senderCompliance
	rows map[violationKey]*violationChange
}

func (d *complianceDelta) row(k violationKey) *violationChange {
	if d.rows[k] == nil {
		d.rows[k] = &violationChange{}
	}
	return d.rows[k]
}

func (d *complianceDelta) Add(e Event, before domain.Message, existed bool, after domain.Message) {
	oldK, _, hadOld := d.p.verdict(before)
	newK, newV, hasNew := d.p.verdict(after)
	if !existed {
		hadOld = false
	}
	if hadOld && (!hasNew || oldK != newK) {
		d.row(oldK).count--
	}
	if hasNew {
		c := d.row(newK)
		if !hadOld || oldK != newK {
			c.count++
		}
		if !c.seen || newV.first.Before(c.first) {
			c.first = newV.first
		}
		if !c.seen || newV.last.After(c.last) {
			c.last = newV.last
		}
		c.seen, c.reason = true, newV.reason
	}
}

func (d *complianceDelta) Queue(b *pgx.Batch) {
	for k, c := range d.rows {
		if c.seen {
			b.Queue(`INSERT INTO sender_violations AS v (sender_id, region, rule, reason, count, first_seen, last_seen)
				VALUES ($1, $2, $3, $4, $5, $6, $7)
				ON CONFLICT (sender_id, region, rule) DO UPDATE SET count = v.count + EXCLUDED.count,
					first_seen = least(v.first_seen, EXCLUDED.first_seen), last_seen = greatest(v.last_seen, EXCLUDED.last_seen)`,
				k.sender, k.region, k.rule, c.reason, c.count, c.first, c.last)
		} else if c.count != 0 {
			b.Queue(`UPDATE sender_violations SET count = count + $4 WHERE sender_id = $1 AND region = $2 AND rule = $3`,
				k.sender, k.region, k.rule, c.count)
		}
		if c.count < 0 || (c.seen && c.count == 0) {
			b.Queue(`DELETE FROM sender_violations WHERE sender_id = $1 AND region = $2 AND rule = $3 AND count <= 0`, k.sender, k.region, k.rule)
		}
	}
}

func (p senderCompliance) NewRebuild() rebuild { return complianceRebuild{p} }

type complianceRebuild struct{ p senderCompliance }

func (complianceRebuild) Add(Event, *domain.Message) {}

func (r complianceRebuild) Rows(fold *messageFold) []tableRows {
	sums := map[violationKey]*violation{}
	for _, id := range fold.order {
		k, v, ok := r.p.verdict(*fold.byID[id])
		if !ok {
			continue
		}
		s := sums[k]
		if s == nil {
			sums[k] = &v
			continue
		}
		s.count++
		if v.first.Before(s.first) {
			s.first = v.first
		}
		if v.last.After(s.last) {
			s.last = v.last
		}
	}
	rows := make([][]any, 0, len(sums))
	for k, v := range sums {
		rows = append(rows, []any{k.sender, k.region, k.rule, v.reason, v.count, v.first, v.last})
	}
	return []tableRows{{table: "sender_violations", rows: rows,
		columns: []string{"sender_id", "region", "rule", "reason", "count", "first_seen", "last_seen"}}}
}

package http

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/projections"
)

// readModels answers from the projections.
type readModels interface {
	CurrentStatus(ctx context.Context, id string) (projections.MessageStatus, error)
	Carriers(ctx context.Context, f projections.Filter) ([]projections.CarrierStats, string, error)
	SLA(ctx context.Context, f projections.Filter) (projections.SLAReport, error)
	Violations(ctx context.Context, region, sender string) ([]projections.Violation, string, error)
	Rules() *rules.Rules
	JudgedUnder(ctx context.Context, projection string) (string, error)
}

func (s *Server) handleMessage(w http.ResponseWriter, r *http.Request) error {
	id := pathVar(r, "id")
	st, err := s.reads.CurrentStatus(r.Context(), id)
	if errors.Is(err, eventstore.ErrNotFound) {
		return errorf(http.StatusNotFound, "no message "+quote(id)+" (reports appear here once projected, usually within a second)")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// parseFilter reads ?from=&to=&region=&carrier=; times are RFC 3339 or a
// date (YYYY-MM-DD, UTC). A bad value is a 400 that names the parameter.
func parseFilter(r *http.Request) (projections.Filter, error) {
	q := r.URL.Query()
	var f projections.Filter
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := parseTime(v)
		var outside errOutOfRange
		if errors.As(err, &outside) {
			return f, errorf(http.StatusBadRequest, p.name+": "+quote(v)+" is "+string(outside))
		}
		if err != nil {
			msg := p.name + ": want an RFC 3339 time or YYYY-MM-DD date, got " + quote(v)
			// A + left unescaped in a query reads as a space, which is
			// how "10:00:00+02:00" arrives as "10:00:00 02:00".
			if _, err := parseTime(strings.Replace(v, " ", "+", 1)); err == nil {
				msg += ": a + in a URL's query reads as a space, so write the offset's + as %2B"
			}
			return f, errorf(http.StatusBadRequest, msg)
		}
		if p.name == "to" && t.IsZero() {
			// An end no time is before. As Go's zero time it would also
			// read as "not given" in the Filter: an unbounded range.
			return f, errorf(http.StatusBadRequest, "to: "+quote(v)+" leaves no time before it: "+
				"the earliest time this service reads is 0001-01-01T00:00:00Z")
		}
		// Taken as given: a from of 0001-01-01 (Go's zero time) is "since
		// the beginning" to the read models, as it is. A handler that
		// fills in an end not given asks the query, not the zero time.
		*p.dst = t
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, errorf(http.StatusBadRequest, "from must be before to")
	}
	if v := q.Get("region"); v != "" {
		region, ok := rules.ParseRegion(v)
		if !ok {
			return f, badRegion(v, " or UNKNOWN", filterBy)
		}
		f.Region = region
	}
	// Carriers count under their code in upper case (projections.carrierOf).
	f.Carrier = strings.ToUpper(strings.TrimSpace(q.Get("carrier")))
	return f, nil
}

func parseTime(v string) (time.Time, error) {
	// RFC 3339 allows "t" and "z" in lower case (§5.6); the layouts hold
	// no other letters.
	v = strings.ToUpper(v)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		// Go reads an offset of ±24:00, which RFC 3339 does not allow
		// (hours 00-23) and Go cannot write back: /analytics/sla answered
		// an empty 200 for it.
		if _, off := t.Zone(); off <= -24*60*60 || off >= 24*60*60 {
			return time.Time{}, errOutOfRange("an RFC 3339 time with an offset past ±23:59")
		}
		return inRange(t)
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil {
		return t, err
	}
	return inRange(t)
}

// inRange refuses a time outside the years 1 to 9999 in UTC, which RFC 3339
// (and so an answer) can write.
func inRange(t time.Time) (time.Time, error) {
	switch y := t.UTC().Year(); {
	case y > 9999: // 9999-12-31T23:59-23:59, and no answer could name it
		return time.Time{}, errOutOfRange("after the year 9999 in UTC")
	case y < 1: // 0001-01-01T00:30+01:00, or the year 0000
		return time.Time{}, errOutOfRange("before the year 1 in UTC")
	}
	return t, nil
}

// errOutOfRange is a time that reads but that no answer can hold.
type errOutOfRange string

func (e errOutOfRange) Error() string { return string(e) }

// badRegion is the 400 for a region v the read models cannot hold. A
// territory that shares its calling code (JE on +44) is a country all the
// same, so the answer says where its numbers are counted and what to ask
// instead (advise, given that country), rather than that it is no country
// code. Otherwise it names the codes taken, and what else the route takes
// (orElse: " or UNKNOWN").
func badRegion(v, orElse string, advise func(main string) string) error {
	if main, code, ok := rules.SharedTerritory(v); ok {
		return errorf(http.StatusBadRequest, "region "+quote(v)+": numbers of "+strings.ToUpper(strings.TrimSpace(v))+
			" (+"+code+") are counted under "+main+"; "+advise(main))
	}
	return errorf(http.StatusBadRequest, "region: want the ISO 3166 code of a country recipient numbers map to (GB, US, IN...)"+orElse+", got "+quote(v))
}

// filterBy advises the region filter that holds a shared territory's numbers.
func filterBy(main string) string { return "filter by region=" + main }

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return `"` + s + `"`
}

type carriersAnswer struct {
	RulesVersion string                     `json:"rulesVersion"`
	Carriers     []projections.CarrierStats `json:"carriers"`
}

func (s *Server) handleCarriers(w http.ResponseWriter, r *http.Request) error {
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	cs, judged, err := s.reads.Carriers(r.Context(), f)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []projections.CarrierStats{}
	}
	writeJSON(w, http.StatusOK, carriersAnswer{RulesVersion: judged, Carriers: cs})
	return nil
}

type slaAnswer struct {
	RulesVersion  string    `json:"rulesVersion"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	WindowMinutes int64     `json:"windowMinutes"`
	projections.SLAReport
}

// parseWindow reads /analytics/sla's window: a whole number of minutes,
// written as a Go duration ("5m", "1h", "90m") or in days ("1d"); one
// minute when not given.
func parseWindow(v string) (time.Duration, error) {
	if v == "" {
		return time.Minute, nil
	}
	d, err := time.ParseDuration(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
		if n > maxWindowDays {
			err = errors.New("too long")
		}
	}
	if err != nil || d < time.Minute || d%time.Minute != 0 || d > maxWindowDays*24*time.Hour {
		return 0, errorf(http.StatusBadRequest, "window: want a whole number of minutes from 1m to "+strconv.Itoa(maxWindowDays)+
			"d, such as 5m, 1h or 1d, got "+quote(v))
	}
	return d, nil
}

// maxWindowDays bounds a window: a year and a day takes any range a
// dashboard asks for in one.
const maxWindowDays = 366

func (s *Server) handleSLA(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("region") != "" {
		// The SLA read model is kept per carrier and minute: a region it
		// cannot filter by must not be quietly ignored. Any region, before
		// parseFilter, which would advise region=GB for JE.
		return errorf(http.StatusBadRequest, "region: /analytics/sla is kept per carrier and minute and cannot filter by region")
	}
	f, err := parseFilter(r)
	if err != nil {
		return err
	}
	if f.Window, err = parseWindow(r.URL.Query().Get("window")); err != nil {
		return err
	}
	// Defaults for what the query does not give. A given 0001-01-01 is Go's
	// zero time, and was taken for "not given": to=0001-01-01T00:00:00Z
	// answered the hour before it, into the year 0.
	q := r.URL.Query()
	if q.Get("to") == "" {
		f.To = time.Now().UTC().Add(time.Minute).Truncate(time.Minute)
	}
	if q.Get("from") == "" {
		// The hour before to, from the earliest time an answer can write.
		f.From = f.To.Add(-time.Hour)
		if f.From.Before(time.Time{}) {
			f.From = time.Time{}
		}
	}
	if !f.From.Before(f.To) { // a from in the future, against the default to
		return errorf(http.StatusBadRequest, "from must be before to ("+f.To.Format(time.RFC3339)+" when to is not given)")
	}
	// The read model is kept per minute: the range takes every minute it
	// overlaps, and the answer says so. A part of a minute counted the
	// minute whole at the end and not at all at the start, under the
	// range as asked.
	f.From = f.From.Truncate(time.Minute)
	if t := f.To.Truncate(time.Minute); t.Before(f.To) {
		// Rounded up, a to in the last minute of 9999 would be in a year
		// JSON cannot write (a 500): that minute stays as asked.
		if up := t.Add(time.Minute); up.Year() <= 9999 {
			f.To = up
		}
	}
	rep, err := s.reads.SLA(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, slaAnswer{RulesVersion: rep.RulesVersion, From: f.From, To: f.To,
		WindowMinutes: int64(f.Window / time.Minute), SLAReport: rep})
	return nil
}

// deliveryAnswer is the tutorial's /analytics/delivery shape, computed from
// the read models instead of one process's memory, so it survives restarts
// and agrees across processes.
type deliveryAnswer struct {
	Throughput    int64   `json:"throughput"`    // reports accepted in the last minute
	AvgLatencyMs  float64 `json:"avgLatencyMs"`  // mean ingest latency of the last minute
	SLACompliance float64 `json:"slaCompliance"` // percent of reports projected within the SLA threshold
	RulesVersion  string  `json:"rulesVersion"`  // the carriers' verdicts'
	// SLARulesVersion is the rules slaCompliance was judged under: the SLA
	// read model's, which a rebuild of one projection under other rules
	// leaves apart from the carriers' (one answer named one version over
	// numbers of two).
	SLARulesVersion  string            `json:"slaRulesVersion"`
	CarrierAnalytics []deliveryCarrier `json:"carrierAnalytics"`
}

type deliveryCarrier struct {
	Carrier           string  `json:"carrier"`
	TotalMessages     int64   `json:"totalMessages"`
	DeliveryRate      float64 `json:"deliveryRate"`
	FailureRate       float64 `json:"failureRate"`
	RecommendedAction string  `json:"recommendedAction"`
	Reason            string  `json:"reason"`
}

func (s *Server) handleDelivery(w http.ResponseWriter, r *http.Request) error {
	now := time.Now().UTC()
	rep, err := s.reads.SLA(r.Context(), projections.Filter{From: now.Add(-time.Minute).Truncate(time.Minute), To: now.Add(time.Minute)})
	if err != nil {
		return err
	}
	cs, judged, err := s.reads.Carriers(r.Context(), projections.Filter{}) // judged: the verdicts' rules
	if err != nil {
		return err
	}
	out := deliveryAnswer{
		Throughput:       lastMinute(rep.Windows, now),
		AvgLatencyMs:     rep.Ingest.Mean,
		SLACompliance:    rep.Ingest.Compliance,
		RulesVersion:     judged,
		SLARulesVersion:  rep.RulesVersion,
		CarrierAnalytics: []deliveryCarrier{},
	}
	// The tutorial's shape has no currency: one entry per carrier, its
	// currencies added up (Carriers judged it as a whole already).
	at := map[string]int{}
	var delivered, failed []int64
	for _, c := range cs {
		i, seen := at[c.Carrier]
		if !seen {
			i = len(out.CarrierAnalytics)
			at[c.Carrier] = i
			out.CarrierAnalytics = append(out.CarrierAnalytics, deliveryCarrier{
				Carrier: c.Carrier, RecommendedAction: c.Recommendation, Reason: c.Reason})
			delivered, failed = append(delivered, 0), append(failed, 0)
		}
		out.CarrierAnalytics[i].TotalMessages += c.Total
		delivered[i] += c.Delivered
		failed[i] += c.Failed
	}
	for i := range out.CarrierAnalytics {
		if terminal := delivered[i] + failed[i]; terminal > 0 {
			out.CarrierAnalytics[i].DeliveryRate, out.CarrierAnalytics[i].FailureRate = projections.Rates(delivered[i], failed[i])
		}
	}
	sort.SliceStable(out.CarrierAnalytics, func(i, j int) bool {
		return out.CarrierAnalytics[i].FailureRate > out.CarrierAnalytics[j].FailureRate
	})
	writeJSON(w, http.StatusOK, out)
	return nil
}

// lastMinute estimates the reports of the 60 s before now from per-minute
// counts: the current minute's, plus the share of the previous minute that
// lies within those 60 s. Both minutes whole counted up to 120 s.
func lastMinute(windows []projections.SLAWindow, now time.Time) int64 {
	cur := now.Truncate(time.Minute)
	prevShare := 1 - float64(now.Sub(cur))/float64(time.Minute)
	var n float64
	for _, w := range windows {
		switch {
		case w.Minute.Equal(cur):
			n += float64(w.Throughput)
		case w.Minute.Equal(cur.Add(-time.Minute)):
			n += prevShare * float64(w.Throughput)
		}
	}
	return int64(math.Round(n))
}

type violationsAnswer struct {
	RulesVersion string                  `json:"rulesVersion"`
	Violations   []projections.Violation `json:"violations"`
}

func (s *Server) handleViolations(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	region, ok := rules.ParseRegion(q.Get("region"))
	if !ok && region != "" {
		return badRegion(q.Get("region"), " or UNKNOWN", filterBy)
	}
	vs, judged, err := s.reads.Violations(r.Context(), region, q.Get("senderId"))
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []projections.Violation{}
	}
	writeJSON(w, http.StatusOK, violationsAnswer{RulesVersion: judged, Violations: vs})
	return nil
}

type checkAnswer struct {
	SenderID     string `json:"senderId"`
	Recipient    string `json:"recipient,omitempty"`
	Region       string `json:"region"`
	Valid        bool   `json:"valid"`
	SenderType   string `json:"senderType"`
	Rule         string `json:"rule,omitempty"`
	Reason       string `json:"reason"`
	Source       string `json:"source,omitempty"`
	RulesVersion string `json:"rulesVersion"`
}

// handleCheck is the tutorial's validateSenderId done right: the region comes
// from the recipient (or is given), never a US default.
func (s *Server) handleCheck(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	sender, recipient, region := q.Get("senderId"), q.Get("recipient"), q.Get("region")
	if sender == "" {
		return errorf(http.StatusBadRequest, "senderId is required")
	}
	if recipient == "" && region == "" {
		return errorf(http.StatusBadRequest, "give recipient (E.164) or region (ISO country code)")
	}
	if region != "" {
		given, ok := rules.ParseRegion(region)
		if !ok {
			// Judged as a country without rules, ZZ or GBR would pass as
			// valid, and JE too, whose numbers GB's rules judge.
			return badRegion(region, "", func(main string) string {
				return main + "'s rules judge them: give region=" + main
			})
		}
		// A recipient whose country can be told decides, as it does for the
		// read models: a region against it judged a US number by GB rules
		// and called valid what /compliance/violations then flags. Only
		// where the read models cannot tell the country either does the
		// region say it.
		if of := rules.RegionOf(recipient); recipient != "" && of != rules.Unknown && of != given {
			return errorf(http.StatusBadRequest, "region "+given+" contradicts the recipient "+quote(recipient)+", which reads as a number in "+of+
				" (as the read models read it): give one of them")
		}
	} else {
		region = rules.RegionOf(recipient)
	}
	rs := s.reads.Rules()
	v := rs.CheckSender(sender, region)
	writeJSON(w, http.StatusOK, checkAnswer{
		SenderID: sender, Recipient: recipient, Region: v.Region, Valid: v.Valid, SenderType: v.SenderType,
		Rule: v.Rule, Reason: v.Reason, Source: v.Source, RulesVersion: rs.Version,
	})
	return nil
}

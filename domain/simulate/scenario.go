package simulate

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/cxsms/cxsms/domain"
)

// Scenario is the kind of traffic to simulate. Shares are between 0 and 1;
// see the package comment for what each one counts.
type Scenario struct {
	Name string
	// Lifecycle sends each message's whole life (QUEUED, SENT, then the
	// outcome); without it a message gets one report, as in the tutorial.
	Lifecycle bool
	// Duplicates is the share of reports sent that redeliver an earlier one
	// byte for byte (at most 0.5).
	Duplicates float64
	// OutOfOrder is the share of messages with two or more reports whose
	// reports are sent in an order other than the one they happened in.
	OutOfOrder float64
	// SMPPJSON and SMPPReceipt are the shares of messages whose carrier
	// reports come as SMPP fields in JSON, or as bare SMPP receipt text.
	SMPPJSON    float64
	SMPPReceipt float64
	// BadSenders is the share of messages sent from a sender ID that the
	// destination's rules refuse; carriers filter half of those.
	BadSenders float64
	// InFlight is the share of messages that have no outcome yet: a
	// lifecycle stops at SENT, a single report says PENDING.
	InFlight float64
}

// scenarios are the named scenarios.
var scenarios = map[string]Scenario{
	// single is the tutorial's simulator: one CXone JSON report per
	// message, nothing out of the ordinary.
	"single": {Name: "single", InFlight: 0.05},
	// lifecycle is everyday traffic: whole lifecycles, mostly CXone JSON,
	// and a little of what real gateways do.
	"lifecycle": {Name: "lifecycle", Lifecycle: true, Duplicates: 0.02, OutOfOrder: 0.05,
		SMPPJSON: 0.15, SMPPReceipt: 0.10, BadSenders: 0.02, InFlight: 0.03},
	// chaos is a bad day: many redeliveries, reports out of order, every
	// SMPP form and senders the carriers refuse.
	"chaos": {Name: "chaos", Lifecycle: true, Duplicates: 0.20, OutOfOrder: 0.25,
		SMPPJSON: 0.30, SMPPReceipt: 0.30, BadSenders: 0.20, InFlight: 0.05},
}

// DefaultScenario is the scenario callers get when they name none.
const DefaultScenario = "lifecycle"

// ScenarioNames lists the named scenarios, sorted.
func ScenarioNames() []string {
	out := make([]string, 0, len(scenarios))
	for n := range scenarios {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// LookupScenario returns a named scenario; "" names DefaultScenario.
func LookupScenario(name string) (Scenario, error) {
	if name == "" {
		name = DefaultScenario
	}
	sc, ok := scenarios[strings.ToLower(strings.TrimSpace(name))]
	if !ok {
		return Scenario{}, fmt.Errorf("unknown scenario %q (have: %s)", name, strings.Join(ScenarioNames(), ", "))
	}
	return sc, nil
}

// Shares override a scenario's shares, as a request or flags give them; a
// nil share keeps the scenario's own.
type Shares struct {
	Duplicates, OutOfOrder, SMPPJSON, SMPPReceipt, BadSenders, InFlight *float64
}

// With returns s with the shares o gives in place of its own. SMPPJSON and
// SMPPReceipt split the messages between them, so when o gives one of them
// and the scenario's default for the other would take the two past 1, the
// other shrinks to what is left: {"smppReceipt":1} on lifecycle is all
// receipts, where a tester was refused for a sum of 1.15 made with a default
// never sent. When o gives both, they stay as given, and Validate refuses a
// sum over 1: the caller asked for it.
func (s Scenario) With(o Shares) Scenario {
	for _, f := range []struct{ v, dst *float64 }{
		{o.Duplicates, &s.Duplicates}, {o.OutOfOrder, &s.OutOfOrder}, {o.SMPPJSON, &s.SMPPJSON},
		{o.SMPPReceipt, &s.SMPPReceipt}, {o.BadSenders, &s.BadSenders}, {o.InFlight, &s.InFlight},
	} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	switch {
	case o.SMPPJSON != nil && o.SMPPReceipt == nil:
		s.SMPPReceipt = fitShare(s.SMPPJSON, s.SMPPReceipt)
	case o.SMPPReceipt != nil && o.SMPPJSON == nil:
		s.SMPPJSON = fitShare(s.SMPPReceipt, s.SMPPJSON)
	}
	return s
}

// CheckPinned says what is wrong with shares given beside a pinned status.
// The status is every message's outcome, so an inFlight share given with it
// would be overridden without a word: a tester's {"status":"DELIVERED",
// "inFlight":1} answered 200 with ten messages DELIVERED. inFlight 0 asks
// for what the status gives, and is accepted.
//
// So is an SMPP share beside a status SMPP has no code for: every message
// went as CXone JSON, unsaid (a tester's {"status":"FAILED",
// "smppReceipt":1} sent no receipt at all).
//
// The error names the options as n does: the request's fields, or flags.
func (o Shares) CheckPinned(status domain.Status, n Names) error {
	if status != "" && o.InFlight != nil && *o.InFlight > 0 {
		return fmt.Errorf("%s cannot be given with %s %q: the status is every message's outcome, so none would be left in flight; leave out one of the two", n.InFlight, n.Status, status)
	}
	if status == "" || smppCanSay(domain.ParseStatus(string(status))) {
		return nil
	}
	for _, f := range []struct {
		name  string
		share *float64
	}{{n.SMPPJSON, o.SMPPJSON}, {n.SMPPReceipt, o.SMPPReceipt}} {
		if f.share != nil && *f.share > 0 {
			return fmt.Errorf("%s cannot be given with %s %q: SMPP has no code for %s (a gateway reports a failure as UNDELIV; QUEUED and PENDING are CXone's own states, which it sends as its JSON), so every message would go as CXone JSON; pin UNDELIVERED or REJECTED to test failures over SMPP, or leave out %s",
				f.name, n.Status, status, domain.ParseStatus(string(status)), f.name)
		}
	}
	return nil
}

// Names are what a caller calls the options CheckPinned speaks of.
type Names struct{ Status, InFlight, SMPPJSON, SMPPReceipt string }

// RequestNames are POST /simulator/sms's fields.
var RequestNames = Names{Status: "status", InFlight: "inFlight", SMPPJSON: "smppJson", SMPPReceipt: "smppReceipt"}

// fitShare shrinks other so that given+other is at most 1, when given is a
// share (a bad given is left for Validate to name).
func fitShare(given, other float64) float64 {
	if !(given >= 0 && given <= 1) {
		return other
	}
	for other > 0 && given+other > 1 {
		// 1-given, then down to the float below while rounding says more.
		other = min(other, max(0, 1-given))
		if given+other > 1 {
			other = math.Nextafter(other, 0)
		}
	}
	return other
}

// Validate says what is wrong with a scenario's shares, naming the field.
func (s Scenario) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
		max  float64
	}{
		{"duplicates", s.Duplicates, 0.5},
		{"outOfOrder", s.OutOfOrder, 1},
		{"smppJson", s.SMPPJSON, 1},
		{"smppReceipt", s.SMPPReceipt, 1},
		{"badSenders", s.BadSenders, 1},
		{"inFlight", s.InFlight, 1},
	} {
		if !(f.v >= 0 && f.v <= f.max) { // also catches NaN
			return fmt.Errorf("%s must be a share between 0 and %g, got %g", f.name, f.max, f.v)
		}
	}
	if s.SMPPJSON+s.SMPPReceipt > 1 {
		// The two shares as given: their float sum showed 0.7 + 0.6 as 1.2999999999999998.
		return fmt.Errorf("smppJson + smppReceipt must be at most 1, got %g + %g", s.SMPPJSON, s.SMPPReceipt)
	}
	if !s.Lifecycle && s.OutOfOrder > 0 {
		return fmt.Errorf("outOfOrder needs several reports per message, and scenario %q sends one", s.Name)
	}
	return nil
}

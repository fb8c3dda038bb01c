package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/simulate"
)

const (
	// simulatorMaxCount caps the messages of one POST /simulator/sms: the
	// answer waits for all of them, and `cxsms simulate` is there for more.
	simulatorMaxCount = 10000
	// simulatorSenders is how many reports are in flight at once, as if
	// from that many CXone delivery workers; the group commit shares one
	// commit between them.
	simulatorSenders = 32
	// simulatorRetries bounds the retries of a report the store turned
	// away with 503.
	simulatorRetries = 5
	// simulatorMaxBody bounds a POST /simulator/sms body.
	simulatorMaxBody = 64 << 10
)

// simulatorRequestAllowed refuses what a web page on another site can send.
// The simulator writes to the log, which nothing can undo, and a plain HTML
// form (text/plain, urlencoded or multipart) posts with no CORS preflight
// from any page a developer visits while `make run` runs. A JSON body
// needs a preflight, which this service does not answer; and a browser
// names the page's site in Sec-Fetch-Site and Origin on every POST, so a
// request from another is refused on either. curl sends neither header,
// and an empty body may come without a Content-Type.
func simulatorRequestAllowed(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errorf(http.StatusForbidden, "the simulator takes no requests from pages on other sites (Sec-Fetch-Site: cross-site)")
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host == "" || !strings.EqualFold(withoutDefaultPort(u.Host, u.Scheme), withoutDefaultPort(r.Host, u.Scheme)) {
			return errorf(http.StatusForbidden, "the simulator takes no requests from pages of another origin than its own (Origin "+quote(origin)+")")
		}
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 {
		return nil
	}
	mt, _, _ := strings.Cut(ct, ";")
	if mt = strings.ToLower(strings.TrimSpace(mt)); mt != "application/json" && !strings.HasSuffix(mt, "+json") {
		what := "Content-Type " + quote(ct) + " is not JSON"
		if ct == "" {
			what = "a body without a Content-Type"
		}
		return errorf(http.StatusUnsupportedMediaType, what+": the simulator takes application/json")
	}
	return nil
}

// withoutDefaultPort is hostport without its port when that is scheme's
// default (80 for http, 443 for https): a browser leaves it out of Origin,
// and a proxy often adds it to Host, so Host localhost:80 with Origin
// http://localhost was refused as another origin. Host has no scheme of its
// own; the Origin's is the one the two must share.
func withoutDefaultPort(hostport, scheme string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || !(port == "80" && strings.EqualFold(scheme, "http") || port == "443" && strings.EqualFold(scheme, "https")) {
		return hostport
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]" // IPv6, bracketed as in Host
	}
	return host
}

// simulatorHostAllowed refuses a request whose Host is not one of this
// service's own names, against DNS rebinding: a page at
// http://attacker.example:PORT whose name the attacker then points at
// 127.0.0.1 is, to the browser, same-origin with this service, so its
// request carries Host, Origin and Sec-Fetch-Site that all agree. Its Host
// still names the attacker's domain. Own names are localhost and its
// subdomains (browsers resolve them to loopback themselves, never through
// DNS), IP addresses (no name to rebind), PUBLIC_URL's host and
// SIMULATOR_HOSTS; ports are not compared. A request without Host (HTTP/1.0)
// comes from no browser.
func (s *Server) simulatorHostAllowed(r *http.Request) error {
	host := requestHostName(r.Host)
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if u, err := url.Parse(s.cfg.PublicURL); err == nil && s.cfg.PublicURL != "" && requestHostName(u.Host) == host {
		return nil
	}
	for _, h := range s.cfg.SimulatorHosts {
		if strings.TrimSuffix(strings.ToLower(h), ".") == host {
			return nil
		}
	}
	return errorf(http.StatusForbidden, "the simulator answers only to this service's own names, so that a page whose domain was pointed at this machine (DNS rebinding) cannot use it: Host "+
		quote(r.Host)+" is not localhost, an IP address, PUBLIC_URL's host or one of SIMULATOR_HOSTS. Call it by one of those, or, if "+quote(host)+
		" is this service's name (behind a proxy), add it to SIMULATOR_HOSTS")
}

// requestHostName is the host of a Host header (or a URL's host), without
// port, brackets or a final dot, in lower case.
func requestHostName(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else {
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// simulatorDeadline bounds the work of one POST /simulator/sms, comfortably
// inside the server's 30 s WriteTimeout (cmd/cxsms/serve.go): an answer
// written after that is lost, and the caller never learns what was stored.
// A variable so that tests can shorten it.
var simulatorDeadline = 20 * time.Second

// errOutcomeUnknown marks a report whose webhook call was still running when
// the deadline came: it may be stored or not.
var errOutcomeUnknown = errors.New("simulator: the deadline cut an attempt short")

// simulatorRequest is the tutorial's request (status, carrier, region; each
// drawn when absent) plus the scenario and its shares. Other fields are
// ignored, as the tutorial ignores them (see decodeSimulatorRequest).
type simulatorRequest struct {
	Status   string       `json:"status"`
	Carrier  string       `json:"carrier"`
	Region   string       `json:"region"`
	Count    *wholeNumber `json:"count"`
	Scenario string       `json:"scenario"`
	Seed     *wholeNumber `json:"seed"`
	// Overrides of the scenario's shares.
	Duplicates  *float64 `json:"duplicates"`
	OutOfOrder  *float64 `json:"outOfOrder"`
	SMPPJSON    *float64 `json:"smppJson"`
	SMPPReceipt *float64 `json:"smppReceipt"`
	BadSenders  *float64 `json:"badSenders"`
	InFlight    *float64 `json:"inFlight"`
}

type simulatorSummary struct {
	*simulate.Tally
	// Acknowledged counts reports the webhook answered 200 for.
	Acknowledged int `json:"acknowledged"`
	// Duplicates counts reports the webhook called duplicates: it should
	// equal duplicatesSent.
	Duplicates int   `json:"duplicates"`
	Retries    int   `json:"retries"`
	TookMs     int64 `json:"tookMs"`
}

type simulatorAnswer struct {
	Success             bool             `json:"success"`
	SimulatedMessageID  string           `json:"simulatedMessageId"`
	SimulatedMessageIDs []string         `json:"simulatedMessageIds"`
	Scenario            string           `json:"scenario"`
	Seed                uint64           `json:"seed"`
	Summary             simulatorSummary `json:"summary"`
	// IgnoredFields names the request's fields the simulator does not
	// know, when there are any.
	IgnoredFields []string `json:"ignoredFields,omitempty"`
}

// handleSimulator makes synthetic reports and puts each through the webhook
// handler itself, in process, with the webhook secret (and a signature when
// signing is on): authentication, the size limit, parsing and the append to
// the log all run as for CXone's own requests. It answers once every report
// is committed, with the message IDs and what was sent, or by
// simulatorDeadline with an error that says which reports are stored.
func (s *Server) handleSimulator(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.SimulatorEnabled {
		return errorf(http.StatusForbidden, "the simulator is disabled: set SIMULATOR_ENABLED=true to enable POST /simulator/sms")
	}
	if err := s.simulatorHostAllowed(r); err != nil {
		return err
	}
	if err := simulatorRequestAllowed(r); err != nil {
		return err
	}
	// Refused from its Content-Length before a byte is read, as the
	// webhook does: reading first sent 100 Continue and took 64 KiB.
	if r.ContentLength > simulatorMaxBody {
		return &http.MaxBytesError{Limit: simulatorMaxBody}
	}
	req, ignored, err := decodeSimulatorRequest(http.MaxBytesReader(w, r.Body, simulatorMaxBody))
	// A refusal names the fields ignored too: a misspelt field is often
	// why the rest of the request is not what the caller meant.
	refuse := func(err error) error {
		msg := err.Error()
		if len(ignored) > 0 {
			msg += "; ignored unknown field(s): " + strings.Join(ignored, ", ")
		}
		return errorf(http.StatusBadRequest, msg)
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return err
		}
		return refuse(fmt.Errorf("simulator request: %w", err))
	}
	opts, count, err := req.options()
	if err != nil {
		return refuse(err)
	}
	gen, err := simulate.New(opts)
	if err != nil {
		return refuse(err)
	}

	start := time.Now()
	msgs := make([]*simulate.Message, count)
	for i := range msgs {
		msgs[i] = gen.Next(start)
	}
	ctx, cancel := context.WithTimeoutCause(r.Context(), simulatorDeadline, &Error{
		Status: http.StatusServiceUnavailable, RetryAfter: "5",
		Message: fmt.Sprintf("simulator: the store did not acknowledge every report within %s", simulatorDeadline),
	})
	defer cancel()
	sum, err := s.inject(ctx, msgs)
	if err != nil {
		return err
	}
	sum.TookMs = time.Since(start).Milliseconds()
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.ID
	}
	writeJSON(w, http.StatusOK, simulatorAnswer{
		Success: true, SimulatedMessageID: ids[0], SimulatedMessageIDs: ids,
		Scenario: opts.Scenario.Name, Seed: opts.Seed, Summary: sum, IgnoredFields: ignored,
	})
	return nil
}

// decodeSimulatorRequest reads the request as the tutorial's simulator
// reads req.body: names match as written ("status", as req.body.status; a
// tester's {"count":2,"Count":4} made 4 messages, where encoding/json
// matches names in any case), and a field it does not know is ignored, not
// refused, and returned in ignored (sorted) so that the answer shows a typo
// ("cout", "Count"). A known field of the wrong type is an error: it can
// only be a mistake. So is text after the JSON value, as the webhook
// answers it. An empty body, or null, is the tutorial's "everything random".
func decodeSimulatorRequest(body io.Reader) (req simulatorRequest, ignored []string, err error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return req, nil, err
	}
	if b = bytes.Trim(b, " \t\r\n"); len(b) == 0 {
		return req, nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return req, nil, fmt.Errorf("invalid JSON at byte %d: %w", syntax.Offset, err)
		}
		return req, nil, fmt.Errorf("the body must be a JSON object, not %s", jsonValueKind(b[0]))
	}
	for name := range fields {
		if !slices.Contains(simulatorFields, name) {
			ignored = append(ignored, name)
		}
	}
	slices.Sort(ignored)
	v := reflect.ValueOf(&req).Elem()
	for i, name := range simulatorFields {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(raw, v.Field(i).Addr().Interface()); err != nil {
			return req, ignored, fmt.Errorf("%s must be %s, got %s", name, simulatorFieldWants(v.Field(i).Type()), clip(raw, 40))
		}
	}
	return req, ignored, nil
}

// simulatorFields are the JSON names of simulatorRequest's fields, read
// from its tags so that a new field is never reported as ignored.
var simulatorFields = func() []string {
	t := reflect.TypeFor[simulatorRequest]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i], _, _ = strings.Cut(t.Field(i).Tag.Get("json"), ",")
	}
	return names
}()

// simulatorFieldWants names what a field of type t takes, for errors.
func simulatorFieldWants(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[*wholeNumber]():
		return "a whole number"
	case reflect.TypeFor[*float64]():
		return "a number"
	}
	return "a string"
}

func jsonValueKind(c byte) string {
	switch c {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// clip shortens b for an error message.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "..."
}

// wholeNumber is a JSON number that is a whole number however it is
// written: 2, 2.0, 1e1 and 20e-1 alike, as a JavaScript caller may write
// one (a tester's {"count":2.0} was refused). It is read exactly, so a
// seed above 2^53 is not rounded; 2.5 is refused.
type wholeNumber struct{ big.Int }

func (n *wholeNumber) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "" || s[0] != '-' && (s[0] < '0' || s[0] > '9') {
		return errNotWhole
	}
	mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
	if exp != "" {
		// A huge exponent would make big.Rat compute a huge power. Past
		// 40 digits beyond the mantissa's length, a number not zero is
		// far from any count or seed, or has a fraction.
		e, err := strconv.Atoi(exp)
		if err != nil || e > len(mant)+40 || e < -len(mant)-40 {
			if strings.Trim(mant, "-0.") == "" {
				n.SetInt64(0)
				return nil
			}
			return errNotWhole
		}
	}
	var r big.Rat
	if _, ok := r.SetString(s); !ok || !r.IsInt() {
		return errNotWhole
	}
	n.Set(r.Num())
	return nil
}

var errNotWhole = errors.New("not a whole number")

// options turns the request into generator options, naming what is wrong.
// The status goes on as spelled: the reports send it so, and simulate.New
// checks it.
func (q simulatorRequest) options() (simulate.Options, int, error) {
	count := 1
	if q.Count != nil {
		switch {
		case q.Count.Cmp(big.NewInt(1)) < 0:
			return simulate.Options{}, 0, fmt.Errorf("count must be at least 1, got %s", q.Count.String())
		case q.Count.Cmp(big.NewInt(simulatorMaxCount)) > 0:
			return simulate.Options{}, 0, fmt.Errorf("count %s is more than the limit of %d messages per request; use `cxsms simulate` for more", q.Count.String(), simulatorMaxCount)
		}
		count = int(q.Count.Int64())
	}
	sc, err := simulate.LookupScenario(q.Scenario)
	if err != nil {
		return simulate.Options{}, 0, err
	}
	shares := simulate.Shares{Duplicates: q.Duplicates, OutOfOrder: q.OutOfOrder, SMPPJSON: q.SMPPJSON,
		SMPPReceipt: q.SMPPReceipt, BadSenders: q.BadSenders, InFlight: q.InFlight}
	if err := shares.CheckPinned(domain.Status(q.Status), simulate.RequestNames); err != nil {
		return simulate.Options{}, 0, err
	}
	sc = sc.With(shares)
	// A seed under 2^53, so that JavaScript reads the answer's seed exactly.
	o := simulate.Options{Scenario: sc, Status: domain.Status(q.Status), Carrier: q.Carrier, Region: q.Region, Seed: rand.Uint64() >> 11}
	if q.Seed != nil {
		if q.Seed.Sign() < 0 || !q.Seed.IsUint64() {
			return simulate.Options{}, 0, fmt.Errorf("seed must be a whole number from 0 to %d, got %s", uint64(math.MaxUint64), q.Seed.String())
		}
		o.Seed = q.Seed.Uint64()
	}
	return o, count, nil
}

// inject sends every message's reports, in their order, through the webhook
// handler. Messages are spread over simulatorSenders senders; the first
// failure, or the end of ctx, stops them all. What was acknowledged before
// stays in the log, and an *Error's message says which reports those are.
func (s *Server) inject(ctx context.Context, msgs []*simulate.Message) (simulatorSummary, error) {
	stop, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu  sync.Mutex
		sum = simulatorSummary{Tally: simulate.NewTally()}
		wg  sync.WaitGroup
		// Per message, each written only by the message's sender: its
		// reports acknowledged, and whether one was cut short by the deadline.
		stored = make([]int, len(msgs))
		cut    = make([]bool, len(msgs))
		total  int
	)
	for _, m := range msgs {
		total += len(m.Reports)
	}
	for w := range min(simulatorSenders, len(msgs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tally := simulate.NewTally()
			var acked, dups, retries int
			defer func() {
				mu.Lock()
				sum.Tally.Merge(tally)
				sum.Acknowledged += acked
				sum.Duplicates += dups
				sum.Retries += retries
				mu.Unlock()
			}()
			var body []byte
			for i := w; i < len(msgs); i += simulatorSenders {
				m := msgs[i]
				tally.AddMessage(m)
				for _, rep := range m.Reports {
					if stop.Err() != nil {
						return
					}
					body = rep.AppendBody(body[:0])
					tally.AddReport(rep)
					dup, tries, err := s.injectReport(ctx, stop, rep, body)
					retries += tries
					if err != nil {
						cut[i] = errors.Is(err, errOutcomeUnknown)
						cancel(err)
						return
					}
					acked++
					stored[i]++
					if dup {
						dups++
					}
				}
			}
		}()
	}
	wg.Wait()
	if sum.Acknowledged == total {
		return sum, nil // even if the deadline came just after
	}
	err := context.Cause(stop)
	var he *Error
	if errors.As(err, &he) {
		return sum, &Error{Status: he.Status, RetryAfter: he.RetryAfter, Message: he.Message + "; " + storedSummary(msgs, stored, cut)}
	}
	return sum, err
}

// storedSummary says, for an error's message, which reports reached the log
// before inject stopped: the caller has no other way to know. A report whose
// attempt the deadline cut short is named as possibly stored, never as not.
func storedSummary(msgs []*simulate.Message, stored []int, cut []bool) string {
	var nStored, nCut int
	var storedIDs, cutIDs []string
	for i, m := range msgs {
		if stored[i] > 0 {
			nStored += stored[i]
			storedIDs = append(storedIDs, m.ID)
		}
		if cut[i] {
			nCut++
			cutIDs = append(cutIDs, m.ID)
		}
	}
	var b strings.Builder
	if nStored == 0 {
		b.WriteString("acknowledged (stored): no report")
	} else {
		fmt.Fprintf(&b, "acknowledged (stored): %d report(s), of messages %s", nStored, listIDs(storedIDs))
	}
	if nCut > 0 {
		fmt.Fprintf(&b, "; possibly stored (the deadline cut their attempt short): %d report(s), of messages %s", nCut, listIDs(cutIDs))
	}
	b.WriteString("; every other report is not stored")
	return b.String()
}

// listIDs joins ids for an error message, the first hundred of them: a
// request may make 10,000 messages, and GET /messages/{id} tells the rest.
func listIDs(ids []string) string {
	const most = 100
	if len(ids) <= most {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:most], ", "), len(ids)-most)
}

// injectReport runs the webhook handler on one report, retrying as a sender
// should when the store answers 503, as long as the wait ends before ctx's
// deadline; stop ends the waits early. A call still running when ctx ends
// is left to finish on its own, as its report may yet be stored: the error
// is then errOutcomeUnknown, and the caller must not reuse body.
func (s *Server) injectReport(ctx, stop context.Context, rep *simulate.Report, body []byte) (duplicate bool, retries int, err error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "/webhooks/cxone/sms", bytes.NewReader(body))
		if err != nil {
			return false, attempt, err
		}
		req.Header.Set("Content-Type", rep.ContentType())
		req.Header.Set("X-Webhook-Secret", s.cfg.WebhookSecret)
		req.Header.Set("User-Agent", "cxsms-simulator")
		if id := rep.EventIDHeader(); id != "" {
			req.Header.Set("X-CXone-Event-Id", id)
		}
		if len(s.keys) > 0 {
			ts := strconv.FormatInt(time.Now().Unix(), 10)
			req.Header.Set("webhook-id", rep.EventID)
			req.Header.Set("webhook-timestamp", ts)
			req.Header.Set("webhook-signature", Sign(s.keys[0], rep.EventID, ts, body))
		}
		rec := &answerRecorder{header: http.Header{}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			handlerFunc(s.handleWebhook).ServeHTTP(rec, req)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			return false, attempt, fmt.Errorf("%w: %w", errOutcomeUnknown, context.Cause(ctx))
		}
		switch rec.status {
		case http.StatusOK:
			var ans ingestAnswer
			if err := json.Unmarshal(rec.body.Bytes(), &ans); err != nil || !ans.Acknowledged || len(ans.Results) != 1 {
				return false, attempt, fmt.Errorf("simulator: the webhook's answer is not an acknowledgement of one report: %s", rec.body.Bytes())
			}
			return ans.Results[0].Duplicate, attempt, nil
		case http.StatusServiceUnavailable:
			secs, _ := strconv.Atoi(rec.header.Get("Retry-After"))
			wait := time.Duration(min(max(secs, 0), 5)) * time.Second
			if deadline, _ := ctx.Deadline(); attempt < simulatorRetries && time.Until(deadline) > wait {
				select {
				case <-stop.Done():
					return false, attempt, context.Cause(stop)
				case <-time.After(wait):
				}
				continue
			}
			return false, attempt, &Error{Status: http.StatusServiceUnavailable, RetryAfter: rec.header.Get("Retry-After"),
				Message: "simulator: the store cannot take reports right now (" + webhookError(rec) + ")"}
		case http.StatusRequestEntityTooLarge:
			// 422, not 413: the caller's own request was small and valid, so
			// a 413 would tell it to shrink the wrong body. What it asked for
			// cannot be sent under this server's limit; the fix is to raise
			// MAX_BODY_BYTES (or ask for another form of report).
			return false, attempt, errorf(http.StatusUnprocessableEntity, fmt.Sprintf(
				"simulator: a generated %s report is %d bytes, more than the webhook's body limit of %s (MAX_BODY_BYTES); raise MAX_BODY_BYTES to simulate it",
				rep.Form, len(body), formatBytes(s.cfg.MaxBodyBytes)))
		}
		// Anything else means the simulator made a report the webhook
		// refuses, or the secret does not match: a bug, answered 500.
		return false, attempt, fmt.Errorf("simulator: the webhook answered %d to a %s report: %s", rec.status, rep.Form, webhookError(rec))
	}
}

func webhookError(rec *answerRecorder) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(rec.body.Bytes(), &e) == nil && e.Error != "" {
		return e.Error
	}
	return rec.body.String()
}

// answerRecorder keeps the webhook handler's answer to an in-process call.
type answerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answerRecorder) Header() http.Header { return a.header }

func (a *answerRecorder) WriteHeader(code int) {
	if a.status == 0 {
		a.status = code
	}
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	return a.body.Write(b)
}

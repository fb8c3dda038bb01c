package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/domain/simulate"
	"github.com/cxsms/cxsms/http"
)

const simulateUsage = `usage: cxsms simulate [flags]

Sends synthetic CXone delivery reports to a running service's webhook, as
CXone would, from the generator behind POST /simulator/sms: one worker per
keep-alive connection, each on its own seeded stream, so the same --seed sends
the same reports in the same order per worker (and --start pins their
timestamps too). Prints a progress line on stderr and a summary with latency
percentiles on stdout. A 503 is retried after its Retry-After, and counted.
A connection that cannot be made (the service is down or restarting) is
tried again after a pause that doubles up to 5s; a request given up while
the service cannot be reached is counted as not sent, apart from the sent
ones, when none of its attempts reached the service. One answered 503
first may have been stored after all, so it is counted as failed with 503,
as when its 503 retries run out. The run stops once the service has been
unreachable for 30s.

An interrupt (SIGINT, SIGTERM, SIGHUP) ends the run early: the summary is printed,
and requests the interrupt cut before their answer are counted apart, as
neither acknowledged nor failed (the service may have stored them); so are
requests whose answer had not begun after --timeout. A 401 or 403 ends the
run at once, as no retry can succeed; the error names what the webhook said,
and for other failures the first error of each kind.

exit status: 0 when every request was acknowledged; 1 when a request failed
for good, timed out or was not sent, or a flag is wrong; 130 when the run
was interrupted.

scenarios:
  single     one CXone JSON report per message, as the tutorial's simulator
  lifecycle  QUEUED, SENT, then the outcome, with carrier delays; a little
             of everything below (the default)
  chaos      20 % redeliveries, 25 % out of order, SMPP JSON and receipts,
             20 % non-compliant senders

flags:
`

// simulateOptions are the flags of cxsms simulate.
type simulateOptions struct {
	target        string
	rate          float64 // reports per second, all workers together; 0 = as fast as the target answers
	duration      time.Duration
	warmup        time.Duration
	count         int // messages; 0 = until duration
	concurrency   int
	batch         int
	scenario      simulate.Scenario
	gen           simulate.Options // Status, Carrier, Region
	seed          uint64
	start         time.Time // pinned clock; zero = wall clock
	secret        string
	signingKeys   [][]byte // each signs every request, as during a rotation
	timeout       time.Duration
	quiet, asJSON bool
	cpuprofile    string
}

func parseSimulateFlags(cfg config, args []string, stderr io.Writer) (simulateOptions, error) {
	o := simulateOptions{}
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, simulateUsage)
		fs.PrintDefaults()
	}
	port := cfg.Port
	fs.StringVar(&o.target, "target", "http://127.0.0.1:"+port, "service base URL, or the full webhook URL")
	rate := fs.String("rate", "100/s", "reports per second across all workers (N or N/s); 0 for as fast as the target answers")
	fs.DurationVar(&o.duration, "duration", 0, "how long to send (default 10s, or until --count messages are sent)")
	fs.DurationVar(&o.warmup, "warmup", 0, "send for this long before measuring rates and latencies")
	fs.IntVar(&o.count, "count", 0, "stop after this many messages (0: run for --duration)")
	fs.IntVar(&o.concurrency, "concurrency", 8, "concurrent workers, one keep-alive connection each")
	fs.IntVar(&o.batch, "batch", 1, "reports per request, in a JSON array when more than 1; a bare SMPP receipt, which has no field for its event ID, goes alone with its event ID in a header")
	scenario := fs.String("scenario", simulate.DefaultScenario, "traffic: "+strings.Join(simulate.ScenarioNames(), ", "))
	seed := fs.String("seed", "", "seed of the generator (default: random, printed in the summary)")
	start := fs.String("start", "", "pin the reports' clock to this RFC 3339 time, so a repeat sends identical bytes")
	// Secrets default to the environment after parsing, so -help never prints them.
	fs.StringVar(&o.secret, "secret", "", "X-Webhook-Secret (default $WEBHOOK_SECRET)")
	// Repeatable, as the README promises: each occurrence adds its keys,
	// where a plain string flag kept only the last. An empty one counts as
	// not given, as it did, so --signing-secret "$UNSET" still falls back
	// to the environment.
	var signing []string
	fs.Func("signing-secret", "sign requests as Standard Webhooks with this key; repeat it, or separate keys by spaces or commas, to sign with each (default $WEBHOOK_SIGNING_SECRET)", func(s string) error {
		if s != "" {
			signing = append(signing, s)
		}
		return nil
	})
	status := fs.String("status", "", "pin every message's outcome (DELIVERED, FAILED, ...)")
	fs.StringVar(&o.gen.Carrier, "carrier", "", "pin the carrier (TMOBILE, VODAFONE, AIRTEL, ...)")
	fs.StringVar(&o.gen.Region, "region", "", "pin the destination ("+strings.Join(simulate.RegionCodes(), ", ")+")")
	shares := map[string]*float64{}
	for _, f := range []struct{ name, what string }{
		{"duplicates", "reports sent that are redeliveries (at most 0.5)"},
		{"out-of-order", "messages whose reports are sent out of order"},
		{"smpp-json", "messages whose carrier reports are SMPP fields in JSON"},
		{"smpp-receipt", "messages whose carrier reports are bare SMPP receipts"},
		{"bad-senders", "messages from a sender ID the destination refuses"},
		{"in-flight", "messages with no outcome yet"},
	} {
		name := f.name
		fs.Func(name, "override the scenario's share of "+f.what, func(s string) error {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("not a number")
			}
			shares[name] = &v
			return nil
		})
	}
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on a request whose answer has not begun after this long (more than 0)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line")
	fs.BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the load generator to this file")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("simulate: unexpected argument %q", fs.Arg(0))
	}

	var err error
	if o.rate, err = parseRate(*rate); err != nil {
		return o, err
	}
	if o.concurrency < 1 || o.concurrency > 10000 {
		return o, fmt.Errorf("--concurrency must be between 1 and 10000, got %d", o.concurrency)
	}
	if o.batch < 1 || o.batch > 10000 {
		return o, fmt.Errorf("--batch must be between 1 and 10000, got %d", o.batch)
	}
	if o.count < 0 || o.duration < 0 || o.warmup < 0 {
		return o, fmt.Errorf("--count, --duration and --warmup cannot be negative")
	}
	// fasthttp reads a timeout of 0 or less as none, and a run that says
	// it gives up after --timeout would wait for ever.
	if o.timeout <= 0 {
		return o, fmt.Errorf("--timeout must be more than 0, got %v", o.timeout)
	}
	// A zero duration stands for the default, so an explicit 0 is told
	// apart by whether the flag was given.
	durationGiven := false
	fs.Visit(func(f *flag.Flag) { durationGiven = durationGiven || f.Name == "duration" })
	if durationGiven && o.duration == 0 {
		return o, fmt.Errorf("--duration must be more than 0 (leave it out for 10s, or until --count messages are sent)")
	}
	// A worker waits batch*concurrency/rate between requests: more than an
	// hour is no load, and far more overflows a time.Duration.
	if o.rate > 0 && float64(o.batch)*float64(o.concurrency)/o.rate > time.Hour.Seconds() {
		return o, fmt.Errorf("--rate %s leaves each of %d workers (%d report(s) a request) more than an hour between requests; raise --rate, or lower --concurrency or --batch",
			*rate, o.concurrency, o.batch)
	}
	if o.count == 0 && o.duration == 0 {
		o.duration = 10 * time.Second
	}
	if o.duration > 0 && o.warmup >= o.duration {
		return o, fmt.Errorf("--warmup %v leaves nothing of --duration %v to measure", o.warmup, o.duration)
	}
	// Trimmed as the service trims WEBHOOK_SECRET: " " would send every
	// request to a 401.
	if o.secret = strings.TrimSpace(o.secret); o.secret == "" {
		o.secret = cfg.WebhookSecret
	}
	signingFrom := "--signing-secret"
	if signing == nil && cfg.SigningSecret != "" {
		signing, signingFrom = []string{cfg.SigningSecret}, "WEBHOOK_SIGNING_SECRET"
	}
	if o.secret == "" {
		return o, fmt.Errorf("no webhook secret: pass --secret or set WEBHOOK_SECRET")
	}
	if err := headerSafe("the webhook secret", o.secret); err != nil {
		return o, err // or every request is a 401 blamed on the secret
	}
	if o.target, err = webhookURL(o.target); err != nil {
		return o, err
	}
	if o.scenario, err = simulate.LookupScenario(*scenario); err != nil {
		return o, err
	}
	given := simulate.Shares{Duplicates: shares["duplicates"], OutOfOrder: shares["out-of-order"],
		SMPPJSON: shares["smpp-json"], SMPPReceipt: shares["smpp-receipt"], BadSenders: shares["bad-senders"], InFlight: shares["in-flight"]}
	// Sent as spelled, for the webhook to normalize; simulate.New checks it.
	o.gen.Status = domain.Status(*status)
	if err := given.CheckPinned(o.gen.Status, simulate.Names{Status: "--status", InFlight: "--in-flight",
		SMPPJSON: "--smpp-json", SMPPReceipt: "--smpp-receipt"}); err != nil {
		return o, err
	}
	// One SMPP share given shrinks the scenario's other to fit (With).
	o.scenario = o.scenario.With(given)
	if *seed == "" {
		o.seed = rand.Uint64() >> 11 // short enough to retype
	} else if o.seed, err = strconv.ParseUint(*seed, 10, 64); err != nil {
		return o, fmt.Errorf("--seed must be a non-negative integer, got %q", *seed)
	}
	if *start != "" {
		if o.start, err = time.Parse(time.RFC3339Nano, *start); err != nil {
			return o, fmt.Errorf("--start must be an RFC 3339 time: %v", err)
		}
	}
	// Like the service, read keys separated by spaces or commas. Sign
	// with each: during a rotation the service may hold any one of them,
	// and Standard Webhooks lets a header carry one signature per key.
	for _, v := range signing {
		keys := strings.Fields(strings.ReplaceAll(v, ",", " "))
		if len(keys) == 0 {
			return o, fmt.Errorf("%s holds no key, only spaces or commas", signingFrom)
		}
		for _, k := range keys {
			key := []byte(k)
			if b64, ok := strings.CutPrefix(k, "whsec_"); ok {
				if key, err = base64.StdEncoding.DecodeString(b64); err != nil {
					return o, fmt.Errorf("%s: a whsec_ key is not valid base64", signingFrom)
				}
			}
			if len(key) == 0 {
				return o, fmt.Errorf("%s: a key is empty", signingFrom)
			}
			o.signingKeys = append(o.signingKeys, key)
		}
	}
	// Check the generator options once, for an error before any traffic.
	o.gen.Scenario, o.gen.Seed = o.scenario, o.seed
	if _, err := simulate.New(o.gen); err != nil {
		return o, err
	}
	return o, nil
}

// parseRate reads "500", "500/s" or "0".
func parseRate(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "/s"), 64)
	if err != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("--rate must be reports per second, such as 200 or 200/s, got %q", s)
	}
	return v, nil
}

// webhookURL accepts the service's base URL or the webhook's own.
func webhookURL(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--target must be an http(s) URL, got %q", target)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/webhooks/cxone/sms"
	}
	return u.String(), nil
}

// simulateCmd is `cxsms simulate`.
func simulateCmd(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	o, err := parseSimulateFlags(cfg, args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.cpuprofile != "" {
		stop, err := startCPUProfile(o.cpuprofile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer stop()
	}
	sum := runSimulation(ctx, o, stderr)
	if o.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(sum); err != nil {
			return err
		}
	} else {
		sum.print(stdout)
	}
	if sum.Interrupted {
		return fmt.Errorf("simulate: %w", errInterrupted)
	}
	t := sum.Totals
	var problems []string
	if sum.Stopped != "" {
		problems = append(problems, "stopped early: "+sum.Stopped)
	}
	switch {
	case t.Failed > 0 && sum.Stopped != "":
		problems = append(problems, fmt.Sprintf("%d of %d requests failed (%s)", t.Failed, t.Requests, formatErrors(t.Errors)))
	case t.Failed > 0:
		problems = append(problems, fmt.Sprintf("%d of %d requests failed (%s): %s", t.Failed, t.Requests, formatErrors(t.Errors), formatCauses(t.FirstErrors)))
	}
	if t.NotSentRequests > 0 {
		problems = append(problems, fmt.Sprintf("%d requests (%d reports) were not sent: the target could not be reached (%s)",
			t.NotSentRequests, t.NotSentReports, t.ConnectError))
	}
	if t.TimedOutRequests > 0 {
		problems = append(problems, fmt.Sprintf("%d requests timed out after --timeout %v: their outcome is unknown, they may be stored",
			t.TimedOutRequests, sum.timeout))
	}
	if len(problems) > 0 {
		return fmt.Errorf("simulate: %s", strings.Join(problems, "; "))
	}
	return nil
}

// formatCauses lists what the first failure of each kind said.
func formatCauses(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("first %s: %s", k, m[k])
	}
	return strings.Join(parts, "; ")
}

// errInterrupted is simulate's error when an interrupt cut the run short:
// the summary was printed, but it is not the run that was asked for.
var errInterrupted = errors.New("interrupted; the summary covers the run until then")

// counters are what the workers count as they go; atomics, so the progress
// line can read them.
type counters struct {
	requests, reports, acked, duplicates, failed, retries atomic.Int64
	// interrupted and interruptedReports are requests an interrupt cut
	// before their answer: not in requests and reports, as their outcome
	// is unknown. timedOut and timedOutReports are the same for requests
	// whose answer had not begun after --timeout.
	interrupted, interruptedReports atomic.Int64
	timedOut, timedOutReports       atomic.Int64
	// notSent and notSentReports are requests given up while the target
	// could not be reached, none of whose attempts reached it: not in
	// requests and reports either, and certainly not stored. reconnects
	// are the pauses before dialling again.
	notSent, notSentReports, reconnects atomic.Int64
}

// A worker whose connection cannot be made waits connectRetryFirst before
// it dials again, twice as long after each failure in a row, up to
// connectRetryMost; once its connections have failed for unreachableFor,
// it stops the run. Variables, so tests can shorten them.
var (
	connectRetryFirst = 100 * time.Millisecond
	connectRetryMost  = 5 * time.Second
	unreachableFor    = 30 * time.Second
)

// simulation is one run's shared state.
type simulation struct {
	o         simulateOptions
	all       counters // since the start
	measured  counters // since the warm-up ended
	measuring atomic.Bool

	// stop ends the run early, with why, when no request can succeed.
	stop context.CancelCauseFunc

	mu     sync.Mutex
	errors map[string]int64 // by status code, or "transport"
	// firstErrors is what the first failure of each kind said: a count
	// alone does not say why (a service down, a wrong secret).
	firstErrors map[string]string
	// connectError is what the first connection that could not be made
	// said.
	connectError string
}

// worker is one connection's sender. It reuses its buffers, and its request
// and response: the load generator shares the machine with the service it
// measures.
type worker struct {
	s     *simulation
	id    int
	gen   *simulate.Generator
	quota int // messages left; -1 = no limit
	nth   int // messages generated
	// open are the messages drawn that have reports left to send, in the
	// order drawn (see fill).
	open  []openMessage
	batch []*simulate.Report
	// starts holds, for each report of batch, its message if the report is
	// the message's first, else nil: a message counts as sent with its
	// first report.
	starts  []*simulate.Message
	body    []byte
	client  *fasthttp.HostClient // of one connection, this worker's
	req     fasthttp.Request     // method, URL, secret and User-Agent set once
	res     fasthttp.Response
	tally   *simulate.Tally
	lat     []time.Duration
	warmLat int // how many of lat, the first ones, are of the warm-up
	cbuf    [2]*counters

	// answered is when the last answer (or failure) came, so the next
	// request knows how long the connection has been idle.
	answered time.Time
	// connectWait is the pause after the last connection that could not be
	// made, and unreachable when the failures in a row began; both zero
	// while connections succeed.
	connectWait time.Duration
	unreachable time.Time
}

// counters returns the counters a request counts in: all of them, and the
// measured ones once the warm-up is over.
func (w *worker) counters(measuring bool) []*counters {
	w.cbuf[0] = &w.s.all
	if measuring {
		w.cbuf[1] = &w.s.measured
		return w.cbuf[:2]
	}
	return w.cbuf[:1]
}

func runSimulation(ctx context.Context, o simulateOptions, stderr io.Writer) *simulateSummary {
	s := &simulation{o: o, errors: map[string]int64{}, firstErrors: map[string]string{}}

	stop, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	s.stop = abort
	if o.duration > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithTimeout(stop, o.duration)
		defer cancel()
	}
	began := time.Now()
	measureFrom := began
	if o.warmup > 0 {
		measureFrom = began.Add(o.warmup)
		time.AfterFunc(o.warmup, func() { s.measuring.Store(true) })
	} else {
		s.measuring.Store(true)
	}

	workers := make([]*worker, o.concurrency)
	for i := range workers {
		gopts := o.gen
		gopts.Stream = uint64(i)
		gen, _ := simulate.New(gopts) // validated by parseSimulateFlags
		quota := -1
		if o.count > 0 {
			quota = o.count / o.concurrency
			if i < o.count%o.concurrency {
				quota++
			}
		}
		w := &worker{s: s, id: i, gen: gen, quota: quota, client: newSimulateClient(ctx, o), tally: simulate.NewTally()}
		defer w.client.CloseIdleConnections()
		w.req.Header.SetMethod(fasthttp.MethodPost)
		w.req.SetRequestURI(o.target)
		w.req.Header.Set("X-Webhook-Secret", o.secret)
		w.req.Header.SetUserAgent("cxsms-simulate")
		w.res.KeepBodyBuffer = true
		workers[i] = w
	}

	// The last progress line waits for the workers, not for stop: requests
	// under way when the time is up still get their answers.
	workersDone, progressDone := make(chan struct{}), make(chan struct{})
	if !o.quiet {
		go s.progress(workersDone, began, stderr, progressDone)
	} else {
		close(progressDone)
	}
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, stop)
		}()
	}
	wg.Wait()
	ended := time.Now()
	close(workersDone)
	<-progressDone
	// A run that ended during the warm-up (or before a measured request)
	// is measured whole rather than reported as zeros.
	whole := o.warmup > 0 && (!s.measuring.Load() || s.measured.requests.Load() == 0)
	if whole {
		measureFrom = began
	}
	sum := s.summarize(workers, measureFrom, ended, whole)
	sum.Interrupted = ctx.Err() != nil
	if cause := context.Cause(stop); !sum.Interrupted && (errors.Is(cause, errRefused) || errors.Is(cause, errUnreachable)) {
		sum.Stopped = cause.Error()
	}
	return sum
}

// newSimulateClient returns a worker's client, of one keep-alive connection.
// It is fasthttp's, not net/http's: make bench runs the load generator on
// the service's machine, and net/http's client (two goroutines a
// connection, channels, allocations) cost some 40 µs of CPU a request more
// than fasthttp's, taken from the service being measured.
func newSimulateClient(ctx context.Context, o simulateOptions) *fasthttp.HostClient {
	u, _ := url.Parse(o.target) // checked by webhookURL
	isTLS := u.Scheme == "https"
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &fasthttp.HostClient{
		Addr:  fasthttp.AddMissingPort(u.Host, isTLS),
		IsTLS: isTLS,
		Dial: func(addr string) (net.Conn, error) {
			conn, err := dialer.DialContext(ctx, "tcp", addr)
			if err != nil {
				return nil, err
			}
			return newInterruptibleConn(ctx, conn), nil
		},
		MaxConns:            1,
		MaxIdleConnDuration: 90 * time.Second,
		// --timeout bounds the start of the answer, ReadTimeout all of it;
		// the webhook's answers are small enough for the two to agree. A
		// client-level timeout, unlike DoTimeout, costs no timer per request.
		ReadTimeout: o.timeout,
		// Large enough for a batch to go out with its headers in one write.
		WriteBufferSize:          64 << 10,
		DisablePathNormalizing:   true, // send --target's path as given
		NoDefaultUserAgentHeader: true,
	}
}

// interruptibleConn is closed when ctx (an interrupt) ends. fasthttp takes
// no context, so closing the connection is how an interrupt cuts short a
// request that is waiting for its answer.
type interruptibleConn struct {
	net.Conn
	stop func() bool
}

func newInterruptibleConn(ctx context.Context, conn net.Conn) net.Conn {
	return &interruptibleConn{Conn: conn, stop: context.AfterFunc(ctx, func() { conn.Close() })}
}

// Close also forgets the connection, so ctx does not hold every connection
// the run ever opened.
func (c *interruptibleConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// run sends until the quota is met or stop ends.
func (w *worker) run(ctx, stop context.Context) {
	o := w.s.o
	var interval time.Duration
	if o.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(o.batch*o.concurrency) / o.rate)
	}
	// Workers start spread over one interval, not all at once.
	next := time.Now().Add(interval * time.Duration(w.id) / time.Duration(o.concurrency))
	// ctx too: stop ends with it, but a moment later (a parent context
	// cancels its children one by one), and a worker whose request the
	// interrupt just cut would send another in that moment.
	for stop.Err() == nil && ctx.Err() == nil {
		// A batch drawn here and left unsent when stop ends is not
		// counted: send counts what it sent.
		w.fill()
		if len(w.batch) == 0 {
			return
		}
		if interval > 0 {
			now := time.Now()
			if d := next.Sub(now); d > 0 {
				if !pause(stop, d) {
					return
				}
			} else if d < -time.Second {
				next = now // far behind: do not burst to catch up
			}
			// A request of fewer reports (a receipt alone, the last one)
			// waits its share of the interval, so --rate holds in reports.
			next = next.Add(interval * time.Duration(len(w.batch)) / time.Duration(o.batch))
		}
		w.send(ctx, stop)
	}
}

// openMessage is a message drawn, with the reports it has left to send.
type openMessage struct {
	m       *simulate.Message
	reports []*simulate.Report // in send order; never empty
}

// fill puts the next request's reports in w.batch (and in w.starts each
// one's message, if it is the message's first report): up to --batch of
// them, or one that must go alone (simulate.Report.Alone). It leaves
// w.batch empty once the quota is met and every report has gone.
//
// A message whose next report must go alone waits while a batch is being
// filled, so that its reports still go in their order, and the batch fills
// from the messages after it; such reports go first, one request each,
// before the next batch. Ending the batch at each receipt instead made a
// chaos run's batches of 50 average 4 reports.
func (w *worker) fill() {
	w.batch, w.starts = w.batch[:0], w.starts[:0]
	for i := range w.open {
		if w.open[i].reports[0].Alone() {
			w.take(i)
			return
		}
	}
	for i := 0; len(w.batch) < w.s.o.batch; {
		if i == len(w.open) && !w.draw() {
			return
		}
		r := w.open[i].reports[0]
		if r.Alone() && len(w.batch) > 0 {
			i++ // its message waits for a request after this one
			continue
		}
		w.take(i) // w.open[i] is now the message's next report, or the next message's
		if r.Alone() {
			return
		}
	}
}

// take moves the next report of w.open[i] into the batch, and drops the
// message from w.open once it has none left.
func (w *worker) take(i int) {
	p := &w.open[i]
	var first *simulate.Message
	if len(p.reports) == len(p.m.Reports) {
		first = p.m
	}
	w.batch, w.starts = append(w.batch, p.reports[0]), append(w.starts, first)
	if p.reports = p.reports[1:]; len(p.reports) == 0 {
		w.open = slices.Delete(w.open, i, i+1)
	}
}

// draw starts the next message, in w.open; false once the quota is met.
func (w *worker) draw() bool {
	if w.quota == 0 {
		return false
	}
	if w.quota > 0 {
		w.quota--
	}
	anchor := time.Now()
	if o := w.s.o; !o.start.IsZero() {
		spacing := time.Millisecond
		if o.rate > 0 {
			spacing = time.Duration(float64(time.Second) / o.rate)
		}
		anchor = o.start.Add(time.Duration(w.nth*o.concurrency+w.id) * spacing)
	}
	w.nth++
	m := w.gen.Next(anchor)
	w.open = append(w.open, openMessage{m: m, reports: m.Reports})
	return true
}

// send posts the current batch, retrying 503s after their Retry-After.
// Requests run under ctx (an interrupt closes their connections); stop ends
// only the waits, so a request under way when the run's time is up still
// gets its answer.
func (w *worker) send(ctx, stop context.Context) {
	s, o := w.s, w.s.o
	h := &w.req.Header
	h.Del("X-Cxone-Event-Id")
	// A report that must go alone goes as at --batch 1, with its event-ID
	// header (and as webhook-id when signing): its redeliveries and a
	// repeat of the seed then name it as the first sending did.
	if o.batch > 1 && !w.batch[0].Alone() {
		w.body = simulate.AppendBatch(w.body[:0], w.batch)
		h.SetContentType(simulate.ContentTypeJSON)
	} else {
		r := w.batch[0]
		w.body = r.AppendBody(w.body[:0])
		if r.ContentType() == simulate.ContentTypeReceipt {
			h.SetContentType(simulate.ContentTypeReceipt)
		} else {
			h.SetContentType(simulate.ContentTypeJSON)
		}
		if id := r.EventIDHeader(); id != "" {
			h.Set("X-Cxone-Event-Id", id)
		}
	}
	// Raw: the request sends w.body itself, which stays untouched until
	// the next batch.
	w.req.SetBodyRaw(w.body)
	// The batch is tallied as sent once its outcome is known, answered or
	// failed: one an interrupt or --timeout cut is counted apart, like in
	// the counters.
	cut := false
	defer func() {
		if cut {
			return
		}
		for i, r := range w.batch {
			if m := w.starts[i]; m != nil {
				w.tally.AddMessage(m)
			}
			w.tally.AddReport(r)
		}
	}()
	if len(o.signingKeys) > 0 {
		id := w.batch[0].EventID
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		sigs := make([]string, len(o.signingKeys))
		for i, key := range o.signingKeys {
			sigs[i] = http.Sign(key, id, ts, w.body)
		}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", strings.Join(sigs, " "))
	}

	n := int64(len(w.batch))
	cs := w.counters(s.measuring.Load())
	for _, c := range cs {
		c.requests.Add(1)
		c.reports.Add(n)
	}
	fail := func(kind, why string) {
		s.fail(kind, why)
		for _, c := range cs {
			c.failed.Add(1)
		}
	}
	// unknown is the kind of an attempt that left the outcome unknown (a
	// 503: the webhook may have stored the reports after all; or a
	// connection closed after the request was written, which the service
	// may have read whole), and unknownWhy what it said. A request
	// given up after one may be stored, so it is failed with that kind,
	// never counted as not sent.
	var unknown, unknownWhy string
	for unavailable := 0; ; {
		began := time.Now()
		// fasthttp reads the whole body before Do returns, so a body that
		// fails half-way is an error here, timed as none.
		err := w.client.Do(&w.req, &w.res)
		if err != nil && ctx.Err() == nil && !w.answered.IsZero() && began.Sub(w.answered) > time.Second && closedBeforeAnswer(err) {
			// The server closed the connection while it was idle: net/http
			// notices such a close as it happens and dials again, fasthttp
			// only when it next sends. The request never reached the server,
			// so send it on a new connection. Unless the write itself
			// failed, though, the server may have read it whole before it
			// closed, as a service going away does: if the request is
			// given up, it is failed like this attempt, not "not sent".
			// An earlier 503 is kept: that attempt surely reached it.
			if unknown == "" && !writeFailed(err) {
				unknown, unknownWhy = "transport", err.Error()
			}
			err = w.client.Do(&w.req, &w.res)
		}
		w.answered = time.Now()
		if err != nil && notConnected(err) {
			// Nothing was sent this time: the target is down or
			// restarting. Dialling again at once made 125,000 attempts in
			// 5 s, each counted as a message sent; so pause, as after a
			// 503, and give the request up only when the run ends
			// meanwhile: counted apart as not sent if no attempt reached
			// the service, else failed.
			if ctx.Err() == nil {
				s.connectFailed(err)
				if w.unreachable.IsZero() {
					w.unreachable = began
				}
				if time.Since(w.unreachable) >= unreachableFor {
					s.stop(fmt.Errorf("%w for %v: %v", errUnreachable, unreachableFor, err))
				}
			}
			if stop.Err() == nil {
				w.connectWait = min(max(2*w.connectWait, connectRetryFirst), connectRetryMost)
				for _, c := range cs {
					c.reconnects.Add(1)
				}
				if pause(stop, w.connectWait) {
					continue
				}
			}
			if unknown != "" {
				// An earlier attempt reached the service, so the request
				// is a failure, as when its 503 retries run out.
				fail(unknown, unknownWhy)
				return
			}
			cut = true
			setAside(cs, n, func(c *counters) (_, _ *atomic.Int64) { return &c.notSent, &c.notSentReports })
			return
		}
		w.connectWait, w.unreachable = 0, time.Time{}
		if err != nil {
			if ctx.Err() != nil {
				// Interrupted: neither acknowledged nor failed, and maybe
				// stored, so counted apart from both.
				cut = true
				setAside(cs, n, func(c *counters) (_, _ *atomic.Int64) { return &c.interrupted, &c.interruptedReports })
				return
			}
			if timedOut(err) {
				// The request went out and its answer never began: the
				// service may have stored it, so it is counted apart like
				// an interrupted one, and its wait is a latency.
				cut = true
				w.addLatency(w.answered.Sub(began), cs)
				setAside(cs, n, func(c *counters) (_, _ *atomic.Int64) { return &c.timedOut, &c.timedOutReports })
				return
			}
			fail("transport", err.Error())
			return
		}
		w.addLatency(w.answered.Sub(began), cs)
		status := w.res.StatusCode()
		switch {
		case status == fasthttp.StatusOK:
			dups := int64(bytes.Count(w.res.Body(), []byte(`"duplicate":true`)))
			for _, c := range cs {
				c.acked.Add(n)
				c.duplicates.Add(dups)
			}
			return
		case status == fasthttp.StatusServiceUnavailable && unavailable < 10:
			unavailable++
			for _, c := range cs {
				c.retries.Add(1)
			}
			unknown, unknownWhy = "503", answerError(&w.res)
			wait, _ := strconv.Atoi(string(w.res.Header.Peek("Retry-After")))
			if !pause(stop, time.Duration(min(max(wait, 0), 60))*time.Second) {
				fail(unknown, unknownWhy)
				return
			}
			continue
		case status == fasthttp.StatusUnauthorized || status == fasthttp.StatusForbidden:
			// Every request carries the same secret and key: none can
			// succeed, so the run stops rather than send them all.
			why := answerError(&w.res)
			fail(strconv.Itoa(status), why)
			s.stop(refusal(status, why, len(o.signingKeys) > 0))
			return
		}
		fail(strconv.Itoa(status), answerError(&w.res))
		return
	}
}

// setAside takes a request of n reports out of the requests and reports of
// cs, into the pair of counters apart picks: one whose outcome is unknown
// (interrupted, timed out) or that was never sent.
func setAside(cs []*counters, n int64, apart func(*counters) (requests, reports *atomic.Int64)) {
	for _, c := range cs {
		c.requests.Add(-1)
		c.reports.Add(-n)
		requests, reports := apart(c)
		requests.Add(1)
		reports.Add(n)
	}
}

// errRefused starts the cause of a run stopped by a 401 or 403.
var errRefused = errors.New("the webhook refused")

// refusal is the cause of a run stopped by a 401 or 403 that said why: it
// names what the webhook refused by what it said. A service that requires
// signatures answers a run without a key "bad signature: missing
// webhook-id, ...", which was blamed on X-Webhook-Secret, and a tester
// checked a secret that was right.
func refusal(status int, why string, signing bool) error {
	aboutSignature := strings.Contains(strings.ToLower(why), "signature")
	switch {
	case aboutSignature && !signing:
		return fmt.Errorf("%w the request unsigned (%d: %s): the service requires a signature; give its signing key with --signing-secret or WEBHOOK_SIGNING_SECRET; no retry can succeed",
			errRefused, status, why)
	case aboutSignature:
		return fmt.Errorf("%w the signature (%d: %s): sign with the service's key (--signing-secret or WEBHOOK_SIGNING_SECRET); no retry can succeed",
			errRefused, status, why)
	}
	what := "X-Webhook-Secret"
	if signing && !strings.Contains(why, "X-Webhook-Secret") {
		what += " or the signature"
	}
	return fmt.Errorf("%w %s (%d: %s); no retry can succeed", errRefused, what, status, why)
}

// errUnreachable starts the cause of a run stopped because no connection
// to the target could be made for unreachableFor.
var errUnreachable = errors.New("the target could not be reached")

// pause waits d, or until stop ends; it tells whether it waited all of d.
func pause(stop context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-stop.Done():
		return false
	case <-t.C:
		return true
	}
}

// notConnected tells whether err is a connection that could not be made:
// the worker's dialer failed (refused, unreachable, the dialer's own
// timeout, a name that does not resolve), and nothing was sent.
func notConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func (s *simulation) connectFailed(err error) {
	s.mu.Lock()
	if s.connectError == "" {
		s.connectError = err.Error()
	}
	s.mu.Unlock()
}

// addLatency keeps a request's latency. Warm-up latencies are kept too, for
// a run that ends during the warm-up; the measuring flag only turns on, so
// they come first.
func (w *worker) addLatency(took time.Duration, cs []*counters) {
	w.lat = append(w.lat, took)
	if len(cs) == 1 {
		w.warmLat = len(w.lat)
	}
}

// timedOut tells whether err is --timeout ending the wait for an answer, as
// opposed to a connection that could not be made (the dialer's own timeout),
// after which nothing was sent.
func timedOut(err error) bool {
	if notConnected(err) {
		return false
	}
	var t interface{ Timeout() bool }
	return errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &t) && t.Timeout()
}

// answerError is what a refusal said: the error of the webhook's JSON
// answer, else the start of its body, else the status text.
func answerError(res *fasthttp.Response) string {
	var e struct {
		Error string `json:"error"`
	}
	body := bytes.TrimSpace(res.Body())
	switch {
	case json.Unmarshal(body, &e) == nil && e.Error != "":
		return e.Error
	case len(body) > 0:
		return strconv.Quote(string(body[:min(len(body), 200)]))
	}
	return fasthttp.StatusMessage(res.StatusCode())
}

// closedBeforeAnswer tells whether err means the connection was closed by
// the server before the request was written or its answer began.
func closedBeforeAnswer(err error) bool {
	return errors.Is(err, fasthttp.ErrConnectionClosed) || writeFailed(err)
}

// writeFailed tells whether err is the request failing to be written, so
// the server cannot have read all of it.
func writeFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "write"
}

func (s *simulation) fail(kind, why string) {
	s.mu.Lock()
	s.errors[kind]++
	if _, ok := s.firstErrors[kind]; !ok {
		s.firstErrors[kind] = why
	}
	s.mu.Unlock()
}

// progress rewrites one line on stderr every second; when stderr is not a
// terminal (a log file), it writes a line every ten seconds instead. Its
// last line comes once workersDone is closed, so it agrees with the summary.
func (s *simulation) progress(workersDone <-chan struct{}, began time.Time, stderr io.Writer, done chan<- struct{}) {
	defer close(done)
	every, start, end := time.Second, "\r", "\x1b[K"
	if f, ok := stderr.(*os.File); !ok || !isTerminal(f) {
		every, start, end = 10*time.Second, "", "\n"
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastAt := int64(0), began
	line := func(final bool) {
		now := time.Now()
		reqs := s.all.requests.Load()
		// The rate since the last line; never below 0, though requests set
		// aside as not sent leave the count (it read -6 req/s); and on the
		// last line the whole run's, where the moments since the last tick
		// read 930 req/s at the end of a 500/s run.
		rate := max(0, float64(reqs-last)/now.Sub(lastAt).Seconds())
		if final {
			rate = max(0, float64(reqs)/now.Sub(began).Seconds())
		}
		last, lastAt = reqs, now
		s.mu.Lock()
		errs := formatErrors(s.errors)
		s.mu.Unlock()
		warm := ""
		if !s.measuring.Load() {
			warm = " (warming up)"
		}
		// While the target cannot be reached, say so: the line alone
		// showed nothing moving.
		unreachable := ""
		if r, ns := s.all.reconnects.Load(), s.all.notSent.Load(); r > 0 || ns > 0 {
			unreachable = fmt.Sprintf("  reconnects %d  not sent %d", r, ns)
		}
		fmt.Fprintf(stderr, "%s%6.1fs  sent %d req, %d reports  acked %d  dup %d  retried %d  errors %s%s  %.0f req/s%s%s",
			start, now.Sub(began).Seconds(), reqs, s.all.reports.Load(), s.all.acked.Load(), s.all.duplicates.Load(),
			s.all.retries.Load(), errs, unreachable, rate, warm, end)
	}
	for {
		select {
		case <-workersDone:
			line(true)
			if start != "" {
				fmt.Fprintln(stderr)
			}
			return
		case <-t.C:
			line(false)
		}
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func formatErrors(m map[string]int64) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s:%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

// simulateSummary is what a run did. Rates and latencies cover the measured
// window (after the warm-up, or the whole run when it ended during the
// warm-up); totals cover the whole run. Totals and Sent count requests
// whose outcome is known; those an interrupt or --timeout cut, and those
// never sent, are counted apart.
type simulateSummary struct {
	Target      string  `json:"target"`
	Scenario    string  `json:"scenario"`
	Seed        uint64  `json:"seed"`
	Concurrency int     `json:"concurrency"`
	Batch       int     `json:"batch"`
	WarmupSec   float64 `json:"warmupSeconds"`
	MeasuredSec float64 `json:"measuredSeconds"`
	// EndedInWarmup says the run ended during the warm-up, so the measured
	// window is the whole run.
	EndedInWarmup bool `json:"endedInWarmup"`
	// Interrupted says an interrupt (SIGINT, SIGTERM, SIGHUP) ended the run
	// early.
	Interrupted bool `json:"interrupted"`
	// Stopped says why the run stopped early, when a refusal (401, 403)
	// meant no request could succeed, or the target could not be reached
	// for unreachableFor.
	Stopped string `json:"stopped,omitempty"`
	timeout time.Duration

	RequestsPerSec float64 `json:"requestsPerSecond"`
	ReportsPerSec  float64 `json:"reportsPerSecond"`
	Latency        struct {
		P50 float64 `json:"p50"`
		P90 float64 `json:"p90"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latencyMs"`

	Totals struct {
		Requests     int64            `json:"requests"`
		Reports      int64            `json:"reports"`
		Acknowledged int64            `json:"acknowledged"`
		Duplicates   int64            `json:"duplicates"`
		Failed       int64            `json:"failed"`
		Retries      int64            `json:"retries503"`
		Errors       map[string]int64 `json:"errors"`
		// FirstErrors is, by the same kinds, what the first failure said.
		FirstErrors map[string]string `json:"firstErrors"`
		// InterruptedRequests were cut by the interrupt before their
		// answer: not in Requests, and maybe stored.
		InterruptedRequests int64 `json:"interruptedRequests"`
		InterruptedReports  int64 `json:"interruptedReports"`
		// TimedOutRequests had no answer begun after --timeout: not in
		// Requests, and maybe stored. Their waits are in the latencies.
		TimedOutRequests int64 `json:"timedOutRequests"`
		TimedOutReports  int64 `json:"timedOutReports"`
		// NotSentRequests were given up while the target could not be
		// reached (no connection could be made until the run ended), and
		// no earlier attempt had reached it: not in Requests, nor in Sent,
		// and not stored. One answered 503 before is in Failed instead,
		// as it may be stored. ConnectRetries counts
		// the pauses before dialling again, ConnectError what the first
		// failed connection said.
		NotSentRequests int64  `json:"notSentRequests"`
		NotSentReports  int64  `json:"notSentReports"`
		ConnectRetries  int64  `json:"connectRetries"`
		ConnectError    string `json:"connectError,omitempty"`
	} `json:"totals"`
	Sent *simulate.Tally `json:"sent"`
}

// summarize measures rates and latencies from the measured counters, or
// from all of them when whole is set (the run ended during the warm-up).
func (s *simulation) summarize(workers []*worker, from, to time.Time, whole bool) *simulateSummary {
	o := s.o
	sum := &simulateSummary{Target: redactURL(o.target), Scenario: o.scenario.Name, Seed: o.seed, Concurrency: o.concurrency, Batch: o.batch,
		EndedInWarmup: whole, Sent: simulate.NewTally(), timeout: o.timeout}
	window := to.Sub(from).Seconds()
	sum.WarmupSec = o.warmup.Seconds()
	sum.MeasuredSec = window
	measured := &s.measured
	if whole {
		measured = &s.all
	}
	okReqs := measured.requests.Load() - measured.failed.Load()
	sum.RequestsPerSec = float64(okReqs) / window
	sum.ReportsPerSec = float64(measured.acked.Load()) / window
	var lat []time.Duration
	for _, w := range workers {
		if whole {
			lat = append(lat, w.lat...)
		} else {
			lat = append(lat, w.lat[w.warmLat:]...)
		}
		sum.Sent.Merge(w.tally)
	}
	slices.Sort(lat)
	ms := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := min(int(q*float64(len(lat))), len(lat)-1)
		return float64(lat[i].Microseconds()) / 1000
	}
	sum.Latency.P50, sum.Latency.P90, sum.Latency.P99, sum.Latency.Max = ms(0.50), ms(0.90), ms(0.99), ms(1)
	t := &sum.Totals
	t.Requests, t.Reports, t.Acknowledged = s.all.requests.Load(), s.all.reports.Load(), s.all.acked.Load()
	t.Duplicates, t.Failed, t.Retries = s.all.duplicates.Load(), s.all.failed.Load(), s.all.retries.Load()
	t.Errors, t.FirstErrors = s.errors, s.firstErrors
	t.InterruptedRequests, t.InterruptedReports = s.all.interrupted.Load(), s.all.interruptedReports.Load()
	t.TimedOutRequests, t.TimedOutReports = s.all.timedOut.Load(), s.all.timedOutReports.Load()
	t.NotSentRequests, t.NotSentReports = s.all.notSent.Load(), s.all.notSentReports.Load()
	t.ConnectRetries, t.ConnectError = s.all.reconnects.Load(), s.connectError
	return sum
}

func (sum *simulateSummary) print(w io.Writer) {
	t := sum.Totals
	fmt.Fprintf(w, "scenario %s, seed %d (repeat with --seed %d), %d workers, %d report(s) per request, target %s\n",
		sum.Scenario, sum.Seed, sum.Seed, sum.Concurrency, sum.Batch, sum.Target)
	fmt.Fprintf(w, "measured   %.1fs", sum.MeasuredSec)
	switch {
	case sum.EndedInWarmup:
		fmt.Fprintf(w, " (the whole run: it ended during the %.1fs warm-up)", sum.WarmupSec)
	case sum.WarmupSec > 0:
		fmt.Fprintf(w, " after a %.1fs warm-up", sum.WarmupSec)
	}
	fmt.Fprintf(w, ": %.0f req/s, %.0f reports/s\n", sum.RequestsPerSec, sum.ReportsPerSec)
	fmt.Fprintf(w, "latency    p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n", sum.Latency.P50, sum.Latency.P90, sum.Latency.P99, sum.Latency.Max)
	fmt.Fprintf(w, "requests   %d sent, %d failed (%s), %d retried after 503", t.Requests, t.Failed, formatErrors(t.Errors), t.Retries)
	if t.ConnectRetries > 0 {
		fmt.Fprintf(w, ", %d reconnects after a failed connection", t.ConnectRetries)
	}
	fmt.Fprintln(w)
	if len(t.FirstErrors) > 0 {
		fmt.Fprintf(w, "causes     %s\n", formatCauses(t.FirstErrors))
	}
	fmt.Fprintf(w, "reports    %d sent, %d acknowledged, %d duplicates (%d sent as such)\n", t.Reports, t.Acknowledged, t.Duplicates, sum.Sent.Duplicates)
	fmt.Fprintf(w, "messages   %d, %d out of order, %d from non-compliant senders\n", sum.Sent.Messages, sum.Sent.OutOfOrder, sum.Sent.NonCompliant)
	fmt.Fprintf(w, "forms      %s\n", formatCounts(sum.Sent.ByForm))
	fmt.Fprintf(w, "statuses   %s\n", formatCounts(sum.Sent.ByStatus))
	if t.TimedOutRequests > 0 {
		fmt.Fprintf(w, "timed out  %d requests (%d reports) without an answer after %v, outcome unknown: they may be stored; not counted above\n",
			t.TimedOutRequests, t.TimedOutReports, sum.timeout)
	}
	if t.NotSentRequests > 0 {
		why := t.ConnectError
		if why == "" {
			why = "the interrupt came while connecting"
		}
		fmt.Fprintf(w, "not sent   %d requests (%d reports) given up while the target could not be reached (%s): not stored; not counted above\n",
			t.NotSentRequests, t.NotSentReports, why)
	}
	if sum.Interrupted {
		fmt.Fprintf(w, "interrupted %d requests (%d reports) cut before their answer, outcome unknown: they may be stored; not counted above\n",
			t.InterruptedRequests, t.InterruptedReports)
	}
	if sum.Stopped != "" {
		fmt.Fprintf(w, "stopped    early: %s\n", sum.Stopped)
	}
}

func formatCounts[K ~string](m map[K]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[K(k)])
	}
	return strings.Join(parts, ", ")
}

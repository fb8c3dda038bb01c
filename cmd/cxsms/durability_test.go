package main

// Durability: the built binary as a real process, over a PostgreSQL cluster
// of the test's own (scripts/pg.sh), so the tests can kill the one and stop
// the other. What they prove: a 200 means the report is in the log, whatever
// happens after it; and the service rides out a database outage on its own.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// repoRoot finds the module's root from the test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/cxsms/cxsms\n")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod of github.com/cxsms/cxsms above the working directory")
		}
		dir = parent
	}
}

// buildBinary builds cmd/cxsms into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH; the durability tests build ./cmd/cxsms with it: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "cxsms")
	cmd := exec.Command(gocmd, "build", "-buildvcs=false", "-o", bin, "./cmd/cxsms")
	cmd.Dir = repoRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/cxsms: %v\n%s", err, out)
	}
	return bin
}

// pgCluster is a private PostgreSQL cluster run by scripts/pg.sh.
type pgCluster struct {
	script string
	dir    string
}

// startCluster starts a cluster in a temporary directory and stops it when
// the test ends. It skips the test only when pg.sh finds no PostgreSQL
// server binaries on the machine.
func startCluster(t *testing.T) (*pgCluster, string) {
	t.Helper()
	c := &pgCluster{script: filepath.Join(repoRoot(t), "scripts", "pg.sh"), dir: t.TempDir()}
	// Registered first: a start that fails half-way may have left a server
	// running. destroy also removes what pg.sh kept outside dir (as root).
	t.Cleanup(func() {
		if _, stderr, err := c.run("destroy"); err != nil {
			t.Errorf("scripts/pg.sh destroy: %v\n%s", err, stderr)
		}
	})
	url, stderr, err := c.run("start")
	if err != nil {
		if strings.Contains(stderr, "server binaries") && strings.Contains(stderr, "not found") {
			t.Skipf("no PostgreSQL server binaries on this machine (install them, or set PG_BINDIR): %s", strings.TrimSpace(stderr))
		}
		t.Fatalf("scripts/pg.sh start: %v\n%s", err, stderr)
	}
	return c, url
}

func (c *pgCluster) run(verb string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.script, verb, c.dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return strings.TrimSpace(out.String()), errb.String(), err
}

func (c *pgCluster) stop(t *testing.T) {
	t.Helper()
	if _, stderr, err := c.run("stop"); err != nil {
		t.Fatalf("scripts/pg.sh stop: %v\n%s", err, stderr)
	}
}

func (c *pgCluster) start(t *testing.T) string {
	t.Helper()
	url, stderr, err := c.run("start")
	if err != nil {
		t.Fatalf("scripts/pg.sh start: %v\n%s", err, stderr)
	}
	return url
}

// process is one `cxsms serve` process.
type process struct {
	cmd    *exec.Cmd
	base   string
	logs   *syncBuffer
	exited chan struct{} // closed once the process has exited
	err    error         // cmd.Wait's answer, once exited
}

// startProcess runs `cxsms serve` on port 0 and waits until it is ready. The
// process is stopped at the end of the test if it still runs.
func startProcess(t *testing.T, bin, dbURL string) *process {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Dir = t.TempDir() // no .env there
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"PORT=0",
		"DATABASE_URL=" + dbURL,
		"WEBHOOK_SECRET=" + testWebhookSecret,
		"ADMIN_TOKEN=" + testAdminToken,
		"LOG_LEVEL=warn",
	}
	pr, pw := io.Pipe()
	p := &process{cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = pw, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s serve: %v", bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		close(p.exited)
	}()
	addr := listenAddress(pr)
	t.Cleanup(func() {
		if p.running() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-p.exited
			}
		}
		if t.Failed() {
			t.Logf("log of pid %d:\n%s", cmd.Process.Pid, p.logs.String())
		}
	})
	select {
	case p.base = <-addr:
	case <-p.exited:
		t.Fatalf("cxsms serve exited before listening: %v\n%s", p.err, p.logs.String())
	case <-time.After(startWait):
		t.Fatalf("cxsms serve printed no address within %v\n%s", startWait, p.logs.String())
	}
	waitReady(t, p.base, startWait)
	return p
}

func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// kill is kill -9: no shutdown, no flush, connections dropped mid-request.
func (p *process) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("pid %d survived kill -9", p.cmd.Process.Pid)
	}
}

// terminate is a graceful stop (SIGTERM), which must end in exit status 0.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("cxsms serve did not exit cleanly on SIGTERM: %v", p.err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("cxsms serve still runs 30 s after SIGTERM")
	}
}

var durabilityClient = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second},
}

// httpGet answers a GET's status and body; err is a transport failure.
func httpGet(base, path string, header map[string]string) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := durabilityClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func waitReady(t *testing.T, base string, timeout time.Duration) {
	t.Helper()
	eventually(t, base+"/readyz answers 200", timeout, func() (bool, string) {
		code, body, err := httpGet(base, "/readyz", nil)
		return err == nil && code == http.StatusOK, fmt.Sprintf("%d %s %v", code, body, err)
	})
}

// durableReport is a report with an ID of its own: a unique message ID and
// a unique event ID.
func durableReport(id string) []byte {
	return tutorialReport("e-"+id, id, "DELIVERED", "DURABLE", "ACME", "+14155550123", time.Now())
}

// attempt is one webhook post and what came of it.
type attempt struct {
	id         string
	start, end time.Time
	status     int // 0: transport error
	retryAfter string
	duplicate  bool
	err        error
}

// load is client goroutines posting distinct reports continuously, each
// retrying its report with the same body until it is acknowledged, as CXone
// redelivers. A client pauses for its think time between reports, which
// keeps the log small enough for the projections to catch up quickly on a
// slow machine.
type load struct {
	base     atomic.Pointer[string]
	stop     atomic.Bool // no new reports
	abort    atomic.Bool // give up retrying too: the test is over
	deadline time.Time   // retries give up here, which fails the test
	wg       sync.WaitGroup

	mu       sync.Mutex
	attempts []attempt
	acked    []string // message IDs answered 200
}

func startLoad(t *testing.T, prefix string, clients int, think time.Duration, base string) *load {
	l := &load{deadline: time.Now().Add(3 * time.Minute)}
	l.base.Store(&base)
	// A test that fails half way must not leave its clients retrying.
	t.Cleanup(func() {
		l.stop.Store(true)
		l.abort.Store(true)
		l.wg.Wait()
	})
	for c := range clients {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; !l.stop.Load(); n++ {
				id := fmt.Sprintf("%s-%02d-%06d", prefix, c, n)
				body := durableReport(id)
				backoff := 20 * time.Millisecond
				for {
					a := l.post(id, body)
					l.mu.Lock()
					l.attempts = append(l.attempts, a)
					if a.status == http.StatusOK {
						l.acked = append(l.acked, id)
					}
					l.mu.Unlock()
					if a.status == http.StatusOK || l.abort.Load() || time.Now().After(l.deadline) {
						break
					}
					time.Sleep(backoff)
					backoff = min(2*backoff, 250*time.Millisecond)
				}
				time.Sleep(think)
			}
		}()
	}
	return l
}

func (l *load) post(id string, body []byte) attempt {
	a := attempt{id: id, start: time.Now()}
	defer func() { a.end = time.Now() }()
	req, err := http.NewRequest(http.MethodPost, *l.base.Load()+"/webhooks/cxone/sms", bytes.NewReader(body))
	if err != nil {
		a.err = err
		return a
	}
	req.Header.Set("X-Webhook-Secret", testWebhookSecret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := durabilityClient.Do(req)
	if err != nil {
		a.err = err
		a.end = time.Now()
		return a
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a.end = time.Now()
	if err != nil {
		a.err = err // the answer was cut: not an acknowledgement
		return a
	}
	a.status, a.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	if a.status == http.StatusOK {
		var ans ack
		if err := json.Unmarshal(b, &ans); err != nil || !ans.Acknowledged || len(ans.Results) != 1 || ans.Results[0].MessageID != id {
			a.status, a.err = -1, fmt.Errorf("200 with a wrong answer: %s", b)
			return a
		}
		a.duplicate = ans.Results[0].Duplicate
	} else {
		a.err = fmt.Errorf("%d %s", a.status, bytes.TrimSpace(b))
	}
	return a
}

func (l *load) ackCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitAcks waits until at least n reports are acknowledged.
func (l *load) waitAcks(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d reports acknowledged", n), timeout, func() (bool, string) {
		got := l.ackCount()
		return got >= n, fmt.Sprintf("%d acknowledged", got)
	})
}

// finish stops new reports and waits for every client to get its last
// report acknowledged.
func (l *load) finish(t *testing.T) {
	t.Helper()
	l.stop.Store(true)
	done := make(chan struct{})
	go func() { l.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(l.deadline) + 30*time.Second):
		t.Fatalf("clients still retrying past their deadline")
	}
	// A client that hit its deadline leaves a report unacknowledged.
	last := map[string]attempt{}
	for _, a := range l.attempts {
		last[a.id] = a
	}
	for id, a := range last {
		if a.status != http.StatusOK {
			t.Errorf("report %s was never acknowledged; last attempt: %v", id, a.err)
		}
	}
}

// summary counts the attempts by outcome, for the log.
func (l *load) summary() string {
	counts := map[string]int{}
	for _, a := range l.attempts {
		switch {
		case a.status == http.StatusOK && a.duplicate:
			counts["200 duplicate"]++
		case a.status == 0:
			counts["transport error"]++
		default:
			counts[fmt.Sprint(a.status)]++
		}
	}
	return fmt.Sprintf("%d reports acknowledged over %d attempts: %v", len(l.acked), len(l.attempts), counts)
}

// verifyStored checks every acknowledged report is in the log exactly once,
// and that the log holds nothing else: each report was retried until
// acknowledged, so every report posted was acknowledged.
func verifyStored(t *testing.T, dbURL string, acked []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect %s: %v", dbURL, err)
	}
	defer conn.Close(context.Background())
	distinct := map[string]bool{}
	for _, id := range acked {
		distinct[id] = true
	}
	var rows, messages, keys int
	err = conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT message_id), count(DISTINCT (message_id, event_id))
		FROM events WHERE message_id = ANY($1)`, acked).Scan(&rows, &messages, &keys)
	if err != nil {
		t.Fatalf("count acknowledged reports: %v", err)
	}
	if messages != len(distinct) {
		missing := []string{}
		rs, err := conn.Query(ctx, `SELECT id FROM unnest($1::text[]) AS id WHERE NOT EXISTS (SELECT 1 FROM events WHERE message_id = id) LIMIT 20`, acked)
		if err == nil {
			missing, _ = pgx.CollectRows(rs, pgx.RowTo[string])
		}
		t.Errorf("LOST ACKNOWLEDGED REPORTS: %d of %d acknowledged reports are in the log; missing (first 20): %v",
			messages, len(distinct), missing)
	}
	if rows != len(distinct) || keys != len(distinct) {
		t.Errorf("the log holds %d rows (%d distinct keys) for %d acknowledged reports, want exactly one each", rows, keys, len(distinct))
	}
	var total int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&total); err != nil {
		t.Fatalf("count events: %v", err)
	}
	if total != len(distinct) {
		t.Errorf("the log holds %d rows in all, want %d (one per report posted)", total, len(distinct))
	}
}

// verifyProjected checks every projection caught up and counted each report
// exactly once, across whatever the test did to the process or database.
func verifyProjected(t *testing.T, base, dbURL string, n int) {
	t.Helper()
	admin := map[string]string{"Authorization": "Bearer " + testAdminToken}
	eventually(t, "every projection has caught up", 60*time.Second, func() (bool, string) {
		code, body, err := httpGet(base, "/admin/projections", admin)
		if err != nil || code != http.StatusOK {
			return false, fmt.Sprintf("%d %s %v", code, body, err)
		}
		var ans struct {
			Projections []struct {
				Name        string
				LagEvents   int64
				DeadLetters int64
			}
		}
		if err := json.Unmarshal(body, &ans); err != nil || len(ans.Projections) != 4 {
			return false, string(body)
		}
		for _, p := range ans.Projections {
			if p.LagEvents != 0 || p.DeadLetters != 0 {
				return false, string(body)
			}
		}
		return true, string(body)
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect %s: %v", dbURL, err)
	}
	defer conn.Close(context.Background())
	var messages, events int
	if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(sum(event_count), 0) FROM current_status`).Scan(&messages, &events); err != nil {
		t.Fatalf("read current_status: %v", err)
	}
	if messages != n || events != n {
		t.Errorf("current_status holds %d messages with %d events, want %d and %d", messages, events, n, n)
	}
	code, body, err := httpGet(base, "/analytics/carriers", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /analytics/carriers: %d %s %v", code, body, err)
	}
	var carriers struct {
		Carriers []struct {
			Carrier          string
			Total, Delivered int64
		}
	}
	if err := json.Unmarshal(body, &carriers); err != nil || len(carriers.Carriers) != 1 ||
		carriers.Carriers[0].Total != int64(n) || carriers.Carriers[0].Delivered != int64(n) {
		t.Errorf("/analytics/carriers = %s, want DURABLE with %d delivered", body, n)
	}
	code, body, err = httpGet(base, "/compliance/violations?senderId=ACME&region=US", nil)
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /compliance/violations: %d %s %v", code, body, err)
	}
	var violations struct{ Violations []struct{ Count int64 } }
	if err := json.Unmarshal(body, &violations); err != nil || len(violations.Violations) != 1 || violations.Violations[0].Count != int64(n) {
		t.Errorf("/compliance/violations = %s, want ACME counted %d times", body, n)
	}
	var through int64
	if err := conn.QueryRow(ctx, `SELECT coalesce(sum(events), 0) FROM sla_throughput`).Scan(&through); err != nil {
		t.Fatalf("read sla_throughput: %v", err)
	}
	if through != int64(n) {
		t.Errorf("sla_throughput counts %d reports, want %d", through, n)
	}
}

// TestDurabilityKill9: kill -9 under load loses no acknowledged report, and
// the redeliveries that follow store nothing twice.
func TestDurabilityKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own PostgreSQL; skipped with -short")
	}
	_, dbURL := startCluster(t)
	bin := buildBinary(t)
	first := startProcess(t, bin, dbURL)

	l := startLoad(t, "k9", 16, 20*time.Millisecond, first.base)
	time.Sleep(1500 * time.Millisecond)
	l.waitAcks(t, 50, 60*time.Second) // a slow machine: wait until it is truly under load
	first.kill(t)
	killedAt := l.ackCount()
	t.Logf("killed pid %d after %d acknowledgements", first.cmd.Process.Pid, killedAt)

	// Clients fail against the dead port meanwhile, and keep retrying.
	time.Sleep(300 * time.Millisecond)
	second := startProcess(t, bin, dbURL)
	l.base.Store(&second.base)
	time.Sleep(1500 * time.Millisecond)
	l.waitAcks(t, killedAt+50, 60*time.Second)
	l.finish(t)
	t.Log(l.summary())

	for _, a := range l.attempts {
		if a.status != http.StatusOK && a.status != http.StatusServiceUnavailable && a.status != 0 {
			t.Errorf("report %s: unexpected answer %v", a.id, a.err)
		}
	}
	verifyStored(t, dbURL, l.acked)
	verifyProjected(t, second.base, dbURL, len(l.acked))
	second.terminate(t)
}

// TestDurabilityPostgresOutage: while PostgreSQL is down, webhooks get 503 +
// Retry-After and never 200, /readyz says 503; once it is back, the same
// process recovers on its own, and every acknowledged report is stored.
func TestDurabilityPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts its own PostgreSQL; skipped with -short")
	}
	pg, dbURL := startCluster(t)
	bin := buildBinary(t)
	srv := startProcess(t, bin, dbURL)

	l := startLoad(t, "pg", 8, 20*time.Millisecond, srv.base)
	time.Sleep(time.Second)
	l.waitAcks(t, 30, 60*time.Second)

	pg.stop(t)
	downFrom := time.Now()
	t.Logf("PostgreSQL stopped after %d acknowledgements", l.ackCount())

	// Webhooks now wait out the store's retries and get 503 + Retry-After.
	eventually(t, "a webhook answered 503 with Retry-After while PostgreSQL is down", 60*time.Second, func() (bool, string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, a := range l.attempts {
			if a.start.After(downFrom) && a.status == http.StatusServiceUnavailable && a.retryAfter != "" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d attempts so far", len(l.attempts))
	})
	eventually(t, "/readyz answers 503 while PostgreSQL is down", 30*time.Second, func() (bool, string) {
		code, body, err := httpGet(srv.base, "/readyz", nil)
		return err == nil && code == http.StatusServiceUnavailable, fmt.Sprintf("%d %s %v", code, body, err)
	})
	if code, body, err := httpGet(srv.base, "/healthz", nil); err != nil || code != http.StatusOK {
		t.Errorf("/healthz while PostgreSQL is down: %d %s %v; liveness must not depend on the database", code, body, err)
	}
	if !srv.running() {
		t.Fatalf("cxsms serve exited while PostgreSQL was down: %v", srv.err)
	}

	downTo := time.Now()
	again := pg.start(t)
	upAt := time.Now()
	if again != dbURL {
		// Another process took the port while the cluster was down; the
		// service cannot follow a new address without a restart.
		verifyStored(t, again, l.acked)
		t.Skipf("PostgreSQL came back on %s instead of %s (its port was taken meanwhile); cannot test recovery in place", again, dbURL)
	}

	waitReady(t, srv.base, 60*time.Second)
	t.Logf("/readyz answered 200 again %v after PostgreSQL restarted", time.Since(upAt).Round(time.Millisecond))
	recovered := l.ackCount()
	l.waitAcks(t, recovered+30, 60*time.Second)
	t.Logf("webhooks acknowledged again %v after PostgreSQL restarted", time.Since(upAt).Round(time.Millisecond))
	if took := time.Since(upAt); took > 15*time.Second {
		t.Logf("recovery took %v; expected within ~15 s on an idle machine", took.Round(time.Millisecond))
	}
	time.Sleep(500 * time.Millisecond)
	l.finish(t)
	t.Log(l.summary())

	downs := 0
	for _, a := range l.attempts {
		switch {
		case a.status == http.StatusOK && a.start.After(downFrom) && a.end.Before(downTo):
			t.Errorf("report %s was acknowledged while PostgreSQL was down (%v to %v)", a.id, a.start, a.end)
		case a.status == http.StatusServiceUnavailable:
			downs++
			if a.retryAfter == "" {
				t.Errorf("report %s: 503 without Retry-After", a.id)
			}
		case a.status != http.StatusOK:
			// The process ran throughout: no transport error, no other answer.
			t.Errorf("report %s: unexpected answer %v", a.id, a.err)
		}
	}
	if downs == 0 {
		t.Errorf("no webhook was answered 503 while PostgreSQL was down")
	}
	if !srv.running() {
		t.Fatalf("cxsms serve exited: %v", srv.err)
	}
	verifyStored(t, dbURL, l.acked)
	verifyProjected(t, srv.base, dbURL, len(l.acked))
	srv.terminate(t)
}

// Run as root from a directory the postgres user cannot reach (a clone
// under /root, or a test's 0700 temporary directory), pg.sh keeps the
// cluster elsewhere. That place must outlive a reboot: it was /tmp, where
// a cleaner took the acknowledged reports with it, and the next start
// quietly began an empty cluster. It now lives under /var/lib/cxsms, and a
// start whose cluster has vanished all the same refuses, naming it.
func TestPrivateClusterKeptOutOfTmp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root keeps the cluster outside its directory")
	}
	t.Parallel()
	c, _ := startCluster(t)
	recorded, err := os.ReadFile(filepath.Join(c.dir, "basedir"))
	if err != nil {
		t.Skipf("the postgres user reaches %s: no cluster kept elsewhere (%v)", c.dir, err)
	}
	base := strings.TrimSpace(string(recorded))
	if !strings.HasPrefix(base, "/var/lib/cxsms/") {
		t.Fatalf("cluster kept in %s, want under /var/lib/cxsms (not emptied at boot)", base)
	}
	c.stop(t)
	moved := base + ".moved"
	if err := os.Rename(base, moved); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := c.run("start")
	if err := os.Rename(moved, base); err != nil { // for destroy
		t.Fatal(err)
	}
	if err == nil || !strings.Contains(stderr, "is gone") || !strings.Contains(stderr, base) {
		t.Fatalf("start with its cluster gone: %v\n%s\nwant a refusal naming %s", err, stderr, base)
	}
	if _, err := os.Stat(base + "/pgdata"); err != nil {
		t.Fatalf("the cluster's data after the refused start: %v", err)
	}
}

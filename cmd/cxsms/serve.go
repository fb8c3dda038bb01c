package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	stdhttp "net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain/rules"
	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/http"
	"github.com/cxsms/cxsms/http/cxone"
	"github.com/cxsms/cxsms/projections"
)

// serve runs the API. A webhook's path: http.handleWebhook authenticates and
// parses it, eventstore.Store.Append commits it in a group commit, and only
// then does the handler answer 200. The projectors read the log afterwards.
func serve(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	// Every setting is read before anything starts, so a bad one is refused
	// alone: read once the database was opened, it came after a misleading
	// "migrations not applied yet" warning.
	if cfg.WebhookSecret == "" {
		return errors.New("WEBHOOK_SECRET is not set: serve refuses to accept webhooks anyone could forge; set it to the secret CXone sends in X-Webhook-Secret")
	}
	if err := headerSafe("WEBHOOK_SECRET", cfg.WebhookSecret); err != nil {
		return err
	}
	if err := headerSafe("ADMIN_TOKEN", cfg.AdminToken); err != nil {
		return err
	}
	ruleset, err := loadRules(cfg)
	if err != nil {
		return err
	}
	commit, err := commitOptions(cfg)
	if err != nil {
		return err
	}
	popts, err := projectorOptions(cfg, ruleset)
	if err != nil {
		return err
	}
	projectorsOn, err := projectorsSwitch(cfg)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	// Ingest allocates a little per request and keeps little (a live heap
	// of 20-40 MB under load): collecting when the heap has grown eightfold
	// instead of doubled cut collections from 8 to 2 a second at 64 clients,
	// about 5 % more requests and 4 ms off their p99, for some 70 MB more
	// memory. The soft limit makes collection eager again should the heap
	// ever near 512 MiB.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
	// CXSMS_CPUPROFILE=path profiles the whole run, for `make bench` and
	// anyone asking where the CPU goes.
	if path := cfg.getenv("CXSMS_CPUPROFILE"); path != "" {
		stop, err := startCPUProfile(path)
		if err != nil {
			return fmt.Errorf("CXSMS_CPUPROFILE: %w", err)
		}
		defer stop()
	}

	// The pool connects lazily: nothing reaches the database before serve
	// listens.
	pool, err := openPool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// What serve starts in the background stops when serve returns, before
	// the pool closes: a migration cut short by a failed start went on
	// warning, every 2 s, that the database was failing.
	ctx, stopBackground := context.WithCancel(ctx)
	defer stopBackground()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := http.NewMetrics(reg)

	commit.Observer = metrics
	store := eventstore.New(pool, commit)
	defer store.Close()

	// The projectors read the log into the read models, once the schema is
	// there; reads are served from whatever they have projected so far.
	popts.Observer = metrics
	popts.IngestBusy = store.Busy
	projector := projections.NewProjector(pool, ruleset, log, popts)
	// The lag is read from the database, true on any node; the failure
	// counters only where the projectors run: at 0 on an ingest-only node
	// they claimed no failures for work that node never does.
	http.RegisterProjectionLag(reg, projector.States)
	if projectorsOn {
		metrics.StartProjections(projector.Names())
	}
	handler, err := http.NewServer(http.Config{
		WebhookSecret:    cfg.WebhookSecret,
		SigningSecret:    cfg.SigningSecret,
		MaxBodyBytes:     cfg.MaxBodyBytes,
		AdminToken:       cfg.AdminToken,
		SimulatorEnabled: cfg.SimulatorEnabled,
		PublicURL:        cfg.PublicURL,
		SimulatorHosts:   cfg.SimulatorHosts,
	}, http.Deps{
		Log:     log,
		Store:   store,
		Reads:   projections.NewReader(pool, ruleset),
		Admin:   projector,
		Metrics: metrics,
		// The text format only: client_golang's OpenMetrics output names a
		// gauge and a counter go_memstats_alloc_bytes(_total), which strict
		// OpenMetrics parsers refuse whole (client_golang issue 829).
		MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
	})
	if err != nil {
		return err
	}

	// Listen before anything reaches the database: a port already taken is
	// then said alone, not after the migration it cut short was logged as
	// the database failing.
	ln, err := listen(cfg.ListenHost, cfg.Port)
	if err != nil {
		return err
	}
	// Migrate before projecting; while PostgreSQL is down, keep trying in
	// the background and let /readyz say 503 until it works.
	migrated := make(chan struct{})
	go func() {
		if migrateUntilDone(ctx, pool, log, false) == nil {
			close(migrated)
		}
	}()
	projectorDone := make(chan error, 1)
	go func() {
		if !projectorsOn {
			projectorDone <- nil
			return
		}
		select {
		case <-migrated:
			projectorDone <- projector.Run(ctx)
		case <-ctx.Done():
			projectorDone <- nil
		}
	}()

	srv := newHTTPServer(handler)
	addr := ln.Addr().(*net.TCPAddr)
	fmt.Fprintf(stdout, "cxsms listening on %s\n", localURL(addr))
	log.WithFields(logrus.Fields{"port": addr.Port, "address": addr.String()}).Info("listening")

	keeper := subscriptionKeeper(cfg, log, cxone.Hooks{TokenRefresh: metrics.TokenRefresh, Retry: metrics.CXoneRetry})

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if keeper != nil {
		go keeper.run(ctx)
	}
	// Serve until told to stop, or until the listener or the projector fails.
	// A projector that is off ends at once, and serving goes on.
	for running := true; running; {
		select {
		case err := <-errc:
			return fmt.Errorf("serve: %w", err)
		case err := <-projectorDone:
			if err != nil {
				return fmt.Errorf("projector: %w", err)
			}
			projectorDone = nil // a nil channel is never ready again
		case <-ctx.Done():
			running = false
		}
	}
	// Finish the requests in flight (their batches commit and they get their
	// answers), then stop the committers.
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// What is left is a client still sending its body (or one whose
		// commit hangs): nothing of it was acknowledged, so closing it
		// loses nothing, and its sender retries. A stop, not a failure.
		log.WithError(err).Warn("closing the connections still open after the shutdown grace; none of their reports was acknowledged")
		srv.Close()
	}
	store.Close()
	if projectorDone != nil {
		<-projectorDone
	}
	return nil
}

// listen opens the port serve or project answers on. A port already taken
// says what to do about it: the bare "address already in use" left the
// operator to guess which process and which setting.
func listen(host, port string) (net.Listener, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("listen on port %s: %w: another cxsms (serve and project on one machine need a PORT each) or another program holds it; stop it, or set PORT to a free port (0 picks one)", port, err)
	}
	if err != nil {
		return nil, fmt.Errorf("listen on port %s: %w", port, err)
	}
	return ln, nil
}

// localURL is where this machine reaches a listener: its address when it
// listens on one (LISTEN_HOST), else 127.0.0.1, for a listener on every
// interface.
func localURL(addr *net.TCPAddr) string {
	host := "127.0.0.1"
	if !addr.IP.IsUnspecified() {
		host = addr.IP.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// newHTTPServer serves handler with timeouts that bound what a slow or
// stalled client can hold: its headers, its body, its answer, its idle
// connection.
func newHTTPServer(handler stdhttp.Handler) *stdhttp.Server {
	return &stdhttp.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// shutdownGrace is how long serve waits for the requests in flight when it
// stops, before it closes their connections.
var shutdownGrace = 10 * time.Second

// subscriptionKeeper decides whether serve keeps CXone's subscription
// pointing here: only with PUBLIC_URL set, since nothing else tells serve
// the address CXone can reach. Neither a bad CXone configuration nor CXone
// failing stops serve: reports keep arriving on an existing subscription,
// and refusing them for want of the registration would lose them. A bad
// configuration is logged once (no retry fixes it); CXone failing is the
// keeper's to log and retry. It returns nil when there is nothing to keep.
func subscriptionKeeper(cfg config, log logrus.FieldLogger, hooks cxone.Hooks) *webhookKeeper {
	if cfg.PublicURL == "" {
		// CXone settings without PUBLIC_URL look like a service meant to
		// register itself; saying nothing left operators waiting for
		// reports that CXone had never been told to send.
		if set := cxoneSettingsSet(cfg.getenv); len(set) > 0 {
			log.WithField("set", strings.Join(set, ",")).Warn("CXone is configured but PUBLIC_URL is not set: the webhook subscription will not be created or checked. " +
				"Set PUBLIC_URL to this service's public address (CXone will call $PUBLIC_URL" + webhookPath + "), or register it once with `cxsms register-webhook --callback URL`")
		}
		return nil
	}
	ccfg, err := cxone.ConfigFromEnv(cfg.getenv)
	if err != nil {
		log.WithError(err).Error("PUBLIC_URL is set, but the CXone configuration is not usable: the webhook subscription is not kept; fix it and restart, or run `cxsms register-webhook`")
		return nil
	}
	client := cxone.New(ccfg, cxone.WithLogger(log), cxone.WithWebhookName(cfg.getenv("CXONE_WEBHOOK_NAME")), cxone.WithHooks(hooks))
	warnUnsignedSubscription(cfg, log)
	return newWebhookKeeper(client, callbackURL(cfg.PublicURL), log)
}

// webhookKeeper keeps CXone's subscription pointing at this service for as
// long as serve runs: it retries until EnsureWebhook succeeds, then checks
// again every so often, because someone may repoint or delete the
// subscription in the CXone admin console, or another environment with the
// same CXONE_WEBHOOK_NAME may point it at itself.
type webhookKeeper struct {
	client   *cxone.Client
	callback string
	log      logrus.FieldLogger
	every    time.Duration // between checks once it is in place
	minRetry time.Duration // the first wait after a failure; it doubles
	maxRetry time.Duration // the longest wait after a failure
}

func newWebhookKeeper(c *cxone.Client, callback string, log logrus.FieldLogger) *webhookKeeper {
	return &webhookKeeper{client: c, callback: callback, log: log,
		every: 10 * time.Minute, minRetry: 5 * time.Second, maxRetry: 5 * time.Minute}
}

// run returns when ctx ends.
func (k *webhookKeeper) run(ctx context.Context) {
	log := k.log.WithField("callback", k.callback)
	retry, inPlace := k.minRetry, false
	for wait := time.Duration(0); ; {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		res, err := k.client.EnsureWebhook(ctx, k.callback)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			log.WithError(err).WithField("retry_in", retry.String()).Error("CXone webhook subscription not ensured; retrying")
			wait, retry = retry, min(2*retry, k.maxRetry)
			continue
		}
		fields := logrus.Fields{"id": res.ID, "action": res.Action, "changed": res.Changed}
		switch {
		case !inPlace:
			log.WithFields(fields).Info("CXone webhook subscription in place")
		case res.Action != cxone.ActionUnchanged:
			log.WithFields(fields).Warn("CXone webhook subscription had been changed or removed; repaired")
		}
		wait, retry, inPlace = k.every, k.minRetry, true
	}
}

// migrateUntilDone applies the migrations, and while the database cannot
// take them (down, starting up, refusing us) says so and tries again, so
// that serve and project come up before PostgreSQL does (a host or cluster
// restart) and recover on their own. It returns nil once the schema is
// there, or ctx's error when ctx ends first: a wait cut short is not the
// database failing, and is not logged as such. A schema newer than this
// binary is retried too, unless newerIsFinal: serve goes on storing reports
// meanwhile, while project, with nothing else to do, returns the error.
func migrateUntilDone(ctx context.Context, p *pgxpool.Pool, log logrus.FieldLogger, newerIsFinal bool) error {
	for failed := false; ; failed = true {
		applied, err := eventstore.Migrate(ctx, p)
		switch {
		case err == nil:
			if len(applied) > 0 {
				log.WithField("applied", applied).Info("migrated")
			} else if failed {
				// Or the log ended on "retrying" while all was well.
				log.Info("the database answers, and its migrations are up to date")
			}
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, eventstore.ErrSchemaNewer) && newerIsFinal:
			return err
		case errors.Is(err, eventstore.ErrSchemaNewer):
			// Reports are still stored (the log's shape does not change
			// between releases); the projectors wait, not to write read
			// models the newer release reads otherwise.
			log.WithError(err).Error("not projecting: a newer release migrated this database")
		case eventstore.RefusedLogin(err):
			// Not PostgreSQL starting late: a misspelt name or a wrong
			// password does not fix itself, and looked like a slow database.
			log.WithError(err).Error("migrations not applied: the database refuses DATABASE_URL (its database, user or password); fix it, retrying meanwhile")
		default:
			log.WithError(err).Warn("migrations not applied yet; retrying")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// newLogger also logs what the configuration warns about, since loadConfig
// has nowhere to log and each command makes its logger once.
func newLogger(cfg config, out io.Writer) *logrus.Logger {
	log := logrus.New()
	log.SetOutput(out)
	log.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	log.SetLevel(cfg.LogLevel)
	if cfg.webhookSecretPadded {
		log.Warn("WEBHOOK_SECRET has leading or trailing whitespace (a newline at the end of a mounted file?); it is ignored, here and in the secret registered with CXone")
	}
	switch {
	case cfg.adminTokenPadded && cfg.AdminToken == "":
		log.Warn("ADMIN_TOKEN is only whitespace, which counts as unset: the admin routes are closed")
	case cfg.adminTokenPadded:
		log.Warn("ADMIN_TOKEN has leading or trailing whitespace (a newline at the end of a mounted file?); it is ignored: send the token without it")
	}
	return log
}

// commitOptions reads the group-commit tuning knobs: COMMIT_WRITERS (batches
// committing at once) and COMMIT_WINDOW (how long a batch waits for more
// requests, e.g. 500us). The defaults suit a small machine.
func commitOptions(cfg config) (eventstore.Options, error) {
	var o eventstore.Options
	var err error
	if o.Writers, err = countEnv(cfg, "COMMIT_WRITERS", maxCommitWriters, ""); err != nil {
		return o, err
	}
	if v := cfg.getenv("COMMIT_WINDOW"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxCommitWindow {
			return o, fmt.Errorf("COMMIT_WINDOW must be a duration from 0 to %s such as 500us (every webhook may wait that long before its commit), got %q", maxCommitWindow, v)
		}
		o.Window = d
	}
	return o, nil
}

// maxCommitWindow bounds COMMIT_WINDOW: every webhook in a batch may wait
// the window before its commit, so a window of seconds is a typo or a unit
// mixed up ("1h" for "1ms"), and with it serve acknowledged nothing before
// its senders gave up.
const maxCommitWindow = time.Second

// maxCommitWriters bounds COMMIT_WRITERS. Each writer is a goroutine that
// commits on a connection of the pool (24 unless DATABASE_URL sets
// pool_max_conns), so many more gain nothing; a million (a typo) took 2 GB
// and 40 s before serve listened, deaf to SIGTERM meanwhile.
const maxCommitWriters = 64

// projectorOptions reads PROJECTOR_CONCURRENCY: how many projections may
// apply a batch at once while ingest is under way (default half the CPUs).
// Fewer leave more CPU to ingest during a burst, and the read models catch
// up after it, all projections at once. More than there are projections
// would limit nothing, so it is refused as the typo it likely is.
func projectorOptions(cfg config, r *rules.Rules) (projections.Options, error) {
	var o projections.Options
	var err error
	n := len(projections.All(r))
	o.Concurrency, err = countEnv(cfg, "PROJECTOR_CONCURRENCY", n, fmt.Sprintf("there are %d projections", n))
	return o, err
}

// projectorsSwitch reads PROJECTORS, on (the default) or off, in any case.
// Off makes an ingest-only node, with `cxsms project` elsewhere (reads and
// the admin API still work here). Other words are refused rather than
// guessed at: a node wrongly left without projectors lets the read models
// fall behind without an error.
func projectorsSwitch(cfg config) (bool, error) {
	switch v := cfg.getenv("PROJECTORS"); strings.ToLower(strings.TrimSpace(v)) {
	case "", "on":
		return true, nil
	case "off":
		return false, nil
	default:
		return false, fmt.Errorf("PROJECTORS must be on or off, got %q", v)
	}
}

// countEnv reads a whole number from 1 to most from the environment; 0 when
// unset, for the default. why, when given, says in the error where most
// comes from.
func countEnv(cfg config, name string, most int, why string) (int, error) {
	v := cfg.getenv(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > most {
		if why != "" {
			why = " (" + why + ")"
		}
		return 0, fmt.Errorf("%s must be a number from 1 to %d%s, got %q", name, most, why, v)
	}
	return n, nil
}

// Command cxsms receives NICE CXone SMS delivery reports, keeps them as an
// immutable event log in PostgreSQL, and serves read models projected from it.
//
// Read run, then serve.go, top to bottom: that is where a webhook goes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	// SIGHUP too: closing the terminal of a `make run` sends it, and it cut
	// the webhooks in flight where SIGTERM lets them finish.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	go exitIfStuck(ctx, stop, stopWithin, os.Stderr, os.Exit)
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cxsms:", err)
		if errors.Is(err, errInterrupted) {
			os.Exit(130) // as a shell reports a command ended by Ctrl-C
		}
		os.Exit(1)
	}
}

const usage = `usage: cxsms <command> [flags]

commands:
  serve              run the HTTP API and the projectors (migrates first)
  project            run only the projectors, with their /metrics on PORT (default 8081)
  migrate            apply database migrations
  rebuild NAME|all   rebuild read models from the event log
  history ID         print one message's events from the log
  simulate           send synthetic CXone traffic to a running service
  register-webhook   create or update the CXone webhook subscription
  fake-cxone         run a fake CXone (OAuth, webhooks API, report sender)

Configuration comes from the environment and an optional .env file:
DATABASE_URL, PORT, LISTEN_HOST, WEBHOOK_SECRET, WEBHOOK_SIGNING_SECRET, ADMIN_TOKEN,
RULES_FILE, MAX_BODY_BYTES, SIMULATOR_ENABLED, SIMULATOR_HOSTS, LOG_LEVEL, PUBLIC_URL,
PROJECTORS, PROJECTOR_CONCURRENCY, COMMIT_WRITERS, COMMIT_WINDOW,
CXSMS_CPUPROFILE, CXONE_ALLOW_LOCALHOST and the
CXONE_* variables (see README.md).
`

// run is the whole program, testable: tests call it with their own args,
// environment and outputs, on port 0.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "help", "-h", "--help":
		// "help simulate" is "simulate -h", as most tools have it: it
		// printed the command list, which names no flag.
		if cmd == "help" && len(rest) == 1 && rest[0] != "help" && !strings.HasPrefix(rest[0], "-") {
			return run(ctx, []string{rest[0], "-h"}, getenv, stdout, stderr)
		}
		fmt.Fprint(stdout, usage) // even when .env is broken
		return nil
	}
	// The commands without flags take their arguments whole: "serve -h"
	// must not start a server, nor "migrate --bogus" migrate.
	if c, ok := positional[cmd]; ok {
		line := strings.TrimSpace("cxsms " + cmd + " " + c.args)
		if slices.ContainsFunc(rest, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
			fmt.Fprintf(stdout, "usage: %s\n\n%s. Configuration comes from the environment (cxsms help lists it).\n", line, c.what)
			return nil
		}
		if want := len(strings.Fields(c.args)); len(rest) != want {
			return fmt.Errorf("usage: %s (got %q)", line, rest)
		}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	err = dispatch(ctx, cfg, cmd, rest, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // the flag set printed its usage, as asked
	}
	return err
}

// positional are the commands without flags: the arguments they take, and
// what they do.
var positional = map[string]struct{ args, what string }{
	"serve":   {"", "Runs the HTTP API and the projectors, migrating the database first"},
	"project": {"", "Runs only the projectors, for a node beside serve with PROJECTORS=off"},
	"migrate": {"", "Applies the database migrations this binary embeds"},
	"rebuild": {"NAME|all", "Rebuilds a read model (or all) from the event log while reads go on"},
	"history": {"ID", "Prints one message's events from the log, in log order"},
}

func dispatch(ctx context.Context, cfg config, cmd string, rest []string, stdout, stderr io.Writer) error {
	switch cmd {
	case "serve":
		return serve(ctx, cfg, rest, stdout, stderr)
	case "project":
		return project(ctx, cfg, stdout, stderr)
	case "rebuild":
		return rebuild(ctx, cfg, rest, stdout, stderr)
	case "register-webhook":
		return registerWebhook(ctx, cfg, rest, stdout, stderr)
	case "fake-cxone":
		return fakeCXone(ctx, cfg, rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, cfg, stdout)
	case "history":
		return history(ctx, cfg, rest, stdout)
	case "simulate":
		return simulateCmd(ctx, cfg, rest, stdout, stderr)
	case "bench-wait", "bench-lag", "bench-load", "bench-floor": // for scripts/bench.sh; not in the usage
		return map[string]func(context.Context, config, []string, io.Writer, io.Writer) error{
			"bench-wait": benchWait, "bench-lag": benchLag, "bench-load": benchLoad, "bench-floor": benchFloor,
		}[cmd](ctx, cfg, rest, stdout, stderr)
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// stopWithin is how long a command may take to stop after a signal. serve
// waits shutdownGrace for its requests, then for its commits and
// projectors; with PostgreSQL frozen, those waited on it for 15 to 75 s,
// longer than most supervisors wait before a SIGKILL, saying nothing.
const stopWithin = 25 * time.Second

// exitIfStuck waits for the first signal, then gives the command stopWithin
// to stop before it exits, saying why. Nothing is lost by it: a report is
// acknowledged only once committed. After the first signal the second one
// is not caught: it ends the process at once, as a second Ctrl-C should.
func exitIfStuck(ctx context.Context, stopCatching func(), within time.Duration, stderr io.Writer, exit func(int)) {
	<-ctx.Done()
	stopCatching()
	time.Sleep(within)
	fmt.Fprintf(stderr, "cxsms: still stopping %v after the signal (is the database answering?); exiting now: a report is acknowledged only once stored, so none is lost\n", within)
	exit(1)
}

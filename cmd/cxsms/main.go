// Command cxsms receives NICE CXone SMS delivery reports, keeps them as an
// immutable event log in PostgreSQL, and serves read models projected from it.
//
// Read run, then serve.go, top to bottom: that is where a webhook goes.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
  project            run only the projectors
  migrate            apply database migrations
  rebuild NAME|all   rebuild read models from the event log
  history ID         print one message's events from the log
  simulate           send synthetic CXone traffic to a running service
  register-webhook   create or update the CXone webhook subscription
  fake-cxone         run a fake CXone (OAuth, webhooks API, report sender)

Configuration comes from the environment and an optional .env file:
DATABASE_URL, PORT, WEBHOOK_SECRET, WEBHOOK_SIGNING_SECRET, ADMIN_TOKEN,
RULES_FILE, MAX_BODY_BYTES, SIMULATOR_ENABLED, LOG_LEVEL, PUBLIC_URL,
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
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, cfg, rest, stdout, stderr)
	case "project":
		return project(ctx, cfg, stderr)
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
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

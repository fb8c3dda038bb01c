package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cxsms/cxsms/eventstore/pgtest"
)

// The service's sessions end a transaction left idle: one held open by a
// frozen process stopped the read models of every node sharing the log.
func TestPoolEndsIdleTransactions(t *testing.T) {
	t.Parallel()
	pool, err := openPool(context.Background(), config{DatabaseURL: pgtest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var timeout, jit, app string
	if err := pool.QueryRow(context.Background(), `SELECT current_setting('idle_in_transaction_session_timeout'), current_setting('jit'),
		current_setting('application_name')`).Scan(&timeout, &jit, &app); err != nil {
		t.Fatal(err)
	}
	if timeout != "20s" || jit != "off" {
		t.Errorf("idle_in_transaction_session_timeout %q, jit %q; want 20s and off", timeout, jit)
	}
	// pg_stat_activity and /admin/projections name the process behind a
	// connection by it.
	if want := fmt.Sprintf(":%d", os.Getpid()); !strings.HasPrefix(app, "cxsms ") || !strings.HasSuffix(app, want) {
		t.Errorf("application_name %q, want cxsms HOST%s", app, want)
	}
}

// `cxsms rebuild` under other rules than the read models hold says what it
// does to the projectors still on those: from an on-call shell without
// RULES_FILE, it stopped every one of them without a word.
func TestRebuildUnderOtherRulesWarns(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	env := envFunc(map[string]string{"DATABASE_URL": url})
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"rebuild", "all"}, env, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errOut.String(), "warning") {
		t.Errorf("a first rebuild warns: %s", errOut.String())
	}
	pool, err := openPool(context.Background(), config{DatabaseURL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `UPDATE projection_status SET rules_version = 'other'`); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if err := run(context.Background(), []string{"rebuild", "all"}, env, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), `warning: the read models were judged under rules "other"`) {
		t.Errorf("stderr %q, want a warning naming rules \"other\"", errOut.String())
	}
}

// URLs printed by simulate and register-webhook hide their passwords.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://u:UrlPass99@127.0.0.1:8080/webhooks/cxone/sms": "http://u:xxxxx@127.0.0.1:8080/webhooks/cxone/sms",
		"http://127.0.0.1:8080":                                "http://127.0.0.1:8080",
		"%zz":                                                  "%zz",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

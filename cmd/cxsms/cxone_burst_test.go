package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/eventstore/pgtest"
	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// The service subscribes itself to (fake) CXone at start, CXone delivers a
// burst of reports in every form, and the service is restarted in the middle
// of it. CXone redelivers whatever was not acknowledged, so in the end every
// report is in the log exactly once, and the restart left one subscription.
func TestCXoneBurstAcrossRestart(t *testing.T) {
	t.Parallel()
	noDotEnv(t)
	fake := fakecxone.New(fakecxone.Options{})
	cx := httptest.NewServer(fake)
	defer cx.Close()

	// A fixed port, so the subscribed callback stays valid across the restart.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dbURL := pgtest.URL(t)
	env := envFunc(map[string]string{
		"PORT": strconv.Itoa(port), "DATABASE_URL": dbURL, "LOG_LEVEL": "warn",
		"WEBHOOK_SECRET": "burst-secret", "PUBLIC_URL": fmt.Sprintf("http://127.0.0.1:%d", port),
		"CXONE_ISSUER": cx.URL, "CXONE_API_URL": cx.URL, "CXONE_ALLOW_LOCALHOST": "true",
		"CXONE_CLIENT_ID": fakecxone.DefaultClientID, "CXONE_CLIENT_SECRET": fakecxone.DefaultClientSecret,
	})
	start := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve"}, env, io.Discard, io.Discard) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}

	stop := start()
	deadline := time.Now().Add(20 * time.Second)
	for len(fake.Subscriptions()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the service never subscribed itself to CXone")
		}
		time.Sleep(50 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	burst := make(chan fakecxone.BurstResult, 1)
	go func() {
		res, err := fake.SendBurst(ctx, fakecxone.BurstConfig{
			Messages: 150, Lifecycle: true, FailEvery: 5,
			RetryBase: 20 * time.Millisecond, RetryMax: 300 * time.Millisecond,
		})
		if err != nil {
			t.Error(err)
		}
		burst <- res
	}()
	time.Sleep(400 * time.Millisecond) // part of the burst is in
	stop()
	time.Sleep(300 * time.Millisecond) // CXone meets a closed port meanwhile
	stop = start()
	defer stop()

	res := <-burst
	if un := res.Unacknowledged(); len(un) > 0 {
		t.Fatalf("%d of %d reports never acknowledged, first %+v", len(un), len(res.Reports), un[0])
	}
	if res.Redelivered() == 0 {
		t.Log("note: no report needed a redelivery; the restart fell between requests")
	}
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var stored, distinct int
	if err := conn.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT (message_id, event_id)) FROM events`).Scan(&stored, &distinct); err != nil {
		t.Fatal(err)
	}
	if stored != len(res.Reports) || distinct != stored {
		t.Fatalf("log holds %d events (%d distinct) for %d reports sent", stored, distinct, len(res.Reports))
	}
	for _, r := range res.Reports {
		var n int
		conn.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE message_id = $1 AND event_id = $2`, r.MessageID, r.EventID).Scan(&n)
		if n != 1 {
			t.Fatalf("report %s/%s stored %d times", r.MessageID, r.EventID, n)
		}
	}
	if subs := fake.Subscriptions(); len(subs) != 1 {
		t.Fatalf("%d subscriptions after a restart, want 1", len(subs))
	}
	t.Logf("%d reports, %d redelivered across the restart", len(res.Reports), res.Redelivered())
}

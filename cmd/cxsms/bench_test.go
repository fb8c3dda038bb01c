package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	stdhttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/eventstore/pgtest"
)

// TestBenchLoadFillsTheLog: bench-load tops the log up to exactly --total
// events, and does nothing once it holds them.
func TestBenchLoadFillsTheLog(t *testing.T) {
	dbURL := pgtest.URL(t)
	env := map[string]string{"DATABASE_URL": dbURL}
	load := func() map[string]float64 {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"bench-load", "--total", "2500", "--batch", "300", "--workers", "3"},
			envFunc(env), &out, &errOut); err != nil {
			t.Fatalf("bench-load: %v\n%s", err, errOut.String())
		}
		var res map[string]float64
		if err := json.Unmarshal(out.Bytes(), &res); err != nil {
			t.Fatalf("%v: %s", err, out.String())
		}
		return res
	}
	if res := load(); res["added"] != 2500 || res["total"] != 2500 {
		t.Fatalf("first load: %v", res)
	}
	if res := load(); res["added"] != 0 || res["before"] != 2500 {
		t.Fatalf("second load: %v", res)
	}
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n, formats int
	if err := pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT format) FROM events`).Scan(&n, &formats); err != nil {
		t.Fatal(err)
	}
	if n != 2500 || formats != 3 {
		t.Fatalf("log holds %d events in %d formats", n, formats)
	}
}

func TestBenchCommandsAreHidden(t *testing.T) {
	if strings.Contains(usage, "bench-") {
		t.Fatal("bench helpers are for scripts/bench.sh, not the usage text")
	}
}

// TestBenchFloorCountsWhatItServed: bench-floor answers any request with
// the fixed answer, and on stop reports how many it served and its CPU.
func TestBenchFloorCountsWhatItServed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"bench-floor", "--addr", addr}, envFunc(nil), &out, &errOut) }()
	client := &stdhttp.Client{Timeout: 5 * time.Second}
	for i := 0; i < 10; {
		resp, err := client.Post("http://"+addr+"/webhooks/cxone/sms", "application/json", strings.NewReader(`{"messageId":"m"}`))
		if err != nil {
			time.Sleep(20 * time.Millisecond) // not listening yet
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != stdhttp.StatusOK || string(body) != floorAnswer {
			t.Fatalf("answer %d %q", resp.StatusCode, body)
		}
		i++
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("bench-floor: %v\n%s", err, errOut.String())
	}
	var res map[string]float64
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if res["requests"] != 10 || res["cpuSeconds"] <= 0 || res["cpuPerRequestUs"] <= 0 {
		t.Fatalf("bench-floor reported %v, want 10 requests and some CPU", res)
	}
}

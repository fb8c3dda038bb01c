package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

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

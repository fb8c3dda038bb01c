package projections

import (
	"bytes"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/sirupsen/logrus"
)

func TestPacing(t *testing.T) {
	const gather = 50 * time.Millisecond
	fallback := wsql.NewDefaultBackoffManager(gather, time.Second)
	tests := []struct {
		name  string
		found int64
		noMsg bool
		err   error
		want  time.Duration
	}{
		{name: "full batch: a backlog, poll at once", found: 2000, want: 0},
		{name: "quiet log: one interval", found: 3, want: gather},
		{name: "just under busy", found: busyBatch - 1, want: gather},
		{name: "busy log: gather a bigger batch", found: busyBatch, want: busyWaits * gather},
		{name: "nothing new: watermill's poll interval", noMsg: true, want: fallback.HandleError(watermill.NopLogger{}, true, nil)},
		{name: "error: watermill's retry interval", err: errors.New("boom"), want: fallback.HandleError(watermill.NopLogger{}, false, errors.New("boom"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			found := &atomic.Int64{}
			found.Store(tt.found)
			p := pacing{found: found, full: 2000, gather: gather, fallback: fallback}
			if got := p.HandleError(watermill.NopLogger{}, tt.noMsg, tt.err); got != tt.want {
				t.Errorf("wait %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParsePosition(t *testing.T) {
	p, err := parsePosition("123/45")
	if err != nil || p.TransactionID != 123 || p.Offset != 45 {
		t.Fatalf("parsePosition(123/45) = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "123", "/45", "123/", "x/1", "1/x"} {
		if _, err := parsePosition(bad); err == nil {
			t.Errorf("parsePosition(%q) accepted", bad)
		}
	}
}

// While PostgreSQL is down, each subscriber's failed poll was logged every
// second, at level error, by all four: one is now logged, then at most one
// an interval, and the first poll that works again says so.
func TestPollErrorsSpacedOut(t *testing.T) {
	var out bytes.Buffer
	log := logrus.New()
	log.SetOutput(&out)
	log.SetFormatter(&logrus.JSONFormatter{})
	polls := &pollErrors{every: time.Hour, log: log.WithField("component", "projector")}
	adapter := logrusAdapter{e: log.WithField("component", "projector")}
	p := pacing{found: &atomic.Int64{}, full: 2000, gather: time.Millisecond, polls: polls,
		fallback: wsql.NewDefaultBackoffManager(time.Millisecond, time.Second)}
	down := errors.New("connect: connection refused")
	for range 5 {
		if wait := p.HandleError(adapter.With(watermill.LogFields{"consumer_group": "x"}), false, down); wait != time.Second {
			t.Fatalf("wait after a failed poll %v, want the fallback's retry interval", wait)
		}
	}
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "polling the log failed") || !strings.Contains(got, `"consumer_group":"x"`) {
		t.Fatalf("five failed polls logged %q, want the first alone, with its consumer group", got)
	}
	// A deadlock is retried at once, and was never logged as an error.
	out.Reset()
	p.polls = &pollErrors{every: time.Hour, log: polls.log}
	if wait := p.HandleError(adapter, false, errors.New("ERROR: deadlock detected (SQLSTATE 40P01)")); wait != 0 || out.Len() != 0 {
		t.Fatalf("a deadlock: wait %v, logged %q; want 0 and nothing", wait, out.String())
	}
	p.polls = polls
	p.HandleError(adapter, true, nil)
	p.HandleError(adapter, true, nil)
	if got := out.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "polling the log again") || !strings.Contains(got, `"heldBack":4`) {
		t.Fatalf("after the outage logged %q, want one line saying polling works again, with 4 held back", got)
	}
	out.Reset()
	p.HandleError(adapter, false, down)
	if !strings.Contains(out.String(), "polling the log failed") {
		t.Errorf("a new outage's first failed poll was held back")
	}
}

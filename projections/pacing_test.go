package projections

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
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

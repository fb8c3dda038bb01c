package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// A command asked for help prints its usage and exits 0, whatever it is;
// stray arguments are refused before anything runs. "serve -h" started a
// server, "migrate -h" migrated, and "history -h" looked up a message "-h".
func TestCommandArguments(t *testing.T) {
	// No DATABASE_URL: a command that got past its arguments would fail on
	// that, not on them.
	env := envFunc(map[string]string{"WEBHOOK_SECRET": "s"})
	for _, tt := range []struct {
		args    []string
		ok      bool
		mention string
	}{
		{[]string{"serve", "-h"}, true, "usage: cxsms serve"},
		{[]string{"migrate", "--help"}, true, "usage: cxsms migrate"},
		{[]string{"history", "-h"}, true, "usage: cxsms history ID"},
		{[]string{"rebuild", "-h"}, true, "usage: cxsms rebuild NAME|all"},
		{[]string{"fake-cxone", "-h"}, true, ""},
		// "help CMD" is "CMD -h": it printed the command list.
		{[]string{"help", "simulate"}, true, "-concurrency"},
		{[]string{"help", "history"}, true, "usage: cxsms history ID"},
		{[]string{"help", "nosuch"}, false, `unknown command "nosuch"`},
		{[]string{"help"}, true, "commands:"},
		{[]string{"serve", "--bogus"}, false, "usage: cxsms serve"},
		{[]string{"project", "extra"}, false, "usage: cxsms project"},
		{[]string{"history"}, false, "usage: cxsms history ID"},
		{[]string{"rebuild", "a", "b"}, false, "usage: cxsms rebuild"},
		{[]string{"rebuild", "nosuch"}, false, `unknown projection "nosuch"`}, // before DATABASE_URL is missed
	} {
		var out bytes.Buffer
		err := run(context.Background(), tt.args, env, &out, &out)
		if (err == nil) != tt.ok {
			t.Errorf("%q: error %v, want ok=%v", tt.args, err, tt.ok)
		}
		if said := out.String() + errString(err); !strings.Contains(said, tt.mention) {
			t.Errorf("%q said %q, want it to mention %q", tt.args, said, tt.mention)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/eventstore/pgtest"
)

// PORT is a number: net.Listen took "http" for port 80 without a word.
func TestConfigPort(t *testing.T) {
	for _, tt := range []struct {
		port string
		ok   bool
	}{
		{"", true}, {"0", true}, {"18080", true}, {"65535", true},
		{"http", false}, {"abc", false}, {"-1", false}, {"65536", false}, {"80 ", false},
	} {
		_, err := loadConfig(envFunc(map[string]string{"PORT": tt.port}))
		if (err == nil) != tt.ok {
			t.Errorf("PORT=%q: %v, want ok %v", tt.port, err, tt.ok)
		}
	}
}

// ADMIN_TOKEN is trimmed as WEBHOOK_SECRET is: mounted from a file it ends
// in a newline, and every admin request was a 401.
func TestConfigAdminTokenTrimmed(t *testing.T) {
	cfg, err := loadConfig(envFunc(map[string]string{"ADMIN_TOKEN": " adm\n"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AdminToken != "adm" || !cfg.adminTokenPadded {
		t.Errorf("AdminToken %q (padded %v), want \"adm\", padded", cfg.AdminToken, cfg.adminTokenPadded)
	}
}

// On a database no migration has run on, `cxsms history` says to migrate;
// it said the event store was unavailable, which sent operators looking at
// the network.
func TestHistoryOnUnmigratedDatabase(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(context.Background(), `DROP TABLE events CASCADE`)
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	err = history(context.Background(), config{DatabaseURL: url}, []string{"m1"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cxsms migrate") {
		t.Errorf("history: %v, want it to say to run cxsms migrate", err)
	}
}

// SIMULATOR_ENABLED=yes stopped serve, where =1 was taken.
func TestConfigSimulatorSwitch(t *testing.T) {
	for v, want := range map[string]bool{"yes": true, "ON": true, "1": true, "true": true, "no": false, "off": false, "0": false} {
		cfg, err := loadConfig(envFunc(map[string]string{"SIMULATOR_ENABLED": v}))
		if err != nil || cfg.SimulatorEnabled != want {
			t.Errorf("SIMULATOR_ENABLED=%s: %v, %v; want %v", v, cfg.SimulatorEnabled, err, want)
		}
	}
	if _, err := loadConfig(envFunc(map[string]string{"SIMULATOR_ENABLED": "maybe"})); err == nil {
		t.Error("SIMULATOR_ENABLED=maybe was taken")
	}
}

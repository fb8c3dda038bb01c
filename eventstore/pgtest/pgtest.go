// Package pgtest gives each test its own migrated PostgreSQL database, so
// tests and packages run in parallel against a real server.
//
// `make test` starts a private cluster and sets CXSMS_TEST_DATABASE_URL to a
// database on it with rights to create databases. The first test of each
// package migrates a template database (once per schema version, under an
// advisory lock shared by every package's process); each test then clones the
// template, which takes milliseconds, and drops its clone when it ends.
package pgtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/migrations"
)

// EnvURL names the variable that points tests at a server.
const EnvURL = "CXSMS_TEST_DATABASE_URL"

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// URL creates a fresh migrated database for t and returns its URL. The
// database is dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts PostgreSQL", EnvURL)
	}
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(base) })
	if templateErr != nil {
		t.Fatalf("pgtest: template: %v", templateErr)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("t_%d_%08x", time.Now().UnixNano()%1e9, rand.Uint32())
	// Cloning fails while another session is connected to the template;
	// retry briefly, since another package may be looking at it.
	for attempt := 0; ; attempt++ {
		_, err = admin.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+templateName)
		if err == nil || attempt == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	})
	return withDatabase(base, name)
}

// Pool returns a pool on a fresh migrated database for t, closed when t ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// ensureTemplate creates and migrates the template database for the current
// schema, named after a hash of the migrations so a changed migration gets a
// new template instead of a stale one.
func ensureTemplate(base string) (string, error) {
	h := sha256.New()
	_ = fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(migrations.FS, path)
			h.Write([]byte(path))
			h.Write(b)
		}
		return nil
	})
	name := "cxsms_tpl_" + hex.EncodeToString(h.Sum(nil))[:12]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", redact(base), err)
	}
	defer admin.Close(ctx)
	// Session lock: every test process of `go test ./...` races here.
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(424242)`); err != nil {
		return "", err
	}
	defer admin.Exec(context.Background(), `SELECT pg_advisory_unlock(424242)`)
	var ready bool
	err = admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND NOT datallowconn)`, name).Scan(&ready)
	if err != nil {
		return "", err
	}
	if ready {
		return name, nil
	}
	// A half-made template from a crashed run: start again.
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, withDatabase(base, name))
	if err != nil {
		return "", err
	}
	_, err = eventstore.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return "", err
	}
	// datallowconn=false marks the template finished and keeps stray
	// sessions out of it, which would make CREATE DATABASE ... TEMPLATE fail.
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` WITH ALLOW_CONNECTIONS false IS_TEMPLATE true`); err != nil {
		return "", err
	}
	return name, nil
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

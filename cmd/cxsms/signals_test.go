package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cxsms/cxsms/eventstore/pgtest"
)

// SIGHUP (the terminal of a `make run` closing) stops serve as SIGTERM
// does: a webhook in flight still gets its 200 (and is stored), and serve
// exits 0. It killed serve at once (exit 129), cutting the webhook.
func TestServeStopsGracefullyOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it; skipped with -short")
	}
	dbURL := pgtest.URL(t)
	p := startProcess(t, buildBinary(t), dbURL)
	addr := strings.TrimPrefix(p.base, "http://")

	// A webhook whose body is half sent when the signal comes.
	id := uid("hup")
	body := durableReport(id)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /webhooks/cxone/sms HTTP/1.1\r\nHost: cxsms\r\nX-Webhook-Secret: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		testWebhookSecret, len(body), body[:half])
	time.Sleep(300 * time.Millisecond) // the handler is reading the body

	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("SIGHUP: %v", err)
	}
	// A stopping serve closes its listener first: the rest of the body
	// comes during the shutdown.
	eventually(t, "serve stops accepting connections", 10*time.Second, func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return true, ""
		}
		c.Close()
		return false, "still accepting"
	})
	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatalf("the rest of the webhook's body: %v (serve exited %v)", err, p.err)
	}
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the webhook in flight got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the webhook in flight got %s, want 200", resp.Status)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Errorf("serve did not exit cleanly on SIGHUP: %v", p.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still runs 30 s after SIGHUP")
	}
	verifyStored(t, dbURL, []string{id})
}

// A command still stopping long after its signal exits, saying why: with
// PostgreSQL frozen, serve took up to 75 s, silent, past most supervisors'
// patience.
func TestExitIfStuck(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var stopped atomic.Bool
	exited := make(chan int, 1)
	var stderr bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		exitIfStuck(ctx, func() { stopped.Store(true) }, 10*time.Millisecond, &stderr, func(code int) { exited <- code })
	}()
	select {
	case <-exited:
		t.Fatal("exited before any signal")
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	if code := <-exited; code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	<-done
	if !stopped.Load() {
		t.Error("the signals were still caught: a second Ctrl-C would not end the process")
	}
	if !strings.Contains(stderr.String(), "still stopping") {
		t.Errorf("stderr %q does not say why", stderr.String())
	}
}

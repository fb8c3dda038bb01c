package main

import (
	"bytes"
	"context"
	"io"
	"maps"
	"net"
	stdhttp "net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/eventstore/pgtest"
	"github.com/cxsms/cxsms/http/cxone"
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
	// Only whitespace: the warning says the routes are closed, not that a
	// token is still set.
	cfg, err = loadConfig(envFunc(map[string]string{"ADMIN_TOKEN": "  \n"}))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	newLogger(cfg, &out)
	if !strings.Contains(out.String(), "admin routes are closed") {
		t.Errorf("whitespace-only ADMIN_TOKEN warned %q", out.String())
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

// CXONE_ALLOW_LOCALHOST=maybe started serve without a word, where
// register-webhook refused it; loadConfig now refuses it for every command,
// by the CXone client's own rule (checked here value by value against it).
func TestConfigAllowLocalhostAsTheCXoneClientReadsIt(t *testing.T) {
	creds := map[string]string{"CXONE_DOMAIN": "api-na1.niceincontact.com", "CXONE_CLIENT_ID": "id", "CXONE_CLIENT_SECRET": "secret"}
	for _, v := range []string{"1", "0", "true", "FALSE", "Yes", "no", "ON", "off", " true ", "maybe", "t", "y", "n", "2", "enable"} {
		env := map[string]string{"CXONE_ALLOW_LOCALHOST": v}
		for k, c := range creds {
			env[k] = c
		}
		_, clientErr := cxone.ConfigFromEnv(envFunc(env))
		_, err := loadConfig(envFunc(env))
		if (err == nil) != (clientErr == nil) {
			t.Errorf("CXONE_ALLOW_LOCALHOST=%q: loadConfig says %v, the CXone client %v", v, err, clientErr)
		}
		if err != nil && !strings.Contains(err.Error(), `CXONE_ALLOW_LOCALHOST: "`+strings.TrimSpace(v)+`" is not a yes/no value`) {
			t.Errorf("CXONE_ALLOW_LOCALHOST=%q: %v, want the variable and the value named", v, err)
		}
	}
}

// A bad setting is refused before the database is opened or anything
// starts: without DATABASE_URL, the error is the setting's, and nothing was
// logged first. PROJECTOR_CONCURRENCY=0 first warned that migrations were
// not applied ("operation was canceled"), and project logged "projecting"
// before refusing it; COMMIT_WRITERS=1000000 took 2 GB and 40 s to start.
func TestConfigRefusedBeforeAnythingStarts(t *testing.T) {
	noDotEnv(t)
	for _, tc := range []struct {
		cmd, name, value string
		want             string
	}{
		{"serve", "COMMIT_WRITERS", "0", "COMMIT_WRITERS must be a number from 1 to 64"},
		{"serve", "COMMIT_WRITERS", "1000000", `COMMIT_WRITERS must be a number from 1 to 64, got "1000000"`},
		{"serve", "COMMIT_WINDOW", "soon", "COMMIT_WINDOW"},
		{"serve", "COMMIT_WINDOW", "1h", `COMMIT_WINDOW must be a duration from 0 to 1s such as 500us (every webhook may wait that long before its commit), got "1h"`},
		{"serve", "PROJECTOR_CONCURRENCY", "0", "PROJECTOR_CONCURRENCY must be a number from 1 to 4 (there are 4 projections)"},
		{"serve", "PROJECTOR_CONCURRENCY", "5", `PROJECTOR_CONCURRENCY must be a number from 1 to 4 (there are 4 projections), got "5"`},
		{"serve", "PROJECTOR_CONCURRENCY", "1000000", "PROJECTOR_CONCURRENCY"},
		{"serve", "PROJECTORS", "maybe", `PROJECTORS must be on or off, got "maybe"`},
		{"serve", "CXONE_ALLOW_LOCALHOST", "maybe", `CXONE_ALLOW_LOCALHOST: "maybe" is not a yes/no value`},
		// A line break no header can carry, as a .env "\n" in double quotes makes.
		{"serve", "WEBHOOK_SECRET", "top\nsecret", `WEBHOOK_SECRET holds a control character ('\n' at byte 3)`},
		{"serve", "ADMIN_TOKEN", "tok\ren", `ADMIN_TOKEN holds a control character ('\r' at byte 3)`},
		{"register-webhook", "WEBHOOK_SECRET", "top\nsecret", "WEBHOOK_SECRET holds a control character"},
		{"simulate", "WEBHOOK_SECRET", "top\nsecret", `the webhook secret holds a control character ('\n' at byte 3), which no HTTP header can carry, so every request would be refused; in .env`},
		{"serve", "WEBHOOK_SECRET", "a\x01b", `WEBHOOK_SECRET holds a control character ('\x01' at byte 1), which no HTTP header can carry, so every request would be refused`},
		{"serve", "LISTEN_HOST", "example.com", `LISTEN_HOST must be an IP address of this machine to listen on (127.0.0.1 for this machine only; unset, 0.0.0.0 or :: for every interface), got "example.com"`},
		{"project", "LISTEN_HOST", "127.0.0.1:8080", "LISTEN_HOST must be an IP address"},
		{"serve", "LOG_LEVEL", "verbose", `LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, panic, got "verbose"`},
		{"serve", "DATABASE_URL", "mysql://app:pw@localhost/db", "DATABASE_URL must be a postgres:// (or postgresql://) URL, got a mysql:// one"},
		{"project", "PROJECTOR_CONCURRENCY", "0", "PROJECTOR_CONCURRENCY must be a number from 1 to 4"},
		{"project", "PROJECTOR_CONCURRENCY", "1000000", "PROJECTOR_CONCURRENCY"},
	} {
		env := map[string]string{"WEBHOOK_SECRET": "s", "PORT": "0", "LOG_LEVEL": "debug", tc.name: tc.value}
		var stdout, stderr syncBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := run(ctx, []string{tc.cmd}, envFunc(env), &stdout, &stderr)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with %s=%s: %v, want an error saying %q", tc.cmd, tc.name, tc.value, err, tc.want)
		}
		if out := stdout.String() + stderr.String(); out != "" {
			t.Errorf("%s with %s=%s said before refusing it: %s", tc.cmd, tc.name, tc.value, out)
		}
	}
}

// PROJECTORS is read in any case, as SIMULATOR_ENABLED is: PROJECTORS=OFF
// was refused.
func TestConfigProjectorsSwitch(t *testing.T) {
	for v, want := range map[string]bool{"": true, "on": true, "On": true, "ON": true, "off": false, "OFF": false, " Off ": false} {
		on, err := projectorsSwitch(config{getenv: envFunc(map[string]string{"PROJECTORS": v})})
		if err != nil || on != want {
			t.Errorf("PROJECTORS=%q: %v, %v; want %v", v, on, err, want)
		}
	}
}

// project serves its metrics on PORT, or beside serve's default port when
// PORT is not set, so the two can share a machine as they come.
func TestProjectPort(t *testing.T) {
	noDotEnv(t)
	for port, want := range map[string]string{"": "8081", "9100": "9100", "0": "0"} {
		cfg, err := loadConfig(envFunc(map[string]string{"PORT": port}))
		if err != nil {
			t.Fatal(err)
		}
		if got := projectPort(cfg); got != want {
			t.Errorf("PORT=%q: project listens on %s, want %s", port, got, want)
		}
		if port == "" && cfg.Port == projectPort(cfg) {
			t.Errorf("serve and project both default to port %s", cfg.Port)
		}
	}
}

// A .env file is read by the rule docker compose and scripts/run.sh read it
// by: in an unquoted value, # starts a comment only after whitespace.
// godotenv kept "# fill me" of "WEBHOOK_SECRET= # fill me" as the secret.
func TestReadDotEnvComments(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      map[string]string
	}{
		{"a comment for a value", "KEY= # comment\n", map[string]string{"KEY": ""}},
		{"a comment after spaces", "KEY=   #x", map[string]string{"KEY": ""}},
		{"a comment after a tab", "KEY=\t# tab\n", map[string]string{"KEY": ""}},
		{"a secret starting with #", "KEY=#Zq9\n", map[string]string{"KEY": "#Zq9"}},
		{"a comment after a value", "KEY=abc # c\n", map[string]string{"KEY": "abc"}},
		{"# within a value", "KEY=abc#c\n", map[string]string{"KEY": "abc#c"}},
		{"the first comment counts", "KEY=a #b #c\n", map[string]string{"KEY": "a"}},
		{"# then a comment", "KEY=#a # c\n", map[string]string{"KEY": "#a"}},
		{"double-quoted", `KEY="# quoted" # c` + "\n", map[string]string{"KEY": "# quoted"}},
		{"single-quoted", "KEY= '#x y'\n", map[string]string{"KEY": "#x y"}},
		{"an escaped quote", `KEY="a\" # b" # c`, map[string]string{"KEY": `a" # b`}},
		// Other backslashes are kept: godotenv read "a\tb" as "atb".
		// A backslash last: godotenv took the closing quote for an escaped one.
		{"a backslash before the closing quote", `A="a\\"` + "\n" + `B="\\\\" # c` + "\n" + `C="x\"y\\"` + "\n" + `D='p\'q'`,
			map[string]string{"A": `a\`, "B": `\\`, "C": `x"y\`, "D": `p\'q`}},
		{"backslashes", `A="a\tb\\c\$d\zq" # c` + "\n" + `B='a\tb'` + "\n" + `C="l1\nl2\r"` + "\n" + `E=a\tb`,
			map[string]string{"A": `a\tb\c\$d\zq`, "B": `a\tb`, "C": "l1\nl2\r", "E": `a\tb`}},
		{"export and yaml style", "export A= # c\nB: # c\nC = #c\nD:#d\n", map[string]string{"A": "", "B": "", "C": "", "D": "#d"}},
		{"CRLF", "A= # c\r\nB=#b\r\nC=c # c\r\n", map[string]string{"A": "", "B": "#b", "C": "c"}},
		{"comment lines", "# A=#nope\n  # B=x\nA=a\n", map[string]string{"A": "a"}},
		{"a quoted value over lines", "CERT=\"l1\nKEY= # not a statement\n\"\nKEY=#real\n", map[string]string{"CERT": "l1\nKEY= # not a statement\n", "KEY": "#real"}},
		// Taken as written: godotenv's expansion made a generated secret
		// "k$Rt7Qz" into "kt7Qz", and every delivery a 401.
		{"no expansion", "A=x\nB=$A # c\nC=${A}#y\nD=k$Rt7Qz\nE=\"p$$w\"\nF='$A'\n",
			map[string]string{"A": "x", "B": "$A", "C": "${A}#y", "D": "k$Rt7Qz", "E": "p$$w", "F": "$A"}},
		{"not ASCII", "A=ünï # c\nB=ñ#ñ\n", map[string]string{"A": "ünï", "B": "ñ#ñ"}},
		{"empty values", "A=\nB=\"\"\nC=", map[string]string{"A": "", "B": "", "C": ""}},
		// Windows editors write a byte-order mark first.
		{"a byte-order mark", "\uFEFFWEBHOOK_SECRET=bom\n", map[string]string{"WEBHOOK_SECRET": "bom"}},
		{"a byte-order mark, then a comment", "\uFEFF# c\nA=a\n", map[string]string{"A": "a"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(path, []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readDotEnv(path)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("%q read as %q, want %q", tt.src, got, tt.want)
			}
		})
	}
	// What godotenv refuses, it still refuses.
	for _, src := range []string{"KEY=\"unterminated\n", "BAD-KEY=x\n", "A=1\nno separator\nB=2\n"} {
		path := filepath.Join(t.TempDir(), ".env")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := readDotEnv(path); err == nil {
			t.Errorf("%q read as %q, want an error", src, got)
		}
	}
}

// make run (scripts/run.sh) sees what .env sets, as serve reads it: with a
// byte-order mark before WEBHOOK_SECRET it saw nothing, exported its
// development secret, and the environment won over the file's.
func TestRunScriptSeesDotEnvSettings(t *testing.T) {
	script, err := filepath.Abs("../../scripts/run.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		src string
		set bool
	}{
		{"WEBHOOK_SECRET=s\n", true},
		{"\uFEFFWEBHOOK_SECRET=s\n", true},
		{"export WEBHOOK_SECRET = s\n", true},
		{"WEBHOOK_SECRET= # fill me\n", false},
		{"OTHER=s\n", false},
		{"", false},
	} {
		dir := t.TempDir()
		if tt.src != "" {
			if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		cmd := exec.Command("bash", "-c", `set -euo pipefail; source <(sed -n '/^in_env_file()/,/^}/p' "$0"); in_env_file WEBHOOK_SECRET`, script)
		cmd.Dir = dir
		if err := cmd.Run(); (err == nil) != tt.set {
			t.Errorf("%q: in_env_file WEBHOOK_SECRET = %v, want set %v", tt.src, err, tt.set)
		}
	}
}

// The report's .env: its comments were taken as WEBHOOK_SECRET and
// ADMIN_TOKEN, so that "X-Webhook-Secret: # fill me" and "Authorization:
// Bearer # set me" were answered 200. Blank now, serve refuses to start
// without a secret, and the admin routes stay closed; a secret that starts
// with # is still read whole.
func TestDotEnvCommentsAreNotSecrets(t *testing.T) {
	t.Chdir(t.TempDir())
	write := func(src string) {
		t.Helper()
		if err := os.WriteFile(".env", []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("WEBHOOK_SECRET= # fill me\nADMIN_TOKEN= # set me\n")
	cfg, err := loadConfig(envFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WebhookSecret != "" || cfg.AdminToken != "" {
		t.Errorf("WEBHOOK_SECRET %q, ADMIN_TOKEN %q: want both blank", cfg.WebhookSecret, cfg.AdminToken)
	}
	var stdout, stderr syncBuffer
	err = run(context.Background(), []string{"serve"}, envFunc(map[string]string{"PORT": "0"}), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "WEBHOOK_SECRET is not set") {
		t.Errorf("serve: %v, want it refused for want of WEBHOOK_SECRET", err)
	}

	write("WEBHOOK_SECRET=#Zq9\nADMIN_TOKEN=#adm # the admin token\n")
	if cfg, err = loadConfig(envFunc(nil)); err != nil {
		t.Fatal(err)
	}
	if cfg.WebhookSecret != "#Zq9" || cfg.AdminToken != "#adm" {
		t.Errorf("WEBHOOK_SECRET %q, ADMIN_TOKEN %q: want \"#Zq9\" and \"#adm\"", cfg.WebhookSecret, cfg.AdminToken)
	}
}

// SIMULATOR_HOSTS are bare host names: with a scheme or a port, no Host
// would ever match, and the simulator would refuse without a clue.
func TestConfigSimulatorHosts(t *testing.T) {
	noDotEnv(t)
	for _, tt := range []struct {
		v    string
		want []string
		ok   bool
	}{
		{"", nil, true},
		{" Sim.Example.COM., sim.internal ,,", []string{"sim.example.com", "sim.internal"}, true},
		{"http://sim.example.com", nil, false},
		{"sim.example.com:8080", nil, false},
		{"sim example", nil, false},
		// Never matched: browsers send names as they are, IDNs as xn--.
		{"*.wild.test", nil, false},
		{"bücher.example", nil, false},
		{"xn--bcher-kva.example", []string{"xn--bcher-kva.example"}, true},
	} {
		cfg, err := loadConfig(envFunc(map[string]string{"SIMULATOR_HOSTS": tt.v}))
		if (err == nil) != tt.ok || !slices.Equal(cfg.SimulatorHosts, tt.want) {
			t.Errorf("SIMULATOR_HOSTS=%q: %q, %v; want %q, ok %v", tt.v, cfg.SimulatorHosts, err, tt.want, tt.ok)
		}
	}
}

// serve hands the simulator PUBLIC_URL's host and SIMULATOR_HOSTS, the names
// it answers to beside localhost and IP addresses.
func TestServeGivesTheSimulatorItsNames(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"SIMULATOR_ENABLED": "true",
		"PUBLIC_URL": "https://sms.example.com/cxsms", "SIMULATOR_HOSTS": "sim.internal"})
	for host, want := range map[string]int{
		"sms.example.com":  stdhttp.StatusOK,
		"sim.internal:443": stdhttp.StatusOK,
		"localhost":        stdhttp.StatusOK,
		"attacker.example": stdhttp.StatusForbidden,
	} {
		req, err := stdhttp.NewRequest(stdhttp.MethodPost, s.base+"/simulator/sms", strings.NewReader(`{"count":1}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		res, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Host %s: %d %s, want %d", host, res.StatusCode, body, want)
		}
	}
}

// A DATABASE_URL naming a database that does not exist is not PostgreSQL
// starting late: serve kept warning "migrations not applied yet", as for a
// slow database. It now says, at level error, that the URL is refused; and
// once the database answers, the log says so instead of ending on retries.
func TestServeSaysTheDatabaseRefusesItsURL(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/no_such_database_here"
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, envFunc(map[string]string{"DATABASE_URL": u.String(), "WEBHOOK_SECRET": "s", "PORT": "0"}), &stdout, &stderr)
	}()
	defer func() { cancel(); <-done }()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stderr.String(), "refuses DATABASE_URL"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve on a database that does not exist logged:\n%s\nwant an error that the database refuses DATABASE_URL", stderr.String())
		}
	}
	if !strings.Contains(stderr.String(), `"level":"error"`) || !strings.Contains(stderr.String(), "3D000") {
		t.Errorf("logged:\n%s\nwant it at level error, with PostgreSQL's code", stderr.String())
	}
}

// serve listened on every interface, with no way to keep it to one, while
// make run's development secrets are printed in the README. LISTEN_HOST
// keeps it to one address, and the banner names that address.
func TestServeListensWhereLISTEN_HOSTSays(t *testing.T) {
	t.Parallel()
	probe, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 is not this machine's here: %v", err)
	}
	probe.Close()
	dbURL := pgtest.URL(t) // here: t.Fatal in the goroutine below left it unwaited for
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, envFunc(map[string]string{"DATABASE_URL": dbURL, "WEBHOOK_SECRET": "s", "PORT": "0",
			"LISTEN_HOST": "127.0.0.2", "PROJECTORS": "off"}), &stdout, &stderr)
	}()
	defer func() { cancel(); <-done }()
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == ""; time.Sleep(20 * time.Millisecond) {
		if m := regexp.MustCompile(`cxsms listening on (\S+)`).FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve printed no address:\n%s\n%s", stdout.String(), stderr.String())
		}
	}
	u, err := url.Parse(base)
	if err != nil || u.Hostname() != "127.0.0.2" {
		t.Fatalf("banner %q, want http://127.0.0.2:PORT", base)
	}
	resp, err := stdhttp.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", u.Port()), time.Second); err == nil {
		c.Close()
		t.Errorf("127.0.0.1:%s took a connection; want serve on 127.0.0.2 only", u.Port())
	}
}

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/joho/godotenv"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/http/cxone"
)

// config is everything the commands read from the environment.
type config struct {
	DatabaseURL string
	Port        string
	// ListenHost is LISTEN_HOST: the address serve and project listen on,
	// "" for every interface.
	ListenHost       string
	WebhookSecret    string
	SigningSecret    string
	AdminToken       string
	RulesFile        string
	MaxBodyBytes     int64
	SimulatorEnabled bool
	LogLevel         logrus.Level
	PublicURL        string
	// SimulatorHosts are SIMULATOR_HOSTS: host names, beyond localhost,
	// IP addresses and PUBLIC_URL's host, that POST /simulator/sms answers
	// to (lower case, without a port).
	SimulatorHosts []string
	getenv         func(string) string
	// webhookSecretPadded and adminTokenPadded say WEBHOOK_SECRET or
	// ADMIN_TOKEN came with surrounding whitespace, which was dropped;
	// newLogger warns about it.
	webhookSecretPadded, adminTokenPadded bool
}

// loadConfig reads the environment, with a .env file in the working directory
// filling in what the environment does not set.
func loadConfig(getenv func(string) string) (config, error) {
	dotenv, err := readDotEnv(".env")
	if err != nil && !os.IsNotExist(err) {
		return config{}, fmt.Errorf(".env: %w", err)
	}
	get := func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return dotenv[k]
	}
	// Read the way the CXone client reads it, so that what serve compares
	// is what register-webhook registered.
	secret, padded := cxone.WebhookSecretFromEnv(get)
	cfg := config{
		DatabaseURL:   get("DATABASE_URL"),
		Port:          get("PORT"),
		WebhookSecret: secret.Reveal(),
		SigningSecret: get("WEBHOOK_SIGNING_SECRET"),
		// Trimmed as WEBHOOK_SECRET is: a token mounted from a file ends in
		// a newline, and every admin request was a 401 without a word.
		AdminToken:   strings.TrimSpace(get("ADMIN_TOKEN")),
		RulesFile:    get("RULES_FILE"),
		MaxBodyBytes: 1 << 20,
		PublicURL:    get("PUBLIC_URL"),
		getenv:       get,
	}
	cfg.webhookSecretPadded = padded
	cfg.adminTokenPadded = cfg.AdminToken != get("ADMIN_TOKEN")
	if cfg.Port == "" {
		cfg.Port = defaultServePort
	}
	// A number only: net.Listen also takes a service name ("http" bound
	// port 80 without a word).
	if n, err := strconv.Atoi(cfg.Port); err != nil || n < 0 || n > 65535 {
		return config{}, fmt.Errorf("PORT must be a port number from 0 to 65535 (0 picks a free one), got %q", cfg.Port)
	}
	// An address of this machine, not a name: a name resolving to several
	// addresses would listen on one of them, unsaid.
	cfg.ListenHost = strings.Trim(strings.TrimSpace(get("LISTEN_HOST")), "[]")
	if cfg.ListenHost != "" && net.ParseIP(cfg.ListenHost) == nil {
		return config{}, fmt.Errorf("LISTEN_HOST must be an IP address of this machine to listen on (127.0.0.1 for this machine only; unset, 0.0.0.0 or :: for every interface), got %q", cfg.ListenHost)
	}
	if cfg.PublicURL != "" {
		if err := cxone.CheckPublicURL(cfg.PublicURL); err != nil {
			return config{}, fmt.Errorf("PUBLIC_URL: %w", err)
		}
	}
	if cfg.SimulatorHosts, err = simulatorHosts(get("SIMULATOR_HOSTS")); err != nil {
		return config{}, err
	}
	if v := get("MAX_BODY_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return config{}, fmt.Errorf("MAX_BODY_BYTES must be a positive number of bytes, got %q", v)
		}
		cfg.MaxBodyBytes = n
	}
	if v := get("SIMULATOR_ENABLED"); v != "" {
		b, ok := parseSwitch(v)
		if !ok {
			return config{}, fmt.Errorf("SIMULATOR_ENABLED must be true or false (1/0, yes/no, on/off), got %q", v)
		}
		cfg.SimulatorEnabled = b
	}
	// Read by the CXone client only once serve has a PUBLIC_URL to keep
	// registered, so a typo went unnoticed at start: checked here, by the
	// client's rule, as register-webhook checks it.
	if v := strings.TrimSpace(get("CXONE_ALLOW_LOCALHOST")); v != "" {
		if _, ok := parseYesNo(v); !ok {
			return config{}, fmt.Errorf("CXONE_ALLOW_LOCALHOST: %q is not a yes/no value: use true or false", v)
		}
	}
	cfg.LogLevel = logrus.InfoLevel
	if v := get("LOG_LEVEL"); v != "" {
		l, err := logrus.ParseLevel(v)
		if err != nil {
			return config{}, fmt.Errorf("LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, panic, got %q", v)
		}
		cfg.LogLevel = l
	}
	return cfg, nil
}

// headerSafe refuses a secret that no HTTP header can carry: a line break
// or another control character (a tab is allowed in a header), as a .env
// "\n" in double quotes makes. Every request would be a 401, with
// nothing to say why.
func headerSafe(name, v string) error {
	if i := strings.IndexFunc(v, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }); i >= 0 {
		hint := ""
		if v[i] == '\n' || v[i] == '\r' {
			hint = "; in .env, \\n and \\r within double quotes are line breaks: write the value in single quotes to keep it as written"
		}
		return fmt.Errorf("%s holds a control character (%q at byte %d), which no HTTP header can carry, so every request would be refused%s", name, v[i], i, hint)
	}
	return nil
}

// readDotEnv reads a .env file by the rule scripts/run.sh follows too (and
// that .env templates assume, though godotenv and compose-go read the
// first case otherwise): in an unquoted value,
// # starts a comment only where whitespace precedes it, so "KEY= # fill me"
// is blank and "KEY=#Zq9" is "#Zq9". godotenv (v1.5) drops the whitespace
// after = before it looks, and kept "# fill me" as the value: with
// "WEBHOOK_SECRET= # fill me" in a template, a request sending that
// comment as its secret was taken, without a word.
//
// A value is taken as written, "$" included, as the tutorial's Node dotenv
// takes it: godotenv expands "$NAME" (upper case only) from the file's
// own earlier settings, so a generated secret "k$Rt7Qz" became "kt7Qz",
// and every delivery CXone signed with the real one was a 401. The "$"
// goes through godotenv as a character it does not expand.
func readDotEnv(path string) (map[string]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Windows editors start a UTF-8 file with a byte-order mark, which
	// godotenv read as part of the first name ("unexpected character »").
	src = bytes.TrimPrefix(src, []byte("\uFEFF"))
	src = bytes.ReplaceAll(src, []byte("$"), []byte(dollarStandIn))
	env, err := godotenv.UnmarshalBytes(stripDotEnvComments(src))
	for k, v := range env {
		env[k] = strings.NewReplacer(dollarStandIn, "$", backslashStandIn, `\`).Replace(v)
	}
	return env, err
}

// dollarStandIn stands for "$" while godotenv reads a .env file: a
// private-use character, which no setting holds.
const dollarStandIn = "\uE000"

// stripDotEnvComments rewrites each unquoted value of a .env file without
// its comment, so that godotenv reads what the rule says; the rest goes
// through as it is. It walks the statements as godotenv's parser does
// (comment lines, "export", KEY= or KEY:, quoted values that may span
// lines), so that a line inside a quoted value is never taken for one.
// What godotenv would refuse is left for it to refuse.
func stripDotEnvComments(src []byte) []byte {
	src = bytes.ReplaceAll(src, []byte("\r\n"), []byte("\n"))
	out := make([]byte, 0, len(src))
	for len(src) > 0 {
		// Between statements: blank space, line ends included, and
		// comment lines.
		if r, n := utf8.DecodeRune(src); unicode.IsSpace(r) {
			out, src = append(out, src[:n]...), src[n:]
			continue
		}
		if src[0] == '#' {
			n := bytes.IndexByte(src, '\n')
			if n < 0 {
				n = len(src)
			}
			out, src = append(out, src[:n]...), src[n:]
			continue
		}
		// The key, up to = or : ("export KEY=", "KEY = v", "KEY: v").
		sep := bytes.IndexAny(src, "=:\n")
		if sep < 0 || src[sep] == '\n' {
			return append(out, src...) // godotenv's to refuse
		}
		out, src = append(out, src[:sep+1]...), src[sep+1:]
		value := bytes.TrimLeftFunc(src, isDotEnvSpace)
		if len(value) > 0 && (value[0] == '"' || value[0] == '\'') {
			// Quoted: taken as quoted, up to the first closing quote
			// without a backslash before it, as godotenv ends it; in
			// double quotes, where \\ is a backslash, without an odd
			// number of them ("a\\" ends at its second quote).
			end, backslashes := -1, 0 // backslashes: the run just before i
			for i := 1; i < len(value) && end < 0; i++ {
				switch {
				case value[i] == '\\':
					backslashes++
				case value[i] == value[0] && (backslashes == 0 || value[0] == '"' && backslashes%2 == 0):
					end = i
				default:
					backslashes = 0
				}
			}
			if end < 0 {
				return append(out, src...) // unterminated: godotenv's to refuse
			}
			n := len(src) - len(value) + end + 1
			if value[0] == '"' {
				lead := len(src) - len(value)
				out = append(out, src[:lead+1]...)
				out = keepBackslashes(out, value[1:end])
				out, src = append(out, '"'), src[n:]
				continue
			}
			out, src = append(out, src[:n]...), src[n:]
			continue
		}
		// Unquoted, to the end of the line: the value ends where a #
		// follows whitespace, the whitespace after = included.
		eol := bytes.IndexAny(src, "\r\n")
		if eol < 0 {
			eol = len(src)
		}
		line := src[:eol]
		prevSpace := false
		for i, r := range string(line) {
			if r == '#' && prevSpace {
				line = line[:i]
				break
			}
			prevSpace = isDotEnvSpace(r)
		}
		out = append(out, bytes.TrimFunc(line, isDotEnvSpace)...)
		src = src[eol:]
	}
	return out
}

// keepBackslashes appends a double-quoted value to out so that godotenv
// reads it thus: \n and \r are line breaks, as in the tutorial's Node
// dotenv; \" and \\ are a quote and a backslash, as godotenv always read
// them; and any other backslash is kept as written, as the Node dotenv
// keeps it. godotenv dropped it ("a\tb" read as "atb"), so a generated
// secret holding one became another, and every webhook a 401. A backslash
// to keep goes through godotenv as backslashStandIn: written as \\, one
// before the closing quote ("a\\") made godotenv read the quote as escaped
// and the value as unterminated.
func keepBackslashes(out, quoted []byte) []byte {
	for i := 0; i < len(quoted); i++ {
		c := quoted[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		if i+1 < len(quoted) && strings.IndexByte(`nr"`, quoted[i+1]) >= 0 {
			out = append(out, c, quoted[i+1])
			i++
			continue
		}
		if i+1 < len(quoted) && quoted[i+1] == '\\' {
			i++ // \\ is one backslash
		}
		out = append(out, backslashStandIn...)
	}
	return out
}

// backslashStandIn stands for a backslash kept in a double-quoted .env
// value while godotenv reads it (see keepBackslashes): a private-use
// character, which no setting holds.
const backslashStandIn = "\uE001"

// isDotEnvSpace is godotenv's whitespace within a line.
func isDotEnvSpace(r rune) bool {
	switch r {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

// simulatorHosts reads SIMULATOR_HOSTS: comma-separated host names, without
// scheme or port, that a proxy in front of the service may send as Host.
func simulatorHosts(v string) ([]string, error) {
	var hosts []string
	for h := range strings.SplitSeq(v, ",") {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if h == "" {
			continue
		}
		// Names are compared as browsers send them: no wildcards, and
		// international names in their xn-- form.
		if strings.ContainsAny(h, ":/[]@*? \t") || strings.ContainsFunc(h, func(r rune) bool { return r >= utf8.RuneSelf }) {
			return nil, fmt.Errorf("SIMULATOR_HOSTS must be host names separated by commas, without scheme, port or wildcard, international names in their xn-- form (api.example.com,sim.internal), got %q", v)
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// parseSwitch reads an on/off setting as people write them: true/false,
// 1/0, yes/no, on/off, in any case (CXONE_ALLOW_LOCALHOST takes yes too).
func parseSwitch(v string) (on, ok bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "yes", "y", "on":
		return true, true
	case "0", "f", "false", "no", "n", "off":
		return false, true
	}
	return false, false
}

// parseYesNo reads a yes/no setting by the CXone client's rule (cxone's
// parseBool): true/false, 1/0, yes/no, on/off, in any case, and not the t/y
// parseSwitch also takes, so that serve and register-webhook agree on
// CXONE_ALLOW_LOCALHOST.
func parseYesNo(v string) (on, ok bool) {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true, true
	case "0", "false", "no", "off":
		return false, true
	}
	return false, false
}

// defaultServePort is serve's port when PORT is not set; defaultProjectPort
// is project's, next to it, so that both can run on one machine as they
// come.
const (
	defaultServePort   = "8080"
	defaultProjectPort = "8081"
)

func (c config) requireDatabase() error {
	if c.DatabaseURL == "" {
		return fmt.Errorf("DATABASE_URL is not set: set it, or use `make run`, which starts a private PostgreSQL")
	}
	return nil
}

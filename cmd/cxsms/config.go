package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/joho/godotenv"
	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/http/cxone"
)

// config is everything the commands read from the environment.
type config struct {
	DatabaseURL      string
	Port             string
	WebhookSecret    string
	SigningSecret    string
	AdminToken       string
	RulesFile        string
	MaxBodyBytes     int64
	SimulatorEnabled bool
	LogLevel         logrus.Level
	PublicURL        string
	getenv           func(string) string
	// webhookSecretPadded and adminTokenPadded say WEBHOOK_SECRET or
	// ADMIN_TOKEN came with surrounding whitespace, which was dropped;
	// newLogger warns about it.
	webhookSecretPadded, adminTokenPadded bool
}

// loadConfig reads the environment, with a .env file in the working directory
// filling in what the environment does not set.
func loadConfig(getenv func(string) string) (config, error) {
	dotenv, err := godotenv.Read(".env")
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
	if cfg.PublicURL != "" {
		if err := cxone.CheckPublicURL(cfg.PublicURL); err != nil {
			return config{}, fmt.Errorf("PUBLIC_URL: %w", err)
		}
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
			return config{}, fmt.Errorf("LOG_LEVEL: %w", err)
		}
		cfg.LogLevel = l
	}
	return cfg, nil
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

package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cxsms/cxsms/http/cxone"
	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// A PUBLIC_URL with a query or fragment would register a callback whose
// path lands inside it; it is refused at start, naming the variable.
func TestCXonePublicURLValidated(t *testing.T) {
	noDotEnv(t)
	for _, v := range []string{"https://sms.example.com/?k=v", "https://sms.example.com/#frag", "sms.example.com", "https://sms example.com"} {
		_, err := loadConfig(envFunc(map[string]string{"PUBLIC_URL": v}))
		if err == nil || !strings.Contains(err.Error(), "PUBLIC_URL") {
			t.Errorf("PUBLIC_URL=%q: err = %v, want one naming PUBLIC_URL", v, err)
		}
	}
	if _, err := loadConfig(envFunc(map[string]string{"PUBLIC_URL": "https://sms.example.com/base/"})); err != nil {
		t.Errorf("a plain PUBLIC_URL: %v", err)
	}
}

// A secret mounted from a file ends in a newline. Registration trimmed it
// and serve did not, so every report got 401; both now read the same
// trimmed value, and the whitespace is warned about without the secret.
func TestCXoneWebhookSecretTrimmedForServeAndRegistration(t *testing.T) {
	noDotEnv(t)
	env := envFunc(map[string]string{"WEBHOOK_SECRET": "whsec-from-a-file\n", "CXONE_DOMAIN": "api-na1.niceincontact.com",
		"CXONE_CLIENT_ID": "id", "CXONE_CLIENT_SECRET": "secret"})
	cfg, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	ccfg, err := cxone.ConfigFromEnv(cfg.getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.WebhookSecret != "whsec-from-a-file" || ccfg.WebhookSecret.Reveal() != cfg.WebhookSecret {
		t.Errorf("serve compares a %d-byte secret, registration sends %d bytes; want both 17", len(cfg.WebhookSecret), len(ccfg.WebhookSecret))
	}
	var logs bytes.Buffer
	newLogger(cfg, &logs)
	if !strings.Contains(logs.String(), `"level":"warning"`) || !strings.Contains(logs.String(), "WEBHOOK_SECRET") ||
		strings.Contains(logs.String(), "whsec-from-a-file") {
		t.Errorf("logs = %s; want a warning naming WEBHOOK_SECRET, without its value", logs.String())
	}
}

// register-webhook ignored CXONE_ALLOW_LOCALHOST (only serve read it, and
// only as "true").
func TestCXoneRegisterWebhookReadsAllowLocalhost(t *testing.T) {
	noDotEnv(t)
	fake := fakecxone.New(fakecxone.Options{})
	cx := httptest.NewServer(fake)
	defer cx.Close()
	env := map[string]string{
		"WEBHOOK_SECRET": "register-secret", "PUBLIC_URL": "http://127.0.0.1:9",
		"CXONE_TOKEN_URL": cx.URL + fakecxone.PathToken, "CXONE_API_URL": cx.URL,
		"CXONE_CLIENT_ID": fakecxone.DefaultClientID, "CXONE_CLIENT_SECRET": fakecxone.DefaultClientSecret,
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"register-webhook"}, envFunc(env), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "CXONE_ALLOW_LOCALHOST") {
		t.Errorf("without CXONE_ALLOW_LOCALHOST: err = %v, want one naming it", err)
	}
	env["CXONE_ALLOW_LOCALHOST"] = "Yes"
	if err := run(context.Background(), []string{"register-webhook"}, envFunc(env), &stdout, &stderr); err != nil {
		t.Fatalf("CXONE_ALLOW_LOCALHOST=Yes: %v", err)
	}
	if subs := fake.Subscriptions(); len(subs) != 1 || subs[0].CallbackURL != "http://127.0.0.1:9"+webhookPath {
		t.Errorf("subscriptions = %v", subs)
	}
}

// serve with CXone configured but no PUBLIC_URL registered nothing and said
// nothing. It now warns once, naming PUBLIC_URL, and otherwise decides as
// before: a keeper only with PUBLIC_URL and a usable CXone configuration.
func TestServeSaysWhetherItKeepsTheSubscription(t *testing.T) {
	noDotEnv(t)
	const secret = "cxone-client-secret-value"
	creds := map[string]string{"CXONE_DOMAIN": "api-na1.niceincontact.com", "CXONE_CLIENT_ID": "id", "CXONE_CLIENT_SECRET": secret}
	with := func(extra map[string]string) map[string]string {
		env := map[string]string{"WEBHOOK_SECRET": "s"}
		for k, v := range creds {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		return env
	}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		keeper   string // the callback kept, or "" for none
		level    string // the one line logged, or "" for none
		mentions []string
	}{
		{name: "no CXone, no PUBLIC_URL", env: map[string]string{"WEBHOOK_SECRET": "s"}},
		{name: "CXone without PUBLIC_URL", env: with(nil), level: "warning",
			mentions: []string{"PUBLIC_URL is not set", "will not be created or checked", "$PUBLIC_URL/webhooks/cxone/sms",
				"CXONE_DOMAIN,CXONE_CLIENT_ID,CXONE_CLIENT_SECRET"}},
		{name: "only an issuer, no PUBLIC_URL", env: map[string]string{"WEBHOOK_SECRET": "s", "CXONE_ISSUER": "https://cxone.niceincontact.com"},
			level: "warning", mentions: []string{"PUBLIC_URL is not set", "CXONE_ISSUER"}},
		{name: "PUBLIC_URL, unusable CXone", env: map[string]string{"WEBHOOK_SECRET": "s", "PUBLIC_URL": "https://sms.example.com", "CXONE_CLIENT_ID": "id"},
			level: "error", mentions: []string{"not usable", "CXONE_CLIENT_SECRET"}},
		{name: "PUBLIC_URL and CXone", env: with(map[string]string{"PUBLIC_URL": "https://sms.example.com/base/"}),
			keeper: "https://sms.example.com/base" + webhookPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadConfig(envFunc(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			log := newLogger(cfg, &logs)
			k := subscriptionKeeper(cfg, log, cxone.Hooks{})
			kept := "" // the keeper's callback
			if k != nil {
				kept = k.callback
			}
			if kept != tc.keeper {
				t.Errorf("keeper for %q, want %q (\"\" is none)", kept, tc.keeper)
			}
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if tc.level == "" {
				if logs.Len() > 0 {
					t.Errorf("logged %s, want nothing", logs.String())
				}
				return
			}
			if len(lines) != 1 || !strings.Contains(lines[0], `"level":"`+tc.level+`"`) {
				t.Fatalf("logged %s, want one %s line", logs.String(), tc.level)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(lines[0], m) {
					t.Errorf("the %s does not say %q: %s", tc.level, m, lines[0])
				}
			}
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the log shows CXONE_CLIENT_SECRET: %s", logs.String())
			}
		})
	}
}

// serve itself logs the warning once at start, before any webhook arrives.
// The database is unreachable: serve listens (and warns) all the same.
func TestServeWarnsAtStartWithoutPublicURL(t *testing.T) {
	noDotEnv(t)
	env := map[string]string{"PORT": "0", "DATABASE_URL": "postgres://127.0.0.1:1/none", "WEBHOOK_SECRET": "s",
		"CXONE_DOMAIN": "api-na1.niceincontact.com", "CXONE_CLIENT_ID": "id", "CXONE_CLIENT_SECRET": "cxone-client-secret-value"}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, envFunc(env), &stdout, &stderr) }()
	waitFor(t, "serve to listen", func() bool { return strings.Contains(stdout.String(), "listening") })
	waitFor(t, "the warning", func() bool { return strings.Contains(stderr.String(), "PUBLIC_URL is not set") })
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop with its context")
	}
	if n := strings.Count(stderr.String(), "PUBLIC_URL is not set"); n != 1 || strings.Contains(stderr.String(), "cxone-client-secret-value") {
		t.Errorf("want one warning, without the secret; logs:\n%s", stderr.String())
	}
}

// A PUBLIC_URL that already ends in the webhook's path is the callback: the
// path doubled, every delivery was a 404 and nothing said so. With
// WEBHOOK_SIGNING_SECRET set, registering a subscription CXone delivers
// unsigned warns; --callback with credentials is refused, as PUBLIC_URL
// with them is.
func TestCXoneRegisterWebhookCallback(t *testing.T) {
	noDotEnv(t)
	for public, want := range map[string]string{
		"https://sms.example.com":                      "https://sms.example.com/webhooks/cxone/sms",
		"https://sms.example.com/":                     "https://sms.example.com/webhooks/cxone/sms",
		"https://sms.example.com/cx":                   "https://sms.example.com/cx/webhooks/cxone/sms",
		"https://sms.example.com/webhooks/cxone/sms":   "https://sms.example.com/webhooks/cxone/sms",
		"https://sms.example.com/Webhooks/CXone/SMS/":  "https://sms.example.com/Webhooks/CXone/SMS",
		"https://sms.example.com/x/webhooks/cxone/sms": "https://sms.example.com/x/webhooks/cxone/sms",
	} {
		if got := callbackURL(public); got != want {
			t.Errorf("callbackURL(%q) = %q, want %q", public, got, want)
		}
	}
	fake := fakecxone.New(fakecxone.Options{})
	cx := httptest.NewServer(fake)
	defer cx.Close()
	env := map[string]string{
		"WEBHOOK_SECRET": "register-secret", "PUBLIC_URL": "http://127.0.0.1:9/webhooks/cxone/sms", "CXONE_ALLOW_LOCALHOST": "true",
		"WEBHOOK_SIGNING_SECRET": "whsec_dGVzdC1zaWduaW5nLWtleS0wMTIz",
		"CXONE_TOKEN_URL":        cx.URL + fakecxone.PathToken, "CXONE_API_URL": cx.URL,
		"CXONE_CLIENT_ID": fakecxone.DefaultClientID, "CXONE_CLIENT_SECRET": fakecxone.DefaultClientSecret,
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"register-webhook"}, envFunc(env), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if subs := fake.Subscriptions(); len(subs) != 1 || subs[0].CallbackURL != "http://127.0.0.1:9"+webhookPath {
		t.Errorf("subscriptions = %v, want one at http://127.0.0.1:9%s", subs, webhookPath)
	}
	if !strings.Contains(stderr.String(), "WEBHOOK_SIGNING_SECRET is set") {
		t.Errorf("stderr = %s; want a warning that CXone's deliveries are unsigned", stderr.String())
	}
	err := run(context.Background(), []string{"register-webhook", "--callback", "https://u:p@sms.example.com/webhooks/cxone/sms"}, envFunc(env), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "credentials") || strings.Contains(err.Error(), ":p@") {
		t.Errorf("--callback with credentials: %v, want refused without the password", err)
	}
}

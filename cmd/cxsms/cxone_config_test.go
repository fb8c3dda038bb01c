package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"strings"
	"testing"

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

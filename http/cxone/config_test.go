package cxone

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	base := map[string]string{
		"CXONE_DOMAIN":        "api-na1.niceincontact.com",
		"CXONE_CLIENT_ID":     "client",
		"CXONE_CLIENT_SECRET": " s3cret\n",
		"WEBHOOK_SECRET":      "whsec",
	}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}

	t.Run("defaults", func(t *testing.T) {
		cfg, err := ConfigFromEnv(env(base))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Grant != GrantClientCredentials || cfg.ClientSecret.Reveal() != "s3cret" || cfg.apiBase() != "https://api-na1.niceincontact.com" {
			t.Errorf("cfg = %v (secret trimmed: %t)", cfg, cfg.ClientSecret.Reveal() == "s3cret")
		}
		c := New(cfg)
		if u, _ := c.tokenEndpoint(t.Context(), nil); u != "https://api-na1.niceincontact.com/api/v2/oauth/token" {
			t.Errorf("token endpoint = %s", u)
		}
	})
	t.Run("token URL wins over issuer and domain", func(t *testing.T) {
		cfg, err := ConfigFromEnv(env(with("CXONE_TOKEN_URL", "https://t.example/token", "CXONE_ISSUER", "https://cxone.niceincontact.com",
			"CXONE_API_URL", "https://api.example/")))
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := New(cfg).tokenEndpoint(t.Context(), nil); u != "https://t.example/token" {
			t.Errorf("token endpoint = %s", u)
		}
		if cfg.apiBase() != "https://api.example" {
			t.Errorf("API base = %s", cfg.apiBase())
		}
	})

	for _, tc := range []struct {
		name    string
		env     map[string]string
		mention []string
	}{
		{"unknown grant", with("CXONE_GRANT", "implicit"), []string{"CXONE_GRANT", "client_credentials or password"}},
		{"password grant without key", with("CXONE_GRANT", "PASSWORD"), []string{"CXONE_ACCESS_KEY_ID", "CXONE_ACCESS_KEY_SECRET"}},
		{"no client", with("CXONE_CLIENT_ID", "", "CXONE_CLIENT_SECRET", ""), []string{"CXONE_CLIENT_ID", "CXONE_CLIENT_SECRET"}},
		{"domain with scheme", with("CXONE_DOMAIN", "https://api-na1.niceincontact.com"), []string{"CXONE_DOMAIN", "without a scheme"}},
		{"nowhere to go", map[string]string{"CXONE_CLIENT_ID": "c", "CXONE_CLIENT_SECRET": "s"}, []string{"CXONE_TOKEN_URL", "CXONE_ISSUER", "CXONE_API_URL"}},
		{"bad issuer", with("CXONE_ISSUER", "cxone.niceincontact.com"), []string{"CXONE_ISSUER", "absolute"}},
		{"credentials in URL", with("CXONE_TOKEN_URL", "https://u:p@t.example/token"), []string{"CXONE_TOKEN_URL", "credentials"}},
		{"domain with a space", with("CXONE_DOMAIN", "api eu1.niceincontact.com"), []string{"CXONE_DOMAIN", "host name"}},
		{"domain with a bad port", with("CXONE_DOMAIN", "api-eu1.niceincontact.com:abc"), []string{"CXONE_DOMAIN", "host name"}},
		{"issuer with a query", with("CXONE_ISSUER", "https://cxone.niceincontact.com/?x=1"), []string{"CXONE_ISSUER", "query"}},
		{"API URL with a fragment", with("CXONE_API_URL", "https://api.example/#frag"), []string{"CXONE_API_URL", "fragment"}},
		{"API URL with a space in the host", with("CXONE_API_URL", "https://api example/"), []string{"CXONE_API_URL"}},
		{"unknown CXONE_ALLOW_LOCALHOST", with("CXONE_ALLOW_LOCALHOST", "maybe"), []string{"CXONE_ALLOW_LOCALHOST"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ConfigFromEnv(env(tc.env))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, m := range tc.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), ":p@") {
				t.Errorf("error %q shows a secret", err)
			}
		})
	}

	t.Run("token URL may carry a query", func(t *testing.T) {
		if _, err := ConfigFromEnv(env(with("CXONE_TOKEN_URL", "https://t.example/token?tenant=1"))); err != nil {
			t.Error(err)
		}
	})
	t.Run("allow localhost", func(t *testing.T) {
		for v, want := range map[string]bool{"": false, "1": true, "true": true, "YES": true, "True": true, "no": false, "0": false, "FALSE": false} {
			cfg, err := ConfigFromEnv(env(with("CXONE_ALLOW_LOCALHOST", v)))
			if err != nil || cfg.AllowLocalhost != want {
				t.Errorf("CXONE_ALLOW_LOCALHOST=%q: AllowLocalhost %t, err %v; want %t", v, cfg.AllowLocalhost, err, want)
			}
		}
	})
	t.Run("webhook secret trimmed", func(t *testing.T) {
		s, padded := WebhookSecretFromEnv(env(map[string]string{"WEBHOOK_SECRET": "whsec-from-file\n"}))
		if s.Reveal() != "whsec-from-file" || !padded {
			t.Errorf("padded %t, trimmed %t", padded, s.Reveal() == "whsec-from-file")
		}
	})

	t.Run("password grant", func(t *testing.T) {
		cfg, err := ConfigFromEnv(env(with("CXONE_GRANT", "password", "CXONE_ACCESS_KEY_ID", "AK", "CXONE_ACCESS_KEY_SECRET", "aks")))
		if err != nil || cfg.Grant != GrantPassword {
			t.Fatalf("cfg %v, err %v", cfg, err)
		}
	})
}

func TestConfigNeverPrintsSecrets(t *testing.T) {
	cfg := Config{
		Domain: "api-na1.niceincontact.com", ClientID: "client-id",
		ClientSecret: "CLIENT-SECRET", AccessKeyID: "AK-ID", AccessKeySecret: "AK-SECRET", WebhookSecret: "WH-SECRET",
	}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x", "%10.3v"} {
		outputs = append(outputs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, cfg.ClientSecret))
	}
	outputs = append(outputs, cfg.String(), fmt.Sprint(struct{ C Config }{cfg}), fmt.Sprintf("%+v", struct{ S Secret }{"CLIENT-SECRET"}))
	j, _ := json.Marshal(map[string]any{"cfg": cfg, "secret": cfg.WebhookSecret})
	outputs = append(outputs, string(j))
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("cfg", "secret", cfg.ClientSecret, "cfg", cfg)
	outputs = append(outputs, logged.String())

	for _, out := range outputs {
		for _, secret := range []string{"CLIENT-SECRET", "AK-SECRET", "WH-SECRET"} {
			if strings.Contains(out, secret) {
				t.Errorf("printed form shows %s: %s", secret, out)
			}
		}
	}
	if s := cfg.String(); !strings.Contains(s, "client-id") || !strings.Contains(s, "ClientSecret:[redacted]") {
		t.Errorf("String() = %s; want the non-secret fields, and secrets marked as set", s)
	}
}

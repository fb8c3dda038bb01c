package cxone

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
)

// Secret holds a credential. Every printed form of it (fmt verbs, JSON, text,
// slog) is redacted, so a Config, an error or a log field cannot carry one by
// accident; Reveal is the only way out, and only the code that puts the value
// on the wire calls it.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret itself.
func (s Secret) Reveal() string { return string(s) }

// String tells whether the secret is set without showing it.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format covers every verb, not only %v and %s: fmt would otherwise print
// the raw string inside an error such as %!d(cxone.Secret=...).
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	io.WriteString(f, s.String())
}

// MarshalText keeps secrets out of JSON (and so out of logrus's JSON
// formatter) too.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue keeps secrets out of log/slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Grant is the OAuth 2.0 grant the client uses to get tokens.
type Grant string

const (
	// GrantClientCredentials authenticates as the OAuth client itself.
	GrantClientCredentials Grant = "client_credentials"
	// GrantPassword authenticates as a CXone user through one of the user's
	// access keys (key ID as username, key secret as password); tenants whose
	// OAuth client may not use client_credentials need it.
	GrantPassword Grant = "password"
)

// Scope is what the client asks for: the tutorial's four scopes, which cover
// sending messages and managing the webhook subscription.
const Scope = "messaging:read messaging:write webhooks:manage webhooks:read"

// Config says where CXone is and how to authenticate to it. ConfigFromEnv
// builds one from the environment; secrets are Secret values so that
// printing a Config is always safe.
type Config struct {
	// TokenURL, when set, is used as the token endpoint as is.
	TokenURL string
	// Issuer, when set (and TokenURL is not), is the OpenID issuer whose
	// discovery document names the token endpoint; CXone's is
	// https://cxone.niceincontact.com.
	Issuer string
	// Domain is the tenant's API host (e.g. api-na1.niceincontact.com). It
	// is the fallback for both the token endpoint and the API base.
	Domain string
	// APIURL is the API base; default https://Domain.
	APIURL string

	Grant           Grant
	ClientID        string
	ClientSecret    Secret
	AccessKeyID     string // the password grant's username
	AccessKeySecret Secret // the password grant's password
	WebhookSecret   Secret // sent by CXone as X-Webhook-Secret with every report
}

// ConfigFromEnv reads the CXONE_* variables and WEBHOOK_SECRET through
// getenv (os.Getenv, or a map in tests) and validates the result, so that a
// missing or contradictory setting is reported at start-up with the name of
// the variable to fix.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	get := func(k string) string {
		// Values pasted into .env files often carry a stray space or
		// newline, which would otherwise surface later as an opaque 401.
		return strings.TrimSpace(getenv(k))
	}
	cfg := Config{
		TokenURL:        get("CXONE_TOKEN_URL"),
		Issuer:          get("CXONE_ISSUER"),
		Domain:          get("CXONE_DOMAIN"),
		APIURL:          get("CXONE_API_URL"),
		Grant:           Grant(strings.ToLower(get("CXONE_GRANT"))),
		ClientID:        get("CXONE_CLIENT_ID"),
		ClientSecret:    Secret(get("CXONE_CLIENT_SECRET")),
		AccessKeyID:     get("CXONE_ACCESS_KEY_ID"),
		AccessKeySecret: Secret(get("CXONE_ACCESS_KEY_SECRET")),
		WebhookSecret:   Secret(get("WEBHOOK_SECRET")),
	}
	if cfg.Grant == "" {
		cfg.Grant = GrantClientCredentials
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate reports every problem at once, each naming the variable to set.
// WEBHOOK_SECRET is not required here because only EnsureWebhook needs it.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch c.Grant {
	case "", GrantClientCredentials:
	case GrantPassword:
		if c.AccessKeyID == "" || c.AccessKeySecret == "" {
			bad("CXONE_GRANT=password needs CXONE_ACCESS_KEY_ID and CXONE_ACCESS_KEY_SECRET (an access key of the CXone user to act as)")
		}
	default:
		bad("CXONE_GRANT=%q: use client_credentials or password", string(c.Grant))
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		bad("CXONE_CLIENT_ID and CXONE_CLIENT_SECRET are required (the OAuth client from the CXone admin console)")
	}
	if c.Domain != "" && strings.ContainsAny(c.Domain, "/?#@") {
		bad("CXONE_DOMAIN=%q: give a host name such as api-na1.niceincontact.com, without a scheme or path", c.Domain)
	}
	for _, u := range []struct{ name, val string }{
		{"CXONE_TOKEN_URL", c.TokenURL}, {"CXONE_ISSUER", c.Issuer}, {"CXONE_API_URL", c.APIURL},
	} {
		if u.val != "" {
			if err := checkBaseURL(u.val); err != nil {
				bad("%s: %v", u.name, err)
			}
		}
	}
	if c.TokenURL == "" && c.Issuer == "" && c.Domain == "" {
		bad("no token endpoint: set CXONE_TOKEN_URL, CXONE_ISSUER (https://cxone.niceincontact.com) or CXONE_DOMAIN")
	}
	if c.APIURL == "" && c.Domain == "" {
		bad("no API base: set CXONE_API_URL or CXONE_DOMAIN")
	}
	if len(errs) > 0 {
		return fmt.Errorf("cxone: configuration: %w", errors.Join(errs...))
	}
	return nil
}

func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	if u.User != nil {
		return fmt.Errorf("%s: credentials do not belong in the URL", u.Redacted())
	}
	return nil
}

func (c Config) grant() Grant {
	if c.Grant == "" {
		return GrantClientCredentials
	}
	return c.Grant
}

// apiBase returns the API base without a trailing slash.
func (c Config) apiBase() string {
	if c.APIURL != "" {
		return strings.TrimRight(c.APIURL, "/")
	}
	return "https://" + c.Domain
}

// String lists the settings with secrets redacted; it is what start-up logs
// should print.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("cxone.Config{")
	for i, f := range [...]struct {
		name string
		val  fmt.Stringer
	}{
		{"TokenURL", plain(c.TokenURL)}, {"Issuer", plain(c.Issuer)}, {"Domain", plain(c.Domain)},
		{"APIURL", plain(c.APIURL)}, {"Grant", plain(c.grant())}, {"ClientID", plain(c.ClientID)},
		{"ClientSecret", c.ClientSecret}, {"AccessKeyID", plain(c.AccessKeyID)},
		{"AccessKeySecret", c.AccessKeySecret}, {"WebhookSecret", c.WebhookSecret},
	} {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(f.name)
		b.WriteByte(':')
		b.WriteString(f.val.String())
	}
	b.WriteByte('}')
	return b.String()
}

type plain string

func (p plain) String() string { return string(p) }

// Format makes every verb, %#v and %d included, print the redacted String.
func (c Config) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, strconv.Quote(c.String()))
		return
	}
	io.WriteString(f, c.String())
}

// MarshalJSON keeps a Config logged with a JSON formatter as redacted as its
// String.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.String())
}

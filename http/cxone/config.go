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
	// AllowLocalhost lets EnsureWebhook register a callback on this
	// machine, which only makes sense when "CXone" is the local fake.
	AllowLocalhost bool
}

// WebhookSecretFromEnv reads WEBHOOK_SECRET without surrounding whitespace.
// serve compares it with X-Webhook-Secret and EnsureWebhook registers it, so
// both read it here: a secret mounted from a file ends in a newline, and
// trimming it on one side only makes every report a 401. padded says
// whitespace was dropped, for the caller to warn about.
func WebhookSecretFromEnv(getenv func(string) string) (secret Secret, padded bool) {
	raw := getenv("WEBHOOK_SECRET")
	trimmed := strings.TrimSpace(raw)
	return Secret(trimmed), trimmed != raw
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
	}
	cfg.WebhookSecret, _ = WebhookSecretFromEnv(getenv)
	if cfg.Grant == "" {
		cfg.Grant = GrantClientCredentials
	}
	allow, err := parseBool(get("CXONE_ALLOW_LOCALHOST"))
	if err != nil {
		return Config{}, fmt.Errorf("cxone: configuration: CXONE_ALLOW_LOCALHOST: %w", err)
	}
	cfg.AllowLocalhost = allow
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
	if c.Domain != "" && !validHost(c.Domain) {
		bad("CXONE_DOMAIN=%q: give a host name such as api-na1.niceincontact.com, without a scheme or path", c.Domain)
	}
	// A query or fragment is allowed on the token URL only (RFC 6749 3.2):
	// the others have paths appended, which would land inside it, and an
	// OpenID issuer has neither (OpenID Connect Discovery 1.0, 2).
	for _, u := range []struct {
		name, val  string
		queryAllow bool
	}{
		{"CXONE_TOKEN_URL", c.TokenURL, true}, {"CXONE_ISSUER", c.Issuer, false}, {"CXONE_API_URL", c.APIURL, false},
	} {
		if u.val == "" {
			continue
		}
		if err := checkBaseURL(u.val); err != nil {
			bad("%s: %v", u.name, err)
		} else if err := checkNoQuery(u.val); err != nil && !u.queryAllow {
			bad("%s: %v", u.name, err)
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
		// netError drops the URL, which may hold credentials, and keeps
		// the reason (a space in the host, a port that is not a number).
		return fmt.Errorf("not a URL: %v", netError(err))
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", stripQuery(s))
	}
	if u.User != nil {
		return fmt.Errorf("%s: credentials do not belong in the URL", u.Redacted())
	}
	if !validHost(u.Host) {
		return fmt.Errorf("%q: the host %q is not a host name with an optional port", stripQuery(s), u.Host)
	}
	return nil
}

// CheckPublicURL checks a base URL that paths get appended to, such as
// PUBLIC_URL: "https://h/?k=v" + "/webhooks/cxone/sms" would register a
// callback whose path lands in the query.
func CheckPublicURL(s string) error {
	if err := checkBaseURL(s); err != nil {
		return err
	}
	return checkNoQuery(s)
}

func checkNoQuery(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %v", netError(err))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		return fmt.Errorf("%s: remove the query or fragment (paths are appended to this URL)", stripQuery(s))
	}
	return nil
}

// validHost accepts a host name or IP address with an optional numeric
// port; url.Parse lets through names such as "api eu1" that no request
// could ever reach, and those would be retried as if CXone were down.
func validHost(hostport string) bool {
	u, err := url.Parse("https://" + hostport)
	if err != nil || u.Host != hostport || u.Hostname() == "" {
		return false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return false
		}
	}
	if strings.HasPrefix(u.Host, "[") {
		return true // an IPv6 literal, which url.Parse has checked
	}
	for _, r := range u.Hostname() {
		if !(r == '-' || r == '.' || r == '_' || ('0' <= r && r <= '9') || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')) {
			return false
		}
	}
	return true
}

// parseBool reads a yes/no setting: 1, true, yes or on (any case) are
// true; empty, 0, false, no and off are false.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "true", "yes", "on":
		return true, nil
	case "", "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a yes/no value: use true or false", s)
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
		{"AllowLocalhost", plain(strconv.FormatBool(c.AllowLocalhost))},
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

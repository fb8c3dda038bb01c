package cxone

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// syncBuffer lets the client's and the fake's goroutines log into one buffer.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoSecretOrTokenInLogs drives every path that logs (token fetches,
// discovery, retries, a 401 recovery, refusals, create, rotate) with both
// the client and the fake logging at trace level, in text and JSON, and
// then looks for every secret and every token that went over the wire.
func TestNoSecretOrTokenInLogs(t *testing.T) {
	for _, formatter := range []logrus.Formatter{&logrus.TextFormatter{DisableColors: true}, &logrus.JSONFormatter{}} {
		var out syncBuffer
		logger := logrus.New()
		logger.SetOutput(&out)
		logger.SetLevel(logrus.TraceLevel)
		logger.SetFormatter(formatter)

		const accessKeySecret = "AK-SECRET-e3b0c442"
		e := newEnv(t, fakecxone.Options{Logger: logger, AccessKeyID: "AK-1", AccessKeySecret: accessKeySecret})
		wire := &bearerRecorder{next: e.srv.Client().Transport}
		hc := &http.Client{Transport: wire}
		var errs []error
		newClient := func(cfg Config, opts ...Option) *Client {
			return New(cfg, append([]Option{WithHTTPClient(hc), WithLogger(logger), WithRetryPolicy(fastRetry)}, opts...)...)
		}

		cfg := e.cfg
		cfg.TokenURL, cfg.Issuer = "", e.srv.URL
		cfg.Grant, cfg.AccessKeyID, cfg.AccessKeySecret = GrantPassword, "AK-1", accessKeySecret
		logger.WithField("config", cfg).Info("starting")
		c := newClient(cfg)

		e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathToken, Status: http.StatusServiceUnavailable})
		e.fake.InjectFault(fakecxone.Fault{Method: http.MethodGet, Path: fakecxone.PathWebhooks, Status: http.StatusTooManyRequests, RetryAfter: "0"})
		e.fake.InjectFault(fakecxone.Fault{Method: http.MethodGet, Path: fakecxone.PathWebhooks, Status: http.StatusUnauthorized})
		if _, err := c.EnsureWebhook(t.Context(), callback+"?token=QUERY-SECRET"); err != nil {
			t.Fatal(err)
		}
		rotated := cfg
		rotated.WebhookSecret = "whsec-rotated-c0ffee"
		if _, err := newClient(rotated).EnsureWebhook(t.Context(), callback+"?token=QUERY-SECRET"); err != nil {
			t.Fatal(err)
		}

		e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: http.StatusForbidden})
		_, err := newClient(rotated).EnsureWebhook(t.Context(), callback)
		errs = append(errs, err)
		wrong := cfg
		wrong.ClientSecret = "WRONG-SECRET-5f2b"
		_, err = newClient(wrong).EnsureWebhook(t.Context(), callback)
		errs = append(errs, err)
		e.fake.InjectFault(fakecxone.Fault{Path: fakecxone.PathWebhooks, Status: http.StatusInternalServerError, Count: 10})
		_, err = newClient(rotated, WithRetryPolicy(RetryPolicy{MaxAttempts: 2, BaseDelay: 1})).EnsureWebhook(t.Context(), callback)
		errs = append(errs, err)
		for _, err := range errs {
			if err == nil {
				t.Fatal("a refusal was not reported")
			}
			logger.WithError(err).Error("operation failed")
		}

		logs := out.String()
		if !strings.Contains(logs, "retrying") || !strings.Contains(logs, "fetched access token") || !strings.Contains(logs, "fakecxone") {
			t.Fatalf("the scenario did not log what it should; logs:\n%s", logs)
		}
		secrets := []string{
			fakecxone.DefaultClientSecret, accessKeySecret, testWebhookSecret, rotated.WebhookSecret.Reveal(),
			wrong.ClientSecret.Reveal(), "QUERY-SECRET",
			base64.StdEncoding.EncodeToString([]byte(fakecxone.DefaultClientID + ":" + fakecxone.DefaultClientSecret)),
		}
		tokens := wire.values()
		if len(tokens) < 4 {
			t.Fatalf("recorded only %d credentials on the wire", len(tokens))
		}
		for _, s := range append(secrets, tokens...) {
			if strings.Contains(logs, s) {
				t.Errorf("%T output contains a secret or token (%.6s…)", formatter, s)
			}
			for _, err := range errs {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q contains a secret or token", err)
				}
			}
		}
		var ae *AuthError
		if !errors.As(errs[0], &ae) || !errors.As(errs[1], &ae) {
			t.Errorf("refusals: %v; %v", errs[0], errs[1])
		}
	}
}

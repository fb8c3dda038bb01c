package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	neturl "net/url"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/http/cxone"
	"github.com/cxsms/cxsms/http/cxone/fakecxone"
)

// webhookPath is where CXone posts status reports.
const webhookPath = "/webhooks/cxone/sms"

// cxoneSettings are the variables that say where CXone is and how to reach
// it (README, Configuration). Any of them set means the operator meant this
// service to talk to CXone.
var cxoneSettings = []string{
	"CXONE_ISSUER", "CXONE_TOKEN_URL", "CXONE_DOMAIN", "CXONE_API_URL", "CXONE_GRANT",
	"CXONE_CLIENT_ID", "CXONE_CLIENT_SECRET", "CXONE_ACCESS_KEY_ID", "CXONE_ACCESS_KEY_SECRET",
	"CXONE_ALLOW_LOCALHOST", "CXONE_WEBHOOK_NAME",
}

// cxoneSettingsSet returns the names (never the values: some are secrets)
// of the CXone variables that are set, in cxoneSettings' order.
func cxoneSettingsSet(getenv func(string) string) []string {
	var set []string
	for _, k := range cxoneSettings {
		if strings.TrimSpace(getenv(k)) != "" {
			set = append(set, k)
		}
	}
	return set
}

// registerWebhook creates or updates the CXone subscription; running it
// twice changes nothing, and runs at the same time leave one subscription.
func registerWebhook(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("register-webhook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	callback := fs.String("callback", "", "callback URL (default: $PUBLIC_URL"+webhookPath+")")
	allowLocal := fs.Bool("allow-localhost", false, "allow a localhost callback (only for a fake CXone)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := headerSafe("WEBHOOK_SECRET", cfg.WebhookSecret); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	url := *callback
	if url == "" {
		if cfg.PublicURL == "" {
			return fmt.Errorf("give --callback URL or set PUBLIC_URL to this service's public address")
		}
		url = callbackURL(cfg.PublicURL)
	} else if u, err := neturl.Parse(url); err == nil && !strings.HasSuffix(strings.ToLower(strings.TrimRight(u.Path, "/")), webhookPath) {
		log.WithField("callback", redactURL(url)).Warn("the callback's path is not " + webhookPath + ", where this service takes reports: it reaches the service only through a proxy that rewrites the path")
	}
	warnUnsignedSubscription(cfg, log)
	res, err := ensureWebhook(ctx, cfg, log, url, *allowLocal)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "webhook %s: %s", res.ID, res.Action)
	if len(res.Changed) > 0 {
		fmt.Fprintf(stdout, " (%s)", strings.Join(res.Changed, ", "))
	}
	fmt.Fprintf(stdout, " -> %s\n", redactURL(url))
	if len(res.Removed) > 0 {
		fmt.Fprintf(stdout, "removed copies: %s\n", strings.Join(res.Removed, ", "))
	}
	return nil
}

// callbackURL is where CXone is to post reports: PUBLIC_URL and
// webhookPath. A PUBLIC_URL that already ends in the path (the tutorial's
// registration takes the whole callback URL) is the callback: the path
// doubled, every delivery was a 404, and nothing said so.
func callbackURL(publicURL string) string {
	base := strings.TrimRight(publicURL, "/")
	if strings.HasSuffix(strings.ToLower(base), webhookPath) {
		return base
	}
	return base + webhookPath
}

// warnUnsignedSubscription says, where a subscription is kept, that it asks
// CXone for X-Webhook-Secret only while the service also requires a
// signature: every delivery that nobody signs on the way is a 401, and
// nothing said so until the first refusals.
func warnUnsignedSubscription(cfg config, log logrus.FieldLogger) {
	if strings.TrimSpace(cfg.SigningSecret) != "" {
		log.Warn("WEBHOOK_SIGNING_SECRET is set, so every delivery must carry a Standard Webhooks signature, but the CXone subscription asks for X-Webhook-Secret only: " +
			"unless something signs CXone's deliveries on their way here, each is refused with 401")
	}
}

func ensureWebhook(ctx context.Context, cfg config, log logrus.FieldLogger, url string, allowLocal bool, opts ...cxone.Option) (cxone.WebhookResult, error) {
	ccfg, err := cxone.ConfigFromEnv(cfg.getenv)
	if err != nil {
		return cxone.WebhookResult{}, err
	}
	opts = append(opts, cxone.WithLogger(log))
	// Environments sharing a CXone tenant need a subscription name each.
	if name := cfg.getenv("CXONE_WEBHOOK_NAME"); name != "" {
		opts = append(opts, cxone.WithWebhookName(name))
	}
	if allowLocal {
		opts = append(opts, cxone.AllowLocalhost())
	}
	return cxone.New(ccfg, opts...).EnsureWebhook(ctx, url)
}

// fakeCXone serves a fake CXone for demos and tests; with --burst it waits
// for a subscription and then delivers a burst of reports to it.
func fakeCXone(ctx context.Context, cfg config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fake-cxone", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	burst := fs.Int("burst", 0, "after a subscription appears, report on this many messages")
	lifecycle := fs.Bool("lifecycle", true, "send QUEUED, SENT and a terminal report per message")
	failEvery := fs.Int("fail-every", 7, "every n-th message ends in a failure")
	listDelay := fs.Duration("list-delay", 0, "answer each listing of the subscriptions this much later, as a slow CXone would")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	srv, err := fakecxone.Listen(*addr, fakecxone.Options{
		ClientID:     cfg.getenv("CXONE_CLIENT_ID"),
		ClientSecret: cfg.getenv("CXONE_CLIENT_SECRET"),
		Logger:       log,
		ListDelay:    *listDelay,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(stdout, "fake CXone on %s (issuer %s)\n", srv.URL(), srv.URL())
	if *burst > 0 {
		for len(srv.Subscriptions()) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
		}
		start := time.Now()
		res, err := srv.SendBurst(ctx, fakecxone.BurstConfig{Messages: *burst, Lifecycle: *lifecycle, FailEvery: *failEvery})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "burst: %d reports on %d messages, %d acknowledged, %d redelivered, in %v\n",
			len(res.Reports), *burst, res.Acknowledged(), res.Redelivered(), time.Since(start).Round(time.Millisecond))
	}
	<-ctx.Done()
	return nil
}

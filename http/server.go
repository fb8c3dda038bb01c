package http

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/domain"
	"github.com/cxsms/cxsms/eventstore"
)

// appender stores reports and says which were duplicates, only once committed.
type appender interface {
	Append(ctx context.Context, events []domain.StatusReceived) ([]eventstore.AppendResult, error)
}

// historian reads one message's events from the log.
type historian interface {
	History(ctx context.Context, messageID string) ([]eventstore.Recorded, error)
}

// readiness says whether the store can serve.
type readiness interface {
	Ready(ctx context.Context) error
}

// Config is what the HTTP layer needs to know.
type Config struct {
	WebhookSecret string
	// SigningSecret enables Standard Webhooks signature checks when set.
	SigningSecret string
	// MaxBodyBytes bounds a webhook body; larger ones get 413.
	MaxBodyBytes     int64
	AdminToken       string
	SimulatorEnabled bool
	// PublicURL is this service's public address, if it has one: its host
	// is one of the names POST /simulator/sms answers to.
	PublicURL string
	// SimulatorHosts are more names POST /simulator/sms answers to, beside
	// localhost, IP addresses and PublicURL's host (see
	// simulatorHostAllowed).
	SimulatorHosts []string
	// ReadTimeout bounds a read's wait for the database (default 10 s).
	ReadTimeout time.Duration
	// RebuildWait is how long a rebuild request waits for the rebuild
	// before it answers 202 (default 5 s): long enough for a small log,
	// short of proxies' and clients' timeouts (a 1-million-event log held
	// the request 20 s).
	RebuildWait time.Duration
}

// Deps are the things the handlers call.
type Deps struct {
	Log   *logrus.Logger
	Store interface {
		appender
		historian
		readiness
	}
	Reads   readModels
	Admin   projectionAdmin
	Metrics *Metrics
	// MetricsHandler serves /metrics.
	MetricsHandler http.Handler
}

// Server holds the handlers' dependencies.
type Server struct {
	cfg   Config
	keys  signingKeys
	log   *logrus.Logger
	store interface {
		appender
		historian
		readiness
	}
	reads          readModels
	admin          projectionAdmin
	metrics        *Metrics
	metricsHandler http.Handler
	// storeRefusals spaces out the log lines of webhooks refused because
	// the store could not commit.
	storeRefusals throttle
	// authRefusals does the same for webhooks refused with 401.
	authRefusals throttle
	// badRefusals does the same for webhooks refused as malformed or too
	// large (400, 413, 415).
	badRefusals throttle
}

// NewServer returns the whole API as one handler.
func NewServer(cfg Config, deps Deps) (http.Handler, error) {
	// An empty secret would match a request that sends none.
	if cfg.WebhookSecret == "" {
		return nil, errors.New("http: WebhookSecret is empty: webhooks could not be told from forgeries")
	}
	keys, err := parseSigningKeys(cfg.SigningSecret)
	if err != nil {
		return nil, err
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.RebuildWait <= 0 {
		cfg.RebuildWait = 5 * time.Second
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	s := &Server{cfg: cfg, keys: keys, log: deps.Log, store: deps.Store, reads: deps.Reads, admin: deps.Admin, metrics: deps.Metrics, metricsHandler: deps.MetricsHandler}
	return normalizePath(lenientPath(s.routes())), nil
}

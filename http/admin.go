package http

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/cxsms/cxsms/eventstore"
	"github.com/cxsms/cxsms/projections"
)

// projectionAdmin runs and reports on the projections.
type projectionAdmin interface {
	States(ctx context.Context) ([]projections.State, error)
	Rebuild(ctx context.Context, name string, progress func(projections.Progress)) (projections.RebuildResult, error)
	RebuildWarning(ctx context.Context, name string) (string, error)
	DeadLetters(ctx context.Context) ([]projections.DeadLetter, error)
	ReplayDeadLetter(ctx context.Context, id int64) (projections.DeadLetter, error)
}

// requireAdmin guards operator routes with Authorization: Bearer $ADMIN_TOKEN.
// Without a configured token the routes stay shut rather than open.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		if s.cfg.AdminToken == "" {
			return errorf(http.StatusUnauthorized, "admin routes are disabled: set ADMIN_TOKEN")
		}
		// The scheme in any case (RFC 9110 §11.1): some clients send "bearer".
		scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		token = strings.TrimSpace(token) // "Bearer  adm": the token is trimmed too (ADMIN_TOKEN)
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.AdminToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="cxsms admin"`)
			return errorf(http.StatusUnauthorized, "missing or wrong bearer token")
		}
		next.ServeHTTP(w, r)
		return nil
	})
}

type projectionsAnswer struct {
	RulesVersion string              `json:"rulesVersion"`
	Projections  []projections.State `json:"projections"`
}

func (s *Server) handleProjections(w http.ResponseWriter, r *http.Request) error {
	st, err := s.admin.States(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, projectionsAnswer{RulesVersion: s.reads.Rules().Version, Projections: st})
	return nil
}

type rebuildAnswer struct {
	Status      string   `json:"status"` // done, running
	Projections []string `json:"projections,omitempty"`
	Events      int64    `json:"events"`
	Messages    int      `json:"messages"`
	TookMs      int64    `json:"tookMs"`
	Rate        float64  `json:"eventsPerSecond"`
	// RulesVersion is the rules the rebuild judges the log under: this
	// process's, which need not be another's behind the same balancer.
	RulesVersion string `json:"rulesVersion"`
	// Warning says when the read models held other rules before: every
	// process projecting them under those stops until it runs these.
	Warning string `json:"warning,omitempty"`
}

// handleRebuild starts a rebuild and waits a while for it: a small log is
// rebuilt within the request (200), a big one goes on in the background
// (202; GET /admin/projections shows it), and reads go on throughout.
func (s *Server) handleRebuild(w http.ResponseWriter, r *http.Request) error {
	name := pathVar(r, "name")
	version := s.reads.Rules().Version
	warning, err := s.admin.RebuildWarning(r.Context(), name)
	if err != nil {
		return err
	}
	log := loggerFrom(r.Context()).WithFields(logrus.Fields{"projection": name, "rules_version": version})
	done := make(chan error, 1)
	var res projections.RebuildResult
	var read atomic.Int64 // events read so far, for a 202
	start := time.Now()
	go func() {
		var err error
		// Not the request's context: closing the connection must not
		// abandon a rebuild half way.
		res, err = s.admin.Rebuild(context.WithoutCancel(r.Context()), name, func(p projections.Progress) {
			s.metrics.RebuildProgress(p.Name, p.Read, p.Total)
			read.Store(p.Read)
		})
		switch {
		case err == nil:
			log.WithFields(logrus.Fields{"events": res.Events, "took": res.Took.Round(time.Millisecond).String()}).Info("rebuilt")
		case !errors.Is(err, projections.ErrRebuildRunning) && !errors.Is(err, projections.ErrUnknownProjection):
			log.WithError(err).Error("rebuild failed")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return err
		}
		if warning != "" {
			log.Warn(warning)
		}
		writeJSON(w, http.StatusOK, rebuildAnswer{Status: "done", Projections: res.Projections, Events: res.Events,
			Messages: res.Messages, TookMs: res.Took.Milliseconds(), Rate: res.Rate, RulesVersion: version, Warning: warning})
	case <-time.After(s.cfg.RebuildWait):
		log.Info("rebuild goes on in the background")
		if warning != "" {
			log.Warn(warning)
		}
		// What it has done so far: the answer said 0 events after 20 s.
		took := time.Since(start)
		n := read.Load()
		writeJSON(w, http.StatusAccepted, rebuildAnswer{Status: "running", Events: n, TookMs: took.Milliseconds(),
			Rate: float64(n) / took.Seconds(), RulesVersion: version, Warning: warning})
	}
	return nil
}

type deadLettersAnswer struct {
	DeadLetters []projections.DeadLetter `json:"deadLetters"`
}

func (s *Server) handleDeadLetters(w http.ResponseWriter, r *http.Request) error {
	ds, err := s.admin.DeadLetters(r.Context())
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []projections.DeadLetter{}
	}
	writeJSON(w, http.StatusOK, deadLettersAnswer{DeadLetters: ds})
	return nil
}

func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) error {
	// Digits only, as documented: ParseInt took "+1" and "-1" (a 404),
	// and refused a number past int64, which can be no dead letter's (a 404).
	raw := pathVar(r, "id")
	if raw == "" || strings.Trim(raw, "0123456789") != "" {
		return errorf(http.StatusBadRequest, "dead letter id must be a number")
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return errorf(http.StatusNotFound, "no dead letter "+quote(raw))
	}
	d, err := s.admin.ReplayDeadLetter(r.Context(), id)
	if errors.Is(err, eventstore.ErrNotFound) {
		// As for an id past int64: one wording for one answer.
		return errorf(http.StatusNotFound, "no dead letter "+quote(raw))
	}
	if err != nil {
		return err
	}
	loggerFrom(r.Context()).WithFields(logrus.Fields{"dead_letter": d.ID, "projection": d.Projection,
		"message_id": d.MessageID, "event_id": d.EventID}).Info("dead letter replayed")
	writeJSON(w, http.StatusOK, d)
	return nil
}

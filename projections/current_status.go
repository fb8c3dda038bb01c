package projections

import (
	"github.com/jackc/pgx/v5"

	"github.com/cxsms/cxsms/domain"
)

// currentStatus keeps one row per message: the fold of its reports under the
// never-regress rules of domain.Message.Apply.
type currentStatus struct{}

func (currentStatus) Name() string     { return "current_status.v1" }
func (currentStatus) Tables() []string { return []string{"current_status"} }

func (currentStatus) StateTable() string { return "current_status" }

// NewDelta has nothing to add: the state row is the read model.
func (currentStatus) NewDelta() delta { return noDelta{} }

type noDelta struct{}

func (noDelta) Add(Event, domain.Message, bool, domain.Message) {}
func (noDelta) Queue(*pgx.Batch)                                {}

func (currentStatus) NewRebuild() rebuild { return currentStatusRebuild{} }

type currentStatusRebuild struct{}

func (currentStatusRebuild) Add(Event, *domain.Message) {}

// Rows has nothing to add: the state table is the read model.
func (currentStatusRebuild) Rows(*messageFold) []tableRows { return nil }

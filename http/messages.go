package http

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gorilla/mux"
)

type historyEvent struct {
	EventID     string          `json:"eventId"`
	Status      string          `json:"status"`
	RawStatus   string          `json:"rawStatus"`
	CarrierCode string          `json:"carrierCode,omitempty"`
	ErrorCode   string          `json:"errorCode,omitempty"`
	Format      string          `json:"format"`
	OccurredAt  time.Time       `json:"occurredAt"`
	ReceivedAt  time.Time       `json:"receivedAt"`
	Payload     json.RawMessage `json:"payload"`
}

type historyAnswer struct {
	MessageID string         `json:"messageId"`
	Events    []historyEvent `json:"events"`
}

// handleHistory answers a message's audit trail from the log itself.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) error {
	id := mux.Vars(r)["id"]
	recs, err := s.store.History(r.Context(), id)
	if err != nil {
		return err
	}
	out := historyAnswer{MessageID: id, Events: make([]historyEvent, len(recs))}
	for i, e := range recs {
		out.Events[i] = historyEvent{
			EventID: e.EventID, Status: string(e.Status), RawStatus: e.RawStatus,
			CarrierCode: e.CarrierCode, ErrorCode: e.ErrorCode, Format: string(e.Format),
			OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt, Payload: e.Raw,
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

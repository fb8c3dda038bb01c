package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/cxsms/cxsms/eventstore"
)

// historyEvent is one event of the audit trail; its payload is written
// separately, byte for byte as it was received (encoding/json would compact
// and re-escape a json.RawMessage).
type historyEvent struct {
	EventID     string    `json:"eventId"`
	Status      string    `json:"status"`
	RawStatus   string    `json:"rawStatus"`
	CarrierCode string    `json:"carrierCode,omitempty"`
	ErrorCode   string    `json:"errorCode,omitempty"`
	Format      string    `json:"format"`
	OccurredAt  time.Time `json:"occurredAt"`
	ReceivedAt  time.Time `json:"receivedAt"`
}

// handleHistory answers a message's audit trail from the log itself:
// {"messageId","events":[{..., "payload": <the report as received>}]}.
func (s *Server) handleHistory(w http.ResponseWriter, r *http.Request) error {
	id := pathVar(r, "id")
	recs, err := s.store.History(r.Context(), id)
	if errors.Is(err, eventstore.ErrNotFound) {
		return errorf(http.StatusNotFound, "no events for message "+quote(id))
	}
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	buf.WriteString(`{"messageId":`)
	if err := enc.Encode(id); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	buf.WriteString(`,"events":[`)
	for i, e := range recs {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := enc.Encode(historyEvent{
			EventID: e.EventID, Status: string(e.Status), RawStatus: e.RawStatus,
			CarrierCode: e.CarrierCode, ErrorCode: e.ErrorCode, Format: string(e.Format),
			OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt,
		}); err != nil {
			return err
		}
		buf.Truncate(buf.Len() - 2) // "}\n": the payload goes inside
		buf.WriteString(`,"payload":`)
		buf.Write(e.Raw)
		buf.WriteByte('}')
	}
	buf.WriteString("]}\n")
	writeJSONBytes(w, http.StatusOK, buf.Bytes())
	return nil
}

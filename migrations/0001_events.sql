-- The event log: one row per CXone delivery report, never updated or deleted.
-- Every read model is a projection of this table and can be rebuilt from it.
CREATE TABLE events (
    -- Log order is (transaction_id, "offset"), as watermill-sql reads a topic:
    -- a reader only takes rows of transactions older than every transaction
    -- still open, so a row that commits out of sequence order is never skipped.
    "offset"       bigserial   NOT NULL,
    transaction_id xid8        NOT NULL DEFAULT pg_current_xact_id(),
    message_id     text        NOT NULL CHECK (message_id <> ''),
    -- CXone's event ID, or a SHA-256 of the report's content when it has none,
    -- so an identical redelivery hits the unique key below.
    event_id       text        NOT NULL CHECK (event_id <> ''),
    status         text        NOT NULL CHECK (status IN ('QUEUED','PENDING','SENT','DELIVERED','UNDELIVERED','FAILED','REJECTED','EXPIRED','DELETED','UNKNOWN')),
    -- The status exactly as the report spelled it (DELIVRD, message_state 2, ...).
    raw_status     text        NOT NULL DEFAULT '',
    carrier_code   text        NOT NULL DEFAULT '',
    error_code     text        NOT NULL DEFAULT '',
    sender_id      text        NOT NULL DEFAULT '',
    recipient      text        NOT NULL DEFAULT '',
    -- Price per the report, when it carried one; projections fall back on the rate card.
    price          numeric(18,6),
    currency       text        NOT NULL DEFAULT '',
    -- json, smpp_json or smpp_receipt: which shape the report arrived in.
    format         text        NOT NULL DEFAULT 'json',
    -- The carrier's time for the status; received_at when the report has none we can read.
    occurred_at    timestamptz NOT NULL,
    -- When this service accepted the report (before the commit that made it durable).
    received_at    timestamptz NOT NULL,
    -- The report as received. json, not jsonb: json keeps the text byte for
    -- byte (key order, spacing, \u0000 escapes) where jsonb would rewrite it.
    raw            json        NOT NULL,
    PRIMARY KEY (transaction_id, "offset"),
    CONSTRAINT events_idempotency UNIQUE (message_id, event_id)
);

COMMENT ON TABLE events IS 'Append-only log of CXone SMS status reports (StatusReceived). UPDATE, DELETE and TRUNCATE are refused by triggers.';

-- The database itself keeps the log immutable, so not even a bug of ours can
-- rewrite history.
CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

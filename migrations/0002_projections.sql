-- Read models. Every table here is a projection of events and can be dropped
-- and rebuilt from it (`cxsms rebuild all`); none holds a fact of its own,
-- except sla_ingest, which measures this service and is kept across rebuilds.

-- Where each projection's consumer group has read the log to, in watermill-sql's
-- offsets shape. A projection's read-model writes commit in the same
-- transaction as its row here, so no event is counted twice or missed.
CREATE TABLE projection_offsets (
    consumer_group                varchar(255) PRIMARY KEY,
    offset_acked                  bigint,
    last_processed_transaction_id xid8 NOT NULL
);

-- What an operator needs to know about each projection besides its position.
CREATE TABLE projection_status (
    name          text PRIMARY KEY,
    rules_version text NOT NULL DEFAULT '',
    rebuilt_at    timestamptz,
    -- events/s of the last rebuild, and how many events it read
    rebuild_rate  double precision,
    rebuild_events bigint,
    last_error    text NOT NULL DEFAULT '',
    last_error_at timestamptz
);

-- Events a projection could not apply after its retries; the projection moved
-- on. Replaying one applies it again (POST /admin/dead-letters/{id}/replay).
CREATE TABLE dead_letters (
    id             bigserial PRIMARY KEY,
    projection     text NOT NULL,
    transaction_id xid8 NOT NULL,
    "offset"       bigint NOT NULL,
    message_id     text NOT NULL,
    event_id       text NOT NULL,
    error          text NOT NULL,
    failed_at      timestamptz NOT NULL DEFAULT now(),
    replayed_at    timestamptz,
    UNIQUE (projection, transaction_id, "offset")
);

-- current_status: one row per message, the fold of its reports
-- (domain.Message). The per-message state of the other projections has the
-- same shape, so one piece of code reads and writes all of them.
CREATE TABLE current_status (
    message_id       text PRIMARY KEY,
    status           text NOT NULL,
    raw_status       text NOT NULL,
    carrier_code     text NOT NULL,
    error_code       text NOT NULL,
    sender_id        text NOT NULL,
    recipient        text NOT NULL,
    -- ISO country from the recipient's E.164 calling code, or UNKNOWN
    region           text NOT NULL,
    price            numeric(18,6),
    currency         text NOT NULL,
    -- carrier time of the report that set status
    updated_at       timestamptz NOT NULL,
    first_at         timestamptz NOT NULL,
    -- first QUEUED/PENDING/SENT report: where delivery latency starts
    sent_at          timestamptz,
    -- the terminal report that set status
    terminal_at      timestamptz,
    last_received_at timestamptz NOT NULL,
    event_count      integer NOT NULL
);

-- carrier_costs keeps its own per-message state, because a message counts
-- once, under its current status, and moves between delivered/failed/pending
-- as its reports arrive.
CREATE TABLE carrier_cost_messages (LIKE current_status INCLUDING ALL);

-- Per carrier, recipient region, day (of the message's first report) and
-- currency. Costs are in currency units with six decimals.
CREATE TABLE carrier_costs (
    carrier   text NOT NULL,
    region    text NOT NULL,
    day       date NOT NULL,
    currency  text NOT NULL,
    total     bigint NOT NULL DEFAULT 0,
    delivered bigint NOT NULL DEFAULT 0,
    -- every terminal status but DELIVERED
    failed    bigint NOT NULL DEFAULT 0,
    pending   bigint NOT NULL DEFAULT 0,
    cost      numeric(20,6) NOT NULL DEFAULT 0,
    -- cost of the failed messages: money spent for nothing
    wasted    numeric(20,6) NOT NULL DEFAULT 0,
    -- messages whose cost came from the rate card rather than the report
    estimated bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (carrier, region, day, currency)
);

-- sla_latency's per-message state (delivery latency needs the first SENT and
-- the terminal report of a message).
CREATE TABLE sla_messages (LIKE current_status INCLUDING ALL);

-- Delivery latency (first QUEUED/SENT report to terminal report, carrier
-- time) as fixed-bucket histograms per carrier and minute of the terminal
-- report. Buckets are domain.LatencyBuckets; any set of windows adds up to a
-- true histogram, so p50/p90/p99 over any range are exact to a bucket.
CREATE TABLE sla_delivery (
    carrier text NOT NULL,
    minute  timestamptz NOT NULL,
    bucket  smallint NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (carrier, minute, bucket)
);

-- Reports accepted per carrier and minute (by received_at).
CREATE TABLE sla_throughput (
    carrier text NOT NULL,
    minute  timestamptz NOT NULL,
    events  bigint NOT NULL,
    PRIMARY KEY (carrier, minute)
);

-- Ingest latency: from accepting a report to its projection, per minute.
-- A measurement of this service, not a fact of the log: a rebuild keeps it.
CREATE TABLE sla_ingest (
    carrier text NOT NULL,
    minute  timestamptz NOT NULL,
    bucket  smallint NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (carrier, minute, bucket)
);

-- sender_compliance: per-message state, and the violations it finds under
-- the active rules. Reports are never refused for their sender; they are
-- judged here, at projection time.
CREATE TABLE compliance_messages (LIKE current_status INCLUDING ALL);

CREATE TABLE sender_violations (
    sender_id  text NOT NULL,
    region     text NOT NULL,
    -- the machine name of the rule that failed (domain/rules Rule* constants)
    rule       text NOT NULL,
    -- the plain-language reason, as the rules put it
    reason     text NOT NULL,
    -- messages sent with this sender ID to this region that broke this rule
    count      bigint NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    PRIMARY KEY (sender_id, region, rule)
);

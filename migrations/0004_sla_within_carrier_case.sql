-- Deliveries within the rules' SLA threshold, counted exactly as each
-- message is projected (the threshold is a projection-time rule, like the
-- rate card): read from the histogram alone, the bucket the threshold falls
-- in could only be estimated, and twenty deliveries of 58 s against a 60 s
-- threshold read as 28 % compliant.
ALTER TABLE sla_delivery ADD COLUMN within bigint NOT NULL DEFAULT 0;

-- Rows written before have no such count. Mark the projection as judged
-- under no rules version: the projector rebuilds it when it starts, as after
-- a rules change.
UPDATE projection_status SET rules_version = '' WHERE name = 'sla_latency.v1';

-- Carriers count under their code in upper case ("Orange" and "ORANGE" are
-- one carrier, as the rate card already reads them): carrier_costs was
-- built with codes as reports spelled them, so it is rebuilt too.
UPDATE projection_status SET rules_version = '' WHERE name = 'carrier_costs.v1';

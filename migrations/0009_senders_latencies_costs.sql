-- sender_violations had a row per spelling
-- of a sender: "+1 (800) 123-4567" and "+18001234567" (or " ACME" padded
-- by a gateway and "ACME") were two rows, though judged as one sender. A
-- violation is now counted under the sender's one spelling (a number
-- without its separators, any sender without padding). The SLA
-- histograms' buckets now reach 90 days, not two: sla_delivery and
-- sla_ingest rows built before hold everything past two days in what is
-- now an ordinary bucket's index. A projector
-- rebuilds every read model built before schema 9 when it starts (see
-- 0007), and this migration's number is what tells it so.

-- A carrier's costs of a day had room for 10^14: past it, its reports
-- were dead-lettered ("numeric field overflow"). Sums are as wide as
-- PostgreSQL's numeric; one price stays numeric(18,6).
ALTER TABLE carrier_costs ALTER COLUMN cost TYPE numeric, ALTER COLUMN wasted TYPE numeric;

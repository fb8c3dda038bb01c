-- Nothing in the schema changes. sender_violations had a row per spelling
-- of a sender: "+1 (800) 123-4567" and "+18001234567" (or " ACME" padded
-- by a gateway and "ACME") were two rows, though judged as one sender. A
-- violation is now counted under the sender's one spelling (a number
-- without its separators, any sender without padding). A projector
-- rebuilds every read model built before schema 9 when it starts (see
-- 0007), and this migration's number is what tells it so.
SELECT 1;

-- Nothing in the schema changes. A sender number written with separators
-- ("+1 (202) 555-0100", "+44 7700 900123") used to be judged
-- sender_format_unknown, where the same number as a recipient had its
-- country; it is now read as a recipient is. sender_compliance read models
-- built before hold those false violations: a projector rebuilds every read
-- model built before schema 8 when it starts (see 0007), and this
-- migration's number is what tells it so.
SELECT 1;

-- Nothing in the schema changes. A sender number written with separators
-- ("+1 (202) 555-0100", "+44 7700 900123") used to be judged
-- sender_format_unknown, where the same number as a recipient had its
-- country; it is now read as a recipient is. A NANP toll-free sender with an
-- exchange no number has (+1 800 123 4567) was "not a +1 number"
-- (toll_free_not_domestic); it is toll_free_invalid. sender_compliance read models
-- built before hold those verdicts: a projector rebuilds every read
-- model built before schema 8 when it starts (see 0007), and this
-- migration's number is what tells it so.
SELECT 1;

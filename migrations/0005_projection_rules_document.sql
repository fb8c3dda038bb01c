-- The rules a read model was judged under, whole: a rules file edited
-- without a new version is other rules all the same, so the projector
-- compares documents, not only versions; and a reader judges what it
-- computes when asked (a carrier's recommendation, the SLA threshold) under
-- the rules the read model was built with, which need not be its own
-- process's. NULL for read models recorded before: their version alone says.
ALTER TABLE projection_status ADD COLUMN rules_document text;

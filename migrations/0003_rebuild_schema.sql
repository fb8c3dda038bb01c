-- A rebuild writes its shadow tables here, under the names of the live
-- tables they replace, and moves them into public when it swaps them in
-- (projections.Rebuild). Only a rebuild in progress, or one that failed and
-- has not been retried, leaves tables in it.
CREATE SCHEMA rebuild;

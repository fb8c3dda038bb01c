-- The region of a recipient (read from its E.164 calling code) used to be
-- known for 62 countries and +1/+7; every other country's numbers counted
-- under UNKNOWN (Slovakia, Luxembourg, Iceland, ...). Every calling code is
-- known now, so read models built before hold the wrong region for those
-- messages (current_status, carrier_costs, sender_compliance, and the
-- per-message state of all four). Mark every projection as judged under no
-- rules version: the projector rebuilds them when it starts.
UPDATE projection_status SET rules_version = '';

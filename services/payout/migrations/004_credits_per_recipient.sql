-- A gift split between several creators (GiftSent v2) credits each of them from one source
-- event: a credit is one (source event, creator), which is also what makes it happen once.
ALTER TABLE credits DROP CONSTRAINT credits_pkey;
ALTER TABLE credits ADD PRIMARY KEY (source_event_id, creator_id);

-- A live event's tickets credit its creator at the start (LiveEventStarted): a credit of the
-- source 'ticket', one per event (its source_id is the live event's id). 'subscription' is the
-- source of subscription revenue (payout migration 005): each migration that widens this list
-- names every source, so they apply in either order.
ALTER TABLE credits DROP CONSTRAINT IF EXISTS credits_source_check;
ALTER TABLE credits ADD CONSTRAINT credits_source_check
    CHECK (source IN ('gift', 'unlock', 'subscription', 'ticket'));

-- A partner's revenue share of each PartnerCoinsDebited (services/payout/partners.py): a credit
-- of the source 'partner', one per debit event (its source_id is the operation's id), to the
-- partner's account as creator_id, so it withdraws through the creators' payout flow. As 006
-- says, each migration that widens this list names every source.
ALTER TABLE credits DROP CONSTRAINT IF EXISTS credits_source_check;
ALTER TABLE credits ADD CONSTRAINT credits_source_check
    CHECK (source IN ('gift', 'unlock', 'subscription', 'ticket', 'partner'));

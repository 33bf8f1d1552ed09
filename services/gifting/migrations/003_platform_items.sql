-- Platform items are marked by a flag and have no owner, so no user id (not even one spelled
-- 'platform') can own, re-price or earn from them. Items listed under the old sentinel owner
-- 'platform' were the platform's: they become platform items.
ALTER TABLE items ADD COLUMN platform boolean NOT NULL DEFAULT false;
ALTER TABLE items ALTER COLUMN owner_id DROP NOT NULL;
UPDATE items SET platform = true, owner_id = NULL WHERE owner_id = 'platform';
ALTER TABLE items ADD CONSTRAINT items_owner_or_platform CHECK (platform = (owner_id IS NULL));

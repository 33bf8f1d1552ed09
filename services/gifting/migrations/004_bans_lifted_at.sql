-- The bans copy has the same shape in every service that enforces bans (eventkit/bans.py):
-- when a ban was lifted, not only whether.
ALTER TABLE bans ADD COLUMN lifted_at timestamptz;
UPDATE bans SET lifted_at = now() WHERE lifted;
DROP INDEX bans_user;
ALTER TABLE bans DROP COLUMN lifted;
ALTER TABLE bans ALTER COLUMN scopes SET DEFAULT '{}';
CREATE INDEX bans_user ON bans (user_id) WHERE lifted_at IS NULL;

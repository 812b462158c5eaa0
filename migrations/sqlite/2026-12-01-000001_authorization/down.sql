ALTER TABLE throttle_counters DROP COLUMN pending_until;
ALTER TABLE throttle_counters DROP COLUMN pending;
UPDATE personal_access_tokens SET scope = 'openid profile email address';
DROP TABLE principal_ids;

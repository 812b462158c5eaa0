-- Indexes for housekeeping (each rule finds its next batch by age instead of reading the
-- table) and for the revocation poll (every node, every 2 s: entries since a time).
-- refresh_tokens.used_at and revoked_at are left unindexed on purpose: a rotation sets
-- used_at, and an index on it would make PostgreSQL's hottest write (the rotation) a non-HOT
-- update (14 % fewer rotations a second and 1.5x the WAL in pgbench, docs/capacity.md). Their
-- rules scan with a LIMIT instead, once per pass.
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX grants_updated_idx ON grants (updated_at);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX revocations_expires_idx ON revocations (expires_at);
CREATE INDEX revocations_created_idx ON revocations (created_at);
CREATE INDEX throttle_counters_window_idx ON throttle_counters (window_start);
CREATE INDEX throttle_places_expires_idx ON throttle_places (expires_at);
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);
CREATE INDEX one_time_tokens_used_idx ON one_time_tokens (used_at);

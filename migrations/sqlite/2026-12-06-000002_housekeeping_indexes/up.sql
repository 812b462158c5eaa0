-- Indexes for housekeeping: each rule finds its next batch by age, without reading the table.
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_used_idx ON refresh_tokens (used_at);
CREATE INDEX refresh_tokens_revoked_idx ON refresh_tokens (revoked_at);
CREATE INDEX grants_updated_idx ON grants (updated_at);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX revocations_expires_idx ON revocations (expires_at);
CREATE INDEX throttle_counters_window_idx ON throttle_counters (window_start);
CREATE INDEX throttle_places_expires_idx ON throttle_places (expires_at);
CREATE INDEX one_time_tokens_expires_idx ON one_time_tokens (expires_at);
CREATE INDEX one_time_tokens_used_idx ON one_time_tokens (used_at);

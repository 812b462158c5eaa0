-- Back-channel logout (OpenID Connect Back-Channel Logout 1.0, issue 19): the logout tokens
-- waiting to be delivered to relying parties when a session ends, a durable queue shared by
-- every node (claimed with a lease, retried with backoff), like the email outbox. The row id is
-- the token's jti, the same on every attempt.
CREATE TABLE backchannel_logouts (
    id TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    sub TEXT NOT NULL,
    sid TEXT,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    delivered_at TIMESTAMP,
    failed_at TIMESTAMP
);
CREATE INDEX backchannel_logouts_due_idx ON backchannel_logouts (next_attempt_at);

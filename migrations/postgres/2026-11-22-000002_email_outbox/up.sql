-- Outgoing email waiting for (or retrying) SMTP delivery. Any node's worker may send a row;
-- a lease (next_attempt_at) keeps two nodes from sending the same one. Sent rows are kept for
-- a while for operators; failed ones keep their last error.
CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,                -- verify_email, reset_password, ...
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      TIMESTAMP NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    sent_at         TIMESTAMP,
    failed_at       TIMESTAMP                     -- gave up after the last retry
);
CREATE INDEX email_outbox_due_idx ON email_outbox (sent_at, failed_at, next_attempt_at);

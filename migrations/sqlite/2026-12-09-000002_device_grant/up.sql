-- The device authorization grant (RFC 8628, issue 19): a device's pending authorization,
-- behind the hashes of its device code (polled with) and its user code (typed by a person
-- at /device), until the person approves or denies it and the device collects its tokens.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY NOT NULL,
    user_code_hash TEXT NOT NULL UNIQUE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    audience TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
    session_id TEXT,
    auth_time TIMESTAMP,
    amr TEXT,
    poll_interval INTEGER NOT NULL,
    last_polled_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX device_codes_client_idx ON device_codes (client_id, expires_at);
CREATE INDEX device_codes_expires_idx ON device_codes (expires_at);

-- Modern clients (issue 18). Dynamic registration (RFC 7591/7592): a client made through
-- /register is marked `dynamic` and holds the hash of its registration access token; admins
-- hand out initial access tokens (hashed, limited uses, expiring). Client JWTs (RFC 7523): the
-- `jti` of every accepted client assertion, kept until the assertion expires, so each is used
-- once across nodes. Pushed authorization requests (RFC 9126): the parameters behind a
-- request_uri (hashed), single use, short-lived until a browser starts with it.
ALTER TABLE clients ADD COLUMN dynamic BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
CREATE TABLE initial_access_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    uses_left INTEGER NOT NULL,
    note TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX initial_access_tokens_expires_idx ON initial_access_tokens (expires_at);
CREATE TABLE client_assertions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX client_assertions_expires_idx ON client_assertions (expires_at);
CREATE TABLE pushed_requests (
    id_hash TEXT PRIMARY KEY NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    params TEXT NOT NULL,
    pushed BOOLEAN NOT NULL,
    signed BOOLEAN NOT NULL,
    started_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX pushed_requests_expires_idx ON pushed_requests (expires_at);
CREATE INDEX pushed_requests_client_idx ON pushed_requests (client_id, expires_at);

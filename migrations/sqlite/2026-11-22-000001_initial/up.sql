-- Portcullis: the whole identity model of SPEC §2.
-- Times are UTC TIMESTAMP columns; ids, JSON and lists are TEXT; secrets are stored only as
-- hashes (or encrypted, for signing keys and HMAC-checked CloudTrax secrets).

CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    username            TEXT,
    username_key        TEXT UNIQUE,              -- lowercased username, for case-insensitive uniqueness
    email               TEXT NOT NULL,
    email_key           TEXT NOT NULL UNIQUE,     -- lowercased email
    display_name        TEXT,
    password_hash       TEXT,                     -- argon2id PHC string; NULL: no password sign-in
    email_verified_at   TIMESTAMP,
    is_admin            BOOLEAN NOT NULL DEFAULT FALSE,
    disabled            BOOLEAN NOT NULL DEFAULT FALSE,
    address             TEXT,                     -- OIDC address claim, JSON object
    entity_type         TEXT,
    tokens_valid_after  TIMESTAMP,                -- tokens issued before this are inactive
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL
);

CREATE TABLE clients (
    id                          TEXT PRIMARY KEY NOT NULL,
    secret_hash                 TEXT,             -- "sha256:<hex>"; NULL for public clients
    secret_sealed               TEXT,             -- encrypted secret, only for HMAC-signing keys (CloudTrax)
    name                        TEXT NOT NULL,
    kind                        TEXT NOT NULL,    -- app, device, client_key, api_key, embed, cloudtrax_application
    redirect_uris               TEXT NOT NULL,    -- JSON array
    post_logout_redirect_uris   TEXT NOT NULL,    -- JSON array
    grant_types                 TEXT NOT NULL,    -- JSON array
    scopes                      TEXT NOT NULL,    -- space-separated allowed scopes
    resources                   TEXT NOT NULL,    -- JSON array of RFC 8707 resource URIs
    token_endpoint_auth_method  TEXT NOT NULL,
    trusted                     BOOLEAN NOT NULL DEFAULT FALSE,
    owner_id                    TEXT REFERENCES users (id) ON DELETE CASCADE,
    cert_thumbprint             TEXT,             -- SHA-256 of the DER certificate, lowercase hex
    metadata                    TEXT NOT NULL DEFAULT '{}', -- door-specific JSON (embed network id, app host)
    expires_at                  TIMESTAMP,
    tokens_valid_after          TIMESTAMP,
    created_at                  TIMESTAMP NOT NULL,
    updated_at                  TIMESTAMP NOT NULL
);
CREATE INDEX clients_owner_idx ON clients (owner_id);

CREATE TABLE grants (
    id          TEXT PRIMARY KEY NOT NULL,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    audience    TEXT,                             -- RFC 8707 resource or app host
    session_id  TEXT,                             -- browser session it came from (OIDC sid)
    auth_time   TIMESTAMP,
    amr         TEXT,                             -- JSON array
    nonce       TEXT,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    revoked_at  TIMESTAMP
);
CREATE INDEX grants_user_idx ON grants (user_id);
CREATE INDEX grants_client_idx ON grants (client_id);

CREATE TABLE authorization_codes (
    code_hash               TEXT PRIMARY KEY NOT NULL,
    client_id               TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    user_id                 TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grant_id                TEXT REFERENCES grants (id) ON DELETE CASCADE,
    redirect_uri            TEXT NOT NULL,
    scope                   TEXT NOT NULL,
    nonce                   TEXT,
    code_challenge          TEXT,
    code_challenge_method   TEXT,
    resource                TEXT,
    session_id              TEXT,
    auth_time               TIMESTAMP NOT NULL,
    amr                     TEXT,
    created_at              TIMESTAMP NOT NULL,
    expires_at              TIMESTAMP NOT NULL,
    used_at                 TIMESTAMP
);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    grant_id    TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    family_id   TEXT NOT NULL,
    parent_id   TEXT,
    scope       TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    revoked_at  TIMESTAMP
);
CREATE INDEX refresh_tokens_grant_idx ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

CREATE TABLE personal_access_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash      TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL,
    scope           TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    last_used_at    TIMESTAMP,
    expires_at      TIMESTAMP,
    revoked_at      TIMESTAMP
);
CREATE INDEX personal_access_tokens_user_idx ON personal_access_tokens (user_id);

CREATE TABLE sessions (
    id_hash         TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sid             TEXT NOT NULL UNIQUE,         -- public session id (OIDC sid claim)
    csrf_secret     TEXT NOT NULL,
    auth_time       TIMESTAMP NOT NULL,
    amr             TEXT NOT NULL,                -- JSON array
    user_agent      TEXT,
    ip              TEXT,
    created_at      TIMESTAMP NOT NULL,
    last_seen_at    TIMESTAMP NOT NULL,
    expires_at      TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE consents (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id   TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope       TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE one_time_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,                    -- verify_email, reset_password
    data        TEXT,                             -- e.g. the address being verified
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id);

CREATE TABLE events (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,                    -- e.g. user.created, signin.failed, api.call
    user_id     TEXT,
    client_id   TEXT,
    service     TEXT,
    ip          TEXT,
    input       TEXT,                             -- JSON, secrets removed
    output      TEXT,                             -- JSON
    detail      TEXT,                             -- JSON
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX events_user_idx ON events (user_id, created_at);
CREATE INDEX events_created_idx ON events (created_at);

CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY NOT NULL,
    alg             TEXT NOT NULL,
    private_jwk     TEXT NOT NULL,                -- JSON JWK, or a JWE sealing it under the master key
    encrypted       BOOLEAN NOT NULL DEFAULT FALSE,
    public_jwk      TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    activates_at    TIMESTAMP NOT NULL,           -- published from created_at, signs from activates_at
    retired_at      TIMESTAMP                     -- set by an explicit retire; otherwise superseded
);

CREATE TABLE acl_rules (
    id          TEXT PRIMARY KEY NOT NULL,
    subject     TEXT NOT NULL,
    target      TEXT NOT NULL,                    -- a user or client id, or *
    command     TEXT NOT NULL,                    -- a glob such as Sys.*
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX acl_rules_subject_idx ON acl_rules (subject);

CREATE TABLE terms_acceptances (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    version     TEXT NOT NULL,
    accepted_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, version)
);

CREATE TABLE cloudtrax_nonces (
    key_id      TEXT NOT NULL,
    nonce       TEXT NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    PRIMARY KEY (key_id, nonce)
);
CREATE INDEX cloudtrax_nonces_expires_idx ON cloudtrax_nonces (expires_at);

CREATE TABLE throttle_counters (
    bucket          TEXT PRIMARY KEY NOT NULL,    -- e.g. account:<id>, ip:<addr>, signup:<addr>
    window_start    TIMESTAMP NOT NULL,
    count           INTEGER NOT NULL
);

-- The revocation log: grants, token ids (jti) and user/client cut-offs, numbered so that every
-- node can poll what it has not yet seen. Rows may be dropped once expires_at has passed.
CREATE TABLE revocations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    kind        TEXT NOT NULL,                    -- grant, jti, user, client
    subject     TEXT NOT NULL,
    not_before  TIMESTAMP,                        -- for user/client cut-offs
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL
);
CREATE INDEX revocations_subject_idx ON revocations (kind, subject);

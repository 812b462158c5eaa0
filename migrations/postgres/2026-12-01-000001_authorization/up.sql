-- One id space for users and clients (SPEC §9): every user id and client id is also a row
-- here, inserted in the same transaction, so an id can never name both (the second is 409).
CREATE TABLE principal_ids (
    id   TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL                            -- user, client
);
INSERT INTO principal_ids (id, kind) SELECT id, 'user' FROM users ON CONFLICT DO NOTHING;
INSERT INTO principal_ids (id, kind) SELECT id, 'client' FROM clients ON CONFLICT DO NOTHING;
-- The internal clients of the compatibility doors, made on first use.
INSERT INTO principal_ids (id, kind) VALUES ('esalerugs', 'client'), ('bloq-accounts', 'client'),
    ('mongoose-apps', 'client') ON CONFLICT DO NOTHING;
-- Personal access tokens act with `account` (SPEC §9), whatever they were stored with.
UPDATE personal_access_tokens SET scope = 'account';
-- Throttling that cannot be raced: a credential check takes its place (pending) before it runs;
-- `count` keeps the failures (or successes, for sign-ups) of the window. Places not settled by
-- `pending_until` (a node that died mid-check) are forgotten.
ALTER TABLE throttle_counters ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE throttle_counters ADD COLUMN pending_until TIMESTAMP;

-- One id space for users and clients (SPEC §9): every user id and client id is also a row
-- here, inserted in the same transaction, so an id can never name both (the second is 409).
CREATE TABLE principal_ids (
    id   TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL                            -- user, client
);
-- An id that names both a user and a client stops this migration (the unique key names it on
-- PostgreSQL): rename one of them, then start again.
INSERT INTO principal_ids (id, kind) SELECT id, 'user' FROM users;
INSERT INTO principal_ids (id, kind) SELECT id, 'client' FROM clients;
-- The internal clients of the compatibility doors, made on first use: their ids are taken now.
INSERT INTO principal_ids (id, kind) SELECT 'esalerugs', 'client'
    WHERE NOT EXISTS (SELECT 1 FROM clients WHERE id = 'esalerugs');
INSERT INTO principal_ids (id, kind) SELECT 'bloq-accounts', 'client'
    WHERE NOT EXISTS (SELECT 1 FROM clients WHERE id = 'bloq-accounts');
INSERT INTO principal_ids (id, kind) SELECT 'mongoose-apps', 'client'
    WHERE NOT EXISTS (SELECT 1 FROM clients WHERE id = 'mongoose-apps');
-- The compatibility doors' internal clients are their own kind (they authenticate nowhere).
UPDATE clients SET kind = 'internal' WHERE id IN ('esalerugs', 'bloq-accounts', 'mongoose-apps');
-- Their sign-ins' grants act on the account (`account`), those made before this version too.
UPDATE clients SET scopes = 'openid profile email address account'
    WHERE id IN ('esalerugs', 'bloq-accounts');
UPDATE grants SET scope = scope || ' account'
    WHERE client_id IN ('esalerugs', 'bloq-accounts') AND scope NOT LIKE '%account%';
UPDATE refresh_tokens SET scope = scope || ' account'
    WHERE grant_id IN (SELECT id FROM grants WHERE client_id IN ('esalerugs', 'bloq-accounts'))
    AND scope NOT LIKE '%account%';
-- Personal access tokens act with `account` (SPEC §9), whatever they were stored with.
UPDATE personal_access_tokens SET scope = 'account';
-- Throttling that cannot be raced: a credential check takes a place in its buckets before it
-- runs (admitted only while the bucket's count and the places taken stay under the limit) and
-- gives it back when it is settled. A place a node never gave back (it died mid-check)
-- expires on its own.
CREATE TABLE throttle_places (
    id         TEXT PRIMARY KEY NOT NULL,
    bucket     TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX throttle_places_bucket_idx ON throttle_places (bucket, expires_at);

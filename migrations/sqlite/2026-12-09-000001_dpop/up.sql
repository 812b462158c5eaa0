-- DPoP (RFC 9449, issue 19). A refresh token issued to a public client with a DPoP proof is
-- bound to the proof's key (its RFC 7638 thumbprint); the `jti` of every accepted proof is
-- kept until the proof could no longer be accepted, so each is used once across nodes.
ALTER TABLE refresh_tokens ADD COLUMN dpop_jkt TEXT;
CREATE TABLE dpop_proofs (
    id_hash TEXT PRIMARY KEY NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX dpop_proofs_expires_idx ON dpop_proofs (expires_at);

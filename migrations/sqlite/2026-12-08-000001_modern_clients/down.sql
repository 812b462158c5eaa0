DROP TABLE pushed_requests;
DROP TABLE client_assertions;
DROP TABLE initial_access_tokens;
ALTER TABLE clients DROP COLUMN registration_token_hash;
ALTER TABLE clients DROP COLUMN dynamic;

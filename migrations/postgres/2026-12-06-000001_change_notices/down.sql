DROP TRIGGER clients_notice ON clients;
DROP FUNCTION portcullis_notice_client();
DROP TRIGGER signing_keys_notice ON signing_keys;
DROP FUNCTION portcullis_notice_keys();
DROP TRIGGER revocations_notice ON revocations;
DROP FUNCTION portcullis_notice_revocations();

-- Change notices: every node LISTENs on the channel `portcullis` and refreshes what changed,
-- whoever changed it (another node, the CLI, an operator with psql). Notices are sent at
-- commit and collapsed per transaction; nodes still poll as the fallback. The payload starts
-- with the schema, so that installations sharing one database in several schemas each hear
-- only their own:
--   <schema>:revocations   a revocation was logged          -> re-read the revocation log
--   <schema>:keys          a signing key was added/changed  -> reload the key set
--   <schema>:client:<id>   a client was changed or deleted  -> drop it from the client cache

CREATE FUNCTION portcullis_notice_revocations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis', TG_TABLE_SCHEMA || ':revocations');
    RETURN NULL;
END $$;

CREATE TRIGGER revocations_notice AFTER INSERT ON revocations
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notice_revocations();

CREATE FUNCTION portcullis_notice_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis', TG_TABLE_SCHEMA || ':keys');
    RETURN NULL;
END $$;

CREATE TRIGGER signing_keys_notice AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION portcullis_notice_keys();

CREATE FUNCTION portcullis_notice_client() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis', TG_TABLE_SCHEMA || ':client:' || OLD.id);
    RETURN NULL;
END $$;

CREATE TRIGGER clients_notice AFTER UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION portcullis_notice_client();

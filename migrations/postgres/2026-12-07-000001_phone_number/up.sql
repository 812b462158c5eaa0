-- OpenID's `phone` scope (OIDC Core §5.1): a phone number in E.164 form and whether it was
-- verified (set by an administrator; changing the number clears it).
ALTER TABLE users ADD COLUMN phone_number TEXT;
ALTER TABLE users ADD COLUMN phone_number_verified BOOLEAN NOT NULL DEFAULT false;

ALTER TABLE users DROP COLUMN phone_number_verified;
ALTER TABLE users DROP COLUMN phone_number;

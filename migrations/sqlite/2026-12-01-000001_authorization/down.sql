DROP TABLE throttle_places;
UPDATE clients SET kind = 'app' WHERE kind = 'internal';
UPDATE personal_access_tokens SET scope = 'openid profile email address';
DROP TABLE principal_ids;

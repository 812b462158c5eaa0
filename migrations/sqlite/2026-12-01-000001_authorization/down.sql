UPDATE personal_access_tokens SET scope = 'openid profile email address';
DROP TABLE principal_ids;

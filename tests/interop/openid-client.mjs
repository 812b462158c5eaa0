// Interop client: drives a running Portcullis server with the real `openid-client`
// library (panva, v6), the way a third-party Node.js relying party would.
//
// Usage:  ISSUER=http://127.0.0.1:PORT INITIAL_ACCESS_TOKEN=... \
//           node tests/interop/openid-client.mjs <scenario>
//
// Protocol with the parent (the Rust test harness):
//   - stdout carries exactly one JSON object per line, nothing else;
//   - logs go to stderr;
//   - on failure the last stdout line is {"error": "...", "code": <OAuth error code or null>, ...}
//     and the exit status is 1.
//
// Scenarios:
//   par_jar_private_key_jwt  register (private_key_jwt, ES256) -> PAR of a signed request
//                            object -> print authorize URL -> read the callback URL from
//                            stdin -> code grant, userinfo, introspection, refresh, revocation.
//   client_secret_jwt        register (client_secret_jwt, HS256) -> client credentials grant
//                            -> introspection.
//   dpop_public_client       register a public client that requires DPoP -> print authorize
//                            URL -> read the callback URL -> code grant, userinfo and refresh,
//                            each with a DPoP proof (the library answers use_dpop_nonce
//                            itself); the bound token sent as a bearer token, and the refresh
//                            token used with another key, must be refused.
//   device_grant             register a public device client -> device authorization (print
//                            the user code and verification URIs) -> poll the token endpoint
//                            until the person approves -> userinfo -> refresh.
//   token_exchange           as a confidential client given by CLIENT_ID / CLIENT_SECRET,
//                            exchange SUBJECT_TOKEN (and ACTOR_TOKEN) for AUDIENCE (RFC 8693)
//                            with genericGrantRequest.
//
// The server listens on plain http on loopback, so every call opts in to
// `allowInsecureRequests`.

import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const log = (...args) => console.error('[openid-client]', ...args);
const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

// Set from the environment once the scenario starts (so a missing variable is reported
// through the error line too).
let issuer;
let registrationOptions;

// The fields of a registration response the harness needs (e.g. to clean up).
const registered = (config) => {
  const m = config.clientMetadata();
  return {
    client_id: m.client_id,
    registration_client_uri: m.registration_client_uri,
    registration_access_token: m.registration_access_token,
  };
};

// Reads one line from stdin (the parent writes the callback URL there).
async function readLine() {
  const rl = createInterface({ input: process.stdin });
  try {
    const { value, done } = await rl[Symbol.asyncIterator]().next();
    if (done) throw new Error('stdin closed before a callback URL was received');
    return value.trim();
  } finally {
    rl.close();
  }
}

// An extractable ES256 key pair; the public half as a JWK with kid (RFC 7638 thumbprint),
// alg and use.
async function es256Key() {
  const { privateKey, publicKey } = await crypto.subtle.generateKey(
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['sign', 'verify'],
  );
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', publicKey);
  const digest = await crypto.subtle.digest(
    'SHA-256',
    new TextEncoder().encode(JSON.stringify({ crv, kty, x, y })),
  );
  const kid = Buffer.from(digest).toString('base64url');
  return { privateKey, kid, publicJwk: { kty, crv, x, y, kid, alg: 'ES256', use: 'sig' } };
}

async function parJarPrivateKeyJwt() {
  const scope = 'openid profile email offline_access';
  const redirectUri = 'http://127.0.0.1/cb';
  const { privateKey, kid, publicJwk } = await es256Key();

  // Discovery (/.well-known/openid-configuration) happens inside dynamicClientRegistration.
  const config = await client.dynamicClientRegistration(
    issuer,
    {
      client_name: 'openid-client interop',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [publicJwk] },
      request_object_signing_alg: 'ES256',
      require_pushed_authorization_requests: true,
      scope,
    },
    client.PrivateKeyJwt({ key: privateKey, kid }),
    registrationOptions,
  );
  emit({ registered: registered(config) });

  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const parameters = {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  };
  // Sign the parameters as a request object (JAR), then push that (PAR): the PAR body is
  // client_id + request + the private_key_jwt client assertion.
  const jar = await client.buildAuthorizationUrlWithJAR(config, parameters, { key: privateKey, kid });
  const authorize = await client.buildAuthorizationUrlWithPAR(config, jar.searchParams);
  emit({ authorize: authorize.href });

  const callback = new URL(await readLine());
  log('callback received');
  const tokens = await client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const idTokenClaims = tokens.claims();
  const sub = idTokenClaims.sub;

  const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub);
  const introspection = await client.tokenIntrospection(config, tokens.access_token);

  if (!tokens.refresh_token) throw new Error('no refresh_token in the token response');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  // Revoke the current refresh token (the rotated one, if the server rotates).
  await client.tokenRevocation(config, refreshed.refresh_token ?? tokens.refresh_token);

  emit({
    result: {
      sub,
      id_token_claims: idTokenClaims,
      userinfo,
      introspection,
      refreshed: typeof refreshed.access_token === 'string',
      revoked: true,
    },
  });
}

async function clientSecretJwt() {
  // ClientSecretJwt() without an argument signs with metadata.client_secret, i.e. the secret
  // from the registration response.
  const config = await client.dynamicClientRegistration(
    issuer,
    {
      client_name: 'openid-client interop',
      grant_types: ['client_credentials'],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_jwt',
      token_endpoint_auth_signing_alg: 'HS256',
    },
    client.ClientSecretJwt(),
    registrationOptions,
  );
  emit({ registered: registered(config) });

  const tokens = await client.clientCredentialsGrant(config);
  const introspection = await client.tokenIntrospection(config, tokens.access_token);
  emit({
    result: {
      client_id: config.clientMetadata().client_id,
      token_type: tokens.token_type,
      introspection,
    },
  });
}

async function dpopPublicClient() {
  const scope = 'openid profile offline_access';
  const redirectUri = 'http://127.0.0.1/cb';
  const config = await client.dynamicClientRegistration(
    issuer,
    {
      client_name: 'openid-client DPoP interop',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      dpop_bound_access_tokens: true,
      scope,
    },
    client.None(),
    registrationOptions,
  );
  emit({ registered: registered(config) });

  const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  const codeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const authorize = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  emit({ authorize: authorize.href });

  const callback = new URL(await readLine());
  const tokens = await client.authorizationCodeGrant(
    config,
    callback,
    { pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true },
    undefined,
    { DPoP },
  );
  const sub = tokens.claims().sub;
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub, { DPoP });

  // The same token without its proof, as a bearer token: must be refused.
  let bearer;
  try {
    await client.fetchUserInfo(config, tokens.access_token, sub);
    bearer = { refused: false };
  } catch (err) {
    bearer = { refused: true, ...(await describe(err)) };
  }

  if (!tokens.refresh_token) throw new Error('no refresh_token in the token response');
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });

  // The rotated refresh token with another key: must be refused.
  const thief = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  let stolen;
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token, undefined, { DPoP: thief });
    stolen = { refused: false };
  } catch (err) {
    stolen = { refused: true, ...(await describe(err)) };
  }

  emit({
    result: {
      sub,
      token_type: tokens.token_type,
      refreshed_token_type: refreshed.token_type,
      userinfo,
      bearer,
      stolen,
    },
  });
}

async function deviceGrant() {
  const config = await client.dynamicClientRegistration(
    issuer,
    {
      client_name: 'openid-client device',
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      token_endpoint_auth_method: 'none',
      scope: 'openid profile offline_access',
    },
    client.None(),
    registrationOptions,
  );
  emit({ registered: registered(config) });

  const started = await client.initiateDeviceAuthorization(config, { scope: 'openid profile offline_access' });
  emit({
    device: {
      user_code: started.user_code,
      verification_uri: started.verification_uri,
      verification_uri_complete: started.verification_uri_complete,
      interval: started.interval,
      expires_in: started.expires_in,
    },
  });
  // Polls every `interval` seconds, through authorization_pending, until the person decides.
  const tokens = await client.pollDeviceAuthorizationGrant(config, started);
  const sub = tokens.claims().sub;
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, sub);
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  emit({
    result: {
      sub,
      token_type: tokens.token_type,
      userinfo,
      refreshed: typeof refreshed.access_token === 'string',
    },
  });
}

async function tokenExchange() {
  const config = await client.discovery(
    issuer,
    env('CLIENT_ID'),
    env('CLIENT_SECRET'),
    // The client registered client_secret_basic (the library's default would be _post).
    client.ClientSecretBasic(),
    { execute: [client.allowInsecureRequests] },
  );
  const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';
  const parameters = {
    subject_token: env('SUBJECT_TOKEN'),
    subject_token_type: accessTokenType,
    audience: env('AUDIENCE'),
  };
  if (process.env.ACTOR_TOKEN) {
    parameters.actor_token = process.env.ACTOR_TOKEN;
    parameters.actor_token_type = accessTokenType;
  }
  const tokens = await client.genericGrantRequest(
    config,
    'urn:ietf:params:oauth:grant-type:token-exchange',
    parameters,
  );
  emit({
    result: {
      issued_token_type: tokens.issued_token_type,
      token_type: tokens.token_type,
      access_token: tokens.access_token,
      expires_in: tokens.expires_in,
    },
  });
}

// Turns any failure into the {"error", "code"} line. `code` is the OAuth error code
// (ResponseBodyError / AuthorizationResponseError `error`, a WWW-Authenticate `error`
// parameter, or the JSON body of a challenged response), else null.
async function describe(err) {
  let code = typeof err?.error === 'string' ? err.error : null;
  if (!code && err instanceof client.WWWAuthenticateChallengeError) {
    code = err.cause?.find((c) => c.parameters?.error)?.parameters.error ?? null;
    if (!code) code = (await err.response.clone().json().catch(() => ({}))).error ?? null;
  }
  const out = { error: err?.message ?? String(err), code };
  if (err?.error_description) out.description = err.error_description;
  if (err?.code && err.code !== code) out.library_code = err.code;
  const status = err?.status ?? (err?.cause instanceof Response ? err.cause.status : undefined);
  if (status !== undefined) out.status = status;
  if (err?.cause?.message) out.cause = err.cause.message;
  return out;
}

const scenarios = {
  par_jar_private_key_jwt: parJarPrivateKeyJwt,
  client_secret_jwt: clientSecretJwt,
  dpop_public_client: dpopPublicClient,
  device_grant: deviceGrant,
  token_exchange: tokenExchange,
};

try {
  const scenario = scenarios[process.argv[2]];
  if (!scenario) {
    throw new Error(`unknown scenario ${JSON.stringify(process.argv[2])}; one of ${Object.keys(scenarios).join(', ')}`);
  }
  issuer = new URL(env('ISSUER'));
  registrationOptions = {
    initialAccessToken: env('INITIAL_ACCESS_TOKEN'),
    execute: [client.allowInsecureRequests],
  };
  await scenario();
} catch (err) {
  log(err);
  emit(await describe(err));
  process.exit(1);
}

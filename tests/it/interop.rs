//! Interoperability: the `oauth2` crate, as a third-party app uses it, against a server on a
//! real port (client credentials, password, refresh, errors).

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
};

use crate::helpers::{serve, served_app, TestApp};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[actix_rt::test]
async fn the_oauth2_crate_as_a_client() {
    let app = TestApp::new();
    app.user("user@example.com", "password1");
    let (id, secret) = app.client(&[
        "--trusted",
        "--grant",
        "client_credentials",
        "--grant",
        "password",
        "--grant",
        "refresh_token",
        "--scope",
        "read",
        "--scope",
        "write",
    ]);
    let (addr, handle) = serve(&app);
    let token_url = TokenUrl::new(format!("http://{addr}/token")).unwrap();
    let client = BasicClient::new(ClientId::new(id.clone()))
        .set_client_secret(ClientSecret::new(secret.clone()))
        .set_token_uri(token_url.clone());
    let http = http();

    let cc = client
        .exchange_client_credentials()
        .add_scope(Scope::new("read".into()))
        .request_async(&http)
        .await
        .expect("client credentials");
    assert_eq!(cc.expires_in().unwrap().as_secs(), 3600);
    assert_eq!(cc.scopes().unwrap(), &vec![Scope::new("read".into())]);
    assert!(cc.refresh_token().is_none());

    let pw = client
        .exchange_password(
            &ResourceOwnerUsername::new("user@example.com".into()),
            &ResourceOwnerPassword::new("password1".into()),
        )
        .request_async(&http)
        .await
        .expect("password grant");
    let refresh = pw
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();

    let refreshed = client
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http)
        .await
        .expect("refresh");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        &refresh,
        "rotated"
    );
    // The rotated-out token is refused the way the crate expects.
    match client
        .exchange_refresh_token(&RefreshToken::new(refresh))
        .request_async(&http)
        .await
    {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), BasicErrorResponseType::InvalidGrant)
        }
        other => panic!("expected invalid_grant, got {other:?}"),
    }

    // client_secret_post, and a wrong secret.
    let (post_id, post_secret) = app.client(&[
        "--auth-method",
        "client_secret_post",
        "--grant",
        "client_credentials",
    ]);
    let post = BasicClient::new(ClientId::new(post_id))
        .set_client_secret(ClientSecret::new(post_secret))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(token_url.clone());
    post.exchange_client_credentials()
        .request_async(&http)
        .await
        .expect("client_secret_post");
    let wrong = BasicClient::new(ClientId::new(id))
        .set_client_secret(ClientSecret::new("wrong".into()))
        .set_token_uri(token_url);
    match wrong
        .exchange_client_credentials()
        .request_async(&http)
        .await
    {
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(*e.error(), BasicErrorResponseType::InvalidClient)
        }
        other => panic!("expected invalid_client, got {other:?}"),
    }
    handle.stop(true).await;
}

/// The `openidconnect` crate as a relying party: discovery, the code flow with PKCE and a
/// nonce through the real pages (a cookie-keeping HTTP client fills the forms), ID token
/// validation against JWKS, at_hash, and userinfo.
#[actix_rt::test]
async fn the_openidconnect_crate_as_a_relying_party() {
    use openidconnect::core::{
        CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
    };
    use openidconnect::{
        AccessTokenHash, AuthorizationCode, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
        PkceCodeChallenge, RedirectUrl, TokenResponse as _,
    };

    use crate::browser_helpers::hidden;

    let (app, addr, handle) = served_app();
    app.user_with(
        portcullis::core::users::NewUser {
            email: "ada@example.com".into(),
            username: Some("ada".into()),
            display_name: Some("Ada Lovelace".into()),
            ..Default::default()
        },
        "password1",
    );
    let redirect = format!("http://{addr}/callback");
    let (id, secret) = app.client(&[
        "--name",
        "OIDC RP",
        "--redirect-uri",
        &redirect,
        "--scope",
        "openid profile email",
    ]);
    let http = http();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(format!("http://{addr}")).unwrap(),
        &http,
    )
    .await
    .expect("discovery");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(id),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();

    // A person's browser: follows the server's pages, keeps cookies, stops at the callback.
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    let follow = |res: &reqwest::Response| {
        let loc = res.headers()["location"].to_str().unwrap().to_owned();
        if loc.starts_with('/') {
            format!("{base}{loc}")
        } else {
            loc
        }
    };
    let res = browser.get(auth_url.as_str()).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let signin_url = follow(&res);
    let page = browser
        .get(&signin_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let form = [
        ("csrf", hidden(&page, "csrf")),
        ("return_to", hidden(&page, "return_to")),
        ("login", "ada".to_string()),
        ("password", "password1".to_string()),
    ];
    let res = browser
        .post(format!("{base}/signin"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = browser.get(follow(&res)).send().await.unwrap();
    assert_eq!(res.status(), 200, "the consent page");
    let page = res.text().await.unwrap();
    let form = [
        ("csrf", hidden(&page, "csrf")),
        ("authz", hidden(&page, "authz")),
        ("decision", "allow".to_string()),
    ];
    let res = browser
        .post(format!("{base}/consent"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let callback = url::Url::parse(&follow(&res)).unwrap();
    assert!(callback.as_str().starts_with(&redirect));
    let params: std::collections::HashMap<_, _> = callback.query_pairs().into_owned().collect();
    assert_eq!(&params["state"], csrf.secret());
    assert_eq!(params["iss"], base, "RFC 9207 iss");

    let tokens = client
        .exchange_code(AuthorizationCode::new(params["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .expect("a valid ID token");
    let expected = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.email().unwrap().as_str(), "ada@example.com");
    assert_eq!(userinfo.preferred_username().unwrap().as_str(), "ada");
    handle.stop(true).await;
}

//! Interoperability: the `oauth2` crate, as a third-party app uses it, against a server on a
//! real port (client credentials, password, refresh, errors).

use actix_web::HttpServer;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, ClientId, ClientSecret, RefreshToken, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, Scope, TokenResponse, TokenUrl,
};

use crate::helpers::TestApp;

/// Serves the app on 127.0.0.1 (an ephemeral port) in its own thread; stops with the handle.
pub fn serve(app: &TestApp) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    let state = app.state.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = HttpServer::new(move || portcullis::server::app(state.clone()))
                .workers(1)
                .disable_signals()
                .bind("127.0.0.1:0")
                .expect("bind");
            let addr = server.addrs()[0];
            let running = server.run();
            tx.send((addr, running.handle())).unwrap();
            let _ = running.await;
        })
    });
    rx.recv().expect("server started")
}

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

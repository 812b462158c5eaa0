//! The `TestApp` builder: a fresh database per test (a temp-file SQLite database, or a fresh
//! PostgreSQL schema when `TEST_DATABASE_URL` is set), in-process requests, the CLI, and a
//! clock tests can move.

use std::io::Read;
use std::path::{Path, PathBuf};

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use portcullis::clock::Clock;
use portcullis::config::Config;
use portcullis::state::AppState;

/// Cheap argon2 parameters so tests do not crawl (production uses OWASP's).
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config {
        data_dir: data_dir.to_path_buf(),
        ..Config::default()
    };
    config.argon2.memory_kib = 64;
    config.argon2.iterations = 1;
    config
}

/// A fresh database for one test; dropped (PostgreSQL schema removed) with it.
pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub fn new(dir: &Path) -> TestDb {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(base) => {
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::PgConnection::establish(&base)
                    .expect("TEST_DATABASE_URL must point at a reachable PostgreSQL");
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .expect("create test schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
                TestDb {
                    url,
                    pg: Some((base, schema)),
                }
            }
            None => TestDb {
                url: format!("sqlite://{}", dir.join("test.db").display()),
                pg: None,
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg {
            if let Ok(mut conn) = diesel::PgConnection::establish(base) {
                let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
            }
        }
    }
}

/// A change to the configuration of a test app.
type ConfigTweak = Box<dyn FnOnce(&mut Config)>;

/// Builds a `TestApp`.
pub struct TestAppBuilder {
    tweak: Vec<ConfigTweak>,
}

impl TestAppBuilder {
    /// Changes the configuration before the app starts.
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.tweak.push(Box::new(f));
        self
    }

    pub fn build(self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = TestDb::new(dir.path());
        let mut config = test_config(dir.path());
        config.database_url = Some(db.url.clone());
        for f in self.tweak {
            f(&mut config);
        }
        let config = config.finish().expect("test configuration is valid");
        let clock = Clock::system();
        let state =
            portcullis::server::build_state(config.clone(), clock.clone()).expect("state builds");
        TestApp {
            state,
            config,
            clock,
            dir,
            db,
        }
    }
}

/// A running application (in-process) over its own database.
pub struct TestApp {
    pub state: AppState,
    pub config: Config,
    pub clock: Clock,
    pub dir: tempfile::TempDir,
    pub db: TestDb,
}

/// A response with its body read.
pub struct Response {
    pub status: StatusCode,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder { tweak: Vec::new() }
    }

    pub fn new() -> TestApp {
        Self::builder().build()
    }

    /// Sends a request through the whole application (middleware included).
    pub async fn send(&self, req: TestRequest) -> Response {
        send_to(&self.state, req).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(TestRequest::get().uri(path)).await
    }

    /// Runs a CLI command (`args` without the program name) against this app's database and
    /// configuration; returns its stdout, or the error message.
    pub fn cli(&self, args: &[&str]) -> Result<String, String> {
        run_cli(&self.config, &self.clock, args)
    }

    /// Like `cli` with `--json`, parsed.
    pub fn cli_json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self
            .cli(&all)
            .unwrap_or_else(|e| panic!("{args:?} failed: {e}"));
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{args:?} printed non-JSON ({e}): {out}"))
    }

    /// A pooled database connection.
    pub fn conn(&self) -> portcullis::db::PooledConnection {
        self.state.db.get().expect("connection")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Creates a user with a password (cheap argon2 parameters); returns the id.
    pub fn user(&self, email: &str, password: &str) -> String {
        self.user_with(
            portcullis::core::users::NewUser {
                email: email.into(),
                ..Default::default()
            },
            password,
        )
    }

    /// Creates a user from a full description; returns the id.
    pub fn user_with(&self, mut new: portcullis::core::users::NewUser, password: &str) -> String {
        new.password_hash =
            Some(portcullis::core::password::hash(&self.config.argon2, password).unwrap());
        portcullis::core::users::create(&mut self.conn(), self.clock.now_naive(), new)
            .unwrap()
            .id
    }

    /// Registers a client with CLI arguments (after `client add`); returns id and secret.
    pub fn client(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["client", "add"];
        if !args.contains(&"--name") {
            all.extend_from_slice(&["--name", "Test client"]);
        }
        all.extend_from_slice(args);
        let out = self.cli_json(&all);
        (
            out["client_id"].as_str().unwrap().to_owned(),
            out["client_secret"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// POSTs a form, with HTTP Basic credentials when given (URL-encoded per RFC 6749 §2.3.1).
    pub async fn post_form(
        &self,
        path: &str,
        params: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> Response {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let mut req = TestRequest::post()
            .uri(path)
            .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
            .set_payload(body);
        if let Some((id, secret)) = basic {
            req = req.insert_header(("Authorization", basic_header(id, secret)));
        }
        self.send(req).await
    }

    /// `POST /token` with Basic credentials.
    pub async fn token(&self, params: &[(&str, &str)], basic: (&str, &str)) -> Response {
        self.post_form("/token", params, Some(basic)).await
    }

    /// An access token of the client by `client_credentials` (which must succeed).
    pub async fn client_token(&self, id: &str, secret: &str) -> String {
        let r = self
            .token(&[("grant_type", "client_credentials")], (id, secret))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// A confidential client allowed to introspect and revoke; created once per call.
    pub fn resource_server(&self) -> (String, String) {
        self.client(&["--name", "Resource server", "--grant", "client_credentials"])
    }

    /// Introspects a token as a fresh resource server.
    pub async fn introspect(&self, token: &str) -> serde_json::Value {
        let (id, secret) = self.resource_server();
        let r = self
            .post_form("/introspect", &[("token", token)], Some((&id, &secret)))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Introspects a token as the given client.
    pub async fn introspect_as(&self, token: &str, client: (&str, &str)) -> serde_json::Value {
        let r = self
            .post_form("/introspect", &[("token", token)], Some(client))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// The messages in the outbox (`<data_dir>/outbox/*.eml`), oldest first.
    pub fn outbox(&self) -> Vec<String> {
        let dir = self.config.data_dir.join("outbox");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// The path and query of the newest link to `path` in a message to `to`.
    pub fn link_to(&self, to: &str, path: &str) -> String {
        let messages = self.outbox();
        let m = messages
            .iter()
            .rev()
            .find(|m| m.contains(&format!("To: {to}")) || m.contains(&format!("<{to}>")))
            .unwrap_or_else(|| panic!("no message to {to} in {messages:?}"));
        link_in(m, path).unwrap_or_else(|| panic!("no {path} link in {m}"))
    }

    /// A trusted client with the password and refresh-token grants and `scope`.
    pub fn password_client(&self, scope: &str) -> (String, String) {
        self.client(&[
            "--trusted",
            "--grant",
            "password",
            "--grant",
            "refresh_token",
            "--scope",
            scope,
        ])
    }

    /// Gives a user a confirmed authenticator app (as the account page does) and moves the
    /// clock to the next 30-second step, so the next code is fresh; returns the TOTP to make
    /// codes with (`totp_code`).
    pub fn enrol_totp(&self, user_id: &str) -> totp_rs::TOTP {
        use portcullis::core::{factors, secrets, users};
        let mut conn = self.conn();
        let now = self.clock.now_naive();
        let key = secrets::sealing_key(&mut conn, self.config.master_key().as_ref()).unwrap();
        let user = users::get(&mut conn, user_id).unwrap();
        let (url, _) = factors::totp_begin(&mut conn, now, &key, &user, "Portcullis").unwrap();
        let totp = totp_rs::TOTP::from_url_unchecked(&url).unwrap();
        let code = totp.generate(now.and_utc().timestamp() as u64);
        assert!(factors::totp_check(&mut conn, now, &key, user_id, &code, true).unwrap());
        self.clock.advance(std::time::Duration::from_secs(30));
        totp
    }

    /// The TOTP an authenticator app makes from the key the set-up page shows (base32,
    /// grouped with spaces).
    pub fn totp_from_key(key: &str) -> totp_rs::TOTP {
        let key: String = key.split_whitespace().collect();
        totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            6,
            1,
            30,
            totp_rs::Secret::Encoded(key).to_bytes().unwrap(),
            None,
            String::new(),
        )
    }

    /// The code `totp` shows at this app's clock.
    pub fn totp_code(&self, totp: &totp_rs::TOTP) -> String {
        totp.generate(self.clock.now().timestamp() as u64)
    }

    /// Another node over the same database, with a clock of its own.
    pub fn second_node(&self) -> AppState {
        portcullis::server::build_state(self.config.clone(), Clock::system()).unwrap()
    }
}

/// Sends a request to a node (an app's own, or another over the same database).
pub async fn send_to(node: &AppState, req: TestRequest) -> Response {
    let app = test::init_service(portcullis::server::app(node.clone())).await;
    let res = test::call_service(&app, req.to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = test::read_body(res).await.to_vec();
    Response {
        status,
        headers,
        body,
    }
}

/// Plain HTTP Basic (RFC 7617, not URL-encoded): `Basic base64(user:password)`.
pub fn plain_basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Finds `<issuer><path>?token=...` in a message (quoted-printable or base64 bodies decoded);
/// returns the path and query.
pub fn link_in(message: &str, path: &str) -> Option<String> {
    use base64::Engine;
    let qp = decode_qp(message);
    let mut texts = vec![qp];
    for block in message.split("\r\n\r\n").chain(message.split("\n\n")) {
        let joined: String = block.lines().map(str::trim).collect();
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined.as_bytes()) {
            texts.push(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let needle = format!("{path}?token=");
    for t in texts {
        if let Some(i) = t.find(&needle) {
            let rest = &t[i..];
            let end = rest[needle.len()..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                .map(|e| e + needle.len())
                .unwrap_or(rest.len());
            return Some(rest[..end].to_owned());
        }
    }
    None
}

fn decode_qp(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `Basic base64(urlencode(id):urlencode(secret))`.
pub fn basic_header(id: &str, secret: &str) -> String {
    use base64::Engine;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// The header and claims of a JWT, unverified.
pub fn jwt_parts(token: &str) -> (serde_json::Value, serde_json::Value) {
    use base64::Engine;
    let mut parts = token.split('.');
    let mut next = || {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(parts.next().expect("a JWT part"))
            .expect("base64url");
        serde_json::from_slice::<serde_json::Value>(&raw).expect("JSON")
    };
    let header = next();
    let claims = next();
    (header, claims)
}

/// Runs the CLI in-process against a configuration.
pub fn run_cli(config: &Config, clock: &Clock, args: &[&str]) -> Result<String, String> {
    let mut argv = vec!["portcullis"];
    argv.extend_from_slice(args);
    let cli = portcullis::cli::Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
    let command = cli.command.ok_or("no command")?;
    let mut out = Vec::new();
    portcullis::cli::run(config, clock, command, cli.json, &mut out)
        .map_err(|e| format!("{e:#}"))?;
    Ok(String::from_utf8(out).expect("utf-8 output"))
}

/// The built binary.
pub fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"));
    // Only what a test sets: no PORTCULLIS_* from the environment running the tests.
    for (k, _) in std::env::vars() {
        if k.starts_with("PORTCULLIS_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// A minimal HTTP/1.1 GET over a real socket (for tests of the real binary).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, &[])
}

/// A minimal HTTP/1.1 request without a body over a real socket.
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String) {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let status = raw[9..12].parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_owned();
    (status, body)
}

/// A self-signed EC certificate valid from `from_days` to `to_days` (relative to today):
/// (PEM, DER).
pub fn certificate(from_days: i32, to_days: i32) -> (Vec<u8>, Vec<u8>) {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::{X509NameBuilder, X509};
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "device").unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    let day = 86400i64;
    let now = chrono::Utc::now().timestamp();
    b.set_not_before(&Asn1Time::from_unix(now + from_days as i64 * day).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(now + to_days as i64 * day).unwrap())
        .unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    let cert = b.build();
    (cert.to_pem().unwrap(), cert.to_der().unwrap())
}

/// Replaces what changes between runs (tokens, ids, times) so a wire format can be pinned.
pub fn scrub(value: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), scrub(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()),
        Value::String(s) => {
            let s = s.as_str();
            let out = if s.starts_with("pcat_") {
                "[pat]"
            } else if s.split('.').count() == 3 && s.len() > 40 {
                "[jwt]"
            } else if uuid::Uuid::parse_str(s).is_ok() || s.starts_with("event-") {
                "[id]"
            } else if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
                "[time]"
            } else if s.len() >= 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                "[hex]"
            } else if s.len() == 43
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                "[opaque]"
            } else {
                return value.clone();
            };
            Value::String(out.into())
        }
        other => other.clone(),
    }
}

/// Serves the app on 127.0.0.1 (an ephemeral port) in its own thread; stops with the handle.
pub fn serve(app: &TestApp) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    serve_on(
        app,
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind"),
    )
}

/// An app whose issuer is the address it is served on (what relying parties check), running.
pub fn served_app() -> (TestApp, std::net::SocketAddr, actix_web::dev::ServerHandle) {
    served_app_with(|_| {})
}

/// Like `served_app`, with a configuration change.
pub fn served_app_with(
    tweak: impl FnOnce(&mut portcullis::config::Config) + 'static,
) -> (TestApp, std::net::SocketAddr, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap();
    let app = TestApp::builder()
        .config(move |c| {
            c.issuer = Some(format!("http://{addr}"));
            tweak(c);
        })
        .build();
    let (addr, handle) = serve_on(&app, listener);
    (app, addr, handle)
}

/// Serves the app on a bound listener.
pub fn serve_on(
    app: &TestApp,
    listener: std::net::TcpListener,
) -> (std::net::SocketAddr, actix_web::dev::ServerHandle) {
    let state = app.state.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(move || portcullis::server::app(state.clone()))
                .workers(1)
                .disable_signals()
                .listen(listener)
                .expect("listen");
            let addr = server.addrs()[0];
            let running = server.run();
            tx.send((addr, running.handle())).unwrap();
            let _ = running.await;
        })
    });
    rx.recv().expect("server started")
}

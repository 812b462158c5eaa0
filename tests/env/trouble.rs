//! Database trouble and crashes (SPEC §7): an outage is a 503 with `Retry-After` in each
//! door's shape within `database_timeout`, and the node recovers by itself when the database
//! is back; SQLite under a dozen concurrent writers gives no 5xx; kill -9 under write load
//! loses no acknowledged write, on both backends.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::test::TestRequest;
use diesel::connection::SimpleConnection;
use diesel::Connection;
use serde_json::json;

use crate::helpers::{binary, Response, TestApp, TestDb};
use crate::{Outcome, Skip};

const PASS: u8 = 0;
/// Connections are accepted and nothing is ever answered (a partition, a dead host).
const BLACK_HOLE: u8 = 1;
/// Connections are refused and open ones closed (PostgreSQL down, a fail-over).
const REFUSE: u8 = 2;

/// A TCP proxy in front of PostgreSQL whose behaviour a test switches.
struct Proxy {
    port: u16,
    mode: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let mode = Arc::new(AtomicU8::new(PASS));
        let stop = Arc::new(AtomicBool::new(false));
        let (m, s) = (mode.clone(), stop.clone());
        std::thread::spawn(move || {
            let held = Mutex::new(Vec::new());
            while !s.load(Ordering::Acquire) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                match m.load(Ordering::Acquire) {
                    REFUSE => drop(client),
                    BLACK_HOLE => held.lock().unwrap().push(client),
                    _ => {
                        let Ok(server) = TcpStream::connect(&target) else {
                            continue;
                        };
                        for (from, to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            let (m, s) = (m.clone(), s.clone());
                            std::thread::spawn(move || pump(from, to, &m, &s));
                        }
                    }
                }
            }
        });
        Proxy { port, mode, stop }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::Release);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Copies bytes one way while the proxy passes; holds them while it black-holes; closes
/// both sides when it refuses.
fn pump(mut from: TcpStream, mut to: TcpStream, mode: &AtomicU8, stop: &AtomicBool) {
    from.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match mode.load(Ordering::Acquire) {
            _ if stop.load(Ordering::Acquire) => break,
            REFUSE => break,
            BLACK_HOLE => {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            _ => {}
        }
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

const TIMEOUT: u64 = 1;

async fn password_grant(app: &TestApp, client: &(String, String)) -> Response {
    app.token(
        &[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", "password1"),
            ("scope", "openid"),
        ],
        (&client.0, &client.1),
    )
    .await
}

async fn refresh(app: &TestApp, client: &(String, String), token: &str) -> Response {
    app.token(
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
        (&client.0, &client.1),
    )
    .await
}

async fn mongoose_call(app: &TestApp) -> Response {
    app.send(
        TestRequest::post()
            .uri("/rpc")
            .insert_header((
                "Authorization",
                crate::helpers::plain_basic("ada@example.com", "password1"),
            ))
            .set_json(json!({"v": 2, "id": 7, "method": "/v1/Account.ListTokens", "args": {}})),
    )
    .await
}

/// Every door answers an outage with a 503 that says when to retry, in its own shape, and
/// within the database timeout (with room for a slow machine).
async fn assert_outage(app: &TestApp, client: &(String, String), what: &str) {
    let started = Instant::now();
    let r = password_grant(app, client).await;
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{what}: /token {}", r.text());
    assert_eq!(r.json()["error"], "temporarily_unavailable", "{what}");
    assert!(r.header("retry-after").is_some(), "{what}: no Retry-After");
    assert!(
        took < Duration::from_secs(3 * TIMEOUT + 2),
        "{what}: /token took {took:?}"
    );
    let r = mongoose_call(app).await;
    assert!(r.header("retry-after").is_some(), "{what}: no Retry-After");
    assert_eq!(r.json()["id"], 7, "{what}: a Mongoose frame {}", r.text());
    assert_eq!(r.json()["error"]["code"], 503, "{what}: {}", r.text());
    let r = app.get("/readyz").await;
    assert_eq!(r.status, 503, "{what}: /readyz");
    assert_eq!(r.json()["error"], "database unavailable");
}

/// After the database is back, the node serves again by itself.
async fn assert_recovers(app: &TestApp, client: &(String, String), what: &str) {
    let started = Instant::now();
    loop {
        let r = password_grant(app, client).await;
        if r.status == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{what}: no recovery: {} {}",
            r.status,
            r.text()
        );
        actix_rt::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.get("/readyz").await.status, 200, "{what}");
    assert_eq!(mongoose_call(app).await.status, 200, "{what}");
}

pub async fn a_postgresql_outage_is_a_503_in_time_and_the_pool_heals() -> Outcome {
    let Some(base) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        // SQLite: see the held-lock test below.
        return Err(Skip::new("a PostgreSQL outage: set TEST_DATABASE_URL"));
    };
    let target = url::Url::parse(&base).unwrap();
    let proxy = Proxy::start(format!(
        "{}:{}",
        target.host_str().unwrap(),
        target.port().unwrap_or(5432)
    ));
    let port = proxy.port;
    let app = TestApp::builder()
        .config(move |c| {
            let mut u = url::Url::parse(c.database_url.as_deref().unwrap()).unwrap();
            u.set_host(Some("127.0.0.1")).unwrap();
            u.set_port(Some(port)).unwrap();
            c.database_url = Some(u.to_string());
            c.database_timeout = TIMEOUT;
        })
        .build();
    app.user("ada@example.com", "password1");
    let client = app.password_client("openid");
    let first = password_grant(&app, &client).await;
    assert_eq!(first.status, 200);
    let token = first.json()["refresh_token"].as_str().unwrap().to_owned();

    proxy.set(BLACK_HOLE);
    assert_outage(&app, &client, "black hole").await;
    assert_eq!(refresh(&app, &client, &token).await.status, 503);
    proxy.set(PASS);
    assert_recovers(&app, &client, "after the black hole").await;
    // The refresh answered 503 spent nothing: its retry is not taken for a replay.
    let r = refresh(&app, &client, &token).await;
    assert_eq!(r.status, 200, "the retry after a 503 works: {}", r.text());

    proxy.set(REFUSE);
    assert_outage(&app, &client, "refused").await;
    proxy.set(PASS);
    assert_recovers(&app, &client, "after refusing").await;
    Ok(())
}

pub async fn a_locked_sqlite_database_is_a_503_in_time_then_serves_again() -> Outcome {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        return Err(Skip::new(
            "a held SQLite lock: SQLite only (TEST_DATABASE_URL is set)",
        ));
    }
    let app = TestApp::builder()
        .config(|c| c.database_timeout = TIMEOUT)
        .build();
    app.user("ada@example.com", "password1");
    let client = app.password_client("openid");
    let first = password_grant(&app, &client).await;
    assert_eq!(first.status, 200);
    let token = first.json()["refresh_token"].as_str().unwrap().to_owned();
    // Another process holds the write lock (a long migration, a backup tool).
    let path = app.db.url.trim_start_matches("sqlite://").to_owned();
    let mut other = diesel::SqliteConnection::establish(&path).unwrap();
    other.batch_execute("BEGIN EXCLUSIVE").unwrap();
    let started = Instant::now();
    let r = password_grant(&app, &client).await;
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["error"], "temporarily_unavailable");
    assert!(r.header("retry-after").is_some());
    assert!(took < Duration::from_secs(3 * TIMEOUT + 2), "took {took:?}");
    // A refresh answered 503 spent nothing: its retry is not taken for a replay.
    let r = refresh(&app, &client, &token).await;
    assert_eq!(r.status, 503, "{}", r.text());
    other.batch_execute("COMMIT").unwrap();
    assert_eq!(password_grant(&app, &client).await.status, 200);
    let r = refresh(&app, &client, &token).await;
    assert_eq!(r.status, 200, "the retry after a 503 works: {}", r.text());
    Ok(())
}

pub async fn a_dozen_concurrent_writers_get_no_5xx() -> Outcome {
    let app = TestApp::builder()
        .config(|c| {
            c.registration = portcullis::config::Registration::Open;
            c.throttle.signups_per_ip = 100_000;
        })
        .build();
    let writer = |w: usize| {
        let app = &app;
        async move {
            let mut statuses = Vec::new();
            for i in 0..8 {
                let r = app
                    .send(TestRequest::post().uri("/accounts").set_json(json!({
                        "account": {"email": format!("w{w}-{i}@example.com"), "password": "rug password 1"}
                    })))
                    .await;
                statuses.push((r.status.as_u16(), r.text()));
            }
            statuses
        }
    };
    let all = futures_util::future::join_all((0..12).map(writer)).await;
    let bad: Vec<_> = all.iter().flatten().filter(|(s, _)| *s != 201).collect();
    assert!(
        bad.is_empty(),
        "{} failed: {:?}",
        bad.len(),
        &bad[..bad.len().min(3)]
    );
    let users = app.cli_json(&["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 96);
    Ok(())
}

/// A raw JSON POST that reports errors instead of panicking (the server may be killed).
fn post_json(addr: &str, path: &str, body: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw)?;
    raw.get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))
}

pub async fn kill_9_under_write_load_loses_no_acknowledged_write() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    let env = |cmd: &mut std::process::Command| {
        cmd.env("PORTCULLIS_DATA_DIR", dir.path().join("data"))
            .env("PORTCULLIS_DATABASE_URL", &db.url)
            .env("PORTCULLIS_REGISTRATION", "open")
            .env("PORTCULLIS_THROTTLE_SIGNUPS_PER_IP", "1000000")
            .env("PORTCULLIS_ARGON2_MEMORY_KIB", "64")
            .env("PORTCULLIS_ARGON2_ITERATIONS", "1");
    };
    let mut cmd = binary();
    env(&mut cmd);
    let mut child = cmd
        .env("PORTCULLIS_BIND", "127.0.0.1:0")
        .env("PORTCULLIS_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let addr = line
        .trim_start_matches("portcullis listening on http://")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (addr, acknowledged) = (addr.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    let email = format!("k{w}-{i}@example.com");
                    let body = json!({"account": {"email": email, "password": "rug password 1"}});
                    match post_json(&addr, "/accounts", &body.to_string()) {
                        Ok(201) => acknowledged.lock().unwrap().push(email),
                        Ok(status) => panic!("{email}: {status} before the kill"),
                        Err(_) => return, // killed
                    }
                }
            })
        })
        .collect();
    // Kill in the middle of the load, once there is something to lose.
    let started = Instant::now();
    while acknowledged.lock().unwrap().len() < 40 {
        assert!(started.elapsed() < Duration::from_secs(60), "no load");
        std::thread::sleep(Duration::from_millis(10));
    }
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    for w in writers {
        w.join()
            .expect("a writer saw an error answer before the kill");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    // Every acknowledged sign-up is there after the crash.
    let mut cmd = binary();
    env(&mut cmd);
    let listed = cmd.args(["--json", "user", "list"]).output().unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let users: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let emails: std::collections::HashSet<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    let lost: Vec<_> = acknowledged
        .iter()
        .filter(|e| !emails.contains(e.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged sign-ups lost: {lost:?}",
        lost.len(),
        acknowledged.len()
    );
    // Nothing was made up either: every user is one the load asked for.
    assert!(emails.iter().all(|e| e.starts_with('k')));
    Ok(())
}

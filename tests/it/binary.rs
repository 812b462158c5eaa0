//! The real binary: it serves on the configured address, prints where, answers discovery and
//! JWKS from a new data directory, and shuts down gracefully on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::helpers::{binary, http_get, http_request, plain_basic, TestDb};

#[test]
fn serves_then_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    let added = binary()
        .args([
            "user",
            "add",
            "--email",
            "ops@example.com",
            "--password",
            "password one",
        ])
        .env("PORTCULLIS_DATA_DIR", dir.path().join("data"))
        .env("PORTCULLIS_DATABASE_URL", &db.url)
        .env("PORTCULLIS_ARGON2_MEMORY_KIB", "64")
        .env("PORTCULLIS_ARGON2_ITERATIONS", "1")
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let mut child = binary()
        .env("PORTCULLIS_BIND", "127.0.0.1:0")
        .env("PORTCULLIS_ISSUER", "http://127.0.0.1:8080")
        .env("PORTCULLIS_DATA_DIR", dir.path().join("data"))
        .env("PORTCULLIS_DATABASE_URL", &db.url)
        .env("PORTCULLIS_LOG", "warn")
        .env("PORTCULLIS_ARGON2_MEMORY_KIB", "64")
        .env("PORTCULLIS_ARGON2_ITERATIONS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("a line").unwrap();
    assert!(
        line.starts_with("portcullis listening on http://127.0.0.1:"),
        "{line}"
    );
    let addr = line
        .trim_start_matches("portcullis listening on http://")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let (status, body) = http_get(&addr, "/.well-known/openid-configuration");
    assert_eq!(status, 200);
    assert!(
        body.contains("\"jwks_uri\":\"http://127.0.0.1:8080/jwks\""),
        "{body}"
    );
    let (status, body) = http_get(&addr, "/jwks");
    assert_eq!(status, 200);
    assert!(body.contains("\"RS256\""), "{body}");
    let (status, _) = http_get(&addr, "/readyz");
    assert_eq!(status, 200);
    if !db.is_postgres() {
        assert!(dir.path().join("data").exists() || db.url.contains("test.db"));
    }

    // A call with user credentials queues an event; SIGTERM must not lose it.
    let basic = plain_basic("ops@example.com", "password one");
    let (status, body) = http_request(
        &addr,
        "POST",
        "/v1/Account.ListTokens",
        &[("Authorization", &basic)],
    );
    assert_eq!(status, 200, "{body}");

    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status after SIGTERM: {status}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cli_prints_ids_usable_by_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::new(dir.path());
    let run = |args: &[&str]| {
        let out = binary()
            .args(args)
            .env("PORTCULLIS_DATA_DIR", dir.path())
            .env("PORTCULLIS_DATABASE_URL", &db.url)
            .env("PORTCULLIS_ARGON2_MEMORY_KIB", "64")
            .env("PORTCULLIS_ARGON2_ITERATIONS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let user = run(&[
        "user",
        "add",
        "--email",
        "ops@example.com",
        "--password",
        "password1",
        "--json",
    ]);
    assert!(user["id"].is_string());
    let client = run(&[
        "--json",
        "client",
        "add",
        "--name",
        "svc",
        "--owner",
        user["id"].as_str().unwrap(),
    ]);
    assert!(client["client_id"].is_string());
    assert!(client["client_secret"].is_string());
    let failed = binary()
        .args(["user", "disable", "nobody"])
        .env("PORTCULLIS_DATA_DIR", dir.path())
        .env("PORTCULLIS_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("user not found"), "{stderr}");
}

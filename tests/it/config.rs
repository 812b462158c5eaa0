//! Configuration: defaults, TOML, environment, and errors that name the setting.

use portcullis::config::{Config, Registration};

use crate::helpers::binary;

fn write(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("portcullis.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn defaults_work_on_a_laptop() {
    let c = Config::default().finish().unwrap();
    assert_eq!(c.bind, "127.0.0.1:8080");
    assert_eq!(c.issuer(), "http://127.0.0.1:8080");
    assert_eq!(c.database_url(), "sqlite://./data/portcullis.db");
    assert_eq!(c.registration, Registration::Closed);
    assert_eq!(c.default_audience(), "http://127.0.0.1:8080");
    assert_eq!(c.argon2.memory_kib, 19456);
}

#[test]
fn issuer_follows_bind_unless_set() {
    let c = Config {
        bind: "0.0.0.0:9000".into(),
        ..Config::default()
    }
    .finish()
    .unwrap();
    assert_eq!(c.issuer(), "http://127.0.0.1:9000");
    let c = Config {
        bind: "10.1.2.3:80".into(),
        ..Config::default()
    }
    .finish()
    .unwrap();
    assert_eq!(c.issuer(), "http://10.1.2.3:80");
    // A host name that resolves is a bind address too, and names the issuer.
    let c = Config {
        bind: "localhost:8099".into(),
        ..Config::default()
    }
    .finish()
    .unwrap();
    assert_eq!(c.issuer(), "http://localhost:8099");
    for bad in [
        "localhost",
        "localhost:99999",
        ":80",
        "no-such-host.invalid:80",
    ] {
        let e = Config {
            bind: bad.into(),
            ..Config::default()
        }
        .finish()
        .unwrap_err()
        .to_string();
        assert!(e.contains("`bind`") && e.contains(bad), "{e}");
    }
    // A set issuer does not excuse a bind that is no host:port.
    let e = Config {
        bind: "nowhere".into(),
        issuer: Some("https://id.example.com".into()),
        ..Config::default()
    }
    .finish()
    .unwrap_err()
    .to_string();
    assert!(e.contains("`bind`"), "{e}");
}

#[test]
fn toml_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        r#"
issuer = "https://id.example.com"
registration = "open"
[tokens]
access_token_ttl = 600
[smtp]
host = "mail.example.com"
port = 2525
"#,
    );
    let c = Config::load(Some(&path)).unwrap();
    assert_eq!(c.issuer(), "https://id.example.com");
    assert_eq!(c.registration, Registration::Open);
    assert_eq!(c.tokens.access_token_ttl, 600);
    assert_eq!(c.smtp.port, 2525);
    assert_eq!(c.smtp.host.as_deref(), Some("mail.example.com"));
}

fn load_err(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), text);
    Config::load(Some(&path)).unwrap_err().to_string()
}

#[test]
fn errors_name_the_setting() {
    let e = load_err("bind = \"nowhere\"");
    assert!(e.contains("`bind`"), "{e}");
    assert!(
        e.contains("(in ") && e.contains("portcullis.toml)"),
        "says where: {e}"
    );
    let e = load_err("log_format = \"xml\"");
    assert!(
        e.contains("expected one of `text`, `json`") && !e.contains("``"),
        "{e}"
    );
    let e = load_err("issuer = \"ftp://x\"");
    assert!(e.contains("`issuer`"), "{e}");
    let e = load_err("issuer = \"https://x/?a=b\"");
    assert!(e.contains("`issuer`"), "{e}");
    let e = load_err("database_url = \"mysql://x\"");
    assert!(e.contains("`database_url`") && e.contains("mysql"), "{e}");
    let e = load_err("master_key = \"too-short\"");
    assert!(e.contains("`master_key`"), "{e}");
    let e = load_err("registration = \"maybe\"");
    assert!(e.contains("registration"), "{e}");
    let e = load_err("colour = \"blue\"");
    assert!(e.contains("colour"), "{e}");
    let e = load_err("[tokens]\naccess_token_ttl = \"soon\"");
    assert!(e.contains("tokens.access_token_ttl"), "{e}");
    let e = load_err("[tokens]\naccess_token_ttl = 0");
    assert!(e.contains("`tokens.access_token_ttl`"), "{e}");
    let e = load_err("[keys]\nretired_ttl = 10");
    assert!(e.contains("`keys.retired_ttl`"), "{e}");
    // A key must be published on every node before any node signs with it.
    let e = load_err("[keys]\npublish_ahead = 5");
    assert!(e.contains("`keys.publish_ahead`"), "{e}");
    let e = load_err("database_timeout = 0");
    assert!(e.contains("`database_timeout`"), "{e}");
    let e = load_err("[housekeeping]\ninterval = 1");
    assert!(e.contains("`housekeeping.interval`"), "{e}");
    let e = load_err("[argon2]\nmemory_kib = 1");
    assert!(e.contains("`argon2`"), "{e}");
    let e = load_err("[smtp]\ntls = \"ssl3\"");
    assert!(e.contains("`smtp.tls`"), "{e}");
    let e = load_err("trusted_proxies = \"10.0.0.1, not-an-ip\"");
    assert!(e.contains("not-an-ip"), "{e}");
}

#[test]
fn missing_config_file_is_an_error() {
    let e = Config::load(Some(std::path::Path::new("/nonexistent/portcullis.toml")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
}

/// Environment variables are read by the binary; run it so the test process's environment
/// stays untouched.
#[test]
fn environment_overrides_and_errors_stop_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = binary()
        .args(["migrate"])
        .env("PORTCULLIS_DATA_DIR", dir.path())
        .env("PORTCULLIS_BIND", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`bind`"), "{err}");
    assert!(err.contains("(from PORTCULLIS_BIND)"), "says where: {err}");

    let out = binary()
        .args(["migrate"])
        .env("PORTCULLIS_DATA_DIR", dir.path())
        .env("PORTCULLIS_TOKENS_ACCESS_TOKEN_TTL", "forever")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tokens.access_token_ttl"), "{err}");
    assert!(err.contains("PORTCULLIS_TOKENS_ACCESS_TOKEN_TTL"), "{err}");

    // Values that look like numbers still fill text settings.
    let out = binary()
        .args(["--json", "migrate"])
        .env("PORTCULLIS_DATA_DIR", dir.path())
        .env("PORTCULLIS_TERMS_VERSION", "2")
        .env("PORTCULLIS_SMTP_PASSWORD", "12345")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(dir.path().join("portcullis.db").exists());
    // Every run says where the data is, and when it made a new database.
    let path = dir.path().join("portcullis.db").display().to_string();
    assert!(err.contains("created a new SQLite database"), "{err}");
    assert!(err.contains(&path), "{err}");

    // Variables that name no setting (a Kubernetes Service named `portcullis` sets some in
    // every pod) are ignored with a warning that names the closest setting.
    let out = binary()
        .args(["--json", "migrate"])
        .env("PORTCULLIS_DATA_DIR", dir.path())
        .env("PORTCULLIS_PORT", "tcp://10.0.0.7:8080")
        .env("PORTCULLIS_SERVICE_HOST", "10.0.0.7")
        .env("PORTCULLIS_TOKENS_ACESS_TOKEN_TTL", "60")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("created a new"), "{err}");
    assert!(
        err.contains("SQLite database") && err.contains(&path),
        "{err}"
    );
    assert!(
        err.contains("PORTCULLIS_PORT is not a setting; ignored"),
        "{err}"
    );
    assert!(
        err.contains("PORTCULLIS_SERVICE_HOST is not a setting"),
        "{err}"
    );
    assert!(
        err.contains("did you mean PORTCULLIS_TOKENS_ACCESS_TOKEN_TTL?"),
        "{err}"
    );
    // Every documented setting is still read.
    let out = binary()
        .args(["migrate"])
        .env("PORTCULLIS_DATA_DIR", dir.path())
        .env("PORTCULLIS_HOUSEKEEPING_INTERVAL", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

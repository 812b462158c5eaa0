//! Email over real SMTP: Python's aiosmtpd on loopback receives a reset email; a mail server
//! that is down leaves the message queued with its error for retries. Without aiosmtpd the
//! delivery test skips loudly, unless `REQUIRE_SMTP_TESTS=1` (set by `.ci/run`).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use portcullis::db::schema::email_outbox;

use crate::browser_helpers::{hidden, Browser};
use crate::helpers::{link_in, TestApp};
use crate::{Outcome, Skip};

struct Smtpd {
    child: Child,
    maildir: tempfile::TempDir,
    port: u16,
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn aiosmtpd() -> Result<Smtpd, Skip> {
    let present = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        Skip::unless_required(
            "REQUIRE_SMTP_TESTS",
            "the aiosmtpd Python package is missing: pip install aiosmtpd",
        )?;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let maildir = tempfile::tempdir().unwrap();
    let child = Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd starts");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "aiosmtpd did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Smtpd {
        child,
        maildir,
        port,
    })
}

fn smtp_app(port: u16) -> TestApp {
    TestApp::builder()
        .config(move |c| {
            c.smtp.host = Some("127.0.0.1".into());
            c.smtp.port = port;
            c.smtp.tls = "none".into();
            c.smtp.from = "Portcullis <id@portcullis.test>".into();
        })
        .build()
}

async fn forgot(app: &TestApp, email: &str) {
    let mut b = Browser::new(app);
    let page = b.get("/forgot-password").await.text();
    let r = b
        .post(
            "/forgot-password",
            &[("csrf", &hidden(&page, "csrf")), ("email", email)],
        )
        .await;
    assert_eq!(r.status, 200);
}

pub async fn a_reset_email_arrives_over_smtp() -> Outcome {
    let smtpd = aiosmtpd()?;
    let app = smtp_app(smtpd.port);
    app.user("ada@example.com", "password one");
    forgot(&app, "ada@example.com").await;
    assert!(
        app.outbox().is_empty(),
        "with SMTP nothing goes to the outbox folder"
    );
    // The request returned before delivery; the worker's round sends it.
    let sent = app.state.mailer.deliver_due().await.unwrap();
    assert_eq!(sent, 1);
    let new = smtpd.maildir.path().join("mail").join("new");
    let started = Instant::now();
    let message = loop {
        let files: Vec<_> = std::fs::read_dir(&new)
            .map(|d| d.filter_map(|e| e.ok()).collect())
            .unwrap_or_default();
        if let Some(f) = files.first() {
            break std::fs::read_to_string(f.path()).unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no message arrived"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(message.contains("To: ada@example.com"), "{message}");
    assert!(message.contains("Subject: Reset your password"));
    let link = link_in(&message, "/reset-password").expect("the reset link");
    assert_eq!(
        Browser::new(&app).get(&link).await.status,
        200,
        "the link works"
    );
    let sent_at: Option<chrono::NaiveDateTime> = email_outbox::table
        .select(email_outbox::sent_at)
        .first(&mut app.conn())
        .unwrap();
    assert!(sent_at.is_some());
    Ok(())
}

pub async fn a_mail_server_that_is_down_leaves_the_message_queued_with_its_error() -> Outcome {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = smtp_app(port);
    app.user("ada@example.com", "password one");
    forgot(&app, "ada@example.com").await;
    let sent = app.state.mailer.deliver_due().await.unwrap();
    assert_eq!(sent, 0);
    let (attempts, error, sent_at): (i32, Option<String>, Option<chrono::NaiveDateTime>) =
        email_outbox::table
            .select((
                email_outbox::attempts,
                email_outbox::last_error,
                email_outbox::sent_at,
            ))
            .first(&mut app.conn())
            .unwrap();
    assert_eq!(attempts, 1);
    assert!(error.is_some_and(|e| !e.is_empty()));
    assert!(sent_at.is_none());
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains(r#"portcullis_emails_total{result="failed"} 1"#),
        "{metrics}"
    );
    // Not retried before its backoff; retried after.
    assert_eq!(app.state.mailer.deliver_due().await.unwrap(), 0);
    let attempts: i32 = email_outbox::table
        .select(email_outbox::attempts)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(attempts, 1);
    app.clock.advance(Duration::from_secs(31));
    app.state.mailer.deliver_due().await.unwrap();
    let attempts: i32 = email_outbox::table
        .select(email_outbox::attempts)
        .first(&mut app.conn())
        .unwrap();
    assert_eq!(attempts, 2);
    Ok(())
}

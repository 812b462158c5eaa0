//! Mail delivery, node-local: a message is written to `<data_dir>/outbox/` as an `.eml` file
//! when no SMTP host is configured (its link logged, so flows work on a laptop), or queued in
//! the database, where a worker on each node delivers it with retries, so a slow or broken
//! mail server never holds up a request. A message that keeps failing stays in the queue with
//! its error, and is counted in `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::{Config, SmtpSettings};
use crate::core::email::{self, Message};
use crate::core::Error;
use crate::db::{self, DbPool};
use crate::telemetry::Metrics;

/// Delivers mail; cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    db: DbPool,
    config: Arc<Config>,
    clock: Clock,
    metrics: Metrics,
    wake: Arc<Notify>,
}

impl Mailer {
    pub fn new(db: DbPool, config: Arc<Config>, clock: Clock, metrics: Metrics) -> Mailer {
        Mailer {
            db,
            config,
            clock,
            metrics,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Sends (or queues) a rendered message; `link` is logged for outbox messages. Returns once
    /// the message is safe: written to the outbox, or stored in the delivery queue.
    pub async fn send(&self, message: Message, link: String) -> Result<(), Error> {
        let config = self.config.clone();
        let now = self.clock.now_naive();
        if config.smtp.host.is_none() {
            let path = db::blocking(move || write_outbox(&config, &message, now)).await?;
            tracing::info!(path = %path, link = %link, "email written to the outbox (no SMTP host configured)");
            return Ok(());
        }
        self.db
            .run(move |conn| email::enqueue(conn, now, &message))
            .await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Delivers the messages that are due; returns how many were sent.
    pub async fn deliver_due(&self) -> Result<usize, Error> {
        let state = self;
        let now = state.clock.now_naive();
        let batch = state
            .db
            .run(move |conn| email::claim_due(conn, now, 20))
            .await?;
        let mut sent = 0;
        for m in batch {
            let settings = state.config.smtp.clone();
            let message = m.clone();
            let result = db::blocking(move || {
                let msg = build(
                    &settings.from,
                    &Message {
                        kind: "",
                        to: message.to_addr.clone(),
                        subject: message.subject.clone(),
                        text: message.text_body.clone(),
                        html: message.html_body.clone(),
                    },
                );
                Ok(msg.and_then(|msg| {
                    transport(&settings)?
                        .send(&msg)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }))
            })
            .await?;
            let now = state.clock.now_naive();
            match result {
                Ok(()) => {
                    let id = m.id.clone();
                    state
                        .db
                        .run(move |conn| email::mark_sent(conn, now, &id))
                        .await?;
                    state.metrics.email("sent");
                    sent += 1;
                }
                Err(error) => {
                    let given_up = {
                        let (m, error) = (m.clone(), error.clone());
                        state
                            .db
                            .run(move |conn| email::mark_failed(conn, now, &m, &error))
                            .await?
                    };
                    state
                        .metrics
                        .email(if given_up { "given_up" } else { "failed" });
                    if given_up {
                        tracing::error!(id = %m.id, to = %m.to_addr, error = %error, "email given up after retries");
                    } else {
                        tracing::warn!(id = %m.id, to = %m.to_addr, attempt = m.attempts + 1, error = %error, "email delivery failed; will retry");
                    }
                }
            }
        }
        Ok(sent)
    }

    /// Runs delivery in the background: when woken by a new message, and every 5 seconds
    /// for retries and messages queued by other nodes.
    pub fn spawn_worker(&self) {
        let this = self.clone();
        actix_web::rt::spawn(async move {
            loop {
                if let Err(e) = this.deliver_due().await {
                    tracing::error!(error = %e, "email delivery round failed");
                }
                let notified = this.wake.notified();
                let _ = actix_web::rt::time::timeout(Duration::from_secs(5), notified).await;
            }
        });
    }
}

/// An RFC 5322 message with plain-text and HTML parts.
pub fn build(from: &str, m: &Message) -> Result<lettre::Message, String> {
    let from: Mailbox = from.parse().map_err(|e| format!("smtp.from: {e}"))?;
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| format!("recipient {}: {e}", m.to))?;
    lettre::Message::builder()
        .from(from)
        .to(to)
        .subject(m.subject.clone())
        .multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            m.html.clone(),
        ))
        .map_err(|e| e.to_string())
}

fn write_outbox(
    config: &Config,
    m: &Message,
    now: crate::core::Timestamp,
) -> Result<String, Error> {
    let dir = config.data_dir.join("outbox");
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Internal(format!("outbox {}: {e}", dir.display())))?;
    let msg = build(&config.smtp.from, m).map_err(Error::Internal)?;
    let name = format!(
        "{}-{}-{}.eml",
        now.format("%Y%m%dT%H%M%S%.3f"),
        m.kind,
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let path = dir.join(name);
    std::fs::write(&path, msg.formatted())
        .map_err(|e| Error::Internal(format!("outbox {}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

fn transport(s: &SmtpSettings) -> Result<SmtpTransport, String> {
    let host = s.host.as_deref().ok_or("no SMTP host")?;
    let builder = match s.tls.as_str() {
        "none" => SmtpTransport::builder_dangerous(host),
        "tls" => SmtpTransport::relay(host).map_err(|e| e.to_string())?,
        _ => SmtpTransport::starttls_relay(host).map_err(|e| e.to_string())?,
    };
    let mut builder = builder.port(s.port).timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(pass)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(builder.build())
}

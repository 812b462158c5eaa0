//! Outgoing email. Without an SMTP host every message is written to `<data_dir>/outbox/` as an
//! `.eml` file and its link is logged, so the flows work on a laptop. With SMTP, messages are
//! queued in the database and a worker on each node delivers them with retries, so a slow or
//! broken mail server never holds up a request; a message that keeps failing stays in the
//! queue with its error, and is counted in `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{SmtpTransport, Transport};
use tokio::sync::Notify;

use crate::config::{Config, SmtpSettings};
use crate::core::email::{self, Message};
use crate::core::Error;
use crate::db;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "email/verify.txt")]
struct VerifyText<'a> {
    name: Option<&'a str>,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/verify.html")]
struct VerifyHtml<'a> {
    name: Option<&'a str>,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reset.txt")]
struct ResetText<'a> {
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reset.html")]
struct ResetHtml<'a> {
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_changed.txt")]
struct EmailChangedText<'a> {
    new_address: &'a str,
    when: &'a str,
    forgot_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_changed.html")]
struct EmailChangedHtml<'a> {
    new_address: &'a str,
    when: &'a str,
    forgot_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/new_credential.txt")]
struct NewCredentialText<'a> {
    what: &'a str,
    label: &'a str,
    when: &'a str,
    account_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/new_credential.html")]
struct NewCredentialHtml<'a> {
    what: &'a str,
    label: &'a str,
    when: &'a str,
    account_link: &'a str,
}

/// The messages Portcullis sends.
pub enum Email<'a> {
    /// Confirm an address (after sign-up or an email change).
    Verify {
        to: &'a str,
        name: Option<&'a str>,
        link: &'a str,
    },
    /// Choose a new password.
    Reset { to: &'a str, link: &'a str },
    /// To the old address: the account's email changed (and how to take it back).
    EmailChanged {
        to: &'a str,
        new_address: &'a str,
        when: &'a str,
        forgot_link: &'a str,
    },
    /// A credential that survives a password change was made (a personal access token, a
    /// client key).
    NewCredential {
        to: &'a str,
        what: &'a str,
        label: &'a str,
        when: &'a str,
        account_link: &'a str,
    },
}

fn render(e: &Email) -> Result<(Message, String), Error> {
    let err = |e: askama::Error| Error::Internal(format!("email template: {e}"));
    Ok(match e {
        Email::Verify { to, name, link } => (
            Message {
                kind: "verify_email",
                to: to.to_string(),
                subject: "Confirm your email address".into(),
                text: VerifyText { name: *name, link }.render().map_err(err)?,
                html: VerifyHtml { name: *name, link }.render().map_err(err)?,
            },
            link.to_string(),
        ),
        Email::EmailChanged {
            to,
            new_address,
            when,
            forgot_link,
        } => (
            Message {
                kind: "email_changed",
                to: to.to_string(),
                subject: "Your email address was changed".into(),
                text: EmailChangedText {
                    new_address,
                    when,
                    forgot_link,
                }
                .render()
                .map_err(err)?,
                html: EmailChangedHtml {
                    new_address,
                    when,
                    forgot_link,
                }
                .render()
                .map_err(err)?,
            },
            forgot_link.to_string(),
        ),
        Email::NewCredential {
            to,
            what,
            label,
            when,
            account_link,
        } => (
            Message {
                kind: "new_credential",
                to: to.to_string(),
                subject: format!("A new {what} was created for your account"),
                text: NewCredentialText {
                    what,
                    label,
                    when,
                    account_link,
                }
                .render()
                .map_err(err)?,
                html: NewCredentialHtml {
                    what,
                    label,
                    when,
                    account_link,
                }
                .render()
                .map_err(err)?,
            },
            account_link.to_string(),
        ),
        Email::Reset { to, link } => (
            Message {
                kind: "reset_password",
                to: to.to_string(),
                subject: "Reset your password".into(),
                text: ResetText { link }.render().map_err(err)?,
                html: ResetHtml { link }.render().map_err(err)?,
            },
            link.to_string(),
        ),
    })
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

/// Wakes the delivery worker when a message is queued.
#[derive(Clone, Default)]
pub struct MailSignal(Arc<Notify>);

/// Sends (or queues) an email. Returns once the message is safe: written to the outbox, or
/// stored in the delivery queue.
pub async fn send(state: &AppState, e: Email<'_>) -> Result<(), Error> {
    let (message, link) = render(&e)?;
    let config = state.config.clone();
    let now = state.clock.now_naive();
    if config.smtp.host.is_none() {
        let path = db::blocking(move || write_outbox(&config, &message, now)).await?;
        tracing::info!(path = %path, link = %link, "email written to the outbox (no SMTP host configured)");
        return Ok(());
    }
    state
        .db
        .run(move |conn| email::enqueue(conn, now, &message))
        .await?;
    state.mail.0.notify_one();
    Ok(())
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

/// Delivers the messages that are due; returns how many were sent.
pub async fn deliver_due(state: &AppState) -> Result<usize, Error> {
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

/// Runs delivery in the background: when woken by a new message, and every 5 seconds for
/// retries and messages queued by other nodes.
pub fn spawn_worker(state: AppState) {
    actix_web::rt::spawn(async move {
        loop {
            if let Err(e) = deliver_due(&state).await {
                tracing::error!(error = %e, "email delivery round failed");
            }
            let notified = state.mail.0.notified();
            let _ = actix_web::rt::time::timeout(Duration::from_secs(5), notified).await;
        }
    });
}

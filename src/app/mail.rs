//! The messages Portcullis sends, rendered from `templates/email/` (plain text and HTML), and
//! handed to the node's mailer (`runtime::mail`) for the outbox or SMTP.

use askama::Template;

use crate::core::email::Message;
use crate::core::Error;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "email/verify.txt")]
struct VerifyText<'a> {
    look: &'a Look,
    expires: &'a str,
    name: Option<&'a str>,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/verify.html")]
struct VerifyHtml<'a> {
    look: &'a Look,
    expires: &'a str,
    name: Option<&'a str>,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reset.txt")]
struct ResetText<'a> {
    look: &'a Look,
    expires: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/reset.html")]
struct ResetHtml<'a> {
    look: &'a Look,
    expires: &'a str,
    link: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_changed.txt")]
struct EmailChangedText<'a> {
    look: &'a Look,
    new_address: &'a str,
    when: &'a str,
    forgot_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/email_changed.html")]
struct EmailChangedHtml<'a> {
    look: &'a Look,
    new_address: &'a str,
    when: &'a str,
    forgot_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/new_credential.txt")]
struct NewCredentialText<'a> {
    look: &'a Look,
    what: &'a str,
    label: &'a str,
    when: &'a str,
    account_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/new_credential.html")]
struct NewCredentialHtml<'a> {
    look: &'a Look,
    what: &'a str,
    label: &'a str,
    when: &'a str,
    account_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/recovery_used.txt")]
struct RecoveryUsedText<'a> {
    look: &'a Look,
    when: &'a str,
    left: i64,
    account_link: &'a str,
}

#[derive(Template)]
#[template(path = "email/recovery_used.html")]
struct RecoveryUsedHtml<'a> {
    look: &'a Look,
    when: &'a str,
    left: i64,
    account_link: &'a str,
}

/// The brand as emails show it (`branding.*`): the name, and the accent colour of buttons.
struct Look {
    name: String,
    accent: String,
    accent_text: &'static str,
}

impl Look {
    fn new(b: &crate::config::BrandingSettings) -> Look {
        let (r, g, bl) = b.accent_rgb();
        Look {
            name: b.name.clone(),
            accent: format!("#{r:02x}{g:02x}{bl:02x}"),
            accent_text: b.accent_text(),
        }
    }
}

/// A lifetime in words: "1 hour", "24 hours", "30 minutes", "90 seconds".
fn lifetime(secs: u64) -> String {
    let (n, unit) = if secs.is_multiple_of(86_400) && secs >= 2 * 86_400 {
        (secs / 86_400, "day")
    } else if secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The messages Portcullis sends.
pub enum Email<'a> {
    /// A recovery code was used to sign in (and how many are left).
    RecoveryCodeUsed {
        to: &'a str,
        when: &'a str,
        left: i64,
        account_link: &'a str,
    },
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

fn render(e: &Email, config: &crate::config::Config) -> Result<(Message, String), Error> {
    let err = |e: askama::Error| Error::Internal(format!("email template: {e}"));
    let look = &Look::new(&config.branding);
    Ok(match e {
        Email::RecoveryCodeUsed {
            to,
            when,
            left,
            account_link,
        } => (
            Message {
                kind: "recovery_code_used",
                to: to.to_string(),
                subject: "A recovery code was used to sign in to your account".into(),
                text: RecoveryUsedText {
                    look,
                    when,
                    left: *left,
                    account_link,
                }
                .render()
                .map_err(err)?,
                html: RecoveryUsedHtml {
                    look,
                    when,
                    left: *left,
                    account_link,
                }
                .render()
                .map_err(err)?,
            },
            account_link.to_string(),
        ),
        Email::Verify { to, name, link } => (
            Message {
                kind: "verify_email",
                to: to.to_string(),
                subject: "Confirm your email address".into(),
                text: VerifyText {
                    look,
                    expires: &lifetime(config.tokens.verify_email_ttl),
                    name: *name,
                    link,
                }
                .render()
                .map_err(err)?,
                html: VerifyHtml {
                    look,
                    expires: &lifetime(config.tokens.verify_email_ttl),
                    name: *name,
                    link,
                }
                .render()
                .map_err(err)?,
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
                    look,
                    new_address,
                    when,
                    forgot_link,
                }
                .render()
                .map_err(err)?,
                html: EmailChangedHtml {
                    look,
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
                    look,
                    what,
                    label,
                    when,
                    account_link,
                }
                .render()
                .map_err(err)?,
                html: NewCredentialHtml {
                    look,
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
                text: ResetText {
                    look,
                    expires: &lifetime(config.tokens.reset_password_ttl),
                    link,
                }
                .render()
                .map_err(err)?,
                html: ResetHtml {
                    look,
                    expires: &lifetime(config.tokens.reset_password_ttl),
                    link,
                }
                .render()
                .map_err(err)?,
            },
            link.to_string(),
        ),
    })
}

/// Sends (or queues) an email. Returns once the message is safe: written to the outbox, or
/// stored in the delivery queue.
pub async fn send(state: &AppState, e: Email<'_>) -> Result<(), Error> {
    let (message, link) = render(&e, &state.config)?;
    state.mailer.send(message, link).await
}

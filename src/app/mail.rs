//! The messages Portcullis sends, rendered from `templates/email/` (plain text and HTML), and
//! handed to the node's mailer (`runtime::mail`) for the outbox or SMTP.

use askama::Template;

use crate::core::email::Message;
use crate::core::Error;
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

/// Sends (or queues) an email. Returns once the message is safe: written to the outbox, or
/// stored in the delivery queue.
pub async fn send(state: &AppState, e: Email<'_>) -> Result<(), Error> {
    let (message, link) = render(&e)?;
    state.mailer.send(message, link).await
}

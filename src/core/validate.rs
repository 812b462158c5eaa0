//! Input validation shared by every door: ids, emails, usernames, URIs and scopes.

use super::Error;

/// Ids chosen by callers (user ids, client ids): 1-64 characters of `[A-Za-z0-9._-]`.
pub fn id(field: &'static str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > 64 {
        return Err(Error::invalid(field, "must be 1 to 64 characters"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(Error::invalid(
            field,
            "may contain only letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(())
}

/// Usernames: like ids (so they never look like an email address), 1-64 characters.
pub fn username(value: &str) -> Result<(), Error> {
    id("username", value)
}

/// A plausible email address: `local@domain`, no spaces or control characters, at most 254,
/// and one the mailer can send to (lettre's address rules), so that an account is never
/// created for an address its verification email cannot reach.
pub fn email(value: &str) -> Result<(), Error> {
    let bad = || Error::invalid("email", "must be an email address such as name@example.com");
    if value.len() > 254 || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad());
    }
    let (local, domain) = value.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || local.len() > 64
        || domain.is_empty()
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
        || domain.contains('@')
        || local.contains('@')
    {
        return Err(bad());
    }
    // What the mailer parses: the address, and the recipient it writes into the message.
    value.parse::<lettre::Address>().map_err(|_| bad())?;
    value
        .parse::<lettre::message::Mailbox>()
        .ok()
        .filter(|m| m.name.is_none() && AsRef::<str>::as_ref(&m.email) == value)
        .ok_or_else(bad)?;
    Ok(())
}

/// Display names and descriptions: 1-200 characters, no control characters.
pub fn text(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    if value.trim().is_empty() || value.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// A phone number in international form (OIDC Core §5.1 recommends E.164): `+`, the country
/// code and number, 7 to 15 digits; spaces, dots, hyphens and parentheses between them are
/// dropped. Returns the E.164 form (`+442079460958`).
pub fn phone(value: &str) -> Result<String, Error> {
    let bad = || {
        Error::invalid(
            "phone_number",
            "must be in international form, starting with + and the country code, such as +44 20 7946 0958",
        )
    };
    let rest = value.trim().strip_prefix('+').ok_or_else(bad)?;
    // "+44 (0)20 ..." mixes the national trunk prefix into the international form.
    if rest.replace(' ', "").contains("(0)") {
        return Err(Error::invalid(
            "phone_number",
            "must not contain the national (0): write +44 20 7946 0958, not +44 (0)20 7946 0958",
        ));
    }
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '.' | '-' | '(' | ')' => {}
            _ => return Err(bad()),
        }
    }
    if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
        return Err(bad());
    }
    Ok(format!("+{digits}"))
}

/// A redirect URI: absolute, without a fragment (RFC 6749 §3.1.2). `http` is allowed (for
/// loopback and development); custom schemes are allowed for native apps (RFC 8252).
pub fn redirect_uri(field: &'static str, value: &str) -> Result<(), Error> {
    let parsed = url::Url::parse(value)
        .map_err(|_| Error::invalid(field, format!("`{value}` is not an absolute URI")))?;
    if parsed.fragment().is_some() {
        return Err(Error::invalid(field, "must not contain a fragment"));
    }
    if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_none() {
        return Err(Error::invalid(field, "must have a host"));
    }
    if matches!(parsed.scheme(), "javascript" | "data" | "file" | "vbscript") {
        return Err(Error::invalid(field, "this URI scheme is not allowed"));
    }
    // `localhost:3000/cb` parses as the scheme `localhost`: a forgotten `http://`. A native
    // app's own scheme is a reverse domain name (RFC 8252 §7.1: `com.example.app:/cb`).
    if !matches!(parsed.scheme(), "http" | "https") && !parsed.scheme().contains('.') {
        return Err(Error::invalid(
            field,
            format!(
                "`{value}` has the scheme `{}`: use http:// or https://, or a reverse-domain scheme for a native app (com.example.app:/callback, RFC 8252)",
                parsed.scheme()
            ),
        ));
    }
    Ok(())
}

/// One scope token (RFC 6749 §3.3): printable ASCII except space, `"` and `\`.
pub fn scope_token(value: &str) -> Result<(), Error> {
    if value.is_empty()
        || value.len() > 128
        || !value
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
    {
        return Err(Error::invalid(
            "scope",
            format!("`{value}` is not a valid scope"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(email("a@b.c").is_ok());
        assert!(email("a@b").is_ok());
        for bad in ["", "a", "@b", "a@", "a b@c", "a@b..c", "a@.b", "a@b@c"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_and_uris() {
        assert!(id("id", "user_1.x-y").is_ok());
        assert!(id("id", "a@b").is_err());
        assert!(id("id", &"x".repeat(65)).is_err());
        assert!(redirect_uri("r", "https://app.example/cb").is_ok());
        assert!(redirect_uri("r", "com.example.app:/cb").is_ok());
        assert!(redirect_uri("r", "https://app.example/cb#x").is_err());
        assert!(redirect_uri("r", "/relative").is_err());
        assert!(redirect_uri("r", "javascript:alert(1)").is_err());
        // A forgotten http://, and a private-use scheme that is not a reverse domain name.
        assert!(redirect_uri("r", "localhost:3000/cb").is_err());
        assert!(redirect_uri("r", "myapp://cb").is_err());
        assert!(redirect_uri("r", "http://127.0.0.1:3000/cb").is_ok());
        assert!(scope_token("openid").is_ok());
        assert!(scope_token("a\"b").is_err());
    }
}

#[cfg(test)]
mod email_tests {
    #[test]
    fn emails_the_mailer_refuses_are_invalid() {
        for ok in ["ada@example.com", "a.b+c@sub.example.org"] {
            assert!(super::email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "tom(comment)@example.com",
            "a@[not-an-ip]",
            "no-at.example.com",
            "a b@example.com",
            "a@.example.com",
        ] {
            assert!(super::email(bad).is_err(), "{bad}");
        }
    }
}

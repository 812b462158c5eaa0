//! Token exchange (RFC 8693): a confidential client that holds a token for a person (it is the
//! token's client, or the resource the token was issued for) trades it for an access token for
//! another audience, acting for the same subject; with an actor token, the new token says who
//! acts for them (`act`, §4.1). What a client may exchange for is its policy: the audiences
//! registered in its `token_exchange_audiences`. The new token never widens the subject
//! token's scope, never carries the scopes that make a token a credential at this server
//! (`openid`, `account`, `admin`), never outlives the subject token, and keeps its grant, so
//! revoking the person's grant revokes it too.

use serde_json::{json, Value};

use super::clients::ClientRow;
use super::principal::scopes::{BACKEND, EMBED, FOR_THIS_SERVER};
use super::Error;

/// `grant_type` of a token exchange.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// Token type URIs (RFC 8693 §3).
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";

/// The parameters of an exchange, as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct ExchangeParams {
    pub subject_token: Option<String>,
    pub subject_token_type: Option<String>,
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
    pub requested_token_type: Option<String>,
    /// `audience` values (may repeat).
    pub audiences: Vec<String>,
}

/// A verified subject token: whom the new token acts for.
#[derive(Debug, Clone)]
pub struct Subject {
    pub sub: String,
    /// The client the subject token was issued to.
    pub client_id: String,
    /// Its audiences.
    pub audiences: Vec<String>,
    pub scope: String,
    pub exp: i64,
    /// When it was issued, in milliseconds (a person's cut-off refuses older ones).
    pub iat_ms: i64,
    /// Its grant (access tokens of a person's grant).
    pub gid: Option<String>,
    pub auth_time: Option<i64>,
    pub amr: Option<Vec<String>>,
    /// The `act` it already carries (a chain of delegation).
    pub act: Option<Value>,
    pub kind: SubjectKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    AccessToken,
    IdToken,
}

/// A verified actor token: who acts.
#[derive(Debug, Clone)]
pub struct Actor {
    pub sub: String,
    pub client_id: String,
}

/// What the new token will say.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub audience: Vec<String>,
    pub scope: String,
    pub act: Option<Value>,
}

/// Checks the parameters that need no token: the token types, and both actor parameters or
/// neither.
pub fn check_params(p: &ExchangeParams) -> Result<(), Error> {
    let bad = |m: &str| Error::InvalidRequest(m.to_owned());
    if p.subject_token.is_none() {
        return Err(bad("subject_token is required"));
    }
    match p.subject_token_type.as_deref() {
        Some(ACCESS_TOKEN) | Some(ID_TOKEN) => {}
        Some(_) => {
            return Err(bad(
                "subject_token_type must be urn:ietf:params:oauth:token-type:access_token or urn:ietf:params:oauth:token-type:id_token",
            ))
        }
        None => return Err(bad("subject_token_type is required")),
    }
    match (&p.actor_token, p.actor_token_type.as_deref()) {
        (None, None) => {}
        (Some(_), Some(ACCESS_TOKEN)) => {}
        (Some(_), Some(_)) => {
            return Err(bad(
                "actor_token_type must be urn:ietf:params:oauth:token-type:access_token",
            ))
        }
        _ => return Err(bad("send actor_token and actor_token_type together")),
    }
    match p.requested_token_type.as_deref() {
        None | Some(ACCESS_TOKEN) => Ok(()),
        Some(_) => Err(bad(
            "requested_token_type may only be urn:ietf:params:oauth:token-type:access_token",
        )),
    }
}

/// The audiences a client may exchange tokens for (its policy); empty when it may not.
pub fn allowed_audiences(client: &ClientRow) -> Vec<String> {
    client.meta().token_exchange_audiences
}

/// Scopes never carried over: those that make a token a credential at this server.
const NOT_EXCHANGED: &[&str] = &[BACKEND, EMBED];
/// The longest chain of actors a token may carry.
pub const MAX_ACT_DEPTH: usize = 5;

/// Whether `client` may exchange tokens at all: the grant and a policy. Checked before any
/// token is looked at, so that other clients learn nothing about tokens.
pub fn may_exchange(client: &ClientRow) -> Result<(), Error> {
    if allowed_audiences(client).is_empty() || !client.grant_types.iter().any(|g| g == GRANT_TYPE) {
        return Err(Error::UnauthorizedClient(
            "this client may not exchange tokens".into(),
        ));
    }
    Ok(())
}

fn act_depth(act: Option<&Value>) -> usize {
    match act {
        Some(a) => 1 + act_depth(a.get("act")),
        None => 0,
    }
}

/// Decides the new token for `client` exchanging `subject` (with `actor`) for `targets` (its
/// `audience` and `resource` values) and the `scope` it asked for; or why not. `this_server`
/// are the audiences that name this server (the issuer and the default audience): a subject
/// token is never the caller's for being meant for them, and no token is exchanged for them.
pub fn decide(
    client: &ClientRow,
    subject: &Subject,
    actor: Option<&Actor>,
    targets: &[String],
    scope: Option<&str>,
    this_server: &[&str],
) -> Result<Decision, Error> {
    may_exchange(client)?;
    let allowed = allowed_audiences(client);
    // The subject token must be the caller's: issued to it, or for it.
    let its_own = match subject.kind {
        SubjectKind::IdToken => subject.audiences.iter().any(|a| a == &client.id),
        SubjectKind::AccessToken => {
            subject.client_id == client.id
                || subject.audiences.iter().any(|a| {
                    !this_server.contains(&a.as_str()) && client.resources.iter().any(|r| r == a)
                })
        }
    };
    if !its_own {
        return Err(Error::InvalidRequest(
            "the subject token was neither issued to this client nor for a resource it serves"
                .into(),
        ));
    }
    if let Some(a) = actor {
        if a.client_id != client.id || a.sub != client.id {
            return Err(Error::InvalidRequest(
                "the actor token must be this client's own (client credentials)".into(),
            ));
        }
    }
    if act_depth(subject.act.as_ref()) >= MAX_ACT_DEPTH {
        return Err(Error::InvalidRequest(
            "the subject token carries too long a chain of actors".into(),
        ));
    }
    if targets.is_empty() {
        return Err(Error::InvalidRequest(
            "say which audience the new token is for (audience or resource)".into(),
        ));
    }
    let mut audience: Vec<String> = Vec::new();
    for t in targets {
        if !allowed.iter().any(|a| a == t) || this_server.contains(&t.as_str()) {
            return Err(Error::InvalidTarget(format!(
                "this client may not exchange tokens for `{t}`"
            )));
        }
        if !audience.contains(t) {
            audience.push(t.clone());
        }
    }
    let held: Vec<&str> = subject
        .scope
        .split_whitespace()
        .filter(|s| !FOR_THIS_SERVER.contains(s) && !NOT_EXCHANGED.contains(s))
        .collect();
    let scope = match scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => held.join(" "),
        Some(asked) => {
            let mut out: Vec<&str> = Vec::new();
            for s in asked.split_whitespace() {
                if !held.contains(&s) {
                    return Err(Error::InvalidScope(format!(
                        "`{s}` is not in the subject token's scope, or not exchangeable"
                    )));
                }
                if !out.contains(&s) {
                    out.push(s);
                }
            }
            out.join(" ")
        }
    };
    let act = match actor {
        Some(a) => {
            let mut act = json!({ "sub": a.sub, "client_id": a.client_id });
            if let Some(prior) = &subject.act {
                act["act"] = prior.clone();
            }
            Some(act)
        }
        None => subject.act.clone(),
    };
    Ok(Decision {
        audience,
        scope,
        act,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const THIS: &[&str] = &["https://as.example"];

    fn client(resources: &[&str], audiences: &[&str]) -> ClientRow {
        let mut c = ClientRow::for_tests("api");
        c.resources = resources
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .into();
        c.grant_types = vec![GRANT_TYPE.to_string()].into();
        c.metadata = json!({ "token_exchange_audiences": audiences }).to_string();
        c
    }

    fn subject() -> Subject {
        Subject {
            sub: "u1".into(),
            client_id: "web".into(),
            audiences: vec!["https://api.example".into()],
            scope: "openid profile orders".into(),
            exp: 2000,
            iat_ms: 1_000_000,
            gid: Some("g1".into()),
            auth_time: None,
            amr: None,
            act: None,
            kind: SubjectKind::AccessToken,
        }
    }

    #[test]
    fn a_resource_server_exchanges_for_its_allowed_audiences_only() {
        let c = client(&["https://api.example"], &["https://backend.example"]);
        let t = vec!["https://backend.example".to_string()];
        let d = decide(&c, &subject(), None, &t, None, THIS).unwrap();
        assert_eq!(d.scope, "profile orders", "openid is not exchanged");
        assert_eq!(d.audience, t);
        let other = vec!["https://elsewhere.example".to_string()];
        assert!(matches!(
            decide(&c, &subject(), None, &other, None, THIS),
            Err(Error::InvalidTarget(_))
        ));
        assert!(matches!(
            decide(&c, &subject(), None, &t, Some("orders admin"), THIS),
            Err(Error::InvalidScope(_))
        ));
        let stranger = client(&["https://other-api.example"], &["https://backend.example"]);
        // Listing this server as a resource makes nobody's tokens the client's.
        let mut s = subject();
        s.audiences.push("https://as.example".into());
        let greedy = client(&["https://as.example"], &["https://backend.example"]);
        assert!(decide(&greedy, &s, None, &t, None, THIS).is_err());
        let to_us = client(&["https://api.example"], &["https://as.example"]);
        assert!(matches!(
            decide(
                &to_us,
                &subject(),
                None,
                &["https://as.example".to_string()],
                None,
                THIS
            ),
            Err(Error::InvalidTarget(_))
        ));
        assert!(decide(&stranger, &subject(), None, &t, None, THIS).is_err());
        let no_policy = client(&["https://api.example"], &[]);
        assert!(matches!(
            decide(&no_policy, &subject(), None, &t, None, THIS),
            Err(Error::UnauthorizedClient(_))
        ));
    }

    #[test]
    fn an_actor_is_recorded_and_chains_keep_their_history() {
        let c = client(&["https://api.example"], &["https://backend.example"]);
        let t = vec!["https://backend.example".to_string()];
        let actor = Actor {
            sub: "api".into(),
            client_id: "api".into(),
        };
        let mut s = subject();
        s.act = Some(json!({"sub": "gateway"}));
        let d = decide(&c, &s, Some(&actor), &t, Some("orders"), THIS).unwrap();
        assert_eq!(
            d.act,
            Some(json!({"sub": "api", "client_id": "api", "act": {"sub": "gateway"}}))
        );
        let someone_else = Actor {
            sub: "x".into(),
            client_id: "x".into(),
        };
        assert!(decide(&c, &s, Some(&someone_else), &t, None, THIS).is_err());
    }

    #[test]
    fn parameters_must_name_supported_token_types() {
        let ok = ExchangeParams {
            subject_token: Some("t".into()),
            subject_token_type: Some(ACCESS_TOKEN.into()),
            ..Default::default()
        };
        assert!(check_params(&ok).is_ok());
        let saml = ExchangeParams {
            subject_token_type: Some("urn:ietf:params:oauth:token-type:saml2".into()),
            ..ok.clone()
        };
        assert!(check_params(&saml).is_err());
        let half_actor = ExchangeParams {
            actor_token: Some("a".into()),
            ..ok.clone()
        };
        assert!(check_params(&half_actor).is_err());
        let refresh = ExchangeParams {
            requested_token_type: Some("urn:ietf:params:oauth:token-type:refresh_token".into()),
            ..ok
        };
        assert!(check_params(&refresh).is_err());
    }
}

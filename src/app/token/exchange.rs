//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a confidential
//! client trades a token it holds for a person (this server's access token, or an ID token
//! issued to it) for an access token for another audience its policy allows, optionally as
//! an actor (its own access token). The subject and actor tokens are verified as everywhere
//! (signature, expiry, revocation, an enabled user); the rules are `core::exchange`'s. Every
//! exchange, and every one the policy refuses, is an event.

use super::Input;
use crate::app::Call;
use crate::core::events::{self, NewEvent};
use crate::core::exchange::{self, Actor, Subject, SubjectKind};
use crate::core::oauth::TokenResponse;
use crate::core::tokens::{self, AccessTokenRequest};
use crate::core::{users, Error};
use crate::state::AppState;

fn bad_token(what: &str) -> Error {
    Error::InvalidRequest(format!(
        "the {what} is invalid, expired or revoked, or not one of this server's"
    ))
}

/// This server's access token, verified, as a subject.
async fn access_subject(state: &AppState, token: &str) -> Result<Subject, Error> {
    let claims = crate::app::access_token::verify_access_token(state, token)
        .await
        .map_err(|e| match e {
            Error::InvalidToken(_) => bad_token("subject_token"),
            e => e,
        })?;
    let audiences = match &claims.aud {
        tokens::Audience::One(a) => vec![a.clone()],
        tokens::Audience::Many(v) => v.clone(),
    };
    Ok(Subject {
        sub: claims.sub.clone(),
        client_id: claims.client_id.clone(),
        audiences,
        scope: claims.scope.clone(),
        exp: claims.exp,
        iat_ms: claims.iat_ms,
        gid: claims.gid.clone(),
        auth_time: claims.auth_time,
        amr: claims.amr.clone(),
        act: claims.act.clone(),
        kind: SubjectKind::AccessToken,
    })
}

/// An ID token of this server, verified (signature, issuer, expiry), as a subject.
async fn id_token_subject(state: &AppState, token: &str) -> Result<Subject, Error> {
    let keys = state.keys.current().await;
    let claims = crate::core::oidc::verify_id_token_hint(&keys, state.config.issuer(), token)
        .ok_or_else(|| bad_token("subject_token"))?;
    let now = state.clock.now_naive().and_utc().timestamp();
    if claims.exp <= now {
        return Err(bad_token("subject_token"));
    }
    Ok(Subject {
        sub: claims.sub,
        client_id: claims.azp,
        audiences: vec![claims.aud],
        // An ID token says who someone is; an exchange of it carries no scope of its own.
        scope: String::new(),
        exp: claims.exp,
        iat_ms: claims.iat.saturating_mul(1000),
        gid: None,
        auth_time: claims.auth_time,
        amr: claims.amr,
        act: None,
        kind: SubjectKind::IdToken,
    })
}

/// Exchanges the subject token.
pub async fn run(state: &AppState, call: &Call, input: Input) -> Result<TokenResponse, Error> {
    let Input { client, params, .. } = input;
    if client.is_public() {
        return Err(Error::UnauthorizedClient(
            "token exchange is only for confidential clients".into(),
        ));
    }
    // Whether it may exchange at all, before any token is looked at.
    exchange::may_exchange(&client)?;
    let p = &params.exchange;
    exchange::check_params(p)?;
    let subject_token = p.subject_token.as_deref().unwrap_or_default();
    let subject = match p.subject_token_type.as_deref() {
        Some(exchange::ID_TOKEN) => id_token_subject(state, subject_token).await?,
        _ => access_subject(state, subject_token).await?,
    };
    let actor = match &p.actor_token {
        Some(t) => {
            let claims = crate::app::access_token::verify_access_token(state, t)
                .await
                .map_err(|e| match e {
                    Error::InvalidToken(_) => bad_token("actor_token"),
                    e => e,
                })?;
            Some(Actor {
                sub: claims.sub,
                client_id: claims.client_id,
            })
        }
        None => None,
    };
    let mut targets = p.audiences.clone();
    for r in &params.resources {
        if !targets.contains(r) {
            targets.push(r.clone());
        }
    }
    let keys = state.keys.current().await;
    let config = state.config.clone();
    let (now, ip, door) = (call.now, call.ip.clone(), call.door);
    let (scope, jkt) = (params.scope.clone(), params.dpop_jkt.clone());
    state
        .db
        .run(move |conn| {
            // A token of a client acting for itself has no person to act for.
            if subject.kind == SubjectKind::AccessToken && subject.sub == subject.client_id {
                return Err(Error::InvalidRequest(
                    "the subject token does not act for a person; a client's own token is not exchanged"
                        .into(),
                ));
            }
            let user_id = Some(subject.sub.clone());
            let event = |kind: &'static str, detail: serde_json::Value| NewEvent {
                kind,
                user_id: user_id.clone(),
                client_id: Some(client.id.clone()),
                ip: Some(ip.clone()),
                service: Some(door.to_owned()),
                detail: Some(detail),
                ..Default::default()
            };
            if let Some(uid) = &user_id {
                match users::get(conn, uid) {
                    // A token from before the person's last cut-off (sign-out everywhere, a
                    // password change) is not exchanged (an ID token is in no revocation log).
                    Ok(u) if !u.disabled
                        && u.tokens_valid_after.is_none_or(|t| {
                            subject.iat_ms >= t.and_utc().timestamp_millis()
                        }) => {}
                    Ok(_) | Err(Error::NotFound(_)) => return Err(bad_token("subject_token")),
                    Err(e) => return Err(e),
                }
            }
            let this_server = [config.issuer(), config.default_audience()];
            let decision = match exchange::decide(
                &client,
                &subject,
                actor.as_ref(),
                &targets,
                scope.as_deref(),
                &this_server,
            ) {
                Ok(d) => d,
                Err(e) => {
                    events::record(
                        conn,
                        now,
                        event(
                            "token.exchange_refused",
                            serde_json::json!({
                                "audience": targets.iter().take(10).collect::<Vec<_>>(),
                                "reason": e.to_string(),
                            }),
                        ),
                    )?;
                    return Err(e);
                }
            };
            // Never longer than the token it replaces.
            let left = subject.exp - now.and_utc().timestamp();
            let ttl = config.tokens.access_token_ttl.min(left.max(1) as u64);
            let signed = tokens::sign_access_token(
                &keys,
                config.issuer(),
                now,
                AccessTokenRequest {
                    sub: subject.sub.clone(),
                    client_id: client.id.clone(),
                    scope: decision.scope.clone(),
                    audience: decision.audience.clone(),
                    grant_id: subject.gid.clone(),
                    auth_time: subject
                        .auth_time
                        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                        .map(|t| t.naive_utc()),
                    amr: subject.amr.clone(),
                    ttl,
                    jkt,
                    act: decision.act.clone(),
                },
            )?;
            events::record(
                conn,
                now,
                event(
                    "token.exchanged",
                    serde_json::json!({
                        "audience": decision.audience,
                        "scope": decision.scope,
                        "act": decision.act,
                        "subject_client_id": subject.client_id,
                        "jti": signed.claims.jti,
                    }),
                ),
            )?;
            Ok(TokenResponse {
                expires_in: signed.claims.exp - now.and_utc().timestamp(),
                scope: signed.claims.scope.clone(),
                token_type: signed.claims.token_type(),
                access_token: signed.token,
                refresh_token: None,
                id_token: None,
                issued_token_type: Some(exchange::ACCESS_TOKEN),
                grant_id: None,
            })
        })
        .await
}

//! DPoP at this server's doors (RFC 9449): the proof of a token request, which decides the key
//! the tokens are bound to, and the proof that must come with a bound token at this server's
//! own protected routes. The rules are `core::dpop`'s; this adds the request's URL as this
//! server is reached (its issuer), the single use of each proof across nodes (a row), and the
//! node's copy of the nonce key.

use crate::core::clients::ClientRow;
use crate::core::dpop::{self, Expect, Proof};
use crate::core::Error;
use crate::state::AppState;

/// The `DPoP` headers of a request: none, one proof, or more than one (refused, RFC 9449
/// §4.3).
#[derive(Debug, Clone, Default)]
pub enum ProofHeader {
    #[default]
    None,
    One(String),
    Several,
}

impl ProofHeader {
    fn proof(&self) -> Result<Option<&str>, Error> {
        match self {
            ProofHeader::None => Ok(None),
            ProofHeader::One(p) => Ok(Some(p)),
            ProofHeader::Several => Err(Error::InvalidDpopProof(
                "send one DPoP header holding one proof".into(),
            )),
        }
    }
}

/// The key DPoP nonces are made with, derived from the server key once per node.
async fn nonce_key(state: &AppState) -> Result<[u8; 32], Error> {
    if let Some(k) = state.caches.dpop_nonce_key.get() {
        return Ok(*k);
    }
    let master = state.config.master_key();
    let key = state
        .db
        .run(move |conn| crate::core::secrets::server_key(conn, master.as_ref(), "dpop-nonce"))
        .await?;
    Ok(*state.caches.dpop_nonce_key.get_or_init(|| key))
}

/// The nonce to hand out with token responses, when `security.dpop_nonce` asks for them.
pub async fn current_nonce(state: &AppState) -> Option<String> {
    if !state.config.security.dpop_nonce {
        return None;
    }
    let key = nonce_key(state).await.ok()?;
    Some(dpop::nonce(
        &key,
        state.clock.now_naive().and_utc().timestamp(),
    ))
}

/// Checks the proof of a token request by `client` at the token endpoint: the thumbprint of
/// its key, to bind the tokens to, or `None` without a proof. A client registered with
/// `dpop_bound_access_tokens` must send one. With `security.dpop_nonce`, a proof without a
/// fresh nonce is answered `use_dpop_nonce`. The proof is used up (across nodes) only once
/// everything else about it checked out.
pub async fn at_token_endpoint(
    state: &AppState,
    client: &ClientRow,
    header: &ProofHeader,
) -> Result<Option<String>, Error> {
    let Some(proof) = header.proof()? else {
        if client.meta().dpop_bound_access_tokens {
            return Err(Error::InvalidDpopProof(
                "this client must send a DPoP proof with its token requests".into(),
            ));
        }
        return Ok(None);
    };
    let url = state.config.url("/token");
    let expect = Expect {
        method: "POST",
        url: &url,
        access_token: None,
    };
    let checked = check(state, proof, &expect)?;
    if state.config.security.dpop_nonce {
        let key = nonce_key(state).await?;
        let now = state.clock.now_naive().and_utc().timestamp();
        let fresh = checked
            .nonce
            .as_deref()
            .is_some_and(|n| dpop::nonce_is_fresh(&key, n, now));
        if !fresh {
            return Err(Error::UseDpopNonce(dpop::nonce(&key, now)));
        }
    }
    use_once(state, &checked).await?;
    Ok(Some(checked.jkt))
}

/// Checks the proof that comes with a token bound to `jkt` at one of this server's protected
/// routes (`method` and `url` of the request as this server is reached): by that key, for
/// this request and this token, and not seen before.
pub async fn at_resource(
    state: &AppState,
    token: &str,
    jkt: &str,
    header: &ProofHeader,
    method: &str,
    url: &str,
) -> Result<(), Error> {
    let proof = header.proof()?.ok_or_else(|| {
        Error::InvalidDpopProof("a DPoP-bound token needs a DPoP proof with each request".into())
    })?;
    let expect = Expect {
        method,
        url,
        access_token: Some(token),
    };
    let checked = check(state, proof, &expect)?;
    if !crate::core::crypto::ct_eq(&checked.jkt, jkt) {
        return Err(Error::InvalidDpopProof(
            "the DPoP proof is signed by another key than the token is bound to".into(),
        ));
    }
    use_once(state, &checked).await
}

fn check(state: &AppState, proof: &str, expect: &Expect<'_>) -> Result<Proof, Error> {
    dpop::check(proof, expect, state.clock.now_naive().and_utc().timestamp())
}

async fn use_once(state: &AppState, proof: &Proof) -> Result<(), Error> {
    let proof = proof.clone();
    state.db.run(move |conn| dpop::use_once(conn, &proof)).await
}

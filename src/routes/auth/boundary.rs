//! The middleware in front of every route of the table, before any credential is looked at:
//! the URL's text and the whole body are read and checked first. A body over `body_limit` is
//! 413 (declared or streamed), a body that has not arrived within `request_timeout` seconds
//! is 408 and the connection closes, and text with a NUL byte or invalid UTF-8 (in the path,
//! the query, a form or a JSON body) is 400: each in the door's own shape. The body is handed
//! on in memory, so extractors and handlers read it as before. A request without a body and
//! with a plain URL (most GETs) goes straight through, without an allocation.

use std::future::{ready, Ready};
use std::rc::Rc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header;
use actix_web::{web, HttpMessage};
use futures_util::future::{Either, LocalBoxFuture};

use super::Door;
use crate::app::call::AuditSlot;
use crate::core::Error;
use crate::routes::extract::{read_body, BodyError};
use crate::state::AppState;

/// The boundary of one door's routes.
pub struct Boundary(pub Door);

impl<S, B> Transform<S, ServiceRequest> for Boundary
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = BoundaryService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(BoundaryService {
            door: self.0,
            service: Rc::new(service),
        }))
    }
}

/// The boundary around one route's service.
pub struct BoundaryService<S> {
    door: Door,
    service: Rc<S>,
}

type Answer<B> = Result<ServiceResponse<EitherBody<B>>, actix_web::Error>;

impl<S, B> Service<ServiceRequest> for BoundaryService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Either<
        futures_util::future::MapOk<
            S::Future,
            fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>>,
        >,
        LocalBoxFuture<'static, Answer<B>>,
    >;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        use futures_util::TryFutureExt;
        let plain = text_of_uri(req.uri());
        if plain.is_ok() && !has_body(&req) {
            let left: fn(ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> = finished;
            return Either::Left(self.service.call(req).map_ok(left));
        }
        let (door, service) = (self.door, self.service.clone());
        Either::Right(Box::pin(async move {
            if let Err(m) = plain {
                let res = door.render(req.request(), &Error::InvalidRequest(m.into()));
                return Ok(req.into_response(res).map_into_right_body());
            }
            match checked(door, req).await {
                Ok(req) => service.call(req).await.map(finished),
                Err(res) => Ok(res.map_into_right_body()),
            }
        }))
    }
}

/// The route's answer, on its way out: a 503 says when to retry (every door, SPEC §7), and the
/// call's audit record (if the route started one) is finished with the answer's status and
/// size.
fn finished<B: MessageBody>(mut res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    if res.status() == actix_web::http::StatusCode::SERVICE_UNAVAILABLE {
        let headers = res.headers_mut();
        if !headers.contains_key(actix_web::http::header::RETRY_AFTER) {
            headers.insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(
                    crate::routes::error::UNAVAILABLE_RETRY_AFTER,
                ),
            );
        }
    }
    let slot = res.request().extensions().get::<AuditSlot>().cloned();
    if let Some(audit) = slot.and_then(|s| s.lock().unwrap_or_else(|e| e.into_inner()).take()) {
        if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
            let bytes = match res.response().body().size() {
                actix_web::body::BodySize::Sized(n) => n as usize,
                _ => 0,
            };
            crate::app::calls::finish(state, audit, res.status().as_u16(), bytes);
        }
    }
    res.map_into_left_body()
}

/// Reads and checks the body: the request to hand on, or the answer that ends it here.
async fn checked(door: Door, mut req: ServiceRequest) -> Result<ServiceRequest, ServiceResponse> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req);
    };
    {
        let limit = state.config.body_limit;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            let res = door.too_large(req.request(), limit);
            return Err(req.into_response(res));
        }
        let payload = req.take_payload();
        let deadline = Duration::from_secs(state.config.request_timeout);
        // Most bodies arrive with the request's head: read them without arming a timer.
        let mut reading = std::pin::pin!(read_body(payload, limit));
        let first = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(reading.as_mut(), cx))
        })
        .await;
        let read = match first {
            std::task::Poll::Ready(body) => Ok(body),
            std::task::Poll::Pending => actix_web::rt::time::timeout(deadline, reading).await,
        };
        let body = match read {
            Err(_) => {
                let res = door.timed_out(req.request());
                return Err(req.into_response(res));
            }
            Ok(Err(BodyError::TooLarge(_))) => {
                let res = door.too_large(req.request(), limit);
                return Err(req.into_response(res));
            }
            Ok(Err(e)) => {
                let res = door.render(req.request(), &Error::InvalidRequest(e.to_string()));
                return Err(req.into_response(res));
            }
            Ok(Ok(body)) => body,
        };
        let form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.trim_start().as_bytes();
                let form = b"application/x-www-form-urlencoded";
                v.len() >= form.len() && v[..form.len()].eq_ignore_ascii_case(form)
            });
        if let Err(m) = text_of_body(&body, form) {
            let res = door.render(req.request(), &Error::InvalidRequest(m.into()));
            return Err(req.into_response(res));
        }
        req.set_payload(Payload::from(body));
    }
    Ok(req)
}

/// Whether the request says it carries a body.
fn has_body(req: &ServiceRequest) -> bool {
    let h = req.headers();
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0")
}

/// Percent-decodes `s` (`+` stays as it is: it is never a NUL nor invalid UTF-8).
fn percent_decoded(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && i + 2 < s.len() {
            if let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Text once decoded: no NUL, valid UTF-8. Without a `%`, the raw bytes are the text (the
/// common case, checked without copying).
fn decoded_text(raw: &[u8], what: &'static str) -> Result<(), &'static str> {
    let decoded;
    let bytes = match raw.contains(&b'%') {
        true => {
            decoded = percent_decoded(raw);
            &decoded[..]
        }
        false => raw,
    };
    if bytes.contains(&0) {
        return Err(match what {
            "path" => "the path must not contain NUL bytes",
            "query" => "the query must not contain NUL bytes",
            _ => "the form must not contain NUL bytes",
        });
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(match what {
            "path" => "the path is not valid UTF-8",
            "query" => "the query is not valid UTF-8",
            _ => "the form is not valid UTF-8",
        });
    }
    Ok(())
}

fn text_of_uri(uri: &actix_web::http::Uri) -> Result<(), &'static str> {
    decoded_text(uri.path().as_bytes(), "path")?;
    if let Some(q) = uri.query() {
        decoded_text(q.as_bytes(), "query")?;
    }
    Ok(())
}

/// A body's text: valid UTF-8 without NUL, neither raw nor escaped (`%00` in a form, `\u0000`
/// in JSON).
fn text_of_body(body: &[u8], form: bool) -> Result<(), &'static str> {
    if std::str::from_utf8(body).is_err() {
        return Err("the body is not valid UTF-8");
    }
    // Neither a NUL, a percent escape nor a backslash: text as it is (one SIMD pass).
    if memchr::memchr3(0, b'%', b'\\', body).is_none() {
        return Ok(());
    }
    if body.contains(&0) {
        return Err("the body must not contain NUL bytes");
    }
    if form && body.contains(&b'%') {
        decoded_text(body, "form")?;
    }
    // JSON (whatever the declared type: the JSON doors read bodies as JSON regardless): escapes
    // occur only inside strings; `\\` is an escaped backslash, not an escape.
    if !body.contains(&b'\\') {
        return Ok(());
    }
    let mut i = 0;
    while i < body.len() {
        if body[i] == b'\\' {
            if body.get(i + 1) == Some(&b'u')
                && body.get(i + 2..i + 6).is_some_and(|h| h == b"0000")
            {
                return Err("text must not contain NUL characters");
            }
            i += 2;
            continue;
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_invalid_utf8_are_found_where_they_are_escaped() {
        assert!(text_of_body(br#"{"name":"alice\u0000x"}"#, false).is_err());
        assert!(text_of_body(br#"{"name":"alice\\u0000x"}"#, false).is_ok());
        assert!(text_of_body(br#"{"name":"alice\\\u0000x"}"#, false).is_err());
        assert!(text_of_body(b"name=alice%00x", true).is_err());
        assert!(text_of_body(b"name=alice%ffx", true).is_err());
        assert!(text_of_body(b"name=alice%41x", true).is_ok());
        assert!(text_of_body(b"\xff", false).is_err());
        assert!(decoded_text(b"/accounts/a%00b", "path").is_err());
        assert!(decoded_text(b"/accounts/%e2%82%ac", "path").is_ok());
        assert!(decoded_text(b"/x%", "path").is_ok());
    }
}

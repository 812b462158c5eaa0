//! Operations endpoints: liveness, readiness (checks the database) and Prometheus metrics.

use crate::routes::auth::Public;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// A health answer: `ok` (liveness), `ready` or `unavailable` (readiness, with the database
/// backend and, when unavailable, why).
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub(crate) async fn healthz(_: Public) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Health {
            status: "ok",
            database: None,
            error: None,
        })
}

/// The node can serve: the database answers within two seconds.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Health)))]
pub(crate) async fn readyz(_: Public, state: web::Data<AppState>) -> HttpResponse {
    let database = Some(state.db.backend());
    let (status, body) = match crate::app::health::ready(&state).await {
        Ok(()) => (
            StatusCode::OK,
            Health {
                status: "ready",
                database,
                error: None,
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            let error = match e {
                crate::core::Error::Unavailable(_) => "database unavailable",
                _ => "database error",
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Health {
                    status: "unavailable",
                    database,
                    error: Some(error),
                },
            )
        }
    };
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

/// Prometheus text exposition.
pub(crate) async fn metrics(_: Public, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .insert_header(("Cache-Control", "no-store"))
        .body(state.metrics.render(state.db.stats()))
}

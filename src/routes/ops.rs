//! Operations endpoints: liveness, readiness (checks the database) and Prometheus metrics.

use crate::routes::auth::Public;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::state::AppState;

/// The process is up.
pub(crate) async fn healthz(_: Public) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "status": "ok" }))
}

/// The node can serve: the database answers within two seconds.
pub(crate) async fn readyz(_: Public, state: web::Data<AppState>) -> HttpResponse {
    let (status, body) = match crate::app::health::ready(&state).await {
        Ok(()) => (
            StatusCode::OK,
            serde_json::json!({ "status": "ready", "database": state.db.backend() }),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            let error = match e {
                crate::core::Error::Unavailable(_) => "database timed out",
                _ => "database unreachable",
            };
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable", "database": state.db.backend(), "error": error }),
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

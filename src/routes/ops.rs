//! Operations endpoints: liveness, readiness (checks the database) and Prometheus metrics.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use diesel::RunQueryDsl;

use crate::paths;
use crate::state::AppState;

/// Mounts `/healthz`, `/readyz` and `/metrics`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::HEALTHZ, web::get().to(healthz))
        .route(paths::READYZ, web::get().to(readyz))
        .route(paths::METRICS, web::get().to(metrics));
}

/// The process is up.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "status": "ok" }))
}

/// The node can serve: the database answers within two seconds.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let check = state.db.run(|conn| {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    });
    let result = actix_web::rt::time::timeout(Duration::from_secs(2), check).await;
    let (status, body) = match result {
        Ok(Ok(())) => (
            StatusCode::OK,
            serde_json::json!({ "status": "ready", "database": state.db.backend() }),
        ),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable", "database": state.db.backend(), "error": "database unreachable" }),
            )
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "unavailable", "database": state.db.backend(), "error": "database timed out" }),
        ),
    };
    HttpResponse::build(status)
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}

/// Prometheus text exposition.
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .insert_header(("Cache-Control", "no-store"))
        .body(state.metrics.render(state.db.stats()))
}

//! Operations endpoints: liveness, readiness (checks the database) and Prometheus metrics.

use crate::routes::auth::Public;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use diesel::RunQueryDsl;

use crate::state::AppState;

/// The process is up.
pub(crate) async fn healthz(_: Public) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "status": "ok" }))
}

/// The node can serve: the database answers within two seconds.
pub(crate) async fn readyz(_: Public, state: web::Data<AppState>) -> HttpResponse {
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
pub(crate) async fn metrics(_: Public, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .insert_header(("Cache-Control", "no-store"))
        .body(state.metrics.render(state.db.stats()))
}

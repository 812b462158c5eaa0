//! Operations: structured logs (tracing), Prometheus metrics, and the middleware that writes
//! one log line and the metrics of every request.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

use crate::config::{Config, LogFormat};
use crate::state::AppState;

/// Installs the global tracing subscriber (stderr, text or JSON). `RUST_LOG` overrides the
/// configured filter. Safe to call more than once (later calls do nothing).
pub fn init_logging(config: &Config) {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(&config.log));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The server's Prometheus metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    db_connections: IntGauge,
    db_idle: IntGauge,
    emails: IntCounterVec,
    logouts: IntCounterVec,
    logouts_pending: IntGauge,
    housekeeping_deleted: IntCounterVec,
    housekeeping_runs: IntCounterVec,
}

impl Metrics {
    /// Registers the metrics (and process metrics on Linux).
    pub fn new() -> Metrics {
        let registry = Registry::new_custom(Some("portcullis".into()), None)
            .expect("static registry prefix is valid");
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["method", "route", "status"],
        )
        .expect("static metric definition");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by route",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["route"],
        )
        .expect("static metric definition");
        let db_connections =
            IntGauge::new("db_pool_connections", "Open database connections").expect("static");
        let db_idle =
            IntGauge::new("db_pool_idle_connections", "Idle database connections").expect("static");
        let emails = IntCounterVec::new(
            Opts::new(
                "emails_total",
                "SMTP delivery attempts by result (sent, failed, given_up)",
            ),
            &["result"],
        )
        .expect("static metric definition");
        let logouts = IntCounterVec::new(
            Opts::new(
                "backchannel_logouts_total",
                "Back-channel logout deliveries by result (delivered, failed, given_up)",
            ),
            &["result"],
        )
        .expect("static metric definition");
        let logouts_pending = IntGauge::new(
            "backchannel_logouts_pending",
            "Logout tokens waiting to be delivered (as this node last saw the queue)",
        )
        .expect("static");
        let housekeeping_deleted = IntCounterVec::new(
            Opts::new(
                "housekeeping_deleted_total",
                "Rows housekeeping deleted on this node, by table",
            ),
            &["table"],
        )
        .expect("static metric definition");
        let housekeeping_runs = IntCounterVec::new(
            Opts::new(
                "housekeeping_runs_total",
                "Housekeeping passes on this node by result (ok, failed)",
            ),
            &["result"],
        )
        .expect("static metric definition");
        for c in [
            Box::new(emails.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(logouts.clone()),
            Box::new(logouts_pending.clone()),
            Box::new(housekeeping_deleted.clone()),
            Box::new(housekeeping_runs.clone()),
            Box::new(requests.clone()),
            Box::new(duration.clone()),
            Box::new(db_connections.clone()),
            Box::new(db_idle.clone()),
        ] {
            registry.register(c).expect("metrics registered once");
        }
        #[cfg(target_os = "linux")]
        {
            let _ = registry.register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ));
        }
        Metrics {
            registry,
            requests,
            duration,
            db_connections,
            db_idle,
            emails,
            logouts,
            logouts_pending,
            housekeeping_deleted,
            housekeeping_runs,
        }
    }

    /// Counts rows housekeeping deleted from `table`.
    pub fn housekept(&self, table: &str, rows: usize) {
        self.housekeeping_deleted
            .with_label_values(&[table])
            .inc_by(rows as u64);
    }

    /// Counts a housekeeping pass.
    pub fn housekeeping_run(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.housekeeping_runs.with_label_values(&[result]).inc();
    }

    /// Counts a back-channel logout delivery attempt.
    pub fn logout(&self, result: &str) {
        self.logouts.with_label_values(&[result]).inc();
    }

    /// Sets how many logouts wait in the queue.
    pub fn logouts_pending(&self, n: i64) {
        self.logouts_pending.set(n);
    }

    /// Counts an SMTP delivery attempt.
    pub fn email(&self, result: &str) {
        self.emails.with_label_values(&[result]).inc();
    }

    /// The text exposition of every metric, with database pool gauges read now.
    pub fn render(&self, pool: (u32, u32)) -> String {
        self.db_connections.set(pool.0 as i64);
        self.db_idle.set(pool.1 as i64);
        let mut buf = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Logs each request (method, matched route, path without query, status, latency, peer) and
/// counts it. Query strings are never logged, and path segments that are tokens (a route's
/// `{token}`) are masked: they are credentials.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let result = next.call(req).await;
    let elapsed = start.elapsed();
    let (status, route): (u16, String) = match &result {
        Ok(res) => (
            res.status().as_u16(),
            res.request()
                .match_pattern()
                .unwrap_or_else(|| "unmatched".into()),
        ),
        Err(e) => (
            e.as_response_error().status_code().as_u16(),
            "unmatched".into(),
        ),
    };
    let path = masked(&path, &route);
    if let Some(m) = metrics {
        m.requests
            .with_label_values(&[method.as_str(), route.as_str(), &status.to_string()])
            .inc();
        m.duration
            .with_label_values(&[route.as_str()])
            .observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        target: "portcullis::http",
        method = %method,
        path = %path,
        route = %route,
        status,
        latency_us = elapsed.as_micros() as u64,
        peer = %peer,
        "request"
    );
    result
}

/// The path with the segments the route names `{token...}` replaced by `[redacted]`.
pub fn masked(path: &str, route: &str) -> String {
    if !route.contains("{token") {
        return path.to_owned();
    }
    let pattern: Vec<&str> = route.split('/').collect();
    path.split('/')
        .enumerate()
        .map(|(i, seg)| match pattern.get(i) {
            Some(p) if p.starts_with("{token") => "[redacted]",
            _ => seg,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_segments_are_masked() {
        assert_eq!(
            super::masked("/users/u1/token/s3cr3t", "/users/{user_id}/token/{token}"),
            "/users/u1/token/[redacted]"
        );
        assert_eq!(super::masked("/users/me", "/users/me"), "/users/me");
    }
}

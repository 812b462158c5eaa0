//! The brand every page carries (`branding.*` settings: name, logo, accent colour). The
//! middleware [`scope`] makes the serving node's configuration the brand of everything a
//! request renders, error pages included, so templates read it with [`current`] instead of
//! every view and every `error_page` call passing it along. Outside a request (a unit test
//! rendering a template) the defaults apply.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::config::{BrandingSettings, Config};
use crate::state::AppState;

tokio::task_local! {
    static CONFIG: Arc<Config>;
}

/// What a page shows of the brand.
pub struct Brand {
    pub name: String,
    pub logo_url: Option<String>,
}

impl From<&BrandingSettings> for Brand {
    fn from(b: &BrandingSettings) -> Self {
        Brand {
            name: b.name.clone(),
            logo_url: b.logo_url.clone(),
        }
    }
}

/// The brand of the request being served.
pub fn current() -> Brand {
    CONFIG
        .try_with(|c| Brand::from(&c.branding))
        .unwrap_or_else(|_| Brand::from(&BrandingSettings::default()))
}

/// Middleware: renders everything of this request with the node's brand.
pub async fn scope(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    match req.app_data::<web::Data<AppState>>() {
        Some(state) => CONFIG.scope(state.config.clone(), next.call(req)).await,
        None => next.call(req).await,
    }
}

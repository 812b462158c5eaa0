//! `GET|POST /userinfo` (OIDC Core §5.3): the `UserInfo` policy reads the bearer token (header,
//! or form body on POST) and admits `openid` or `account` tokens of a user; claims by scope.

use actix_web::{web, HttpResponse};

use super::error::bearer_error;
use crate::app::{self, Call};
use crate::core::oidc::UserInfoClaims;
use crate::routes::auth::{Admitted, UserInfo};
use crate::routes::error::ErrorBody;
use crate::state::AppState;

/// GET: the claims of the token's user; the token in the `Authorization` header.
#[utoipa::path(get, path = "/userinfo", tag = "oauth", operation_id = "userinfo",
    responses((status = 200, body = UserInfoClaims), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    Admitted { who, call }: Admitted<UserInfo>,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(who, call, &state).await
}

/// POST: the token in the header or as `access_token` in a form body.
pub async fn post(
    Admitted { who, call }: Admitted<UserInfo>,
    state: web::Data<AppState>,
) -> HttpResponse {
    answer(who, call, &state).await
}

async fn answer(who: UserInfo, call: Call, state: &AppState) -> HttpResponse {
    match app::userinfo::run(state, &call, &who.user).await {
        Ok(claims) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(claims),
        Err(e) => bearer_error(&e),
    }
}

//! Migrations on the configured backend: the whole model exists, re-running is a no-op, and
//! the down migrations undo cleanly.

use diesel::RunQueryDsl;

use crate::helpers::TestApp;

const TABLES: &[&str] = &[
    "users",
    "clients",
    "grants",
    "authorization_codes",
    "refresh_tokens",
    "personal_access_tokens",
    "sessions",
    "consents",
    "one_time_tokens",
    "events",
    "signing_keys",
    "acl_rules",
    "terms_acceptances",
    "cloudtrax_nonces",
    "throttle_counters",
    "revocations",
    "email_outbox",
    "principal_ids",
];

fn all_tables_exist(conn: &mut portcullis::db::DbConnection) -> Result<(), String> {
    for t in TABLES {
        diesel::sql_query(format!("SELECT COUNT(*) FROM {t}"))
            .execute(conn)
            .map_err(|e| format!("{t}: {e}"))?;
    }
    Ok(())
}

#[actix_rt::test]
async fn fresh_database_holds_the_whole_model() {
    let app = TestApp::new();
    all_tables_exist(&mut app.conn()).unwrap();
    // Applying again does nothing.
    let out = app.cli_json(&["migrate"]);
    assert_eq!(out["applied"], serde_json::json!([]));
}

/// Migrations in the tree (the same names for both backends).
fn migration_count() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .count()
}

#[actix_rt::test]
async fn down_migrations_revert_and_reapply() {
    let app = TestApp::new();
    let mut conn = app.conn();
    portcullis::db::revert_all(&mut conn).unwrap();
    assert!(all_tables_exist(&mut conn).is_err());
    let applied = portcullis::db::migrate(&mut conn).unwrap();
    assert_eq!(applied.len(), migration_count());
    all_tables_exist(&mut conn).unwrap();
}

#[actix_rt::test]
async fn foreign_keys_are_enforced() {
    let app = TestApp::new();
    let mut conn = app.conn();
    let r = diesel::sql_query(
        "INSERT INTO personal_access_tokens (id, user_id, token_hash, description, scope, created_at) \
         VALUES ('p', 'no-such-user', 'h', 'd', '', '2026-01-01 00:00:00')",
    )
    .execute(&mut conn);
    assert!(r.is_err(), "a PAT of a missing user must be refused");
}

#[test]
fn unreachable_database_gives_a_real_error() {
    let e = portcullis::db::DbPool::connect("postgres://nobody@127.0.0.1:1/none", 1)
        .err()
        .expect("must fail")
        .to_string();
    assert!(e.contains("PostgreSQL") && e.contains("127.0.0.1"), "{e}");
    let e = portcullis::db::DbPool::connect("mysql://x", 1)
        .err()
        .expect("must fail")
        .to_string();
    assert!(e.contains("mysql"), "{e}");
    let e = portcullis::db::DbPool::connect("sqlite:///proc/forbidden/x.db", 1)
        .err()
        .expect("must fail")
        .to_string();
    assert!(e.contains("/proc/forbidden"), "{e}");
}

/// The authorization upgrade (SPEC §9): the compatibility sign-ins' grants and refresh tokens
/// made before it act on the account after it, and PATs carry `account`.
#[actix_rt::test]
async fn tokens_of_the_sign_ins_made_before_the_upgrade_keep_working() {
    use diesel::prelude::*;
    use portcullis::db::schema::{grants, refresh_tokens};
    let app = TestApp::new();
    let uid = app.user("old@example.com", "old password 1");
    let now = app.clock.now_naive();
    let mut conn = app.conn();
    // Back to before `authorization` (and every migration that came after it).
    let after = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter(|e| {
            e.as_ref().unwrap().file_name().to_string_lossy().as_ref() >= "2026-12-01-000001"
        })
        .count();
    for _ in 0..after {
        portcullis::db::revert_last(&mut conn).unwrap();
    }
    // What the version before made: an internal client without `account`, its grant, a token.
    diesel::sql_query(
        "INSERT INTO clients (id, name, kind, redirect_uris, post_logout_redirect_uris, grant_types, \
         scopes, resources, token_endpoint_auth_method, trusted, metadata, created_at, updated_at) \
         VALUES ('esalerugs', 'esalerugs accounts', 'app', '[]', '[]', '[\"refresh_token\"]', \
         'openid profile email address', '[]', 'none', true, '{\"internal\":true}', '2026-11-01 00:00:00', '2026-11-01 00:00:00')",
    )
    .execute(&mut conn)
    .unwrap();
    diesel::insert_into(grants::table)
        .values((
            grants::id.eq("g-old"),
            grants::client_id.eq("esalerugs"),
            grants::user_id.eq(Some(uid.as_str())),
            grants::scope.eq("openid profile email address"),
            grants::created_at.eq(now),
            grants::updated_at.eq(now),
        ))
        .execute(&mut conn)
        .unwrap();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::id.eq("r-old"),
            refresh_tokens::token_hash.eq("h"),
            refresh_tokens::grant_id.eq("g-old"),
            refresh_tokens::family_id.eq("r-old"),
            refresh_tokens::scope.eq("openid profile email address"),
            refresh_tokens::created_at.eq(now),
            refresh_tokens::expires_at.eq(now + chrono::Duration::days(30)),
        ))
        .execute(&mut conn)
        .unwrap();
    portcullis::db::migrate(&mut conn).unwrap();
    let scope: String = refresh_tokens::table
        .find("r-old")
        .select(refresh_tokens::scope)
        .first(&mut conn)
        .unwrap();
    assert_eq!(scope, "openid profile email address account");
    let kind: String = portcullis::db::schema::clients::table
        .find("esalerugs")
        .select(portcullis::db::schema::clients::kind)
        .first(&mut conn)
        .unwrap();
    assert_eq!(kind, "internal");
}

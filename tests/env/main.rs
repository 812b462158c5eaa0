//! Integration tests that need something of the machine: a real browser (Chromium and its
//! driver), an SMTP server (Python's aiosmtpd), or one database backend rather than the other.
//! They run under libtest-mimic (`harness = false`) so that a test this machine cannot run is
//! reported `ignored` with its reason, and counted as ignored in the summary of a plain
//! `cargo test`, never as a pass. `REQUIRE_BROWSER_TESTS=1` and `REQUIRE_SMTP_TESTS=1` (set by
//! `.ci/run`) turn a missing browser or SMTP server into a failure instead.
//!
//! A test is a `pub async fn name() -> Outcome` in its module, listed in `main`; it returns
//! `Err(Skip)` (usually with `?`) when it cannot run here, and panics when it fails. Each runs
//! on its own actix system, like `#[actix_rt::test]`.

#[allow(dead_code)]
#[path = "../it/browser_helpers.rs"]
mod browser_helpers;
#[allow(dead_code)]
#[path = "../it/helpers.rs"]
mod helpers;

mod browser;
mod interop;
mod nodes;
mod smtp;
mod trouble;

use std::future::Future;

use libtest_mimic::{Arguments, Completion, Trial};

/// Why a test cannot run on this machine.
#[derive(Debug)]
pub struct Skip(String);

impl Skip {
    pub fn new(why: impl Into<String>) -> Skip {
        Skip(why.into())
    }

    /// Skips for `why`, unless the environment variable `require` is `1`: then the missing
    /// piece is a failure.
    pub fn unless_required(require: &str, why: impl Into<String>) -> Result<(), Skip> {
        let why = why.into();
        if std::env::var(require).as_deref() == Ok("1") {
            panic!("{require}=1 but {why}");
        }
        Err(Skip(why))
    }
}

/// What a test returns: `Ok(())` when it ran and passed.
pub type Outcome = Result<(), Skip>;

fn trial<F, Fut>(name: &str, test: F) -> Trial
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Outcome> + 'static,
{
    Trial::ignorable_test(name, move || {
        match actix_rt::System::new().block_on(test()) {
            Ok(()) => Ok(Completion::Completed),
            Err(Skip(why)) => Ok(Completion::ignored_with(why)),
        }
    })
}

/// `module::test` entries, named as they are in the source.
macro_rules! trials {
    ($($module:ident :: $test:ident),* $(,)?) => {
        vec![$(trial(concat!(stringify!($module), "::", stringify!($test)), $module::$test)),*]
    };
}

fn main() {
    let args = Arguments::from_args();
    let trials = trials![
        browser::sign_in_consent_and_land_on_the_redirect_uri,
        browser::self_service_accounts_in_a_real_browser,
        browser::every_page_on_a_phone_a_desktop_and_in_dark_mode,
        browser::passkeys_register_sign_in_and_second_step,
        browser::a_self_registered_client_completes_a_pushed_code_flow,
        interop::openid_client_registers_pushes_signs_and_completes_a_code_flow,
        interop::openid_client_binds_tokens_with_dpop,
        interop::openid_client_completes_a_device_authorization,
        interop::openid_client_exchanges_a_token,
        nodes::a_token_a_session_and_a_code_made_on_one_node_work_on_another,
        nodes::a_refresh_token_replayed_on_another_node_revokes_the_family,
        nodes::failed_passwords_count_across_nodes,
        nodes::changes_reach_the_other_node_within_a_second,
        smtp::a_reset_email_arrives_over_smtp,
        smtp::a_mail_server_that_is_down_leaves_the_message_queued_with_its_error,
        trouble::a_postgresql_outage_is_a_503_in_time_and_the_pool_heals,
        trouble::a_locked_sqlite_database_is_a_503_in_time_then_serves_again,
        trouble::a_dozen_concurrent_writers_get_no_5xx,
        trouble::kill_9_under_write_load_loses_no_acknowledged_write,
    ];
    libtest_mimic::run(&args, trials).exit();
}

//! The database schema, shared by both backends (see `migrations/`). The only schema.

diesel::table! {
    users (id) {
        id -> Text,
        username -> Nullable<Text>,
        username_key -> Nullable<Text>,
        email -> Text,
        email_key -> Text,
        display_name -> Nullable<Text>,
        password_hash -> Nullable<Text>,
        email_verified_at -> Nullable<Timestamp>,
        is_admin -> Bool,
        disabled -> Bool,
        address -> Nullable<Text>,
        entity_type -> Nullable<Text>,
        tokens_valid_after -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        phone_number -> Nullable<Text>,
        phone_number_verified -> Bool,
    }
}

diesel::table! {
    clients (id) {
        id -> Text,
        secret_hash -> Nullable<Text>,
        secret_sealed -> Nullable<Text>,
        name -> Text,
        kind -> Text,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        grant_types -> Text,
        scopes -> Text,
        resources -> Text,
        token_endpoint_auth_method -> Text,
        trusted -> Bool,
        owner_id -> Nullable<Text>,
        cert_thumbprint -> Nullable<Text>,
        metadata -> Text,
        expires_at -> Nullable<Timestamp>,
        tokens_valid_after -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        dynamic -> Bool,
        registration_token_hash -> Nullable<Text>,
    }
}

diesel::table! {
    grants (id) {
        id -> Text,
        client_id -> Text,
        user_id -> Nullable<Text>,
        scope -> Text,
        audience -> Nullable<Text>,
        session_id -> Nullable<Text>,
        auth_time -> Nullable<Timestamp>,
        amr -> Nullable<Text>,
        nonce -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    authorization_codes (code_hash) {
        code_hash -> Text,
        client_id -> Text,
        user_id -> Text,
        grant_id -> Nullable<Text>,
        redirect_uri -> Text,
        scope -> Text,
        nonce -> Nullable<Text>,
        code_challenge -> Nullable<Text>,
        code_challenge_method -> Nullable<Text>,
        resource -> Nullable<Text>,
        session_id -> Nullable<Text>,
        auth_time -> Timestamp,
        amr -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        token_hash -> Text,
        grant_id -> Text,
        family_id -> Text,
        parent_id -> Nullable<Text>,
        scope -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        dpop_jkt -> Nullable<Text>,
    }
}

diesel::table! {
    personal_access_tokens (id) {
        id -> Text,
        user_id -> Text,
        token_hash -> Text,
        description -> Text,
        scope -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        sid -> Text,
        csrf_secret -> Text,
        auth_time -> Timestamp,
        amr -> Text,
        user_agent -> Nullable<Text>,
        ip -> Nullable<Text>,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    consents (user_id, client_id) {
        user_id -> Text,
        client_id -> Text,
        scope -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    one_time_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        purpose -> Text,
        data -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    events (id) {
        id -> Text,
        kind -> Text,
        user_id -> Nullable<Text>,
        client_id -> Nullable<Text>,
        service -> Nullable<Text>,
        ip -> Nullable<Text>,
        input -> Nullable<Text>,
        output -> Nullable<Text>,
        detail -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        alg -> Text,
        private_jwk -> Text,
        encrypted -> Bool,
        public_jwk -> Text,
        created_at -> Timestamp,
        activates_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    acl_rules (id) {
        id -> Text,
        subject -> Text,
        target -> Text,
        command -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    terms_acceptances (user_id, version) {
        user_id -> Text,
        version -> Text,
        accepted_at -> Timestamp,
    }
}

diesel::table! {
    cloudtrax_nonces (key_id, nonce) {
        key_id -> Text,
        nonce -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    throttle_counters (bucket) {
        bucket -> Text,
        window_start -> Timestamp,
        count -> Integer,
    }
}

diesel::table! {
    revocations (id) {
        id -> BigInt,
        kind -> Text,
        subject -> Text,
        not_before -> Nullable<Timestamp>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    totp_credentials (user_id) {
        user_id -> Text,
        secret_sealed -> Text,
        confirmed_at -> Nullable<Timestamp>,
        last_step -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    recovery_codes (id) {
        id -> Text,
        user_id -> Text,
        code_hash -> Text,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sign_in_steps (id_hash) {
        id_hash -> Text,
        user_id -> Text,
        amr -> Text,
        return_to -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    passkeys (id) {
        id -> Text,
        user_id -> Text,
        name -> Text,
        passkey -> Text,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webauthn_ceremonies (id_hash) {
        id_hash -> Text,
        user_id -> Nullable<Text>,
        kind -> Text,
        state -> Text,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(clients -> users (owner_id));
diesel::joinable!(sign_in_steps -> users (user_id));
diesel::joinable!(grants -> clients (client_id));
diesel::joinable!(personal_access_tokens -> users (user_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(refresh_tokens -> grants (grant_id));

diesel::table! {
    initial_access_tokens (id) {
        id -> Text,
        token_hash -> Text,
        uses_left -> Integer,
        note -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    client_assertions (id_hash) {
        id_hash -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    dpop_proofs (id_hash) {
        id_hash -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    device_codes (device_code_hash) {
        device_code_hash -> Text,
        user_code_hash -> Text,
        client_id -> Text,
        scope -> Text,
        audience -> Text,
        status -> Text,
        user_id -> Nullable<Text>,
        session_id -> Nullable<Text>,
        auth_time -> Nullable<Timestamp>,
        amr -> Nullable<Text>,
        poll_interval -> Integer,
        last_polled_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    backchannel_logouts (id) {
        id -> Text,
        client_id -> Text,
        sub -> Text,
        sid -> Nullable<Text>,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    pushed_requests (id_hash) {
        id_hash -> Text,
        client_id -> Text,
        params -> Text,
        pushed -> Bool,
        signed -> Bool,
        started_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(pushed_requests -> clients (client_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    clients,
    grants,
    authorization_codes,
    refresh_tokens,
    personal_access_tokens,
    sessions,
    consents,
    one_time_tokens,
    events,
    signing_keys,
    acl_rules,
    terms_acceptances,
    cloudtrax_nonces,
    throttle_counters,
    revocations,
    email_outbox,
    principal_ids,
    throttle_places,
    totp_credentials,
    recovery_codes,
    sign_in_steps,
    passkeys,
    webauthn_ceremonies,
    initial_access_tokens,
    client_assertions,
    dpop_proofs,
    device_codes,
    backchannel_logouts,
    pushed_requests,
);

diesel::table! {
    throttle_places (id) {
        id -> Text,
        bucket -> Text,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    principal_ids (id) {
        id -> Text,
        kind -> Text,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Text,
        kind -> Text,
        to_addr -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        next_attempt_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        failed_at -> Nullable<Timestamp>,
    }
}

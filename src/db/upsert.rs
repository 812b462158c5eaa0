//! The few statements whose SQL differs between the backends (upserts), run on the concrete
//! connection.

use diesel::sql_types::{Bool, Integer, Text, Timestamp};
use diesel::RunQueryDsl;

use super::DbConnection;
use crate::core::{Error, Timestamp as Ts};

/// Counts a hit in a throttle bucket: insert, or increment within the current window, or
/// restart the window when it began at or before `expired_before`.
pub fn throttle_hit(
    conn: &mut DbConnection,
    bucket: &str,
    now: Ts,
    expired_before: Ts,
) -> Result<(), Error> {
    const SET: &str = "ON CONFLICT (bucket) DO UPDATE SET \
        count = CASE WHEN throttle_counters.window_start <= {T} THEN 1 ELSE throttle_counters.count + 1 END, \
        window_start = CASE WHEN throttle_counters.window_start <= {T} THEN excluded.window_start ELSE throttle_counters.window_start END";
    match conn {
        DbConnection::Sqlite(c) => {
            let sql = format!(
                "INSERT INTO throttle_counters (bucket, window_start, count) VALUES (?, ?, 1) {}",
                SET.replace("{T}", "?")
            );
            diesel::sql_query(sql)
                .bind::<Text, _>(bucket)
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(expired_before)
                .bind::<Timestamp, _>(expired_before)
                .execute(c)?;
        }
        DbConnection::Postgres(c) => {
            let sql = format!(
                "INSERT INTO throttle_counters (bucket, window_start, count) VALUES ($1, $2, 1) {}",
                SET.replace("{T}", "$3")
            );
            diesel::sql_query(sql)
                .bind::<Text, _>(bucket)
                .bind::<Timestamp, _>(now)
                .bind::<Timestamp, _>(expired_before)
                .execute(c)?;
        }
    }
    Ok(())
}

/// `?` placeholders as PostgreSQL's `$1, $2, ...`.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs one statement written with `?` placeholders on either backend; binds in order.
macro_rules! on_both {
    ($conn:expr, $sql:expr, |$q:ident| $binds:expr, |$r:ident| $run:expr) => {
        match $conn {
            DbConnection::Sqlite(c) => {
                let $q = diesel::sql_query($sql);
                let $r = $binds;
                $run(c)
            }
            DbConnection::Postgres(c) => {
                let $q = diesel::sql_query(numbered($sql));
                let $r = $binds;
                $run(c)
            }
        }
    };
}

/// Makes sure a bucket exists in its current window: a new row, or a window that began at or
/// before `expired_before` starting over (its count back to 0; places still being checked
/// stay).
pub fn throttle_open(
    conn: &mut DbConnection,
    bucket: &str,
    now: Ts,
    expired_before: Ts,
) -> Result<(), Error> {
    const SQL: &str = "INSERT INTO throttle_counters (bucket, window_start, count, pending) \
        VALUES (?, ?, 0, 0) ON CONFLICT (bucket) DO UPDATE SET \
        count = CASE WHEN throttle_counters.window_start <= ? THEN 0 ELSE throttle_counters.count END, \
        window_start = CASE WHEN throttle_counters.window_start <= ? THEN excluded.window_start ELSE throttle_counters.window_start END";
    on_both!(
        conn,
        SQL,
        |q| q
            .bind::<Text, _>(bucket)
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(expired_before)
            .bind::<Timestamp, _>(expired_before),
        |r| |c| RunQueryDsl::execute(r, c)
    )?;
    Ok(())
}

/// Takes a place in a bucket when its count and the places being checked stay under `limit`
/// (places older than `now` are forgotten); `until` is when this one is forgotten. Atomic:
/// concurrent callers never take more places than the limit. Whether a place was taken.
pub fn throttle_admit(
    conn: &mut DbConnection,
    bucket: &str,
    now: Ts,
    until: Ts,
    limit: i32,
) -> Result<bool, Error> {
    const SQL: &str = "UPDATE throttle_counters SET \
        pending = CASE WHEN pending_until IS NULL OR pending_until < ? THEN 1 ELSE pending + 1 END, \
        pending_until = ? \
        WHERE bucket = ? \
        AND count + CASE WHEN pending_until IS NULL OR pending_until < ? THEN 0 ELSE pending END < ?";
    let n = on_both!(
        conn,
        SQL,
        |q| q
            .bind::<Timestamp, _>(now)
            .bind::<Timestamp, _>(until)
            .bind::<Text, _>(bucket)
            .bind::<Timestamp, _>(now)
            .bind::<Integer, _>(limit),
        |r| |c| RunQueryDsl::execute(r, c)
    )?;
    Ok(n == 1)
}

/// Settles a place taken by [`throttle_admit`]: adds `add` to the count (or sets it to 0 with
/// `reset`) and gives the place back.
pub fn throttle_settle(
    conn: &mut DbConnection,
    bucket: &str,
    add: i32,
    reset: bool,
) -> Result<(), Error> {
    const SQL: &str = "UPDATE throttle_counters SET \
        count = CASE WHEN ? THEN 0 ELSE count + ? END, \
        pending = CASE WHEN pending > 0 THEN pending - 1 ELSE 0 END \
        WHERE bucket = ?";
    on_both!(
        conn,
        SQL,
        |q| q
            .bind::<Bool, _>(reset)
            .bind::<Integer, _>(add)
            .bind::<Text, _>(bucket),
        |r| |c| RunQueryDsl::execute(r, c)
    )?;
    Ok(())
}

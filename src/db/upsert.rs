//! The few statements whose SQL differs between the backends (upserts), run on the concrete
//! connection.

use diesel::sql_types::{Text, Timestamp};
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

/// Makes sure a bucket exists in its current window: a new row, or a window that began at or
/// before `expired_before` starting over at 0. On both backends this takes the bucket's write
/// lock until the transaction ends, so admissions to one bucket happen one at a time.
pub fn throttle_open(
    conn: &mut DbConnection,
    bucket: &str,
    now: Ts,
    expired_before: Ts,
) -> Result<(), Error> {
    const SET: &str = "ON CONFLICT (bucket) DO UPDATE SET \
        count = CASE WHEN throttle_counters.window_start <= {T} THEN 0 ELSE throttle_counters.count END, \
        window_start = CASE WHEN throttle_counters.window_start <= {T} THEN excluded.window_start ELSE throttle_counters.window_start END";
    match conn {
        DbConnection::Sqlite(c) => {
            let sql = format!(
                "INSERT INTO throttle_counters (bucket, window_start, count) VALUES (?, ?, 0) {}",
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
                "INSERT INTO throttle_counters (bucket, window_start, count) VALUES ($1, $2, 0) {}",
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

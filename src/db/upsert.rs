//! The few statements whose SQL differs between the backends (upserts), run on the concrete
//! connection.

use diesel::sql_types::{Integer, Text, Timestamp};
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

/// A bucket's state after a hit.
#[derive(diesel::QueryableByName)]
pub struct Taken {
    #[diesel(sql_type = Integer)]
    pub count: i32,
    #[diesel(sql_type = Timestamp)]
    pub window_start: Ts,
}

/// Counts a hit like [`throttle_hit`] and returns the bucket's count and window start after it,
/// in one atomic statement: concurrent callers each see their own count.
pub fn throttle_take(
    conn: &mut DbConnection,
    bucket: &str,
    now: Ts,
    expired_before: Ts,
) -> Result<Taken, Error> {
    const SET: &str = "ON CONFLICT (bucket) DO UPDATE SET \
        count = CASE WHEN throttle_counters.window_start <= {T} THEN 1 ELSE throttle_counters.count + 1 END, \
        window_start = CASE WHEN throttle_counters.window_start <= {T} THEN excluded.window_start ELSE throttle_counters.window_start END \
        RETURNING count, window_start";
    Ok(match conn {
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
                .get_result(c)?
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
                .get_result(c)?
        }
    })
}

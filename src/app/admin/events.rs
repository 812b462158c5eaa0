//! Events by user, client, kind and time, newest first; queued events are written first.

use crate::app::Call;
use crate::core::events::{self, Event, EventQuery};
use crate::core::Error;
use crate::state::AppState;

/// The events the query selects.
pub async fn query(state: &AppState, _: &Call, query: EventQuery) -> Result<Vec<Event>, Error> {
    state.audit.flush().await?;
    state.db.run(move |conn| events::query(conn, &query)).await
}

//! What to answer to history and state requests: backfill, missing events, state,
//! events and auth chains (<https://spec.matrix.org/v1.16/server-server-api/#backfilling-and-retrieving-missing-events>).

//! The application-service API (<https://spec.matrix.org/v1.16/application-service-api/>)
//! in the homeserver: registration files loaded at start (`--appservice FILE`), the
//! queue that pushes events to each service in transactions persisted in SQLite, the
//! alias and user queries that let a bridge create portal rooms and puppets on
//! demand, and the client API's ping. Every decision (who may act as whom, which
//! service gets which event, which names are exclusive, the requests' shapes) is the
//! core's `matrix_serverlib::appservice`; this module only does the I/O.

mod load;
mod outbound;
mod push;
mod query;

pub(crate) use load::load;
pub(crate) use push::{ephemeral_targets, init, push_ephemeral, start};
pub(crate) use query::{ensure_alias, ensure_user, ping};

#[cfg(test)]
mod tests;

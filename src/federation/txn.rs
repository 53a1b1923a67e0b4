//! Incoming `/send` transactions and their response, and the outbound per-destination
//! queue (<https://spec.matrix.org/v1.16/server-server-api/#transactions>).

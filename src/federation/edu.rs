//! Typed EDUs (ephemeral data units) and their origin checks
//! (<https://spec.matrix.org/v1.16/server-server-api/#edus>).

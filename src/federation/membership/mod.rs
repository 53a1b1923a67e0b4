//! The membership handshakes of federation, on both sides: join, leave, knock and
//! invite (<https://spec.matrix.org/v1.16/server-server-api/#joining-rooms>).

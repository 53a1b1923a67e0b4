//! Signing outgoing federation requests and authenticating incoming ones
//! (<https://spec.matrix.org/v1.16/server-server-api/#request-authentication>).

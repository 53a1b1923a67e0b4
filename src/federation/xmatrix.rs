//! The `X-Matrix` authorization header
//! (<https://spec.matrix.org/v1.16/server-server-api/#request-authentication>).

//! The one place that builds federation request-targets, and a raw query parser
//! (<https://spec.matrix.org/v1.16/server-server-api/>).

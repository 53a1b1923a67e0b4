//! Server-name resolution as a step machine
//! (<https://spec.matrix.org/v1.16/server-server-api/#resolving-server-names>).

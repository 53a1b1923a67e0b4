//! Server key documents: our own, and the validation of fetched ones and notary answers
//! (<https://spec.matrix.org/v1.16/server-server-api/#retrieving-server-keys>).

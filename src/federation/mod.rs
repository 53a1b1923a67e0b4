//! Server-server federation as pure functions and step machines
//! (<https://spec.matrix.org/v1.16/server-server-api/>): the caller does the network,
//! the clock and the storage; this module says what to send, checks what arrives and
//! decides what it means.
//!
//! | module | what it answers |
//! | --- | --- |
//! | [`path`] | every federation request-target, percent-encoded as Synapse does, and a raw query parser |
//! | [`xmatrix`] | the `X-Matrix` authorization header: lenient parsing, strict formatting |
//! | [`request`] | signing outgoing requests; authenticating incoming ones in two steps |
//! | [`keys`] | our own key document; validation of fetched key documents and notary answers |
//! | [`keyring`] | a pure key cache: which keys are missing, which may verify what, and when |
//! | [`resolve`] | server-name resolution (well-known, SRV, fallbacks) as a step machine |
//! | [`net`] | the outbound IP policy against SSRF, and server ACLs |
//! | [`txn`] | incoming `/send` transactions and their response; the outbound per-destination queue |
//! | [`edu`] | typed EDUs and their origin checks |
//! | [`membership`] | the join, leave, knock and invite handshakes, on both sides |
//! | [`ingest`] | the receipt pipeline: the spec's six checks as a step machine |
//! | [`serve`] | what to answer to backfill, missing-events, state and event requests |
//!
//! [`outbound`] holds the request and reply types the step machines share, and
//! [`error`] the Matrix error codes every refusal maps to.

pub mod edu;
pub mod error;
pub mod ingest;
pub mod keyring;
pub mod keys;
pub mod membership;
pub mod net;
pub mod outbound;
pub mod path;
pub mod request;
pub mod resolve;
pub mod serve;
pub mod txn;
pub mod xmatrix;

pub use error::{ErrorCode, MatrixError};

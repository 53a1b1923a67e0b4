//! `PUT /_matrix/federation/v1/send/{txnId}`: reading the transaction and building the
//! answer.

use std::collections::BTreeMap;

use crate::federation::edu::{self, Edu, EduError};
use crate::federation::error::{ErrorCode, MatrixError};
use crate::id::{EventId, RoomId, ServerName};
use crate::json::{self, CanonicalJsonError, Object, ParseOptions, Value};

/// The most PDUs a transaction may carry (spec and Synapse).
pub const MAX_PDUS: usize = 50;

/// The most EDUs a transaction may carry (spec and Synapse).
pub const MAX_EDUS: usize = 100;

/// The largest transaction body read, in bytes: 50 PDUs of at most 64 KiB each leave
/// room for EDUs (to-device messages carrying keys are the large ones).
pub const MAX_TRANSACTION_BYTES: usize = 16 * 1024 * 1024;

/// The longest transaction ID accepted, in bytes. Synapse sets no limit (its route
/// takes any path segment, `[^/]*`, and stores it as text); the IDs servers generate
/// are short decimal or base64 strings.
pub const MAX_TXN_ID_LEN: usize = 255;

/// The most entries read from the `pdus` map of a transaction response.
pub const MAX_RESPONSE_ENTRIES: usize = 1_000;

/// A transaction received on `/send/{txnId}`, checked and split up.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct IncomingTransaction {
    /// The transaction ID from the path; with the origin, the key that de-duplicates
    /// retries.
    pub txn_id: String,
    /// The sending server (the authenticated origin, which the body repeats).
    pub origin: ServerName,
    /// The body's `origin_server_ts`.
    pub origin_server_ts: i64,
    /// The PDUs that name a room, in the order sent. Find each room's version, check
    /// the PDU with [`crate::event::Pdu::from_object`] and the receipt pipeline, and
    /// answer for it in the [`TransactionResponse`]; a PDU of a room this server does
    /// not know gets no entry (as in Synapse).
    pub pdus: Vec<TransactionPdu>,
    /// How many entries of `pdus` were ignored: not an object, or without a string
    /// `room_id` that parses as a room ID (Synapse ignores them, with no entry in the
    /// answer).
    pub ignored_pdus: usize,
    /// The EDUs that parsed and passed [`edu::check_edu_origin`], in the order sent.
    pub edus: Vec<Edu>,
    /// Why each dropped EDU was dropped: a dropped EDU never fails the transaction.
    pub dropped_edus: Vec<EduError>,
}

/// A PDU as a transaction carries it: the raw event object and the room it names.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TransactionPdu {
    /// The room the PDU is for, whose version says how to read the PDU.
    pub room_id: RoomId,
    /// The PDU as sent.
    pub object: Object,
}

impl TransactionPdu {
    /// A PDU `object` of `room_id`.
    #[must_use]
    pub fn new(room_id: RoomId, object: Object) -> Self {
        Self { room_id, object }
    }
}

/// Why a transaction was refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxnError {
    /// The body is longer than [`MAX_TRANSACTION_BYTES`].
    #[error("transaction body of {len} bytes is over the limit of {max}")]
    BodyTooLarge {
        /// The body's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The path's transaction ID is empty, too long or holds a control character.
    #[error("invalid transaction id: {reason}")]
    InvalidTxnId {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A required field is missing.
    #[error("missing field {field}")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// The body is not JSON.
    #[error("transaction body is not json: {0}")]
    NotJson(CanonicalJsonError),
    /// The body's `origin` is not the server that signed the request.
    #[error("origin {claimed} does not match the authenticated origin {authenticated}")]
    OriginMismatch {
        /// The body's `origin`.
        claimed: String,
        /// The origin of the request's signature.
        authenticated: String,
    },
    /// More than [`MAX_PDUS`] PDUs or [`MAX_EDUS`] EDUs.
    #[error("{what} has {count} entries, more than the limit of {max}")]
    TooMany {
        /// `pdus` or `edus`.
        what: &'static str,
        /// How many it has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A field has the wrong JSON type.
    #[error("{field} is not {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
}

impl MatrixError for TxnError {
    fn errcode(&self) -> ErrorCode {
        match self {
            Self::BodyTooLarge { .. } | Self::TooMany { .. } => ErrorCode::TooLarge,
            Self::InvalidTxnId { .. } => ErrorCode::InvalidParam,
            Self::MissingField { .. } | Self::WrongType { .. } => ErrorCode::BadJson,
            Self::NotJson(_) => ErrorCode::NotJson,
            Self::OriginMismatch { .. } => ErrorCode::Forbidden,
        }
    }

    /// Too many PDUs or EDUs is a 400, as Synapse answers it; the other codes keep
    /// their usual status.
    fn status(&self) -> u16 {
        match self {
            Self::TooMany { .. } => 400,
            _ => self.errcode().default_status(),
        }
    }
}

/// Reads the body of `PUT /send/{txn_id}` from `authenticated_origin`.
///
/// The body must be a JSON object with `origin` (equal to `authenticated_origin`),
/// an integer `origin_server_ts`, a `pdus` array of at most [`MAX_PDUS`] entries and
/// an optional `edus` array of at most [`MAX_EDUS`]. Each PDU is kept as its raw
/// object with its room; PDUs without a room are counted in
/// [`IncomingTransaction::ignored_pdus`]. Each EDU is parsed and checked against the
/// origin; one that fails lands in [`IncomingTransaction::dropped_edus`].
///
/// `txn_id` is the path segment, percent-decoded: non-empty, at most
/// [`MAX_TXN_ID_LEN`] bytes and free of control characters (stricter than Synapse,
/// which takes any segment).
///
/// Synapse takes the origin from the request's signature and ignores the body's; a
/// body naming another server is refused here, since no honest server sends one.
///
/// # Errors
///
/// A [`TxnError`]: [`TxnError::BodyTooLarge`] (413), [`TxnError::NotJson`],
/// [`TxnError::MissingField`] or [`TxnError::WrongType`] (400),
/// [`TxnError::InvalidTxnId`] (400), [`TxnError::OriginMismatch`] (403 `M_FORBIDDEN`),
/// [`TxnError::TooMany`] (400, as Synapse answers).
pub fn parse_transaction(
    txn_id: &str,
    body: &[u8],
    authenticated_origin: &ServerName,
) -> Result<IncomingTransaction, TxnError> {
    check_txn_id(txn_id)?;
    let body = parse_body(body)?;
    let origin = body
        .get("origin")
        .ok_or(TxnError::MissingField { field: "origin" })?
        .as_str()
        .ok_or(TxnError::WrongType {
            field: "origin",
            expected: "a string",
        })?;
    if origin != authenticated_origin.as_str() {
        return Err(TxnError::OriginMismatch {
            claimed: origin.to_owned(),
            authenticated: authenticated_origin.as_str().to_owned(),
        });
    }
    let origin_server_ts = body
        .get("origin_server_ts")
        .ok_or(TxnError::MissingField {
            field: "origin_server_ts",
        })?
        .as_i64()
        .ok_or(TxnError::WrongType {
            field: "origin_server_ts",
            expected: "an integer",
        })?;
    let pdus = array(&body, "pdus", MAX_PDUS)?.ok_or(TxnError::MissingField { field: "pdus" })?;
    let edus = array(&body, "edus", MAX_EDUS)?.unwrap_or_default();
    let kept: Vec<TransactionPdu> = pdus.iter().filter_map(transaction_pdu).collect();
    let mut transaction = IncomingTransaction {
        txn_id: txn_id.to_owned(),
        origin: authenticated_origin.clone(),
        origin_server_ts,
        ignored_pdus: pdus.len().saturating_sub(kept.len()),
        pdus: kept,
        edus: Vec::new(),
        dropped_edus: Vec::new(),
    };
    for entry in edus {
        match incoming_edu(entry, origin) {
            Ok(edu) => transaction.edus.push(edu),
            Err(error) => transaction.dropped_edus.push(error),
        }
    }
    Ok(transaction)
}

/// Checks a transaction ID as [`parse_transaction`] does (also for IDs a queue makes).
///
/// # Errors
///
/// [`TxnError::InvalidTxnId`] when it is empty, longer than [`MAX_TXN_ID_LEN`] bytes or
/// holds a control character.
pub fn check_txn_id(txn_id: &str) -> Result<(), TxnError> {
    let reason = if txn_id.is_empty() {
        "empty"
    } else if txn_id.len() > MAX_TXN_ID_LEN {
        "longer than 255 bytes"
    } else if txn_id.chars().any(char::is_control) {
        "control character"
    } else {
        return Ok(());
    };
    Err(TxnError::InvalidTxnId { reason })
}

fn parse_body(body: &[u8]) -> Result<Object, TxnError> {
    if body.len() > MAX_TRANSACTION_BYTES {
        return Err(TxnError::BodyTooLarge {
            len: body.len(),
            max: MAX_TRANSACTION_BYTES,
        });
    }
    // Lenient: PDUs of room versions 1 to 5 may hold floats; each PDU is checked
    // against its own room version afterwards.
    let options = ParseOptions::lenient().with_max_len(MAX_TRANSACTION_BYTES);
    match json::parse(body, &options).map_err(TxnError::NotJson)? {
        Value::Object(object) => Ok(object),
        _ => Err(TxnError::WrongType {
            field: "body",
            expected: "an object",
        }),
    }
}

fn array<'a>(
    body: &'a Object,
    field: &'static str,
    max: usize,
) -> Result<Option<&'a [Value]>, TxnError> {
    let Some(value) = body.get(field) else {
        return Ok(None);
    };
    let entries = value.as_array().ok_or(TxnError::WrongType {
        field,
        expected: "an array",
    })?;
    if entries.len() > max {
        return Err(TxnError::TooMany {
            what: field,
            count: entries.len(),
            max,
        });
    }
    Ok(Some(entries))
}

fn transaction_pdu(entry: &Value) -> Option<TransactionPdu> {
    let object = entry.as_object()?;
    let room_id = RoomId::parse(object.get("room_id")?.as_str()?).ok()?;
    Some(TransactionPdu::new(room_id, object.clone()))
}

fn incoming_edu(entry: &Value, origin: &str) -> Result<Edu, EduError> {
    let object = entry.as_object().ok_or(EduError::WrongType {
        field: "edus",
        expected: "an array of objects",
    })?;
    let edu = edu::parse_edu(object)?;
    edu::check_edu_origin(&edu, origin)?;
    Ok(edu)
}

/// The answer to a transaction: `{"pdus": {event_id: {} or {"error": text}}}`.
///
/// Entries are kept in event-ID order, so the same results give byte-identical
/// answers: a retried transaction (same origin and ID) can be answered again from the
/// stored results, or the stored answer resent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionResponse {
    /// Event ID → `None` when the PDU was accepted, or the error text.
    pub pdus: BTreeMap<String, Option<String>>,
}

impl TransactionResponse {
    /// An answer with no entries.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `event_id` was processed without error (`{}`).
    pub fn ok(&mut self, event_id: &EventId) {
        self.pdus.insert(event_id.as_str().to_owned(), None);
    }

    /// Records that `event_id` failed with `message` (`{"error": message}`).
    pub fn error(&mut self, event_id: &EventId, message: &str) {
        self.pdus
            .insert(event_id.as_str().to_owned(), Some(message.to_owned()));
    }

    /// The errors, event ID first, in event-ID order.
    pub fn errors(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pdus
            .iter()
            .filter_map(|(id, error)| Some((id.as_str(), error.as_deref()?)))
    }

    /// The answer's JSON body.
    #[must_use]
    pub fn to_object(&self) -> Object {
        let pdus = self
            .pdus
            .iter()
            .map(|(id, error)| {
                let mut result = Object::new();
                if let Some(error) = error {
                    result.insert("error", Value::from(error.as_str()));
                }
                (id.clone(), Value::Object(result))
            })
            .collect::<Object>();
        Object::from_entries(vec![("pdus".into(), Value::Object(pdus))])
    }

    /// Reads a peer's answer to a transaction we sent. Entries that are not objects,
    /// and `error` values that are not strings, read as accepted; a missing `pdus`
    /// reads as no entries (both as Synapse's sender does).
    ///
    /// # Errors
    ///
    /// [`TxnError::NotJson`], [`TxnError::WrongType`] when the body or its `pdus` is
    /// not an object, [`TxnError::TooMany`] past [`MAX_RESPONSE_ENTRIES`].
    pub fn from_slice(body: &[u8]) -> Result<Self, TxnError> {
        let body = parse_body(body)?;
        let mut response = Self::new();
        let Some(pdus) = body.get("pdus") else {
            return Ok(response);
        };
        let pdus = pdus.as_object().ok_or(TxnError::WrongType {
            field: "pdus",
            expected: "an object",
        })?;
        if pdus.len() > MAX_RESPONSE_ENTRIES {
            return Err(TxnError::TooMany {
                what: "pdus",
                count: pdus.len(),
                max: MAX_RESPONSE_ENTRIES,
            });
        }
        for (id, result) in pdus {
            let error = result
                .get("error")
                .and_then(Value::as_str)
                .map(str::to_owned);
            response.pdus.insert(id.to_owned(), error);
        }
        Ok(response)
    }
}

#!/usr/bin/env python3
"""Synapse-backed twin: the conformance protocol answered by Synapse's own code.

This program speaks the JSON-lines conformance protocol described in
``shared/conformance-protocol.md``: it reads one JSON object per line on
standard input and writes exactly one JSON object per line on standard output,
in the same order, flushing after each line.  Blank lines are skipped; a line
that cannot be handled gets an ``{"error": ..., "message": ...}`` answer and the
program goes on with the next line.

Every answer is computed by the code of an installed ``matrix-synapse``
(pinned to 1.163.2 by ``setup.sh``), not by a re-implementation:

* ``canonical``: Synapse's JSON decoder (``synapse.util.json.json_decoder``,
  which rejects ``NaN``/``Infinity``), ``validate_canonicaljson`` for strict
  mode (as Synapse applies to PDUs of room versions 6 and later) and
  ``canonicaljson.encode_canonical_json``;
* ``content_hash``, ``sign_event``: ``synapse.crypto.event_signing``
  (``compute_content_hash``, ``add_hashes_and_signatures``);
* ``redact``: ``synapse.synapse_rust.events.redact_event_dict`` (the Rust
  replacement of ``prune_event_dict``, which ``prune_event`` also uses);
* ``event_id``: ``synapse.events.make_event_from_dict`` and the event's
  ``event_id`` (the reference hash from room version 3 on);
* ``sign``, ``verify``: ``signedjson`` and Synapse's ``Keyring`` request logic
  fed with the keys of the case instead of fetched ones;
* ``verify_event``: ``synapse.federation.federation_base._check_sigs_on_pdu``
  (which servers must sign) and ``check_event_content_hash``;
* ``auth_types``, ``auth``: ``synapse.event_auth`` (``auth_types_for_event``,
  ``check_state_independent_auth_rules`` for create events,
  ``check_state_dependent_auth_rules`` for the others);
* ``resolve``: ``synapse.state.v1`` / ``synapse.state.v2``
  ``resolve_events_with_store`` over an in-memory store;
* ``sign_request``: ``MatrixFederationHttpClient.build_auth_headers`` (the
  JSON it signs with ``signedjson.sign.sign_json`` and the ``X-Matrix``
  header it writes), given the body as ``_send_request`` passes it;
* ``verify_request``: ``Authenticator.authenticate_request`` (which runs
  ``_parse_auth_header`` on each header and ``Keyring.verify_json_for_server``
  on the JSON it builds) over a stand-in request, after the body step of
  ``BaseFederationServlet._wrap`` (``parse_json_object_from_request`` for
  ``PUT``/``POST``);
* ``verify_key_document``: ``ServerKeyFetcher``'s checks
  (``get_server_verify_keys_v2_direct`` after its HTTP call, then
  ``BaseV2KeyFetcher.process_v2_response``), or with a notary
  ``PerspectivesKeyFetcher.get_server_verify_key_v2_indirect`` (with
  ``_validate_perspectives_response``) over the notary's answer, the notary
  configured by ``synapse.config.key._parse_key_servers``.

The module can also be imported: :func:`answer` maps one case (a dict) to its
answer (a dict), and :func:`answer_line` does the same for one raw input line.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import sys
from typing import Any, Callable, Iterable

# Synapse's Rust extension appends a full backtrace to its error messages when
# RUST_BACKTRACE is set; keep the messages short.  Must happen before import.
os.environ["RUST_BACKTRACE"] = "0"
os.environ["RUST_LIB_BACKTRACE"] = "0"

import signedjson.key  # noqa: E402
import signedjson.sign  # noqa: E402
from canonicaljson import encode_canonical_json  # noqa: E402
from synapse import event_auth  # noqa: E402
from synapse.api.errors import SynapseError  # noqa: E402
from synapse.api.room_versions import (  # noqa: E402
    KNOWN_ROOM_VERSIONS,
    RoomVersion,
    StateResolutionVersions,
)
from synapse.config._base import ConfigError  # noqa: E402
from synapse.config.key import _parse_key_servers  # noqa: E402
from synapse.crypto import event_signing  # noqa: E402
from synapse.crypto.keyring import (  # noqa: E402
    BaseV2KeyFetcher,
    Keyring,
    PerspectivesKeyFetcher,
    ServerKeyFetcher,
    _FetchKeyRequest,
)
from synapse.events import EventBase, make_event_from_dict  # noqa: E402
from synapse.events.utils import validate_canonicaljson  # noqa: E402
from synapse.federation import federation_base  # noqa: E402
from synapse.federation.transport.server._base import Authenticator  # noqa: E402
from synapse.http import matrixfederationclient  # noqa: E402
from synapse.http.servlet import parse_json_object_from_request  # noqa: E402
from synapse.state import v1 as state_v1  # noqa: E402
from synapse.state import v2 as state_v2  # noqa: E402
from synapse.storage.databases.main.event_federation import (  # noqa: E402
    StateDifference,
)
from synapse.storage.keys import FetchKeyResult  # noqa: E402
from synapse.synapse_rust.events import redact_event_dict  # noqa: E402
from synapse.util.json import json_decoder  # noqa: E402
from unpaddedbase64 import decode_base64, encode_base64  # noqa: E402

logging.disable(logging.CRITICAL)

#: The Synapse version answering, for ``source`` fields of vector files.  (Not
#: ``synapse.__version__``: that appends git details of whatever checkout the
#: virtualenv happens to sit in.)
SYNAPSE_VERSION = importlib.metadata.version("matrix-synapse")

#: The room versions of the protocol: the spec's numbered versions.
PROTOCOL_ROOM_VERSIONS = tuple(str(n) for n in range(1, 13))

JsonDict = dict[str, Any]


class ProtocolError(Exception):
    """A case that gets an error answer: ``error`` is the protocol's word."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.message = message


def _bad_input(message: str) -> ProtocolError:
    return ProtocolError("bad_input", message)


def describe_exception(exc: BaseException) -> str:
    """Render an exception as ``Type: message (cause)``.

    Synapse errors carry their text in ``msg``; the cause (or the exception
    being handled when this one was raised) is appended in brackets, as it
    often holds the useful detail (e.g. the Rust parser's complaint).
    """
    text = getattr(exc, "msg", None)
    if not isinstance(text, str):
        text = str(exc)
    text = text.split("\n")[0]
    result = f"{type(exc).__name__}: {text}"
    cause = exc.__cause__
    if cause is None and not exc.__suppress_context__:
        cause = exc.__context__
    if cause is not None:
        result += f" ({str(cause).splitlines()[0] if str(cause) else type(cause).__name__})"
    return result


# ---------------------------------------------------------------------------
# Reading the fields of a case
# ---------------------------------------------------------------------------

_MISSING = object()


def field(case: JsonDict, name: str, kind: type | tuple[type, ...], default: Any = _MISSING) -> Any:
    """Return ``case[name]``, checking it is of ``kind``.

    Raises a ``bad_input`` error when the field is missing (and has no
    default) or has the wrong kind.  ``bool`` is never accepted as an ``int``.
    """
    if name not in case:
        if default is _MISSING:
            raise _bad_input(f"missing field '{name}'")
        return default
    value = case[name]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise _bad_input(f"field '{name}' has the wrong kind")
    if not isinstance(value, kinds):
        raise _bad_input(f"field '{name}' has the wrong kind")
    return value


def room_version(case: JsonDict) -> RoomVersion:
    """The case's ``room_version`` as Synapse's ``RoomVersion`` object."""
    identifier = field(case, "room_version", str)
    if identifier not in PROTOCOL_ROOM_VERSIONS or identifier not in KNOWN_ROOM_VERSIONS:
        raise ProtocolError("unsupported_room_version", f"unsupported room version {identifier!r}")
    return KNOWN_ROOM_VERSIONS[identifier]


def parse_event(event_dict: Any, version: RoomVersion, what: str = "event") -> EventBase:
    """Build a Synapse event from its wire-format dict, as Synapse does."""
    if not isinstance(event_dict, dict):
        raise _bad_input(f"field '{what}' has the wrong kind")
    try:
        return make_event_from_dict(copy.deepcopy(event_dict), version)
    except Exception as exc:  # Synapse raises SynapseError (400) here
        raise _bad_input(f"Synapse cannot parse the {what}: {describe_exception(exc)}") from exc


def signing_key(case: JsonDict) -> Any:
    """The signing key named by the case's ``key_id`` and ``seed`` fields."""
    key_id = field(case, "key_id", str)
    seed = field(case, "seed", str)
    try:
        seed_bytes = decode_base64(seed)
    except Exception as exc:
        raise _bad_input(f"seed is not base64: {exc}") from exc
    if len(seed_bytes) != 32:
        raise _bad_input("seed must be 32 bytes")
    if ":" not in key_id:
        raise _bad_input("key_id must be algorithm:version")
    algorithm, version = key_id.split(":", 1)
    try:
        return signedjson.key.decode_signing_key_base64(algorithm, version, seed)
    except ValueError as exc:
        raise _bad_input(str(exc)) from exc


def verify_keys(case: JsonDict) -> dict[str, dict[str, FetchKeyResult]]:
    """The case's ``keys`` field as Synapse ``FetchKeyResult`` objects.

    Key validity periods are not judged by the protocol, so every key is
    valid for ever.  Keys of algorithms other than ed25519 are skipped, as
    Synapse's key fetchers skip them.
    """
    keys = field(case, "keys", dict)
    result: dict[str, dict[str, FetchKeyResult]] = {}
    for server, server_keys in keys.items():
        if not isinstance(server_keys, dict):
            raise _bad_input("field 'keys' has the wrong kind")
        result[server] = {}
        for key_id, key_b64 in server_keys.items():
            if not isinstance(key_b64, str):
                raise _bad_input("field 'keys' has the wrong kind")
            if not signedjson.key.is_signing_algorithm_supported(key_id):
                continue  # as Synapse's key fetchers skip unknown algorithms
            try:
                verify_key = signedjson.key.decode_verify_key_bytes(key_id, decode_base64(key_b64))
            except Exception as exc:
                raise _bad_input(f"bad key {server} {key_id}: {exc}") from exc
            result[server][key_id] = FetchKeyResult(verify_key=verify_key, valid_until_ts=2**63)
    return result


# ---------------------------------------------------------------------------
# Running Synapse's async code without a reactor
# ---------------------------------------------------------------------------


def run_coroutine(coroutine: Any) -> Any:
    """Run a coroutine that never really suspends and return its result.

    The Synapse functions used here only await the in-memory stand-ins below,
    which complete at once, so a single ``send`` finishes them.
    """
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise RuntimeError("Synapse code tried to wait for I/O")


class _ImmediateClock:
    """Stands in for ``synapse.util.Clock``: state res only sleeps for 0 s."""

    async def sleep(self, duration: Any) -> None:
        return None


class _StaticKeyQueue:
    """Stands in for the keyring's fetch queue, answering from known keys."""

    def __init__(self, keys: dict[str, dict[str, FetchKeyResult]]) -> None:
        self._keys = keys

    async def add_to_queue(self, request: Any, key: str) -> dict[str, dict[str, FetchKeyResult]]:
        known = self._keys.get(request.server_name, {})
        return {request.server_name: {k: known[k] for k in request.key_ids if k in known}}


class StaticKeyring:
    """Synapse's ``Keyring`` request logic over a fixed set of verify keys.

    The verification methods are Synapse's own (borrowed from ``Keyring``);
    only key fetching is replaced by a lookup in the keys given by the case.
    """

    verify_json_for_server = Keyring.verify_json_for_server
    verify_event_for_server = Keyring.verify_event_for_server
    process_request = Keyring.process_request
    process_json = Keyring.process_json

    def __init__(self, keys: dict[str, dict[str, FetchKeyResult]]) -> None:
        self._fetch_keys_queue = _StaticKeyQueue(keys)
        self._local_verify_keys: dict[str, FetchKeyResult] = {}

    @staticmethod
    def _is_mine_server_name(server_name: str) -> bool:
        return False


class InMemoryStateStore:
    """The store state resolution reads, holding the case's events.

    Every event of the case is also handed to the algorithms as an in-flight
    (unpersisted) event, so Synapse itself computes auth chains, the auth
    chain difference and the v2.1 conflicted subgraph over them.  The store's
    own chain queries are then only asked about event IDs that the case names
    (in ``auth_events``) but does not supply; it knows nothing about those, so
    each is a chain of its own, as a database without them would answer.
    """

    def __init__(self, events: dict[str, EventBase]) -> None:
        self._events = events

    async def get_events(
        self, event_ids: Iterable[str], allow_rejected: bool = False
    ) -> dict[str, EventBase]:
        return {eid: self._events[eid] for eid in event_ids if eid in self._events}

    async def get_auth_chain_difference(
        self,
        room_id: str,
        state_sets: list[set[str]],
        conflicted_state: set[str] | None,
        additional_backwards_reachable_conflicted_events: set[str] | None,
    ) -> StateDifference:
        if state_sets:
            union = set().union(*state_sets)
            difference = union - set(state_sets[0]).intersection(*state_sets[1:])
        else:
            difference = set()
        subgraph = None if conflicted_state is None else set(conflicted_state)
        return StateDifference(auth_difference=difference, conflicted_subgraph=subgraph)


# ---------------------------------------------------------------------------
# The operations
# ---------------------------------------------------------------------------


def op_canonical(case: JsonDict) -> JsonDict:
    """Canonical JSON of a JSON text, strict (v6+ rules) unless told not."""
    text = field(case, "json", str)
    strict = field(case, "strict", bool, True)
    try:
        value = json_decoder.decode(text)
    except (ValueError, RecursionError) as exc:  # too deep for Python: an error too
        raise _bad_input(f"json is not valid JSON text: {exc}") from exc
    if strict:
        try:
            validate_canonicaljson(value)
        except SynapseError as exc:
            raise ProtocolError("not_canonical", describe_exception(exc)) from exc
    try:
        return {"canonical": encode_canonical_json(value).decode("utf-8")}
    except (ValueError, UnicodeError, RecursionError) as exc:
        raise ProtocolError("not_canonical", describe_exception(exc)) from exc


def op_content_hash(case: JsonDict) -> JsonDict:
    """The content hash Synapse computes for an event dict."""
    event = field(case, "event", dict)
    try:
        name, digest = event_signing.compute_content_hash(copy.deepcopy(event), hashlib.sha256)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise ProtocolError("not_canonical", describe_exception(exc)) from exc
    return {name: encode_base64(digest)}


def op_redact(case: JsonDict) -> JsonDict:
    """The event redacted by the room version's algorithm."""
    version = room_version(case)
    event = field(case, "event", dict)
    try:
        return {"redacted": redact_event_dict(version, copy.deepcopy(event))}
    except Exception as exc:
        raise _bad_input(f"Synapse cannot redact the event: {describe_exception(exc)}") from exc


def op_event_id(case: JsonDict) -> JsonDict:
    """The event's ID as Synapse derives it for the room version."""
    version = room_version(case)
    event = parse_event(field(case, "event", dict), version)
    return {"event_id": event.event_id}


def op_sign(case: JsonDict) -> JsonDict:
    """The object signed with ``signedjson.sign.sign_json``."""
    obj = field(case, "json", dict)
    server_name = field(case, "server_name", str)
    key = signing_key(case)
    try:
        return {"signed": signedjson.sign.sign_json(copy.deepcopy(obj), server_name, key)}
    except (ValueError, TypeError, AttributeError, UnicodeError) as exc:
        raise _bad_input(f"cannot sign: {describe_exception(exc)}") from exc


def op_verify(case: JsonDict) -> JsonDict:
    """Whether every server in ``keys`` has signed the object (Keyring rules)."""
    obj = field(case, "json", dict)
    keyring = StaticKeyring(verify_keys(case))
    for server in case["keys"]:
        try:
            run_coroutine(keyring.verify_json_for_server(server, copy.deepcopy(obj), 0))
        except Exception as exc:
            return {"valid": False, "reason": describe_exception(exc)}
    return {"valid": True}


def op_sign_event(case: JsonDict) -> JsonDict:
    """The event with its content hash set and signed over its redaction."""
    version = room_version(case)
    event = copy.deepcopy(field(case, "event", dict))
    server_name = field(case, "server_name", str)
    key = signing_key(case)
    try:
        event_signing.add_hashes_and_signatures(version, event, server_name, key)
    except Exception as exc:
        raise _bad_input(f"Synapse cannot sign the event: {describe_exception(exc)}") from exc
    return {"signed": event}


def op_verify_event(case: JsonDict) -> JsonDict:
    """Signature check (as on receipt over federation) and content hash check."""
    version = room_version(case)
    event = parse_event(field(case, "event", dict), version)
    keyring = StaticKeyring(verify_keys(case))
    answer: JsonDict = {}
    try:
        run_coroutine(federation_base._check_sigs_on_pdu(keyring, version, event))
        answer["signatures_ok"] = True
    except Exception as exc:
        answer["signatures_ok"] = False
        answer["signatures_reason"] = describe_exception(exc)
    try:
        answer["hash_ok"] = bool(event_signing.check_event_content_hash(event))
    except Exception as exc:
        answer["hash_ok"] = False
        answer["hash_reason"] = describe_exception(exc)
    return answer


def op_auth_types(case: JsonDict) -> JsonDict:
    """The (type, state_key) pairs the auth rules need for the event."""
    version = room_version(case)
    event = parse_event(field(case, "event", dict), version)
    try:
        types = event_auth.auth_types_for_event(version, event)
    except Exception as exc:
        raise _bad_input(f"Synapse cannot list auth types: {describe_exception(exc)}") from exc
    return {"types": sorted([list(t) for t in types])}


def op_auth(case: JsonDict) -> JsonDict:
    """The event checked by the authorization rules against given state."""
    version = room_version(case)
    raw_event = field(case, "event", dict)
    if (version.msc4291_room_ids_as_hashes and raw_event.get("type") == "m.room.create"
            and "room_id" in raw_event):
        # The protocol's `auth` row: a room-version-12 create event carrying a room ID
        # is refused by the create rules, not bad input (Synapse refuses it already
        # while parsing, with the same words).
        return {"allowed": False, "reason": "create event must not have a room ID"}
    event = parse_event(raw_event, version)
    auth_dicts = field(case, "auth_events", list)
    auth_events = [parse_event(d, version, "auth event") for d in auth_dicts]
    try:
        if event.type == "m.room.create":
            # Only the create rules apply; they never touch the store.
            run_coroutine(event_auth.check_state_independent_auth_rules(None, event))
        else:
            event_auth.check_state_dependent_auth_rules(event, auth_events)
    except Exception as exc:
        return {"allowed": False, "reason": describe_exception(exc)}
    return {"allowed": True, "reason": "allowed"}


def op_resolve(case: JsonDict) -> JsonDict:
    """State resolution with the room version's algorithm."""
    version = room_version(case)
    raw_sets = field(case, "state_sets", list)
    raw_events = field(case, "events", list)
    events: dict[str, EventBase] = {}
    for raw in raw_events:
        event = parse_event(raw, version, "events entry")
        events[event.event_id] = event
    state_sets: list[dict[tuple[str, str], str]] = []
    for ids in raw_sets:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise _bad_input("field 'state_sets' has the wrong kind")
        state_map: dict[tuple[str, str], str] = {}
        for eid in ids:
            if eid not in events:
                raise _bad_input(f"state set names unknown event {eid}")
            event = events[eid]
            if not event.is_state():
                raise _bad_input(f"state set names non-state event {eid}")
            state_map[(event.type, event.state_key)] = eid
        state_sets.append(state_map)
    all_ids = [eid for s in state_sets for eid in s.values()]
    if not all_ids:
        return {"state": []}
    room_id = events[all_ids[0]].room_id
    store = InMemoryStateStore(events)
    try:
        if version.state_res == StateResolutionVersions.V1:
            coroutine = state_v1.resolve_events_with_store(
                room_id, version, state_sets, dict(events), store.get_events
            )
        else:
            coroutine = state_v2.resolve_events_with_store(
                _ImmediateClock(), room_id, version, state_sets, dict(events), store
            )
        resolved = run_coroutine(coroutine)
    except Exception as exc:
        raise ProtocolError(
            "internal", f"Synapse state resolution failed: {describe_exception(exc)}"
        ) from exc
    return {"state": sorted(set(resolved.values()))}


# ---------------------------------------------------------------------------
# Federation requests and key documents
# ---------------------------------------------------------------------------


class _StandInFederationClient:
    """The two attributes of ``MatrixFederationHttpClient`` that
    ``build_auth_headers`` reads: our server name and signing key."""

    def __init__(self, server_name: str, signing_key: Any) -> None:
        self.server_name = server_name
        self.signing_key = signing_key


def build_auth_headers(
    client: _StandInFederationClient, destination: bytes, method: bytes, uri: bytes, content: Any
) -> tuple[JsonDict, list[bytes]]:
    """Run Synapse's ``MatrixFederationHttpClient.build_auth_headers``.

    Returns the object it signed (recorded by wrapping the module's
    ``sign_json`` for the call; the wrapper passes everything through) and the
    ``Authorization`` header values it built.
    """
    signed: list[JsonDict] = []
    original = matrixfederationclient.sign_json

    def recording_sign_json(obj: JsonDict, name: str, key: Any) -> JsonDict:
        result = original(obj, name, key)
        signed.append(copy.deepcopy(result))
        return result

    matrixfederationclient.sign_json = recording_sign_json
    try:
        headers = matrixfederationclient.MatrixFederationHttpClient.build_auth_headers(
            client, destination, method, uri, content  # type: ignore[arg-type]
        )
    finally:
        matrixfederationclient.sign_json = original
    return signed[0], headers


def op_sign_request(case: JsonDict) -> JsonDict:
    """The request signed as Synapse's federation client signs it."""
    method = field(case, "method", str)
    uri = field(case, "uri", str)
    origin = field(case, "origin", str)
    destination = field(case, "destination", str)
    content = field(case, "content", dict, None)
    key = signing_key(case)
    for name, value in (
        ("method", method),
        ("uri", uri),
        ("origin", origin),
        ("destination", destination),
    ):
        if not value.isascii():
            raise _bad_input(f"{name} must be ASCII (Synapse encodes it as ASCII)")
    # MatrixFederationHttpClient._send_request passes the body to
    # build_auth_headers only `if json:`, so an empty object is neither sent
    # nor signed.
    body = copy.deepcopy(content) if content else None
    client = _StandInFederationClient(origin, key)
    try:
        signed, headers = build_auth_headers(
            client, destination.encode("ascii"), method.encode("ascii"), uri.encode("ascii"), body
        )
    except Exception as exc:
        raise _bad_input(f"Synapse cannot build the header: {describe_exception(exc)}") from exc
    return {"signed": signed, "authorization": headers[0].decode("ascii")}


class _StandInHeaders:
    """``twisted.web.http_headers.Headers.getRawHeaders`` for one header name."""

    def __init__(self, authorization: list[bytes]) -> None:
        self._authorization = authorization

    def getRawHeaders(self, name: bytes) -> list[bytes] | None:  # noqa: N802 (Twisted's name)
        if name.lower() != b"authorization" or not self._authorization:
            return None  # as Twisted answers for a header that was not sent
        return list(self._authorization)


class _StandInRequest:
    """What ``authenticate_request`` and ``parse_json_object_from_request``
    read of a ``SynapseRequest``: method, URI, headers and body (bytes)."""

    def __init__(self, method: bytes, uri: bytes, authorization: list[bytes], body: bytes) -> None:
        self.method = method
        self.uri = uri
        self.requestHeaders = _StandInHeaders(authorization)
        self.content = io.BytesIO(body)
        self.requester: str | None = None


class _FixedClock:
    """``Clock.time_msec`` at a fixed time (2025-10-09).  Nothing the
    protocol compares depends on it: held keys never expire here, and key
    documents are not judged against a clock (Synapse only records the time
    it fetched them)."""

    def time_msec(self) -> int:
        return 1_760_000_000_000


class _NoRetryTimingsStore:
    """The one store method ``authenticate_request`` calls: no backoff known."""

    async def get_destination_retry_timings(self, destination: str) -> None:
        return None


class StandInAuthenticator:
    """Synapse's ``Authenticator`` for a server named ``server_name``.

    ``authenticate_request`` is Synapse's own method; the attributes are those
    ``Authenticator.__init__`` takes from the homeserver: its name,
    ``is_mine_server_name`` (an exact comparison, as ``HomeServer`` does it),
    the keyring (here over the case's keys), no federation whitelist.
    """

    authenticate_request = Authenticator.authenticate_request

    def __init__(self, server_name: str, keyring: StaticKeyring) -> None:
        self._clock = _FixedClock()
        self.keyring = keyring
        self.server_name = server_name
        self.store = _NoRetryTimingsStore()
        self.federation_domain_whitelist = None
        self.notifier = None
        self.replication_client = None

    def _is_mine_server_name(self, server_name: str) -> bool:
        return server_name == self.server_name


def _to_bytes(text: str) -> bytes:
    """The bytes of a header or request line (UTF-8; lone surrogates kept so
    that Synapse's own decoding rejects them)."""
    return text.encode("utf-8", "surrogatepass")


def op_verify_request(case: JsonDict) -> JsonDict:
    """Whether Synapse's federation server authenticates the request."""
    method = field(case, "method", str)
    uri = field(case, "uri", str)
    destination = field(case, "destination", str)
    authorization = field(case, "authorization", list)
    if not all(isinstance(value, str) for value in authorization):
        raise _bad_input("authorization must be a list of strings")
    content = field(case, "content", dict, None)
    keyring = StaticKeyring(verify_keys(case))
    body = b"" if content is None else json.dumps(content).encode("ascii")
    request = _StandInRequest(
        _to_bytes(method), _to_bytes(uri), [_to_bytes(v) for v in authorization], body
    )
    try:
        # BaseFederationServlet._wrap: the body is read for PUT and POST only
        # (an absent or non-object body is an error there), else it is None.
        body_object = None
        if request.method in [b"PUT", b"POST"]:
            body_object = parse_json_object_from_request(request)
        authenticator = StandInAuthenticator(destination, keyring)
        origin = run_coroutine(authenticator.authenticate_request(request, body_object))
    except Exception as exc:
        return {"valid": False, "reason": describe_exception(exc)}
    return {"valid": True, "origin": origin}


class _StandInKeyStore:
    """``store_server_keys_response``, the one store method the fetchers call.

    Nothing is stored.  The real method writes each key's ``valid_until_ts``
    into a ``BIGINT`` column, which PostgreSQL refuses for anything but an
    integer; that refusal is reproduced (SQLite would store anything, so
    Synapse is not consistent here and the vectors avoid such documents).
    """

    async def store_server_keys_response(
        self,
        server_name: str,
        from_server: str,
        ts_added_ms: int,
        verify_keys: dict[str, FetchKeyResult],
        response_json: JsonDict,
    ) -> None:
        encode_canonical_json(response_json)
        for key_id, result in verify_keys.items():
            ts = result.valid_until_ts
            if isinstance(ts, bool) or not isinstance(ts, int):
                raise ValueError(f"valid_until_ts of {key_id} is not an integer: {ts!r}")


class _StandInKeyClient:
    """The federation client of a key fetcher, answering its one request with
    the case's document (direct) or a notary answer holding it."""

    def __init__(self, document: JsonDict) -> None:
        self._document = document

    async def get_json(self, destination: str, path: str, **kwargs: Any) -> JsonDict:
        return copy.deepcopy(self._document)

    async def post_json(self, destination: str, path: str, data: JsonDict) -> JsonDict:
        return {"server_keys": [copy.deepcopy(self._document)]}


class StandInKeyFetcher:
    """Synapse's ``ServerKeyFetcher`` and ``PerspectivesKeyFetcher`` logic over
    one document: the methods are Synapse's own, only the HTTP client, the
    clock and the store are stand-ins."""

    get_server_verify_keys_v2_direct = ServerKeyFetcher.get_server_verify_keys_v2_direct
    get_server_verify_key_v2_indirect = PerspectivesKeyFetcher.get_server_verify_key_v2_indirect

    def __init__(self, document: JsonDict) -> None:
        self.client = _StandInKeyClient(document)
        self.clock = _FixedClock()
        self.store = _StandInKeyStore()
        #: Why the notary's entry was skipped (Synapse only logs it).
        self.skipped: str | None = None

    def _validate_perspectives_response(self, key_server: Any, response: JsonDict) -> None:
        try:
            PerspectivesKeyFetcher._validate_perspectives_response(self, key_server, response)
        except Exception as exc:
            self.skipped = describe_exception(exc)
            raise

    async def process_v2_response(
        self, from_server: str, response_json: JsonDict, time_added_ms: int
    ) -> dict[str, FetchKeyResult]:
        try:
            return await BaseV2KeyFetcher.process_v2_response(
                self, from_server, response_json, time_added_ms
            )
        except Exception as exc:
            self.skipped = describe_exception(exc)
            raise


def notary_key_server(notary: JsonDict) -> Any:
    """The case's notary as Synapse's ``trusted_key_servers`` config reads it."""
    name = field(notary, "server_name", str)
    keys = field(notary, "keys", dict)
    try:
        (server,) = _parse_key_servers([{"server_name": name, "verify_keys": keys}], True)
    except ConfigError as exc:
        raise _bad_input(f"notary: {exc}") from exc
    return server


def op_verify_key_document(case: JsonDict) -> JsonDict:
    """Whether Synapse accepts a key document, and the keys it takes from it."""
    server_name = field(case, "server_name", str)
    document = field(case, "response", dict)
    notary = field(case, "notary", dict, None)
    key_server = None if notary is None else notary_key_server(notary)
    fetcher = StandInKeyFetcher(document)
    try:
        if key_server is None:
            keys = run_coroutine(fetcher.get_server_verify_keys_v2_direct(server_name))
        else:
            request = _FetchKeyRequest(
                server_name=server_name, minimum_valid_until_ts=0, key_ids=[]
            )
            by_server = run_coroutine(
                fetcher.get_server_verify_key_v2_indirect([request], key_server)
            )
            keys = by_server.get(server_name, {})
            if not keys:
                # get_server_verify_key_v2_indirect logs and skips an entry
                # that fails its checks.
                reason = f"the notary's answer gives no keys for {server_name}"
                if fetcher.skipped is not None:
                    reason += f" (entry skipped: {fetcher.skipped})"
                elif by_server:
                    reason += f" (only for {', '.join(sorted(by_server))})"
                return {"valid": False, "reason": reason}
    except Exception as exc:
        return {"valid": False, "reason": describe_exception(exc)}
    return {
        "valid": True,
        "keys": {
            key_id: {
                "key": encode_base64(result.verify_key.encode()),
                "valid_until_ts": result.valid_until_ts,
            }
            for key_id, result in keys.items()
        },
    }


#: The protocol's operations, by name.
OPERATIONS: dict[str, Callable[[JsonDict], JsonDict]] = {
    "canonical": op_canonical,
    "content_hash": op_content_hash,
    "redact": op_redact,
    "event_id": op_event_id,
    "sign": op_sign,
    "verify": op_verify,
    "sign_event": op_sign_event,
    "verify_event": op_verify_event,
    "auth_types": op_auth_types,
    "auth": op_auth,
    "resolve": op_resolve,
    "sign_request": op_sign_request,
    "verify_request": op_verify_request,
    "verify_key_document": op_verify_key_document,
}


# ---------------------------------------------------------------------------
# The protocol loop
# ---------------------------------------------------------------------------


def answer(case: Any) -> JsonDict:
    """Answer one case (an already-parsed input object)."""
    if not isinstance(case, dict):
        return {"error": "bad_json", "message": "the line is not a JSON object"}
    op = case.get("op")
    handler = OPERATIONS.get(op) if isinstance(op, str) else None
    if handler is None:
        return {"error": "unknown_op", "message": f"unknown op {op!r}"}
    try:
        return handler(case)
    except ProtocolError as exc:
        return {"error": exc.error, "message": exc.message}
    except RecursionError as exc:
        return {"error": "internal", "message": f"too deeply nested: {exc}"}
    except Exception as exc:  # never die on a case
        return {"error": "internal", "message": describe_exception(exc)}


def answer_line(line: str) -> JsonDict:
    """Answer one raw input line (not blank)."""
    try:
        case = json_decoder.decode(line)
    except (ValueError, RecursionError) as exc:
        return {"error": "bad_json", "message": f"not JSON: {exc}"}
    return answer(case)


def encode_answer(result: JsonDict) -> bytes:
    """One output line: UTF-8 JSON, ASCII-escaped only if it must be."""
    try:
        return (json.dumps(result, ensure_ascii=False) + "\n").encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot be written as UTF-8
        return (json.dumps(result, ensure_ascii=True) + "\n").encode("ascii")
    except (ValueError, TypeError) as exc:
        fallback = {"error": "internal", "message": f"unencodable answer: {exc}"}
        return (json.dumps(fallback) + "\n").encode("ascii")


def main() -> int:
    """Read cases from stdin, write answers to stdout, one line each."""
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            result: JsonDict = {"error": "bad_json", "message": f"not UTF-8: {exc}"}
        else:
            if not line.strip(" \t\r\n"):
                continue
            result = answer_line(line.rstrip("\r\n"))
        out.write(encode_answer(result))
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

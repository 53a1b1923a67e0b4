#!/usr/bin/env python3
"""Deterministic generator of conformance vectors answered by the Synapse twin.

Run with the virtualenv that ``setup.sh`` makes (the twin imports Synapse)::

    .venv/bin/python generate.py            # every op, default seed
    .venv/bin/python generate.py --only sign verify

For each op it builds cases from a seeded random generator, asks the twin
(:func:`twin.answer`, i.e. Synapse's own code) for the answer and writes
``test-vectors/<op>/synapse.jsonl`` (``auth`` and ``resolve``: one file per
room version, ``synapse_v<N>.jsonl``): one line per case,

    {"case": {...}, "expect": {...}, "source": "synapse 1.163.2 via ...",
     "label": "<what the case exercises>"}

Cases where Synapse does something the spec leaves open or words otherwise,
and which an implementation may choose not to copy, go to
``test-vectors/<op>/synapse-quirks.jsonl`` instead, with the reason in their
label.  The spec's published vectors are converted by :func:`spec_vectors`
into ``test-vectors/<op>/spec*.jsonl``.

Every event is a realistic PDU of its room version, built by
:class:`RoomBuilder`: real prev/auth references, real content hashes and
Ed25519 signatures made with keys derived from fixed names, so the output is
byte-for-byte reproducible.  ``auth_types``, ``auth`` and ``resolve`` use
:class:`SimRoom`, a builder whose events are judged by the twin's auth rules
before they enter the state and whose state can fork: :class:`AuthScript`
walks every authorization rule of a room version, :class:`ForkScript` forks
rooms and resolves their branches.  Generators are plain functions registered
in :data:`GENERATORS`; a new op is added by writing one more and registering it.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import re
import string
import sys
import urllib.parse
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator

import signedjson.key
import signedjson.sign
from synapse.api.room_versions import KNOWN_ROOM_VERSIONS, EventFormatVersions
from synapse.crypto import event_signing
from synapse.event_auth import auth_types_for_event
from unpaddedbase64 import decode_base64, encode_base64

import twin  # imports Synapse; run this script with the .venv Python

HERE = Path(__file__).resolve().parent
VECTORS = HERE.parent
SPEC_VECTORS_CANDIDATES = (
    VECTORS.parent.parent / "shared" / "spec-vectors",
    Path("/work/shared/spec-vectors"),
)

DEFAULT_SEED = 1163
SOURCE = f"synapse {twin.SYNAPSE_VERSION} via test-vectors/generator/twin.py"
ROOM_VERSIONS = [str(n) for n in range(1, 13)]
SERVERS = ["a.example", "b.example", "c.example", "d.example"]
IDENTITY_SERVER = "id.example"

JsonDict = dict[str, Any]
Vector = dict[str, Any]


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


# Cases where matrix-serverlib deliberately answers differently from Synapse, by the
# start of their label, with the reason. The vector keeps Synapse's answer in
# ``expect`` and carries the reason as ``differs``; the Rust runner then requires the
# library's answer to differ, so the difference stays pinned both ways.
LIBRARY_DIFFERS = {
    "v12 power levels: creator sets a level above 2**53": (
        "the spec gives creators infinite power; Synapse uses 2**53. Only a level above "
        "2**53 tells them apart, and such a value is not canonical JSON, so no event "
        "received over federation can carry it"
    ),
    "key ID ed25519:\u00e9": (
        "the protocol asks ASCII only of method, uri, origin and destination, so the key ID "
        "is signed under as given (a real header needs ASCII; the library's sign_request "
        "refuses it, and the op then writes the header with the value as it is)"
    ),
    "PUT with an empty {} body": (
        "the protocol signs `content` whenever a body is given, and a server that receives "
        "a PUT with `{}` verifies it with that content; Synapse's client would send no body"
    ),
    "POST with an empty {} body": (
        "the protocol signs `content` whenever a body is given, and a server that receives "
        "a POST with `{}` verifies it with that content; Synapse's client would send no body"
    ),
    "valid: characters outside base64 inside sig": (
        "a signature that is not base64 is refused: Synapse's b64decode skips the stray "
        "characters, so two different header values would carry the same signature"
    ),
}


def make_vector(case: JsonDict, label: str, source: str = SOURCE) -> Vector:
    """Run ``case`` through the twin and wrap it as a vector line."""
    answer = twin.answer(copy.deepcopy(case))
    if answer.get("error") == "internal":
        raise RuntimeError(f"twin failed on {label}: {answer}")
    vector = {"case": case, "expect": answer, "source": source, "label": label}
    for prefix, reason in LIBRARY_DIFFERS.items():
        if label.startswith(prefix):
            vector["differs"] = reason
    return vector


def write_vectors(op: str, name: str, vectors: list[Vector]) -> Path:
    """Write vectors as ``test-vectors/<op>/<name>.jsonl``."""
    path = VECTORS / op / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for vector in vectors:
            try:
                line = json.dumps(vector, ensure_ascii=False, separators=(",", ":"))
                line.encode("utf-8")
            except UnicodeEncodeError:
                line = json.dumps(vector, ensure_ascii=True, separators=(",", ":"))
            out.write(line + "\n")
    return path


# ---------------------------------------------------------------------------
# Keys and random values
# ---------------------------------------------------------------------------


def seed_for(name: str) -> str:
    """A deterministic 32-byte Ed25519 seed (unpadded base64) for a name."""
    return encode_base64(hashlib.sha256(f"matrix-serverlib vectors {name}".encode()).digest())


class KeyPair:
    """A named Ed25519 key: ``server`` signs under ``key_id``."""

    def __init__(self, server: str, key_id: str, name: str | None = None) -> None:
        self.server = server
        self.key_id = key_id
        self.seed = seed_for(name or f"{server} {key_id}")
        algorithm, version = key_id.split(":", 1)
        self.signing_key = signedjson.key.decode_signing_key_base64(algorithm, version, self.seed)
        self.public = encode_base64(self.signing_key.verify_key.encode())

    def keys_entry(self) -> dict[str, dict[str, str]]:
        """This key in the protocol's ``keys`` shape."""
        return {self.server: {self.key_id: self.public}}


_KEYS: dict[str, KeyPair] = {}


def server_key(server: str) -> KeyPair:
    """The (single) signing key of a homeserver in the generated rooms."""
    if server not in _KEYS:
        _KEYS[server] = KeyPair(server, "ed25519:k1")
    return _KEYS[server]


def server_of(user_id: str) -> str:
    """The server name of a user ID (split at the first colon)."""
    return user_id.split(":", 1)[1]


TEXT_PIECES = [
    "hello",
    "world",
    "matrix",
    "é",
    "ß",
    "日本",
    "😀",
    "👍🏽",
    "ﬀ",
    "Ω",
    "e\u0301",
    "\u2028",
    "\u007f",
    "\t",
    "\n",
    "\\",
    '"',
    "/",
    "\u00a0",
    "\uffff",
    "🚀",
    "\u0001",
]


def random_word(rng: random.Random, low: int = 3, high: int = 10) -> str:
    """A lowercase ASCII word."""
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(low, high)))


def random_text(rng: random.Random, pieces: int = 4) -> str:
    """Text mixing ASCII words with awkward characters."""
    parts = []
    for _ in range(pieces):
        parts.append(random_word(rng) if rng.random() < 0.6 else rng.choice(TEXT_PIECES))
    return " ".join(parts)


def random_value(rng: random.Random, depth: int = 0, strict: bool = True) -> Any:
    """A random JSON value (strict-canonical unless ``strict`` is false)."""
    roll = rng.random()
    if depth >= 3 or roll < 0.45:
        scalars: list[Any] = [
            True,
            False,
            None,
            0,
            -1,
            1,
            42,
            2**31,
            -(2**31),
            2**53 - 1,
            -(2**53 - 1),
            random_text(rng, rng.randint(1, 3)),
            "",
            random_word(rng),
        ]
        if not strict:
            scalars += [1.5, 2**53, -(2**60), 0.25, 2**70]
        return rng.choice(scalars)
    if roll < 0.7:
        return [random_value(rng, depth + 1, strict) for _ in range(rng.randint(0, 4))]
    return random_object(rng, depth + 1, strict)


KEY_PIECES = ["a", "A", "_", "", "é", "e\u0301", "😀", "\uffff", "日本", "\u0001", "\\", "z", "aa"]


def random_object(rng: random.Random, depth: int = 0, strict: bool = True) -> JsonDict:
    """A random JSON object with awkward keys."""
    obj: JsonDict = {}
    for _ in range(rng.randint(1, 5)):
        key = rng.choice(KEY_PIECES) if rng.random() < 0.4 else random_word(rng)
        obj[key] = random_value(rng, depth, strict)
    return obj


def flip_signature(signature: str, rng: random.Random) -> str:
    """The same signature with one byte changed."""
    raw = bytearray(decode_base64(signature))
    raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
    return encode_base64(bytes(raw))


# ---------------------------------------------------------------------------
# Canonical JSON
# ---------------------------------------------------------------------------


def canonical_case(text: str, strict: bool | None = True) -> JsonDict:
    """A ``canonical`` case; ``strict=None`` leaves the field out (default)."""
    case: JsonDict = {"op": "canonical", "json": text}
    if strict is not None:
        case["strict"] = strict
    return case


def gen_canonical(rng: random.Random) -> Iterator[tuple[JsonDict, str]]:
    """~300 canonical JSON cases: escapes, unicode, numbers, nesting, errors."""
    # Unicode, written raw and escaped.
    unicode_cases = [
        ("é", "\\u00e9"),
        ("日本", "\\u65E5\\u672c"),
        ("😀", "\\ud83d\\ude00"),
        ("👍🏽", "\\uD83D\\uDC4D\\uD83C\\uDFFD"),
        ("e\u0301", "e\\u0301"),
        ("\uffff", "\\uffff"),
        ("\u2028\u2029", "\\u2028\\u2029"),
        ("\u007f", "\\u007f"),
        ("\u0080", "\\u0080"),
        ("\u00a0", "\\u00a0"),
        ("\ufeff", "\\ufeff"),
        ("\ufffd", "\\ufffd"),
        ("\ufdd0", "\\ufdd0"),
        ("\U0010ffff", "\\udbff\\udfff"),
        ("\U00010000", "\\ud800\\udc00"),
        ("ﬀ", "\\ufb00"),
        ("Ω", "\\u03a9"),
        ("\u0301", "\\u0301"),
    ]
    for raw, escaped in unicode_cases:
        yield canonical_case(
            json.dumps({"v": raw}, ensure_ascii=False)
        ), f"unicode raw U+{ord(raw[0]):04X}"
        yield canonical_case(
            '{"v":"' + escaped + '"}', rng.choice([True, None])
        ), f"unicode escaped {escaped}"
    # Every escape sequence of JSON.
    for escape in [
        '\\"',
        "\\\\",
        "\\/",
        "\\b",
        "\\f",
        "\\n",
        "\\r",
        "\\t",
        "\\u0041",
        "\\u00E9",
        "\\u00e9",
    ]:
        yield canonical_case(f'["x{escape}y"]'), f"escape {escape}"
    yield canonical_case('"\\"\\\\\\/\\b\\f\\n\\r\\t"'), "every short escape"
    # Every control character, escaped in the input.
    for code in range(0x20):
        yield canonical_case(
            f'{{"c":"<\\u{code:04x}>"}}', rng.choice([True, False])
        ), f"control U+{code:04X}"
    yield canonical_case(
        '"' + "".join(f"\\u{c:04X}" for c in range(0x20)) + '"'
    ), "all controls upper-case hex"
    # Integers at and around the strict range, both modes.
    limit = 2**53 - 1
    integers = [
        0,
        1,
        -1,
        2**31 - 1,
        2**31,
        -(2**31),
        2**32,
        limit - 1,
        limit,
        limit + 1,
        limit + 2,
        -limit,
        -limit - 1,
        -limit - 2,
        2**63 - 1,
        2**63,
        -(2**63),
        2**64 - 1,
        2**64,
        2**64 + 1,
        -(2**64) - 1,
        10**30,
        -(10**30),
        2**128,
    ]
    for value in integers:
        for strict in (True, False):
            yield canonical_case(f'{{"n":{value}}}', strict), f"integer {value} strict={strict}"
    for text in ["-0", "[-0]", '{"a":-0}', "0", "[0,-0,1]"]:
        for strict in (True, False):
            yield canonical_case(text, strict), f"minus zero {text} strict={strict}"
    # Exponents and fractions: floats for Synapse (strict: error).
    floats = [
        "1e10",
        "1E2",
        "1e0",
        "1e-0",
        "0e0",
        "1E+2",
        "-1e10",
        "10e-1",
        "1.0",
        "1.5",
        "3.0",
        "0.25",
        "100.0",
        "-2.5",
        "1e-7",
        "0.1",
        "1e16",
        "1.5e300",
        "123456789.123",
        "1e22",
        "1e21",
        "1e15",
        "5e-324",
        "1.7976931348623157e308",
        "-0.0",
        "0.0",
        "2.5e-5",
        "1.0e+2",
        "9007199254740993.0",
        "1e400",
        "-1e400",
        "4.35",
        "0.30000000000000004",
    ]
    for text in floats:
        yield canonical_case(f"[{text}]", True), f"float {text} strict"
        yield canonical_case(f"[{text}]", False), f"float {text} lenient"
    yield canonical_case('{"a":-0,"b":1e10}', False), "spec example -0 and 1e10 lenient"
    yield canonical_case('{"a":-0,"b":1e10}', True), "spec example -0 and 1e10 strict"
    # Nesting.
    for depth in (1, 2, 5, 10, 20, 32, 50):
        yield canonical_case("[" * depth + "]" * depth), f"nested arrays depth {depth}"
        text = "1"
        for level in range(depth):
            text = f'{{"k{level % 3}":{text},"a":[{level}]}}' if level % 2 else f"[{text}, {{}}]"
        yield canonical_case(text, rng.choice([True, False])), f"nested mixed depth {depth}"
    # Key ordering with non-ASCII keys.
    orderings = [
        ["b", "a", "c"],
        ["é", "e\u0301", "f", "e"],
        ["😀", "\uffff", "日", "z"],
        ["a", "A", "_", "", "aa", "ab"],
        ["\u0001", " ", "~", "\u007f"],
        ["ﬀ", "ff", "f"],
        ["本", "日"],
        ["\U0010ffff", "\ufffd", "\ud7ff"],
        ["10", "9", "1", "-1"],
    ]
    for keys in orderings:
        shuffled = keys[:]
        rng.shuffle(shuffled)
        obj = {k: i for i, k in enumerate(shuffled)}
        yield canonical_case(
            json.dumps(obj, ensure_ascii=rng.random() < 0.5)
        ), f"key order {shuffled!r}"
    # Duplicate keys: the later value wins.
    for text in [
        '{"a":1,"a":2}',
        '{"a":{"x":1},"b":0,"a":[1]}',
        '{"a":1,"b":2,"a":null}',
        '{"\\u00e9":1,"é":2}',
        '[{"k":"v1","k":"v2"}]',
    ]:
        yield canonical_case(text), f"duplicate keys {text}"
    # Whitespace.
    for text in [
        " {} ",
        "\t[1,\n2]\r\n",
        '{ "a" : [ 1 , 2 ] , "b" : { } }',
        '\n\n"x"\n',
        "[ true ,false, null ]",
        '\r\n{\r\n\t"a":\t1\r\n}\r\n',
    ]:
        yield canonical_case(text), f"whitespace {text!r}"
    # Invalid JSON and non-JSON whitespace: errors.
    invalid = [
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "[1 2]",
        "{'a':1}",
        '{"a" 1}',
        '{"a":1,}',
        "tru",
        "nul",
        "{} x",
        "1 2",
        '"abc',
        '"a\\x"',
        '"\\u12"',
        '"\\u12G4"',
        "/* c */ 1",
        "0x10",
        "01",
        "+1",
        "1.",
        ".5",
        "-",
        "1e",
        "1e+",
        '"\t"',
        '"a\nb"',
        "\u00a0[]",
        "[]\u000c",
        "\ufeff{}",
        "[1,,2]",
        '{"a"}',
        "NaN",
        "Infinity",
        "-Infinity",
        "[NaN]",
        '{"a":Infinity}',
        "nan",
        "undefined",
        "'x'",
        '"\\U0041"',
        '["a""b"]',
    ]
    for text in invalid:
        yield canonical_case(text, rng.choice([True, False])), f"invalid {text!r}"
    # Lone surrogates parse but cannot be encoded as UTF-8.
    for text in ['"\\ud800"', '{"\\udc00":1}', '"a\\ud83d"', '"\\ude00\\ud83d"']:
        yield canonical_case(text, rng.choice([True, False])), f"lone surrogate {text}"
    # Scalars and empty containers.
    for text in [
        "true",
        "false",
        "null",
        '"s"',
        '""',
        "0",
        "[]",
        "{}",
        "[[]]",
        '{"a":{}}',
        "[{}]",
        '{"":""}',
    ]:
        yield canonical_case(text, rng.choice([True, False, None])), f"scalar/empty {text}"
    # Random documents, pretty-printed or compact.
    for index in range(60):
        strict = rng.random() < 0.6
        value = (
            random_object(rng, 0, strict) if rng.random() < 0.8 else random_value(rng, 0, strict)
        )
        style = rng.choice(["compact", "spaces", "indent2", "indent4", "ascii"])
        if style == "compact":
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        elif style == "spaces":
            text = json.dumps(value, ensure_ascii=False)
        elif style == "ascii":
            text = json.dumps(value)
        else:
            text = json.dumps(value, ensure_ascii=False, indent=int(style[-1]))
        yield canonical_case(
            text, rng.choice([strict, None]) if strict else False
        ), f"random {index} {style}"


# ---------------------------------------------------------------------------
# Rooms: realistic, really hashed and signed PDUs
# ---------------------------------------------------------------------------


class RoomBuilder:
    """Builds one room's events in the wire format of a room version."""

    def __init__(self, rng: random.Random, version: str) -> None:
        self.rng = rng
        self.version = version
        self.rv = KNOWN_ROOM_VERSIONS[version]
        self.v1_format = self.rv.event_format == EventFormatVersions.ROOM_V1_V2
        self.hash_room_ids = self.rv.msc4291_room_ids_as_hashes
        self.room_id = None if self.hash_room_ids else f"!{random_word(rng, 12, 18)}:a.example"
        self.ts = rng.randrange(1_550_000_000_000, 1_750_000_000_000)
        self.state: dict[tuple[str, str], str] = {}
        self.events: dict[str, JsonDict] = {}
        self.depths: dict[str, int] = {}
        self.extremities: list[str] = []
        self.log: list[tuple[str, JsonDict]] = []

    # -- references ----------------------------------------------------------

    def event_id(self, event: JsonDict) -> str:
        """The ID Synapse gives a built event."""
        return twin.parse_event(event, self.rv).event_id

    def reference(self, event_id: str) -> Any:
        """How ``prev_events``/``auth_events`` cite an event in this version."""
        if not self.v1_format:
            return event_id
        event = twin.parse_event(self.events[event_id], self.rv)
        _, digest = event_signing.compute_event_reference_hash(event)
        return [event_id, {"sha256": encode_base64(digest)}]

    def auth_ids(
        self, etype: str, sender: str, content: JsonDict, state_key: str | None
    ) -> list[str]:
        """The auth events Synapse's selection picks from the current state."""
        if etype == "m.room.create":
            return []
        shim = SimpleNamespace(type=etype, sender=sender, content=content, state_key=state_key)
        try:
            wanted = auth_types_for_event(self.rv, shim)
        except (KeyError, TypeError):
            wanted = {("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.member", sender)}
        ids = [self.state[key] for key in sorted(wanted) if key in self.state]
        if self.hash_room_ids:
            ids = [i for i in ids if self.events[i]["type"] != "m.room.create"]
        return ids

    # -- building ------------------------------------------------------------

    def build(
        self,
        etype: str,
        sender: str,
        content: JsonDict,
        state_key: str | None = None,
        extra: JsonDict | None = None,
        prev: list[str] | None = None,
        id_server: str | None = None,
    ) -> JsonDict:
        """An unsigned, unhashed event (not added to the room)."""
        prev_ids = list(self.extremities if prev is None else prev)
        depth = max([self.depths[p] for p in prev_ids], default=0) + 1
        event: JsonDict = {
            "type": etype,
            "sender": sender,
            "content": content,
            "origin_server_ts": self.ts,
            "depth": depth,
            "prev_events": [self.reference(p) for p in prev_ids],
            "auth_events": [
                self.reference(a) for a in self.auth_ids(etype, sender, content, state_key)
            ],
        }
        if state_key is not None:
            event["state_key"] = state_key
        if not (self.hash_room_ids and etype == "m.room.create"):
            event["room_id"] = self.room_id
        if self.v1_format:
            server = id_server or server_of(sender)
            alphabet = string.ascii_letters + string.digits
            localpart = "".join(self.rng.choice(alphabet) for _ in range(18))
            event["event_id"] = f"${localpart}:{server}"
        if int(self.version) <= 10:
            event["origin"] = server_of(sender)
        if extra:
            event.update(extra)
        return event

    def sign(self, event: JsonDict, servers: list[str]) -> JsonDict:
        """Hash the event and sign it with each server's key, in order."""
        event = copy.deepcopy(event)
        event.pop("signatures", None)
        event.pop("hashes", None)
        first, *others = servers or [None]
        if first is None:
            name, digest = event_signing.compute_content_hash(event, hashlib.sha256)
            event["hashes"] = {name: encode_base64(digest)}
            event["signatures"] = {}
            return event
        event_signing.add_hashes_and_signatures(
            self.rv, event, first, server_key(first).signing_key
        )
        for server in others:
            more = event_signing.compute_event_signature(
                self.rv, event, server, server_key(server).signing_key
            )
            event["signatures"].update(more)
        return event

    def send(
        self,
        label: str,
        etype: str,
        sender: str,
        content: JsonDict,
        state_key: str | None = None,
        extra: JsonDict | None = None,
        signers: list[str] | None = None,
        prev: list[str] | None = None,
        id_server: str | None = None,
    ) -> JsonDict:
        """Build, hash, sign and add an event to the room; return it."""
        event = self.build(etype, sender, content, state_key, extra, prev, id_server)
        event = self.sign(event, signers if signers is not None else [server_of(sender)])
        event_id = self.event_id(event)
        if etype == "m.room.create" and self.hash_room_ids:
            self.room_id = "!" + event_id[1:]
        self.events[event_id] = event
        self.depths[event_id] = event["depth"]
        self.extremities = [event_id]
        if state_key is not None:
            self.state[(etype, state_key)] = event_id
        self.ts += self.rng.randrange(500, 90_000)
        self.log.append((label, event))
        return event


def third_party_signed(mxid: str, token: str) -> JsonDict:
    """The identity server's ``signed`` block of a third-party invite."""
    key = KeyPair(IDENTITY_SERVER, "ed25519:0")
    return signedjson.sign.sign_json(
        {"mxid": mxid, "token": token}, IDENTITY_SERVER, key.signing_key
    )


def build_room(rng: random.Random, version: str) -> RoomBuilder:
    """A room with every common event type, for one room version."""
    n = int(version)
    room = RoomBuilder(rng, version)
    alice, bob, carol, dave = (
        "@alice:a.example",
        "@bob:b.example",
        "@carol:c.example",
        "@dave:d.example",
    )
    erin, frank, zoe = "@erin:d.example", "@frank:c.example", "@zoe:b.example"
    create_content: JsonDict = {"room_version": version, "m.federate": True}
    if n <= 10:
        create_content["creator"] = alice
    if n >= 12:
        create_content["additional_creators"] = [bob]
    room.send("create", "m.room.create", alice, create_content, "")
    room.send(
        "creator join",
        "m.room.member",
        alice,
        {"membership": "join", "displayname": "Alice ☕"},
        alice,
    )
    # Room version 12 creators have infinite power and must not be listed.
    users = {carol: 50} if n >= 12 else {alice: 100, bob: 100, carol: 50}
    power: JsonDict = {
        "users": users,
        "users_default": 0,
        "events_default": 0,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "redact": 50,
        "invite": 0,
        "historical": 100,
        "events": {"m.room.name": 50, "m.room.power_levels": 100, "m.room.history_visibility": 100},
        "notifications": {"room": 50},
    }
    room.send("power_levels", "m.room.power_levels", alice, power, "")
    room.send("join_rules public", "m.room.join_rules", alice, {"join_rule": "public"}, "")
    room.send(
        "history_visibility",
        "m.room.history_visibility",
        alice,
        {"history_visibility": "shared"},
        "",
    )
    room.send("name non-ASCII", "m.room.name", alice, {"name": "Café ☕ 日本 😀"}, "")
    room.send("topic", "m.room.topic", alice, {"topic": random_text(rng, 6)}, "")
    room.send(
        "aliases",
        "m.room.aliases",
        alice,
        {"aliases": ["#café:a.example", "#room:a.example"]},
        "a.example",
    )
    room.send(
        "canonical_alias",
        "m.room.canonical_alias",
        alice,
        {"alias": "#room:a.example", "alt_aliases": []},
        "",
    )
    room.send(
        "join public", "m.room.member", bob, {"membership": "join", "displayname": "Bob"}, bob
    )
    room.send(
        "invite", "m.room.member", alice, {"membership": "invite", "reason": "come in"}, carol
    )
    room.send(
        "join after invite",
        "m.room.member",
        carol,
        {"membership": "join", "avatar_url": "mxc://c.example/x"},
        carol,
    )
    room.send(
        "message with junk and unicode",
        "m.room.message",
        bob,
        {
            "msgtype": "m.text",
            "body": random_text(rng, 5),
            "format": "org.matrix.custom.html",
            "formatted_body": "<b>bold</b> &amp; \u2028",
            "junk": {"nested": [1, -1, {"k": None}]},
            "m.mentions": {"user_ids": [alice]},
            "\u00e9": "e\u0301",
        },
    )
    message_id = next(reversed(room.events))
    room.send("join then leave: join", "m.room.member", dave, {"membership": "join"}, dave)
    room.send("self leave", "m.room.member", dave, {"membership": "leave", "reason": "bye"}, dave)
    room.send("ban", "m.room.member", alice, {"membership": "ban", "reason": "spam ☠"}, erin)
    gus = "@gus:b.example"
    room.send("join (to be kicked)", "m.room.member", gus, {"membership": "join"}, gus)
    room.send(
        "kick (leave by other)",
        "m.room.member",
        alice,
        {"membership": "leave", "reason": "kick"},
        gus,
    )
    if n >= 7:
        room.send("join_rules knock", "m.room.join_rules", alice, {"join_rule": "knock"}, "")
        room.send(
            "knock", "m.room.member", dave, {"membership": "knock", "reason": "let me in"}, dave
        )
    if n >= 8:
        allow = [{"type": "m.room_membership", "room_id": "!space:a.example"}]
        rule = "knock_restricted" if n >= 10 else "restricted"
        room.send(
            f"join_rules {rule} with allow",
            "m.room.join_rules",
            alice,
            {"join_rule": rule, "allow": allow},
            "",
        )
        room.send(
            "restricted join (two signers)",
            "m.room.member",
            frank,
            {"membership": "join", "join_authorised_via_users_server": alice},
            frank,
            signers=["c.example", "a.example"],
        )
    token = random_word(rng, 16, 24)
    room.send(
        "third_party_invite",
        "m.room.third_party_invite",
        alice,
        {
            "display_name": "z...@example.org",
            "key_validity_url": "https://id.example/_matrix/identity/v2/pubkey/isvalid",
            "public_key": KeyPair(IDENTITY_SERVER, "ed25519:0").public,
            "public_keys": [
                {
                    "public_key": KeyPair(IDENTITY_SERVER, "ed25519:0").public,
                    "key_validity_url": "https://id.example/_matrix/identity/v2/pubkey/isvalid",
                }
            ],
        },
        token,
    )
    room.send(
        "3pid invite with signed",
        "m.room.member",
        alice,
        {
            "membership": "invite",
            "third_party_invite": {
                "display_name": "z...@example.org",
                "signed": third_party_signed(zoe, token),
            },
        },
        zoe,
    )
    room.send(
        "3pid invite without signed (fails auth)",
        "m.room.member",
        alice,
        {
            "membership": "invite",
            "third_party_invite": {"display_name": "y...@example.org"},
        },
        "@yann:b.example",
    )
    redacts = {"redacts": message_id}
    if n >= 11:
        room.send(
            "redaction (content.redacts)", "m.room.redaction", alice, {"reason": "oops", **redacts}
        )
    else:
        room.send(
            "redaction (top-level redacts)",
            "m.room.redaction",
            alice,
            {"reason": "oops"},
            extra=redacts,
        )
    room.send(
        "custom state type",
        "com.example.widget",
        alice,
        {"url": "https://w.example/", "data": {"a": [1, 2]}},
        "w1",
    )
    room.send("user-owned state key", "com.example.presence", bob, {"status": "ok"}, bob)
    new_power = copy.deepcopy(power)
    new_power["users"][carol] = 75
    new_power["events"]["com.example.widget"] = 50
    room.send("power_levels change", "m.room.power_levels", alice, new_power, "")
    room.send(
        "reply with relation",
        "m.room.message",
        carol,
        {
            "msgtype": "m.notice",
            "body": "> quoted\n\nreply 👍🏽",
            "m.relates_to": {"m.in_reply_to": {"event_id": message_id}},
        },
    )
    if n <= 5:
        legacy = copy.deepcopy(new_power)
        legacy["users"][carol] = "60"
        legacy["state_default"] = " 50 "
        legacy["events"]["m.room.topic"] = 50.57
        room.send("legacy power_levels (string, float)", "m.room.power_levels", alice, legacy, "")
    elif n <= 9:
        legacy = copy.deepcopy(new_power)
        legacy["users"][carol] = "60"
        room.send("legacy power_levels (string)", "m.room.power_levels", alice, legacy, "")
    return room


def all_rooms(seed: int) -> dict[str, RoomBuilder]:
    """One room per room version, each from its own seeded generator."""
    return {v: build_room(random.Random(f"{seed} room {v}"), v) for v in ROOM_VERSIONS}


def with_junk(event: JsonDict, rng: random.Random) -> JsonDict:
    """A copy with keys redaction must drop (content and top level)."""
    event = copy.deepcopy(event)
    event["content"] = dict(event["content"])
    event["content"]["junk_" + random_word(rng, 2, 4)] = random_text(rng, 2)
    event["content"]["nested"] = {"x": [1, 2, {"y": "z"}]}
    event["membership"] = "join"
    event["prev_state"] = []
    event["com.example.top"] = {"k": "v"}
    if "origin" not in event:
        event["origin"] = server_of(event["sender"])
    return event


# ---------------------------------------------------------------------------
# Event ops
# ---------------------------------------------------------------------------


def gen_content_hash(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """The content hash of every room event, plus edited copies."""
    for version, room in rooms.items():
        for label, event in room.log:
            yield {"op": "content_hash", "event": event}, f"v{version} {label}"
        label, event = rng.choice(room.log[1:])
        edited = copy.deepcopy(event)
        edited["content"]["edited"] = True
        yield {
            "op": "content_hash",
            "event": edited,
        }, f"v{version} {label}, content edited (hash field stale)"
        bare = copy.deepcopy(event)
        bare.pop("hashes")
        bare.pop("signatures")
        bare["unsigned"] = {"age": 1234, "transaction_id": "t1"}
        yield {
            "op": "content_hash",
            "event": bare,
        }, f"v{version} {label}, no hashes/signatures, with unsigned"


def gen_redact(rng: random.Random, rooms: dict[str, RoomBuilder]) -> Iterator[tuple[JsonDict, str]]:
    """Every room event redacted, plus copies carrying junk keys."""
    for version, room in rooms.items():
        for label, event in room.log:
            yield {"op": "redact", "room_version": version, "event": event}, f"v{version} {label}"
        for label, event in rng.sample(room.log, 6):
            junk = with_junk(event, rng)
            yield {
                "op": "redact",
                "room_version": version,
                "event": junk,
            }, f"v{version} {label} + junk keys"
        # Content keys special to some versions, present whatever the version.
        base = room.log[0][1]
        specials = [
            (
                "create, every content key",
                "m.room.create",
                {
                    "creator": "@alice:a.example",
                    "room_version": version,
                    "predecessor": {"room_id": "!old:a.example"},
                    "m.federate": False,
                },
            ),
            ("create, empty content", "m.room.create", {}),
            (
                "join_rules with allow and extra",
                "m.room.join_rules",
                {
                    "join_rule": "restricted",
                    "allow": [{"type": "m.room_membership", "room_id": "!s:a.example"}],
                    "extra": 1,
                },
            ),
            (
                "power_levels, every key",
                "m.room.power_levels",
                {
                    "ban": 50,
                    "events": {},
                    "events_default": 0,
                    "kick": 50,
                    "redact": 50,
                    "state_default": 50,
                    "users": {},
                    "users_default": 0,
                    "invite": 0,
                    "notifications": {"room": 50},
                    "historical": 100,
                },
            ),
            ("aliases with extra key", "m.room.aliases", {"aliases": ["#a:a.example"], "other": 1}),
            (
                "history_visibility with extra key",
                "m.room.history_visibility",
                {"history_visibility": "joined", "other": 1},
            ),
            (
                "redaction, redacts in content and top level",
                "m.room.redaction",
                {"redacts": "$x", "reason": "r"},
            ),
            (
                "member, restricted join",
                "m.room.member",
                {
                    "membership": "join",
                    "join_authorised_via_users_server": "@alice:a.example",
                    "displayname": "x",
                },
            ),
            (
                "member, 3pid invite with signed",
                "m.room.member",
                {
                    "membership": "invite",
                    "third_party_invite": {
                        "display_name": "d",
                        "signed": {"mxid": "@z:b.example", "token": "t", "signatures": {}},
                    },
                },
            ),
            (
                "member, 3pid invite without signed",
                "m.room.member",
                {"membership": "invite", "third_party_invite": {"display_name": "d"}},
            ),
            (
                "member, third_party_invite not an object",
                "m.room.member",
                {"membership": "invite", "third_party_invite": "not an object"},
            ),
            (
                "member, third_party_invite.signed not an object",
                "m.room.member",
                {"membership": "invite", "third_party_invite": {"signed": 5}},
            ),
            ("member without membership", "m.room.member", {"displayname": "no membership"}),
        ]
        for name, etype, content in specials:
            event = copy.deepcopy(base)
            event["type"] = etype
            event["content"] = content
            event["state_key"] = "@z:b.example" if etype == "m.room.member" else ""
            if etype == "m.room.redaction":
                event.pop("state_key")
                event["redacts"] = "$top"
            if etype != "m.room.create" or not room.hash_room_ids:
                event["room_id"] = room.room_id
            yield {"op": "redact", "room_version": version, "event": event}, f"v{version} {name}"
        if room.hash_room_ids:
            event = copy.deepcopy(base)
            event["room_id"] = "!bogus:a.example"
            yield {
                "op": "redact",
                "room_version": version,
                "event": event,
            }, f"v{version} create wrongly carrying room_id (Synapse strips it)"


def gen_event_id(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """The ID of every room event, and of reordered/junk copies."""
    for version, room in rooms.items():
        for label, event in room.log:
            yield {"op": "event_id", "room_version": version, "event": event}, f"v{version} {label}"
        for label, event in rng.sample(room.log, 4):
            shuffled = dict(rng.sample(list(event.items()), len(event)))
            yield {
                "op": "event_id",
                "room_version": version,
                "event": shuffled,
            }, f"v{version} {label}, keys reordered"
            junk = with_junk(event, rng)
            junk["unsigned"] = {"age": 5}
            junk["signatures"] = {"z.example": {"ed25519:x": "AAAA"}}
            yield {
                "op": "event_id",
                "room_version": version,
                "event": junk,
            }, f"v{version} {label}, junk keys and other signatures"


def gen_sign_event(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """Room events stripped of hashes and signatures, signed again."""
    for version, room in rooms.items():
        for label, event in room.log:
            bare = copy.deepcopy(event)
            bare.pop("hashes")
            bare.pop("signatures")
            roll = rng.random()
            if roll < 0.2:
                bare["unsigned"] = {"age": rng.randrange(10**6)}
            server = server_of(event["sender"])
            key = KeyPair(server, rng.choice(["ed25519:k1", "ed25519:a_1", "ed25519:0"]))
            case = {
                "op": "sign_event",
                "room_version": version,
                "event": bare,
                "server_name": server,
                "key_id": key.key_id,
                "seed": key.seed,
            }
            yield case, f"v{version} {label}"
        label, event = rng.choice(room.log[1:])
        resign = copy.deepcopy(event)
        key = KeyPair("b.example", "ed25519:extra")
        yield (
            {
                "op": "sign_event",
                "room_version": version,
                "event": resign,
                "server_name": key.server,
                "key_id": key.key_id,
                "seed": key.seed,
            },
            f"v{version} {label}, second signature by another server",
        )
        stale = copy.deepcopy(event)
        stale["hashes"]["sha256"] = encode_base64(b"\0" * 32)
        key = server_key(server_of(event["sender"]))
        yield (
            {
                "op": "sign_event",
                "room_version": version,
                "event": stale,
                "server_name": key.server,
                "key_id": key.key_id,
                "seed": key.seed,
            },
            f"v{version} {label}, stale hash replaced",
        )


def verify_event_case(version: str, event: JsonDict, keys: dict) -> JsonDict:
    """A ``verify_event`` case."""
    return {"op": "verify_event", "room_version": version, "event": event, "keys": keys}


def keys_for(event: JsonDict, *extra_servers: str) -> dict[str, dict[str, str]]:
    """The verify keys of every server that signed the event (and more)."""
    keys: dict[str, dict[str, str]] = {}
    for server in list(event.get("signatures", {})) + list(extra_servers):
        keys.update(server_key(server).keys_entry())
    return keys


def gen_verify_event(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """Valid, tampered and specially-signed events of every version."""
    for version, room in rooms.items():
        log = room.log
        for label, event in rng.sample(log, 5):
            yield verify_event_case(version, event, keys_for(event)), f"v{version} {label}: valid"
        label, event = rng.choice([e for e in log if e[1]["type"] == "m.room.message"])
        tampered = copy.deepcopy(event)
        tampered["content"]["body"] = "tampered"
        yield verify_event_case(
            version, tampered, keys_for(event)
        ), f"v{version} {label}: content changed (redactable key)"
        label, event = rng.choice([e for e in log if e[1]["type"] == "m.room.member"])
        tampered = copy.deepcopy(event)
        tampered["content"]["membership"] = (
            "ban" if event["content"]["membership"] != "ban" else "join"
        )
        yield verify_event_case(
            version, tampered, keys_for(event)
        ), f"v{version} {label}: membership changed"
        label, event = rng.choice(log)
        flipped = copy.deepcopy(event)
        server = server_of(event["sender"])
        flipped["signatures"][server]["ed25519:k1"] = flip_signature(
            flipped["signatures"][server]["ed25519:k1"], rng
        )
        yield verify_event_case(
            version, flipped, keys_for(event)
        ), f"v{version} {label}: signature bit flipped"
        label, event = rng.choice(log)
        wrong = {
            server_of(event["sender"]): {
                "ed25519:k1": KeyPair("x", "ed25519:k1", "wrong key").public
            }
        }
        yield verify_event_case(version, event, wrong), f"v{version} {label}: wrong public key"
        label, event = rng.choice(log)
        unsigned_copy = copy.deepcopy(event)
        unsigned_copy["signatures"] = {}
        yield verify_event_case(
            version, unsigned_copy, keys_for(event)
        ), f"v{version} {label}: no signatures"
        label, event = rng.choice(log)
        extra = copy.deepcopy(event)
        server = server_of(event["sender"])
        extra["signatures"][server]["ed25519:other"] = encode_base64(bytes(64))
        yield verify_event_case(
            version, extra, keys_for(event)
        ), f"v{version} {label}: extra signature under unknown key id"
        yield (
            verify_event_case(
                version,
                extra,
                {
                    server: {
                        **keys_for(event)[server],
                        "ed25519:other": KeyPair(server, "ed25519:other").public,
                    }
                },
            ),
            f"v{version} {label}: extra bad signature under a listed key id",
        )
        label, event = rng.choice(log)
        yield verify_event_case(
            version, event, keys_for(event, "z.example", "b.example")
        ), f"v{version} {label}: keys list extra servers"
        label, event = rng.choice(log)
        other_alg = copy.deepcopy(event)
        other_alg["signatures"].setdefault(server_of(event["sender"]), {})["curve25519:x"] = "AAAA"
        yield verify_event_case(
            version, other_alg, keys_for(event)
        ), f"v{version} {label}: extra non-ed25519 signature"
        label, event = rng.choice(log[1:])
        mismatch = copy.deepcopy(event)
        mismatch["hashes"]["sha256"] = encode_base64(hashlib.sha256(b"other").digest())
        yield verify_event_case(
            version, mismatch, keys_for(event)
        ), f"v{version} {label}: hash field replaced"
        label, event = rng.choice(log[1:])
        junk = copy.deepcopy(event)
        junk["com.example.added"] = "after signing"
        junk["unsigned"] = {"age": 12}
        yield verify_event_case(
            version, junk, keys_for(event)
        ), f"v{version} {label}: top-level key added after signing"
        label, event = rng.choice(log[1:])
        no_hashes = copy.deepcopy(event)
        no_hashes["hashes"] = {"sha512": "AAAA"}
        yield verify_event_case(
            version, no_hashes, keys_for(event)
        ), f"v{version} {label}: hashes without sha256"
        yield from special_signers(rng, version, room)


def special_signers(
    rng: random.Random, version: str, room: RoomBuilder
) -> Iterator[tuple[JsonDict, str]]:
    """Events whose required signers are unusual: restricted joins, 3pid
    invites and (v1/v2) event IDs naming another server."""
    n = int(version)
    frank = "@frank:c.example"
    join = room.build(
        "m.room.member",
        frank,
        {"membership": "join", "join_authorised_via_users_server": "@alice:a.example"},
        frank,
    )
    for signers in (["c.example", "a.example"], ["c.example"], ["a.example"]):
        signed = room.sign(join, signers)
        keys = keys_for(signed, "a.example", "c.example")
        yield verify_event_case(
            version, signed, keys
        ), f"v{version} restricted join signed by {'+'.join(signers)}"
    signed = room.sign(join, ["c.example", "a.example"])
    yield verify_event_case(
        version, signed, server_key("c.example").keys_entry()
    ), f"v{version} restricted join, authoriser's key unknown"
    token = "tok" + random_word(rng, 8, 8)
    content = {
        "membership": "invite",
        "third_party_invite": {
            "display_name": "z...@example.org",
            "signed": third_party_signed("@zoe:b.example", token),
        },
    }
    invite = room.build(
        "m.room.member", "@alice:a.example", content, "@zoe:b.example", id_server="b.example"
    )
    for signers in (["a.example"], ["b.example"], []):
        signed = room.sign(invite, signers)
        keys = keys_for(signed, "a.example", "b.example")
        who = "+".join(signers) or "nobody"
        quirk = QUIRK if not signers and not room.v1_format else ""
        why = ": Synapse requires no signature" if quirk else ""
        label = f"{quirk}v{version} 3pid invite (event from b.example) signed by {who}{why}"
        yield verify_event_case(version, signed, keys), label
    same = room.build(
        "m.room.member", "@alice:a.example", content, "@zoe:b.example", id_server="a.example"
    )
    signed = room.sign(same, [])
    yield (
        verify_event_case(version, signed, keys_for(signed, "a.example")),
        f"{QUIRK}v{version} 3pid invite (event from a.example) signed by nobody: "
        "Synapse requires no signature",
    )
    tp_join = room.build(
        "m.room.member",
        "@zoe:b.example",
        {"membership": "join", "third_party_invite": content["third_party_invite"]},
        "@zoe:b.example",
    )
    for signers in (["b.example"], []):
        signed = room.sign(tp_join, signers)
        who = "+".join(signers) or "nobody"
        yield verify_event_case(
            version, signed, keys_for(signed, "b.example")
        ), f"v{version} join carrying third_party_invite signed by {who}"
    if n <= 2:
        carol = "@carol:c.example"
        forwarded = room.build(
            "m.room.member", carol, {"membership": "leave"}, carol, id_server="b.example"
        )
        for signers in (["c.example", "b.example"], ["c.example"], ["b.example"]):
            signed = room.sign(forwarded, signers)
            who = "+".join(signers)
            yield verify_event_case(
                version, signed, keys_for(signed, "b.example", "c.example")
            ), f"v{version} event ID from b.example, sender on c.example, signed by {who}"


# ---------------------------------------------------------------------------
# Plain JSON signing
# ---------------------------------------------------------------------------

SIGN_SERVERS = SERVERS + ["[::1]:8448", "1.2.3.4:8080", "matrix.org", "xn--caf-dma.example"]
KEY_VERSIONS = ["k1", "0", "a_bc", "auto", "Abc_123", "1"]


def random_signable(rng: random.Random) -> JsonDict:
    """A random object to sign, sometimes with signatures and unsigned."""
    obj = random_object(rng)
    obj["marker"] = random_word(rng)
    if rng.random() < 0.3:
        obj["unsigned"] = {"age": rng.randrange(1000), "note": random_text(rng, 2)}
    return obj


def gen_sign(rng: random.Random, rooms: dict[str, RoomBuilder]) -> Iterator[tuple[JsonDict, str]]:
    """Objects signed by assorted servers and key IDs."""
    for index in range(70):
        obj = random_signable(rng)
        server = rng.choice(SIGN_SERVERS)
        key = KeyPair(server, f"ed25519:{rng.choice(KEY_VERSIONS)}", f"sign {index}")
        label = f"random object {index}"
        if rng.random() < 0.3:
            other = KeyPair(rng.choice(SIGN_SERVERS), "ed25519:old", f"old {index}")
            obj = signedjson.sign.sign_json(obj, other.server, other.signing_key)
            label += f", already signed by {other.server}"
        yield {
            "op": "sign",
            "json": obj,
            "server_name": server,
            "key_id": key.key_id,
            "seed": key.seed,
        }, label
    key = KeyPair("a.example", "ed25519:k1", "resign")
    obj = signedjson.sign.sign_json({"x": 1}, key.server, key.signing_key)
    yield {
        "op": "sign",
        "json": obj,
        "server_name": key.server,
        "key_id": key.key_id,
        "seed": key.seed,
    }, "same key signs twice"
    obj["signatures"][key.server]["ed25519:k1"] = "garbage"
    yield {
        "op": "sign",
        "json": obj,
        "server_name": key.server,
        "key_id": key.key_id,
        "seed": key.seed,
    }, "replaces a garbage signature"
    yield {
        "op": "sign",
        "json": {},
        "server_name": "a.example",
        "key_id": "ed25519:k1",
        "seed": "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1",
    }, "seed with non-zero trailing bits"
    yield {
        "op": "sign",
        "json": {},
        "server_name": "a.example",
        "key_id": "ed25519:k1",
        "seed": "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW-3XA0",
    }, f"{QUIRK}seed in URL-safe base64: Synapse decodes either alphabet"
    yield {
        "op": "sign",
        "json": {},
        "server_name": "a.example",
        "key_id": "ed25519:k1",
        "seed": "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0=",
    }, "padded seed"
    yield {
        "op": "sign",
        "json": {"a": 1},
        "server_name": "a.example",
        "key_id": "ed25519:k1",
        "seed": "AAAA",
    }, "seed too short (error)"
    yield {
        "op": "sign",
        "json": {"a": 1},
        "server_name": "a.example",
        "key_id": "ed25519:k1",
        "seed": encode_base64(bytes(33)),
    }, "seed 33 bytes (error)"
    yield {
        "op": "sign",
        "json": {"a": 1},
        "server_name": "a.example",
        "key_id": "curve25519:k1",
        "seed": seed_for("x"),
    }, "non-ed25519 key id (error)"
    yield {
        "op": "sign",
        "json": {"signatures": {}, "unsigned": {}},
        "server_name": "a.example",
        "key_id": "ed25519:k1",
        "seed": seed_for("y"),
    }, "empty signatures and unsigned"
    yield {
        "op": "sign",
        "json": {"big": 2**53 - 1, "neg": -(2**53 - 1), "s": "\u2028\u0000"},
        "server_name": "a.example",
        "key_id": "ed25519:k1",
        "seed": seed_for("z"),
    }, "integer limits and odd characters"


def gen_verify(rng: random.Random, rooms: dict[str, RoomBuilder]) -> Iterator[tuple[JsonDict, str]]:
    """Objects with good, bad, missing and extra signatures."""
    for index in range(60):
        obj = random_signable(rng)
        signers = [
            KeyPair(s, f"ed25519:{rng.choice(KEY_VERSIONS)}", f"verify {index} {s}")
            for s in rng.sample(SIGN_SERVERS, rng.randint(1, 3))
        ]
        for signer in signers:
            obj = signedjson.sign.sign_json(obj, signer.server, signer.signing_key)
        keys: dict[str, dict[str, str]] = {}
        for signer in signers:
            keys.setdefault(signer.server, {})[signer.key_id] = signer.public
        case = lambda o, k: {"op": "verify", "json": o, "keys": k}  # noqa: E731
        kind = index % 10
        if kind == 0:
            yield case(obj, keys), f"{index}: valid, {len(signers)} signer(s)"
        elif kind == 1:
            bad = copy.deepcopy(obj)
            bad["marker"] += "!"
            yield case(bad, keys), f"{index}: content changed"
        elif kind == 2:
            bad = copy.deepcopy(obj)
            s = signers[0]
            bad["signatures"][s.server][s.key_id] = flip_signature(
                bad["signatures"][s.server][s.key_id], rng
            )
            yield case(bad, keys), f"{index}: signature bit flipped"
        elif kind == 3:
            s = signers[0]
            wrong = copy.deepcopy(keys)
            wrong[s.server][s.key_id] = KeyPair("x", "ed25519:x", f"wrong {index}").public
            yield case(obj, wrong), f"{index}: wrong public key"
        elif kind == 4:
            bad = copy.deepcopy(obj)
            del bad["signatures"][signers[0].server]
            yield case(bad, keys), f"{index}: a listed server's signature missing"
        elif kind == 5:
            more = copy.deepcopy(obj)
            s = signers[0]
            more["signatures"][s.server]["ed25519:unknown"] = encode_base64(bytes(64))
            yield case(more, keys), f"{index}: extra signature under an unlisted key id"
            listed = copy.deepcopy(keys)
            listed[s.server]["ed25519:unknown"] = KeyPair(s.server, "ed25519:unknown").public
            yield case(more, listed), f"{index}: extra bad signature under a listed key id"
        elif kind == 6:
            extra = copy.deepcopy(keys)
            extra["z.example"] = {"ed25519:z": KeyPair("z.example", "ed25519:z").public}
            yield case(obj, extra), f"{index}: keys list a server that did not sign"
        elif kind == 7:
            subset = {signers[0].server: keys[signers[0].server]}
            yield case(obj, subset), f"{index}: keys list only one of the signers"
            yield case(obj, {}), f"{index}: no keys at all"
        elif kind == 8:
            changed = copy.deepcopy(obj)
            changed["unsigned"] = {"changed": True}
            yield case(changed, keys), f"{index}: unsigned changed after signing"
            other = copy.deepcopy(obj)
            other["signatures"][signers[0].server]["curve25519:x"] = "AAAA"
            yield case(other, keys), f"{index}: extra non-ed25519 signature"
        else:
            bad = copy.deepcopy(obj)
            s = signers[0]
            bad["signatures"][s.server][s.key_id] = "not base64!"
            yield case(bad, keys), f"{index}: signature not base64"
            both = copy.deepcopy(keys)
            both[s.server]["ed25519:spare"] = KeyPair(s.server, "ed25519:spare").public
            yield case(obj, both), f"{index}: a listed key id has no signature, another verifies"


# ---------------------------------------------------------------------------
# Federation requests (sign_request, verify_request) and key documents
# ---------------------------------------------------------------------------

#: Server names of the federation cases: plain, with ports, IP literals, IDN.
FED_SERVERS = SERVERS + [
    "[::1]:8448",
    "1.2.3.4:8080",
    "matrix.org",
    "localhost:8448",
    "[2001:db8::1]:8448",
    "hs.example:443",
    "xn--caf-dma.example",
    "b.example:8448",
]
FED_KEY_VERSIONS = KEY_VERSIONS + ["Key_2024", "auto2", "a-b.c"]
#: Localparts with the characters that percent-encoding must carry.
ODD_LOCALPARTS = ["alice", "eve=1", "frank/2", "g+h", "d.ave", "per%cent", "carol_x", "x-y", "0"]
#: Room versions a joining server may offer (``ver``), unstable ones included.
OFFERED_VERSIONS = ROOM_VERSIONS + ["org.matrix.msc4289", "org.matrix.hydra.11"]


def fed_path(path: str, *args: str, prefix: str = "/_matrix/federation/v1") -> str:
    """A request path built as Synapse's transport client builds it
    (``_create_path``: each argument percent-encoded with nothing safe)."""
    return prefix + path % tuple(urllib.parse.quote(arg, "") for arg in args)


def with_query(path: str, query: list[tuple[str, str]]) -> str:
    """``path`` with the query Synapse's ``encode_query_args`` writes."""
    if not query:
        return path
    return path + "?" + urllib.parse.urlencode(query, True)


def fed_room_id(rng: random.Random) -> str:
    """A room ID: ``!opaque:server`` (v1-11) or a v12 create-event hash."""
    if rng.random() < 0.4:
        return "!" + encode_base64(rng.randbytes(32), urlsafe=True)
    return f"!{random_word(rng, 6, 16)}:{rng.choice(FED_SERVERS)}"


def fed_event_id(rng: random.Random) -> str:
    """An event ID of any format: v1-2 ``$opaque:server``, v3 standard base64
    (``+`` and ``/``), v4+ URL-safe base64."""
    roll = rng.random()
    if roll < 0.25:
        return f"${random_word(rng, 8, 12)}:{rng.choice(FED_SERVERS)}"
    return "$" + encode_base64(rng.randbytes(32), urlsafe=roll >= 0.6)


def fed_user_id(rng: random.Random) -> str:
    """A user ID with an awkward localpart now and then."""
    return f"@{rng.choice(ODD_LOCALPARTS)}:{rng.choice(FED_SERVERS)}"


def some_events(rng: random.Random, rooms: dict[str, RoomBuilder], count: int) -> list[JsonDict]:
    """``count`` real PDUs drawn from the generated rooms."""
    return [
        copy.deepcopy(rng.choice(rooms[rng.choice(ROOM_VERSIONS)].log)[1]) for _ in range(count)
    ]


def offered_versions(rng: random.Random) -> list[tuple[str, str]]:
    """A repeated ``ver`` parameter, in random order."""
    return [("ver", v) for v in rng.sample(OFFERED_VERSIONS, rng.randint(1, len(OFFERED_VERSIONS)))]


#: The endpoints :func:`random_request` draws from (``send`` three times as often).
REQUEST_KINDS = """
version event state state_ids backfill get_missing_events make_join make_leave
make_knock send_join send_leave send_knock invite_v2 invite_v1 send send send
query_directory query_profile user_devices user_keys_query user_keys_claim key_query
key_server public_rooms_get public_rooms_post event_auth timestamp_to_event hierarchy
exchange_third_party_invite media_download
""".split()


def random_request(
    rng: random.Random, rooms: dict[str, RoomBuilder], origin: str
) -> tuple[str, str, JsonDict | None, str]:
    """A federation request Synapse could send: (method, uri, body, what)."""
    room, event, user = fed_room_id(rng), fed_event_id(rng), fed_user_id(rng)
    kind = rng.choice(REQUEST_KINDS)
    body: JsonDict | None = None
    method = "GET"
    if kind == "version":
        uri = fed_path("/version")
    elif kind == "event":
        uri = fed_path("/event/%s", event)
    elif kind in ("state", "state_ids"):
        uri = with_query(fed_path(f"/{kind}/%s", room), [("event_id", event)])
    elif kind == "backfill":
        ids = [("v", fed_event_id(rng)) for _ in range(rng.randint(1, 4))]
        uri = with_query(
            fed_path("/backfill/%s", room), ids + [("limit", str(rng.randint(1, 100)))]
        )
    elif kind == "get_missing_events":
        method = "POST"
        uri = fed_path("/get_missing_events/%s", room)
        body = {
            "earliest_events": [fed_event_id(rng) for _ in range(rng.randint(0, 3))],
            "latest_events": [fed_event_id(rng) for _ in range(rng.randint(1, 3))],
            "limit": rng.randint(1, 20),
            "min_depth": rng.randint(0, 50),
        }
    elif kind in ("make_join", "make_knock"):
        query = (
            offered_versions(rng)
            if kind == "make_join"
            else [("ver", str(v)) for v in range(7, 13)]
        )
        uri = with_query(fed_path(f"/{kind}/%s/%s", room, user), query)
    elif kind == "make_leave":
        uri = fed_path("/make_leave/%s/%s", room, user)
    elif kind in ("send_join", "send_leave", "send_knock"):
        method = "PUT"
        (pdu,) = some_events(rng, rooms, 1)
        prefix = "/_matrix/federation/v1" if kind == "send_knock" else "/_matrix/federation/v2"
        uri = fed_path(f"/{kind}/%s/%s", room, event, prefix=prefix)
        if kind == "send_join" and rng.random() < 0.5:
            uri = with_query(uri, [("omit_members", "true")])
        body = pdu
    elif kind == "invite_v2":
        method = "PUT"
        version = rng.choice(ROOM_VERSIONS)
        (pdu,) = some_events(rng, rooms, 1)
        uri = fed_path("/invite/%s/%s", room, event, prefix="/_matrix/federation/v2")
        body = {
            "room_version": version,
            "event": pdu,
            "invite_room_state": [
                {
                    "type": "m.room.name",
                    "state_key": "",
                    "sender": user,
                    "content": {"name": random_text(rng, 3)},
                }
            ],
        }
    elif kind == "invite_v1":
        method = "PUT"
        (body,) = some_events(rng, rooms, 1)
        uri = fed_path("/invite/%s/%s", room, event)
    elif kind == "send":
        method = "PUT"
        txn = str(rng.randrange(10**12, 10**13))
        uri = fed_path("/send/%s", txn)
        pdus = some_events(rng, rooms, rng.choice([0, 1, 1, 2, 3, 5, 50]))
        edus = [
            {
                "edu_type": "m.typing",
                "content": {"room_id": room, "user_id": user, "typing": rng.random() < 0.5},
            }
            for _ in range(rng.randint(0 if pdus else 1, 2))
        ]
        body = {
            "origin": origin,
            "origin_server_ts": rng.randrange(1_600_000_000_000, 1_800_000_000_000),
            "pdus": pdus,
            "edus": edus,
        }
        kind = f"send ({len(pdus)} pdus)"
    elif kind == "query_directory":
        alias = f"#{rng.choice(ODD_LOCALPARTS)}:{rng.choice(FED_SERVERS)}"
        uri = with_query(fed_path("/query/directory"), [("room_alias", alias)])
    elif kind == "query_profile":
        query = [("user_id", user)]
        if rng.random() < 0.7:
            query.append(("field", rng.choice(["displayname", "avatar_url"])))
        uri = with_query(fed_path("/query/profile"), query)
    elif kind == "user_devices":
        uri = fed_path("/user/devices/%s", user)
    elif kind == "user_keys_query":
        method = "POST"
        uri = fed_path("/user/keys/query")
        body = {"device_keys": {fed_user_id(rng): [] for _ in range(rng.randint(1, 3))}}
    elif kind == "user_keys_claim":
        method = "POST"
        uri = fed_path("/user/keys/claim")
        body = {"one_time_keys": {user: {random_word(rng).upper(): "signed_curve25519"}}}
    elif kind == "key_query":
        method = "POST"
        uri = "/_matrix/key/v2/query"
        body = {
            "server_keys": {
                rng.choice(FED_SERVERS): {
                    f"ed25519:{rng.choice(FED_KEY_VERSIONS)}": {
                        "minimum_valid_until_ts": rng.randrange(
                            1_600_000_000_000, 1_800_000_000_000
                        )
                    }
                }
            }
        }
    elif kind == "key_server":
        uri = "/_matrix/key/v2/server"
    elif kind == "public_rooms_get":
        query = [("limit", str(rng.randint(1, 50)))]
        if rng.random() < 0.5:
            query.append(("since", random_word(rng)))
        if rng.random() < 0.3:
            query.append(("include_all_networks", "true"))
        uri = with_query(fed_path("/publicRooms"), query)
    elif kind == "public_rooms_post":
        method = "POST"
        uri = fed_path("/publicRooms")
        body = {"limit": rng.randint(1, 50), "filter": {"generic_search_term": random_text(rng, 2)}}
    elif kind == "event_auth":
        uri = fed_path("/event_auth/%s/%s", room, event)
    elif kind == "timestamp_to_event":
        query = [
            ("ts", str(rng.randrange(1_600_000_000_000, 1_800_000_000_000))),
            ("dir", rng.choice("fb")),
        ]
        uri = with_query(fed_path("/timestamp_to_event/%s", room), query)
    elif kind == "hierarchy":
        uri = with_query(fed_path("/hierarchy/%s", room), [("suggested_only", "true")])
    elif kind == "exchange_third_party_invite":
        method = "PUT"
        uri = fed_path("/exchange_third_party_invite/%s", room)
        (body,) = some_events(rng, rooms, 1)
    else:  # media_download
        uri = with_query(
            fed_path("/media/download/%s", random_word(rng, 20, 24)), [("timeout_ms", "20000")]
        )
    return method, uri, body, kind


def request_key(server: str, version: str) -> KeyPair:
    """The signing key ``ed25519:<version>`` of a requesting server."""
    return KeyPair(server, f"ed25519:{version}", f"request {server} {version}")


def sign_request_case(
    method: str, uri: str, origin: str, destination: str, content: Any, key: KeyPair
) -> JsonDict:
    """A ``sign_request`` case (``content`` left out when None)."""
    case = {
        "op": "sign_request",
        "method": method,
        "uri": uri,
        "origin": origin,
        "destination": destination,
        "key_id": key.key_id,
        "seed": key.seed,
    }
    if content is not None:
        case["content"] = content
    return case


def two_servers(rng: random.Random) -> tuple[str, str]:
    """A requesting and a receiving server, distinct."""
    origin, destination = rng.sample(FED_SERVERS, 2)
    return origin, destination


def gen_sign_request(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """Requests of every federation endpoint signed by assorted servers."""
    for index in range(220):
        origin, destination = two_servers(rng)
        method, uri, body, what = random_request(rng, rooms, origin)
        key = request_key(origin, rng.choice(FED_KEY_VERSIONS))
        yield sign_request_case(method, uri, origin, destination, body, key), (
            f"{index}: {method} {what}"
        )
    key = request_key("a.example", "k1")
    odd_uris = [
        (
            "/_matrix/federation/v1/backfill/!abc:b.example?v=$ev:b.example&limit=5",
            "IDs left unencoded in path and query",
        ),
        (
            "/_matrix/federation/v1/query/profile?user_id=%40g%2Bh%3Ab.example&field=displayname",
            "+ encoded in the query",
        ),
        ("/_matrix/federation/v1/query/profile?user_id=@g+h:b.example", "+ left raw in the query"),
        ("/_matrix/federation/v1/event/%2524percent%3Aa.example", "encoded % (%25)"),
        (
            "/_matrix/federation/v1/make_join/%21r%3Aa.example/%40a%3Ab.example?ver=1&ver=1&ver=12",
            "repeated identical ver",
        ),
        (
            "/_matrix/federation/v1/make_join/%21r%3Aa.example/%40a%3Ab.example?ver=&ver=12",
            "empty ver value",
        ),
        ("/_matrix/federation/v1/version?", "empty query"),
        ("/_matrix/federation/v1/version#frag", "a # in the target"),
        (
            "/_matrix/federation/v1/user/devices/%40x%3A%5B%3A%3A1%5D%3A8448",
            "IPv6 server name encoded",
        ),
        ("/_matrix/federation/v1/event/$" + "A" * 2000, "very long target"),
        (
            "/_matrix/federation/v1/query/directory?room_alias=%23a%20b%3Ac.example",
            "%20 in the query",
        ),
        ("/_matrix/federation/v1/query/directory?room_alias=%23a+b%3Ac.example", "+ for a space"),
        ("/_matrix/federation/v1/event/%24abc%2Fdef%2Bghi", "v3 event ID with / and + encoded"),
        ("/_matrix/federation/v1/event/$abc/def+ghi", "v3 event ID with / and + raw"),
        (
            "/_matrix/federation/v1/hierarchy/%21"
            + "x" * 43
            + "?suggested_only=false&suggested_only=true",
            "v12 room ID, repeated parameter",
        ),
        ('/_matrix/federation/v1/send/1?a="b"&c=\\d', "quote and backslash in the target"),
        ("/", "bare /"),
    ]
    for uri, what in odd_uris:
        yield sign_request_case("GET", uri, "a.example", "b.example", None, key), f"uri: {what}"
    body = {"text": "".join(TEXT_PIECES), "nested": {"é": ["日本", {"😀": None}]}}
    yield sign_request_case(
        "PUT", "/_matrix/federation/v1/send/9", "a.example", "b.example", body, key
    ), "unicode and escapes in the body"
    yield sign_request_case(
        "GET", "/_matrix/federation/v1/version", "a.example", "b.example", {"x": 1}, key
    ), "GET with a body: the body is signed as given"
    yield sign_request_case(
        "DELETE", "/_matrix/federation/v1/x/%21a%3Ab.example", "a.example", "b.example", None, key
    ), "DELETE"
    yield sign_request_case(
        "PUT",
        "/_matrix/federation/v1/send/10",
        "a.example",
        "b.example",
        {"big": 2**53 - 1, "neg": -(2**53 - 1), "zero": 0, "s": "\u0000\u2028"},
        key,
    ), "integer limits and control characters in the body"
    yield sign_request_case(
        "PUT",
        "/_matrix/federation/v1/send/11",
        "a.example",
        "b.example",
        {"signatures": {"x.example": {"ed25519:x": "abc"}}, "unsigned": {"a": 1}},
        key,
    ), "body carrying signatures and unsigned (signed as content)"
    for version in ["a_bc", "0", "Key_2024", 'a"b', "a b", "é"]:
        odd = request_key("c.example", version)
        label = f"key ID ed25519:{version}"
        if not version.isascii():
            label = (
                f"{QUIRK}{label}: Synapse cannot write a non-ASCII key ID into the header "
                "and fails (the protocol requires ASCII only of method, uri, origin and "
                "destination)"
            )
        elif '"' in version:
            label += (
                " (the header's quoted key is not escaped by Synapse; headers are not compared)"
            )
        yield sign_request_case(
            "GET", "/_matrix/federation/v1/version", "c.example", "d.example", None, odd
        ), label
    for origin in ["A.EXAMPLE", "b.example:0", "c.example:+443", "[::1]", "1.2.3.4", "x"]:
        yield sign_request_case(
            "GET",
            "/_matrix/federation/v1/version",
            origin,
            "d.example",
            None,
            request_key(origin, "k1"),
        ), f"origin {origin}"
    good = sign_request_case(
        "GET", "/_matrix/federation/v1/version", "a.example", "b.example", None, key
    )
    for name, value, what in [
        ("uri", "/_matrix/federation/v1/query/profile/é", "non-ASCII uri"),
        ("origin", "é.example", "non-ASCII origin"),
        ("destination", "b.exämple", "non-ASCII destination"),
        ("method", "GÉT", "non-ASCII method"),
        ("destination", "", "empty destination"),
        ("seed", "AAAA", "seed too short"),
        ("key_id", "rsa:1", "non-ed25519 key ID"),
        ("content", [1, 2], "content an array"),
        ("content", "{}", "content a string"),
        ("content", None, "content null"),
        ("method", 5, "method a number"),
        ("uri", None, "uri null"),
    ]:
        bad = dict(good)
        bad[name] = value
        yield bad, f"{what} (error)"
    for name in ["method", "uri", "origin", "destination", "key_id", "seed"]:
        bad = dict(good)
        del bad[name]
        yield bad, f"missing {name} (error)"
    for method in ("PUT", "POST"):
        yield sign_request_case(
            method, "/_matrix/federation/v1/send/12", "a.example", "b.example", {}, key
        ), (
            f"{QUIRK}{method} with an empty {{}} body: Synapse's federation client sends no body "
            "for it (`if json:` in _send_request), so no content is signed (protocol: content "
            "whenever given)"
        )


def request_signature(
    method: str, uri: str, origin: str, destination: str, content: Any, key: KeyPair
) -> str:
    """The signature a server makes over a request (the JSON Synapse signs)."""
    obj: JsonDict = {"method": method, "uri": uri, "origin": origin, "destination": destination}
    if content is not None:
        obj["content"] = content
    return signedjson.sign.sign_json(obj, origin, key.signing_key)["signatures"][origin][key.key_id]


def x_matrix(
    params: list[tuple[str, str]], *, scheme: str = "X-Matrix ", sep: str = ",", quote: bool = True
) -> str:
    """An Authorization header value from (name, value) parameters."""
    text = [f'{name}="{value}"' if quote else f"{name}={value}" for name, value in params]
    return scheme + sep.join(text)


class RequestBase:
    """One request a server sends another, and what the receiver holds.

    ``sig()`` signs the request (or a variant of it) with the origin's key,
    ``params()`` gives the usual header parameters and ``case()`` the
    ``verify_request`` case with the headers given.
    """

    def __init__(self, rng: random.Random, rooms: dict[str, RoomBuilder], index: int) -> None:
        self.rng = rng
        self.origin, self.destination = two_servers(rng)
        self.method, self.uri, self.content, self.what = random_request(rng, rooms, self.origin)
        self.key = request_key(self.origin, rng.choice(FED_KEY_VERSIONS))
        self.keys = {self.origin: {self.key.key_id: self.key.public}}
        self.index = index

    def sig(self, key: KeyPair | None = None, origin: str | None = None, **changes: Any) -> str:
        """The origin's signature, over the request with ``changes`` applied."""
        fields = {
            "method": self.method,
            "uri": self.uri,
            "destination": self.destination,
            "content": self.content,
        }
        fields.update(changes)
        key = key or self.key
        return request_signature(origin=origin or self.origin, key=key, **fields)

    def params(self, key: KeyPair | None = None, **changes: Any) -> list[tuple[str, str]]:
        """``origin``, ``key``, ``sig``, ``destination`` of a correct header."""
        key = key or self.key
        return [
            ("origin", key.server),
            ("key", key.key_id),
            ("sig", self.sig(key, origin=key.server, **changes)),
            ("destination", self.destination),
        ]

    def header(self, key: KeyPair | None = None, **changes: Any) -> str:
        """A correct header (for the request with ``changes``, if any)."""
        return x_matrix(self.params(key, **changes))

    def case(self, headers: list[str], **changes: Any) -> JsonDict:
        """The ``verify_request`` case (``content`` only if the request has one)."""
        case: JsonDict = {
            "op": "verify_request",
            "method": self.method,
            "uri": self.uri,
            "destination": self.destination,
            "authorization": headers,
            "keys": copy.deepcopy(self.keys),
        }
        if self.content is not None:
            case["content"] = self.content
        for name, value in changes.items():
            if value is OMIT:
                case.pop(name, None)
            else:
                case[name] = value
        return case

    def spare(self, version: str) -> KeyPair:
        """Another key of the origin, held by the receiver too."""
        key = request_key(self.origin, version)
        self.keys[self.origin][key.key_id] = key.public
        return key


OMIT = object()  # marks a field to leave out of a case


def with_body(rng: random.Random, rooms: dict[str, RoomBuilder], index: int) -> RequestBase:
    """A request of an endpoint that carries a body (PUT or POST)."""
    while True:
        b = RequestBase(rng, rooms, index)
        if b.content is not None:
            return b


def without_body(
    rng: random.Random, rooms: dict[str, RoomBuilder], index: int, delete: bool = False
) -> RequestBase:
    """A request of an endpoint without a body (GET; DELETE if ``delete``)."""
    while True:
        b = RequestBase(rng, rooms, index)
        if b.content is None:
            b.method = "DELETE" if delete else b.method
            return b


def escaped(value: str, rng: random.Random) -> str:
    """``value`` with backslashes before some of its characters."""
    return "".join("\\" + c if rng.random() < 0.4 else c for c in value)


def permuted(params: list[tuple[str, str]], rng: random.Random) -> list[tuple[str, str]]:
    shuffled = list(params)
    rng.shuffle(shuffled)
    return shuffled


def vr_valid(b: RequestBase) -> Iterator[tuple[str, JsonDict]]:
    """Requests Synapse authenticates: (scenario, case)."""
    rng = b.rng
    yield "plain", b.case([b.header()])
    yield "reordered_params", b.case([x_matrix(permuted(b.params(), rng))])
    yield "spaces_after_commas", b.case([x_matrix(b.params(), sep=", ")])
    yield "tabs_around_commas", b.case(
        [x_matrix(b.params(), sep=rng.choice(["\t,\t", " ,\t", "\t, "]))]
    )
    yield "spaces_around_commas", b.case([x_matrix(b.params(), sep="  ,  ")])
    yield "two_spaces_after_scheme", b.case(
        [x_matrix(b.params(), scheme="X-Matrix" + " " * rng.randint(2, 4))]
    )
    yield "unquoted_values", b.case([x_matrix(b.params(), quote=False)])
    mixed = [(n, v) if rng.random() < 0.5 else (f'{n}="{v}"', None) for n, v in b.params()]
    yield "some_values_quoted", b.case(
        ["X-Matrix " + ",".join(n if v is None else f"{n}={v}" for n, v in mixed)]
    )
    yield "upper_case_names", b.case([x_matrix([(n.upper(), v) for n, v in b.params()])])
    yield "mixed_case_names", b.case([x_matrix([(n.capitalize(), v) for n, v in b.params()])])
    params = b.params()
    params.insert(rng.randrange(len(params) + 1), (random_word(rng), random_word(rng)))
    yield "unknown_param", b.case([x_matrix(params)])
    params = b.params()
    params.insert(0, ("origin", "evil.example"))
    params.insert(rng.randint(1, 2), ("sig", encode_base64(bytes(64))))
    yield "duplicate_param_last_wins", b.case([x_matrix(params)])
    yield "no_destination", b.case([x_matrix(b.params()[:3])])
    yield "escaped_chars", b.case([x_matrix([(n, escaped(v, rng)) for n, v in b.params()])])
    params = b.params()
    params[2] = ("sig", params[2][1] + "==")
    yield "padded_sig", b.case([x_matrix(params)])
    params = b.params()
    params[2] = ("sig", to_url_safe(params[2][1]))
    yield "urlsafe_sig", b.case([x_matrix(params)])
    params = b.params()
    params[2] = ("sig", to_url_safe(params[2][1]) + "==")
    yield "urlsafe_padded_sig", b.case([x_matrix(params)])
    other = rng.choice(
        ["Bearer syt_abc", "Basic YTpi", 'x-matrix origin="z.example"', "Matrix foo"]
    )
    headers = [b.header(), other]
    rng.shuffle(headers)
    yield "other_scheme_ignored", b.case(headers)
    second = b.spare("second")
    headers = [b.header(), b.header(second)]
    rng.shuffle(headers)
    yield "second_key_same_origin", b.case(headers)
    third = b.spare("third")
    yield "three_keys_same_origin", b.case([b.header(), b.header(second), b.header(third)])
    unheld = request_key(b.origin, "unheld")
    headers = [b.header(unheld), b.header()]
    rng.shuffle(headers)
    yield "unknown_second_key_ignored", b.case(headers)
    params = b.params(unheld)
    params[2] = ("sig", "not even base64")
    yield "unheld_key_garbage_sig_ignored", b.case([x_matrix(params), b.header()])
    keys = copy.deepcopy(b.keys)
    for server in rng.sample([s for s in FED_SERVERS if s != b.origin], 2):
        keys[server] = {"ed25519:k1": request_key(server, "k1").public}
    keys[b.origin]["curve25519:x"] = encode_base64(bytes(32))
    yield "extra_held_servers", b.case([b.header()], keys=keys)
    forger = rng.choice([s for s in FED_SERVERS if s != b.origin])
    forged = x_matrix(
        [
            ("origin", forger),
            ("key", "ed25519:k1"),
            ("sig", encode_base64(bytes(64))),
            ("destination", b.destination),
        ]
    )
    yield "forged_then_valid_other_origin", b.case([forged, b.header()])


def vr_valid_variants(
    rng: random.Random, rooms: dict[str, RoomBuilder], index: int
) -> Iterator[tuple[str, JsonDict]]:
    """Valid requests that need a request of a particular shape."""
    b = without_body(rng, rooms, index, rng.random() < 0.3)
    yield "get_body_ignored", b.case([b.header()], content={"ignored": True})
    b = with_body(rng, rooms, index)
    b.content = {}
    yield "empty_object_body", b.case([b.header()])
    b = RequestBase(rng, rooms, index)
    port = rng.choice([":0", ":99999", ":+443", ":8_448", ":00443", ":65535"])
    host = rng.choice(["c.example", "1.2.3.4", "[::1]", "A.Example", "x"])
    b.origin = host + port
    b.key = request_key(b.origin, "k1")
    b.keys = {b.origin: {b.key.key_id: b.key.public}}
    yield "odd_port_origin", b.case([b.header()])
    b = with_body(rng, rooms, index)
    b.method, b.uri = "PUT", fed_path("/send/%s", str(rng.randrange(10**12, 10**13)))
    b.content = {
        "pdus": some_events(rng, rooms, 60),
        "edus": [],
        "origin": b.origin,
        "origin_server_ts": 1_700_000_000_000,
    }
    yield "large_body", b.case([b.header()])
    b = with_body(rng, rooms, index)
    b.method, b.uri = "POST", fed_path("/publicRooms")
    b.content = {"filter": {"generic_search_term": random_text(rng, 6)}, "é": "".join(TEXT_PIECES)}
    yield "unicode_body", b.case([b.header()])
    b = without_body(rng, rooms, index)
    room = "!" + encode_base64(rng.randbytes(32), urlsafe=True)
    b.uri = rng.choice(
        [
            f"/_matrix/federation/v1/make_join/{room}/@g+h:b.example?ver=12&ver=11",
            f"/_matrix/federation/v1/backfill/{room}?v=$a/b+c&v=$d:e.example&limit=5",
            "/_matrix/federation/v1/query/profile?user_id=@per%cent:b.example&field=displayname",
            f"/_matrix/federation/v1/state_ids/{urllib.parse.quote(room, '')}?event_id=%24a%2Fb%2Bc",
        ]
    )
    yield "raw_ids_in_uri", b.case([b.header()])


def vr_invalid(b: RequestBase) -> Iterator[tuple[str, JsonDict]]:
    """Requests Synapse refuses: (scenario, case)."""
    rng = b.rng
    params = b.params()
    params[2] = ("sig", rng.choice(["A", "AAAAA", "%%%%", params[2][1][:-1] + "A" * 5]))
    yield "bad_base64_sig", b.case([x_matrix(params)])
    params = b.params()
    params[2] = ("sig", params[2][1][: rng.randint(10, 80)])
    yield "truncated_sig", b.case([x_matrix(params)])
    params = b.params()
    params[2] = ("sig", "")
    yield "empty_sig", b.case([x_matrix(params)])
    params = b.params()
    params[2] = ("sig", flip_signature(params[2][1], rng))
    yield "flipped_sig", b.case([x_matrix(params)])
    if b.destination.upper() == b.destination:
        b.destination = rng.choice(
            [s for s in ["localhost:8448", "matrix.org", "hs.example:443"] if s != b.origin]
        )
    params = b.params(destination=b.destination.upper())
    params[3] = ("destination", b.destination.upper())
    yield "destination_case_differs", b.case([x_matrix(params)])
    other = rng.choice([s for s in FED_SERVERS if s != b.destination])
    params = b.params(destination=other)
    params[3] = ("destination", other)
    yield "destination_mismatch", b.case([x_matrix(params)])
    bad_origin = rng.choice(
        [
            "-a.example/x",
            "a_b.example",
            "[::1",
            "a.example:",
            "a.example:x",
            "",
            "a..example",
            "a.example.",
            "é.example",
            "[1.2.3.4]",
            "a b",
        ]
    )
    params = b.params()
    params[0] = ("origin", bad_origin)
    keys = dict(b.keys, **{bad_origin: b.keys[b.origin]})
    yield "invalid_origin", b.case([x_matrix(params)], keys=keys)
    yield "invalid_origin_then_valid", b.case([x_matrix(params), b.header()], keys=keys)
    yield "lower_case_scheme", b.case(
        [b.header().replace("X-Matrix", rng.choice(["x-matrix", "X-MATRIX", "x-Matrix"]), 1)]
    )
    broken = rng.choice(
        [b.header() + ",", "X-Matrix origin", "X-Matrix ", 'X-Matrix origin="a.example" key="k"']
    )
    yield "malformed_second_header", b.case([b.header(), broken])
    yield "malformed_first_header", b.case([broken, b.header()])
    for name in ("origin", "key", "sig"):
        params = [(n, v) for n, v in b.params() if n != name]
        yield f"missing_{name}", b.case([x_matrix(params)])
    yield "no_headers", b.case([])
    yield "no_space_after_scheme", b.case([x_matrix(b.params(), scheme="X-Matrix")])
    yield "scheme_prefix_only", b.case(
        [x_matrix(b.params(), scheme=rng.choice(["X-MatrixFoo ", "X-Matrix-2 ", "X-Matrix,"]))]
    )
    yield "tab_after_scheme", b.case([x_matrix(b.params(), scheme="X-Matrix\t")])
    yield "other_scheme_only", b.case(
        [rng.choice(["Bearer syt_abc", "Basic YTpi", 'Matrix origin="a.example"'])]
    )
    params = b.params()
    params[1] = (
        "key",
        rng.choice(["rsa:1", "curve25519:" + b.key.key_id[8:], "ED25519:" + b.key.key_id[8:]]),
    )
    keys = copy.deepcopy(b.keys)
    keys[b.origin][params[1][1]] = b.key.public
    yield "non_ed25519_key_id", b.case([x_matrix(params)], keys=keys)
    second = b.spare("second")
    params = b.params(second)
    params[2] = ("sig", flip_signature(params[2][1], rng))
    headers = [b.header(), x_matrix(params)]
    rng.shuffle(headers)
    yield "second_key_bad", b.case(headers)
    yield "signed_other_destination", b.case([x_matrix(b.params(destination=other)[:3])])
    method = rng.choice(
        [m for m in ["GET", "PUT", "POST", "DELETE", b.method.lower()] if m != b.method]
    )
    yield "signed_other_method", b.case([b.header(method=method)])
    yield "signed_other_uri", b.case([b.header(uri=b.uri + rng.choice(["x", "/", "?", "&a=b"]))])
    decoded = urllib.parse.unquote(b.uri)
    if decoded != b.uri:
        yield "signed_decoded_uri", b.case([b.header(uri=decoded)])
    else:
        yield "signed_encoded_uri", b.case([b.header(uri=b.uri.replace("/", "%2F"))])
    yield "signed_with_origin_destination", b.case([b.header(destination=b.origin)])
    yield "space_around_equals", b.case(
        [x_matrix(b.params(), quote=True).replace("=", rng.choice([" =", "= ", " = "]), 1)]
    )
    yield "trailing_comma", b.case([b.header() + rng.choice([",", ", ", ",,"])])
    yield "empty_param", b.case([b.header().replace(",", ",,", 1)])
    other_key = request_key(b.origin, "other")
    yield "unknown_key_id", b.case(
        [b.header()], keys={b.origin: {other_key.key_id: other_key.public}}
    )
    yield "no_keys_held", b.case([b.header()], keys={})
    yield "keys_for_other_servers_only", b.case(
        [b.header()], keys={"z.example": {b.key.key_id: b.key.public}}
    )
    header = b.header()
    cut = header.index('"', header.index("origin=") + 8)
    yield "unterminated_quote", b.case([header[:cut] + header[cut + 1 :]])
    forger = rng.choice([s for s in FED_SERVERS if s != b.origin])
    forged = x_matrix(
        [
            ("origin", forger),
            ("key", "ed25519:k1"),
            ("sig", encode_base64(bytes(64))),
            ("destination", b.destination),
        ]
    )
    keys = dict(b.keys, **{forger: {"ed25519:k1": request_key(forger, "k1").public}})
    yield "valid_then_forged_other_origin", b.case([b.header(), forged], keys=keys)
    yield "valid_then_unheld_other_origin", b.case([b.header(), forged])
    yield "wrong_public_key", b.case(
        [b.header()], keys={b.origin: {b.key.key_id: request_key("x", "x").public}}
    )
    yield "non_ascii_uri", b.case([b.header(uri=b.uri + "é")], uri=b.uri + "é")


def vr_invalid_variants(
    rng: random.Random, rooms: dict[str, RoomBuilder], index: int
) -> Iterator[tuple[str, JsonDict]]:
    """Refused requests that need a request of a particular shape."""
    b = without_body(rng, rooms, index, rng.random() < 0.3)
    yield "get_signed_with_body", b.case([b.header(content={"a": 1})], content={"a": 1})
    b = with_body(rng, rooms, index)
    yield "put_without_body", b.case([b.header()], content=OMIT)
    yield "signed_without_content", b.case([b.header(content=None)])
    yield "signed_other_content", b.case([b.header(content=dict(b.content, extra=1))])
    yield "signed_empty_content", b.case([b.header(content={})])
    yield "signed_as_get", b.case([b.header(method="GET", content=None)])


VR_REPEATS = 5


def gen_verify_request(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """Signed requests, then each scenario of header syntax and signature
    checking on requests of assorted endpoints; the generator stops if
    Synapse's verdict is not the one a scenario means."""
    for index in range(VR_REPEATS):
        sources = [
            (True, vr_valid(RequestBase(rng, rooms, index))),
            (True, vr_valid_variants(rng, rooms, index)),
            (False, vr_invalid(RequestBase(rng, rooms, index))),
            (False, vr_invalid_variants(rng, rooms, index)),
        ]
        for meant, cases in sources:
            for scenario, case in cases:
                label = (
                    f"{'valid' if meant else 'not valid'}: {scenario} ({case['method']} {index})"
                )
                yield checked_validity(case, label, meant)
    yield from verify_request_extras(rng, rooms)


def checked_validity(case: JsonDict, label: str, meant: bool | None) -> tuple[JsonDict, str]:
    """``(case, label)``, after making sure Synapse's verdict is the one the
    scenario means (``None``: an error answer is meant)."""
    answer = twin.answer(copy.deepcopy(case))
    got = None if "error" in answer else answer.get("valid")
    if got is not meant:
        raise RuntimeError(f"{label}: meant {meant}, Synapse answers {answer}")
    return case, label


def verify_request_extras(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """Wrong-kind inputs, and Synapse's header reading beyond the protocol."""
    b = RequestBase(rng, rooms, 99)
    good = b.case([b.header()])
    for name, value, what in [
        ("authorization", b.header(), "authorization a string"),
        ("authorization", [b.header(), 7], "authorization holding a number"),
        ("keys", b.origin, "keys a string"),
        ("keys", {b.origin: {b.key.key_id: "AAAA"}}, "a held key of 3 bytes"),
        ("keys", {b.origin: [b.key.public]}, "a server's keys an array"),
        ("content", [1], "content an array"),
        ("method", None, "method null"),
        ("uri", 5, "uri a number"),
        ("destination", ["b.example"], "destination an array"),
    ]:
        bad = dict(good)
        bad[name] = value
        yield checked_validity(bad, f"error: {what}", None)
    for name in ("method", "uri", "destination", "authorization", "keys"):
        bad = dict(good)
        del bad[name]
        yield checked_validity(bad, f"error: missing {name}", None)
    b = without_body(rng, rooms, 100)
    b.destination = "a,b.example"
    params = b.params()
    yield checked_validity(
        b.case([x_matrix(params)]),
        f"{QUIRK}not valid: a comma inside a quoted value splits the parameter list (Synapse "
        "splits on every comma; RFC 9110's quoted-string may hold one)",
        False,
    )
    b = without_body(rng, rooms, 101)
    params = b.params()
    sig = params[2][1]
    params[2] = ("sig", sig[:20] + "*!" + sig[20:40] + " " + sig[40:])
    yield checked_validity(
        b.case([x_matrix(params)]),
        f"{QUIRK}valid: characters outside base64 inside sig are skipped (Python's b64decode "
        "without validate)",
        True,
    )
    b = without_body(rng, rooms, 102)
    params = b.params()
    params[0] = ("origin", '"' + b.origin)
    yield checked_validity(
        b.case(
            [
                "X-Matrix "
                + ",".join(f"{n}={v}" if n == "origin" else f'{n}="{v}"' for n, v in params)
            ]
        ),
        "not valid: a lone opening quote drops the value's last character",
        False,
    )


# -- key documents -------------------------------------------------------------

KEY_SERVERS = FED_SERVERS + ["keys.example:8448"]
NOTARIES = ["notary.example", "matrix.org", "n.example:8448", "[2001:db8::2]"]


def key_pair(server: str, key_id: str) -> KeyPair:
    """A server's key for key documents."""
    return KeyPair(server, key_id, f"keys {server} {key_id}")


class KeyDocument:
    """A ``GET /_matrix/key/v2/server`` answer being built: current keys, old
    keys and the signatures to add last."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.server = rng.choice(KEY_SERVERS)
        versions = rng.sample(FED_KEY_VERSIONS, 3)
        self.current = [key_pair(self.server, f"ed25519:{versions[0]}")]
        if rng.random() < 0.25:
            self.current.append(key_pair(self.server, f"ed25519:{versions[1]}"))
        self.old: list[tuple[KeyPair, int]] = []
        if rng.random() < 0.3:
            self.old.append(
                (
                    key_pair(self.server, f"ed25519:old_{versions[2]}"),
                    rng.randrange(1_400_000_000_000, 1_600_000_000_000),
                )
            )
        self.valid_until = rng.randrange(1_700_000_000_000, 1_900_000_000_000)
        self.notary_name = rng.choice([n for n in NOTARIES if n != self.server])
        self.notary_keys = [
            key_pair(self.notary_name, f"ed25519:{rng.choice(['n1', 'auto', 'notary'])}")
        ]

    def body(self) -> JsonDict:
        """The unsigned document."""
        doc: JsonDict = {
            "server_name": self.server,
            "verify_keys": {k.key_id: {"key": k.public} for k in self.current},
            "valid_until_ts": self.valid_until,
        }
        if self.old:
            doc["old_verify_keys"] = {
                k.key_id: {"key": k.public, "expired_ts": ts} for k, ts in self.old
            }
        return doc

    def signed(
        self,
        doc: JsonDict | None = None,
        signers: list[KeyPair] | None = None,
        notary: bool = False,
    ) -> JsonDict:
        """The document signed by ``signers`` (default: every current key),
        then by the notary's first key if ``notary``."""
        doc = copy.deepcopy(doc if doc is not None else self.body())
        for signer in self.current if signers is None else signers:
            doc = signedjson.sign.sign_json(doc, signer.server, signer.signing_key)
        if notary:
            doc = signedjson.sign.sign_json(doc, self.notary_name, self.notary_keys[0].signing_key)
        doc.setdefault("signatures", {})
        return doc

    def notary(self, keys: list[KeyPair] | None = None) -> JsonDict:
        """The case's ``notary``: its name and the keys the receiver trusts."""
        return {
            "server_name": self.notary_name,
            "keys": {k.key_id: k.public for k in (keys or self.notary_keys)},
        }

    def case(
        self, doc: JsonDict, notary: JsonDict | None = None, server_name: str | None = None
    ) -> JsonDict:
        case: JsonDict = {
            "op": "verify_key_document",
            "server_name": server_name or self.server,
            "response": doc,
        }
        if notary is not None:
            case["notary"] = notary
        return case


def kd_valid(d: KeyDocument) -> Iterator[tuple[str, JsonDict]]:
    """Documents Synapse accepts: (scenario, case)."""
    rng = d.rng
    yield "plain", d.case(d.signed())
    past = copy.copy(d)
    past.valid_until = rng.randrange(1_000_000_000_000, 1_600_000_000_000)
    yield "expired_document", d.case(past.signed())
    for ts in (0, 2**53 - 1, -1):
        edge = copy.copy(d)
        edge.valid_until = ts
        yield f"valid_until_ts {ts}", d.case(edge.signed())
    doc = d.body()
    doc["verify_keys"]["curve25519:x"] = {"key": "not a key at all"}
    doc["verify_keys"][rng.choice(["ed25519", "ED25519:x", "Ed25519:y"])] = {"no": "key"}
    doc.setdefault("old_verify_keys", {})["curve25519:old"] = {"junk": True}
    yield "non_ed25519_keys_mixed_in", d.case(d.signed(doc))
    yield "notary_signed", d.case(d.signed(notary=True), d.notary())
    yield "notary_expired", d.case(past.signed(notary=True), past.notary())
    second = key_pair(d.notary_name, "ed25519:second")
    doc = d.signed()
    doc = signedjson.sign.sign_json(doc, d.notary_name, second.signing_key)
    yield "notary_second_key", d.case(doc, d.notary([d.notary_keys[0], second]))
    both = signedjson.sign.sign_json(d.signed(notary=True), d.notary_name, second.signing_key)
    yield "notary_two_keys_both_sign", d.case(both, d.notary([d.notary_keys[0], second]))
    extra = d.signed(notary=True)
    extra["signatures"][d.notary_name]["ed25519:unknown"] = encode_base64(bytes(64))
    yield "notary_unknown_extra_signature_ignored", d.case(extra, d.notary())
    more = d.notary([d.notary_keys[0], key_pair(d.notary_name, "ed25519:spare")])
    yield "notary_holds_unused_key", d.case(d.signed(notary=True), more)
    odd = copy.copy(d)
    odd.current = [
        key_pair(d.server, rng.choice(["ed25519:", "ed25519:a b", "ed25519:é/+", "ed25519::"]))
    ]
    yield "odd_but_accepted_key_ids", d.case(odd.signed())
    again = copy.copy(d)
    again.old = [(d.current[0], rng.randrange(1_400_000_000_000, 1_600_000_000_000))]
    yield "old_key_also_current", d.case(again.signed())
    older = copy.copy(d)
    older.old = [
        (key_pair(d.server, f"ed25519:old{i}"), rng.randrange(1_400_000_000_000, 1_600_000_000_000))
        for i in range(rng.randint(1, 4))
    ]
    yield "old_verify_keys", d.case(older.signed())
    doc = d.body()
    kid = d.current[0].key_id
    doc["verify_keys"][kid]["key"] = rng.choice(
        [d.current[0].public + "=", to_url_safe(d.current[0].public)]
    )
    yield "padded_or_urlsafe_key", d.case(d.signed(doc))
    others = [
        key_pair(s, "ed25519:k1") for s in rng.sample([s for s in KEY_SERVERS if s != d.server], 2)
    ]
    yield "signed_also_by_others", d.case(d.signed(signers=d.current + others))
    two = copy.copy(d)
    two.current = [key_pair(d.server, "ed25519:a"), key_pair(d.server, "ed25519:b")]
    yield "two_keys_both_sign", d.case(two.signed())
    yield "two_keys_one_signs", d.case(two.signed(signers=[two.current[rng.randrange(2)]]))
    many = copy.copy(d)
    many.current = [key_pair(d.server, f"ed25519:c{i}") for i in range(5)]
    many.old = [(key_pair(d.server, f"ed25519:o{i}"), 1_500_000_000_000 + i) for i in range(5)]
    yield "five_current_five_old", d.case(many.signed(signers=many.current[2:3]))
    doc = d.body()
    doc["m.extra"] = {"é": "".join(TEXT_PIECES), "n": [1, 2, None]}
    doc["verify_keys"][kid]["extra"] = "ignored"
    doc = d.signed(doc)
    doc["unsigned"] = {"age": 5}
    yield "unsigned_and_extra_fields", d.case(doc)
    doc = d.signed()
    doc["signatures"][d.server]["curve25519:x"] = "AAAA"
    yield "non_ed25519_signature_ignored", d.case(doc)
    doc = d.signed()
    old = key_pair(d.server, "ed25519:old_signer")
    doc = signedjson.sign.sign_json(doc, d.server, old.signing_key)
    yield "also_signed_by_unlisted_key", d.case(doc)
    myself = copy.copy(d)
    myself.notary_name = d.server
    myself.notary_keys = [d.current[0]]
    yield "notary_answers_for_itself", d.case(myself.signed(), myself.notary())


def kd_invalid(d: KeyDocument) -> Iterator[tuple[str, JsonDict]]:
    """Documents Synapse refuses: (scenario, case)."""
    rng = d.rng
    kid = d.current[0].key_id
    doc = d.body()
    doc["verify_keys"][kid]["key"] = rng.choice(
        ["not base64 at all!", encode_base64(bytes(31)), encode_base64(bytes(33)), ""]
    )
    yield "bad_key_base64", d.case(d.signed(doc))
    bad = copy.copy(d)
    bad.old = [(key_pair(d.server, "ed25519:old"), 1_500_000_000_000)]
    doc = bad.body()
    doc["old_verify_keys"]["ed25519:old"]["key"] = encode_base64(bytes(rng.choice([16, 31, 64])))
    yield "bad_old_key", d.case(bad.signed(doc))
    doc = bad.body()
    del doc["old_verify_keys"]["ed25519:old"]["expired_ts"]
    yield "old_key_missing_expired_ts", d.case(bad.signed(doc))
    doc = bad.body()
    del doc["old_verify_keys"]["ed25519:old"]["key"]
    yield "old_key_missing_key", d.case(bad.signed(doc))
    doc = d.body()
    doc["old_verify_keys"] = rng.choice([[], "none", 5])
    yield "old_verify_keys_not_object", d.case(d.signed(doc))
    doc = d.signed()
    doc["signatures"][d.server][kid] = flip_signature(doc["signatures"][d.server][kid], rng)
    if len(d.current) > 1:
        other = d.current[1].key_id
        doc["signatures"][d.server][other] = flip_signature(doc["signatures"][d.server][other], rng)
    yield "bad_self_signature", d.case(doc)
    doc = d.body()
    del doc["verify_keys"][kid]["key"]
    yield "key_missing_key_field", d.case(d.signed(doc))
    doc = d.body()
    doc["verify_keys"][kid] = d.current[0].public
    yield "key_entry_not_object", d.case(d.signed(doc))
    doc = d.body()
    doc["verify_keys"][kid]["key"] = 5
    yield "key_not_string", d.case(d.signed(doc))
    for name in ("server_name", "signatures", "valid_until_ts", "verify_keys"):
        doc = d.signed()
        del doc[name]
        yield f"missing_{name}", d.case(doc)
    doc = d.body()
    doc["server_name"] = 7
    yield "server_name_not_string", d.case(d.signed(doc))
    doc = d.signed()
    doc["signatures"] = rng.choice([[], "sig"])
    yield "signatures_not_object", d.case(doc)
    doc = d.signed()
    doc["signatures"][d.server] = {}
    yield "no_self_signature", d.case(doc)
    doc = d.body()
    doc["verify_keys"] = {
        rng.choice(["curve25519:x", "ed25519", "ED25519:x"]): {
            "key": key_pair(d.server, "ed25519:x").public
        }
    }
    signer = key_pair(d.server, "ed25519:x")
    yield "non_ed25519_only", d.case(signedjson.sign.sign_json(doc, d.server, signer.signing_key))
    empty = d.body()
    empty["verify_keys"] = {}
    yield "verify_keys_empty", d.case(d.signed(empty))
    others = [
        key_pair(s, "ed25519:k1") for s in rng.sample([s for s in KEY_SERVERS if s != d.server], 2)
    ]
    yield "not_self_signed", d.case(d.signed(signers=others[: rng.randint(1, 2)]))
    doc = d.signed(notary=True)
    nkid = d.notary_keys[0].key_id
    doc["signatures"][d.notary_name][nkid] = flip_signature(
        doc["signatures"][d.notary_name][nkid], rng
    )
    yield "notary_bad_signature", d.case(doc, d.notary())
    second = key_pair(d.notary_name, "ed25519:second")
    doc = signedjson.sign.sign_json(d.signed(notary=True), d.notary_name, second.signing_key)
    doc["signatures"][d.notary_name]["ed25519:second"] = flip_signature(
        doc["signatures"][d.notary_name]["ed25519:second"], rng
    )
    yield "notary_one_known_key_bad", d.case(doc, d.notary([d.notary_keys[0], second]))
    other_server = rng.choice([s for s in KEY_SERVERS if s not in (d.server, d.notary_name)])
    yield "notary_entry_for_other_server", d.case(d.signed(notary=True), d.notary(), other_server)
    yield "wrong_server_name", d.case(d.signed(), None, other_server)
    if any(c.isalpha() for c in d.server):
        yield "server_name_case_differs", d.case(d.signed(), None, d.server.upper())
    notary_only = d.signed(signers=[], notary=True)
    yield "notary_origin_not_signed", d.case(notary_only, d.notary())
    yield "notary_signature_missing", d.case(d.signed(), d.notary())
    yield "notary_signed_by_others_only", d.case(
        d.signed(signers=d.current + others[:1]), d.notary()
    )
    unknown = d.notary([key_pair(d.notary_name, "ed25519:unknown")])
    yield "notary_unknown_key", d.case(d.signed(notary=True), unknown)
    wrong = d.notary()
    wrong["keys"][nkid] = key_pair("x", "ed25519:x").public
    yield "notary_wrong_public_key", d.case(d.signed(notary=True), wrong)
    unlisted = d.signed(signers=[key_pair(d.server, "ed25519:unlisted")])
    yield "signed_by_unlisted_key", d.case(unlisted)
    old = copy.copy(d)
    old.old = [(key_pair(d.server, "ed25519:old"), 1_500_000_000_000)]
    yield "signed_only_by_old_key", d.case(old.signed(signers=[old.old[0][0]]))
    yield "signed_only_by_old_key_notary", d.case(
        old.signed(signers=[old.old[0][0]], notary=True), d.notary()
    )
    doc = d.signed(notary=rng.random() < 0.5)
    target = rng.choice(["valid_until_ts", "verify_keys", "server_name_extra", "old"])
    if target == "valid_until_ts":
        doc["valid_until_ts"] += 1
    elif target == "verify_keys":
        doc["verify_keys"]["ed25519:added"] = {"key": key_pair(d.server, "ed25519:added").public}
    elif target == "server_name_extra":
        doc["extra"] = "added"
    else:
        doc["old_verify_keys"] = {"ed25519:o": {"key": d.current[0].public, "expired_ts": 1}}
    notary = d.notary() if d.notary_name in doc["signatures"] else None
    yield f"tampered_after_signing ({target})", d.case(doc, notary)
    doc = d.signed()
    doc["verify_keys"] = rng.choice([[], "keys", None])
    yield "verify_keys_not_object", d.case(doc)


KD_REPEATS = 5


def through_notary(d: KeyDocument, case: JsonDict) -> JsonDict:
    """The same document as a notary's answer entry: countersigned by the
    notary (when it has a ``signatures`` object to hold one), the notary
    trusted."""
    doc = copy.deepcopy(case["response"])
    if isinstance(doc.get("signatures"), dict):
        doc = signedjson.sign.sign_json(doc, d.notary_name, d.notary_keys[0].signing_key)
    return dict(case, response=doc, notary=d.notary())


def gen_verify_key_document(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """Key documents of every scenario, fetched directly or through a notary;
    the generator stops if Synapse's verdict is not the one a scenario means."""
    for index in range(KD_REPEATS):
        for meant, d in ((True, KeyDocument(rng)), (False, KeyDocument(rng))):
            for scenario, case in (kd_valid if meant else kd_invalid)(d):
                if index >= KD_REPEATS - 2 and "notary" not in case:
                    case = through_notary(d, case)
                via = " via notary" if "notary" in case else ""
                label = f"{'valid' if meant else 'not valid'}: {scenario}{via} ({index})"
                yield checked_validity(case, label, meant)
    d = KeyDocument(rng)
    good = d.case(d.signed(notary=True), d.notary())
    for change, what in [
        ({"response": [good["response"]]}, "response an array"),
        ({"server_name": 7}, "server_name a number"),
        ({"notary": "n.example"}, "notary a string"),
        ({"notary": {"server_name": d.notary_name}}, "notary without keys"),
        ({"notary": {"keys": good["notary"]["keys"]}}, "notary without server_name"),
        (
            {"notary": {"server_name": d.notary_name, "keys": {"rsa:1": d.notary_keys[0].public}}},
            "notary key not ed25519",
        ),
        (
            {"notary": {"server_name": d.notary_name, "keys": {"ed25519:n": "not a key"}}},
            "notary key not 32 bytes",
        ),
        (
            {"notary": {"server_name": d.notary_name, "keys": {"ed25519:n": 5}}},
            "notary key a number",
        ),
    ]:
        yield checked_validity(dict(good, **change), f"error: {what}", None)
    bad = dict(good)
    del bad["response"]
    yield checked_validity(bad, "error: missing response", None)


# ---------------------------------------------------------------------------
# Rooms judged by the twin: shared by auth_types, auth and resolve
# ---------------------------------------------------------------------------

CREATE = "m.room.create"
MEMBER = "m.room.member"
POWER = "m.room.power_levels"
JOIN_RULES = "m.room.join_rules"
TP_INVITE = "m.room.third_party_invite"
TOPIC = "m.room.topic"
NAME = "m.room.name"
MESSAGE = "m.room.message"

ALICE = "@alice:a.example"
BOB = "@bob:b.example"
CAROL = "@carol:c.example"
DAVE = "@dave:d.example"
ERIN = "@erin:a.example"
FRANK = "@frank:b.example"
GRACE = "@grace:c.example"
HEIDI = "@heidi:d.example"
IVAN = "@ivan:a.example"
JUDY = "@judy:b.example"
KEN = "@ken:c.example"
MALLORY = "@mallory:d.example"
OSCAR = "@oscar:d.example"
PEGGY = "@peggy:b.example"
TRENT = "@trent:c.example"
WENDY = "@wendy:d.example"
YANN = "@yann:c.example"
ZOE = "@zoe:b.example"

ID_KEY_URL = "https://id.example/_matrix/identity/v2/pubkey/isvalid"
DELETE = object()  # marks a key to remove in :func:`edited`


def edited(content: JsonDict, *changes: tuple) -> JsonDict:
    """A deep copy of ``content`` with ``(key, ..., value)`` paths set.

    A value of :data:`DELETE` removes the key; missing intermediate objects
    are created.
    """
    content = copy.deepcopy(content)
    for change in changes:
        *path, last, value = change
        target = content
        for key in path:
            target = target.setdefault(key, {})
        if value is DELETE:
            target.pop(last, None)
        else:
            target[last] = value
    return content


def auth_types_of(rv: Any, event: JsonDict) -> set[tuple[str, Any]]:
    """The state keys Synapse's selection wants for an event dict.

    Events Synapse's ``auth_types_for_event`` chokes on (a member event
    without ``membership``, a third-party invite without ``signed``) get
    the keys the selection rules would name without the broken part.
    """
    shim = SimpleNamespace(
        type=event["type"],
        sender=event["sender"],
        content=event["content"],
        state_key=event.get("state_key"),
    )
    try:
        return set(auth_types_for_event(rv, shim))
    except (KeyError, TypeError, AttributeError):
        keys = {(CREATE, ""), (POWER, ""), (MEMBER, event["sender"])}
        if event["type"] == MEMBER and isinstance(event.get("state_key"), str):
            keys |= {(MEMBER, event["state_key"]), (JOIN_RULES, "")}
        return keys


class Branch:
    """One line of a room's history: its current state and forward extremities."""

    def __init__(self, state: dict[tuple[str, str], str], tips: list[str]) -> None:
        self.state = state
        self.tips = tips


class SimRoom(RoomBuilder):
    """A :class:`RoomBuilder` whose state can fork, with events judged by the twin.

    The builder's ``state`` and ``extremities`` are those of the branch in
    use (:meth:`use`); :meth:`commit` updates them in place, so a branch
    object follows the events committed while it is in use.
    """

    def __init__(self, rng: random.Random, version: str, server: str = "a.example") -> None:
        super().__init__(rng, version)
        if self.room_id is not None:
            self.room_id = self.room_id.split(":", 1)[0] + ":" + server
        self.branch = Branch(self.state, self.extremities)

    # -- branches --------------------------------------------------------------

    def use(self, branch: Branch) -> Branch:
        """Make ``branch`` the one new events build on and commit to."""
        self.branch = branch
        self.state = branch.state
        self.extremities = branch.tips
        return branch

    def fork(self, branch: Branch | None = None) -> Branch:
        """A new branch starting where ``branch`` (default: the current one) is."""
        source = branch or self.branch
        return Branch(dict(source.state), list(source.tips))

    # -- events ----------------------------------------------------------------

    def auth_ids(
        self, etype: str, sender: str, content: JsonDict, state_key: str | None
    ) -> list[str]:
        """The event's own ``auth_events``: the selected current-state entries."""
        if etype == CREATE:
            return []
        event: JsonDict = {"type": etype, "sender": sender, "content": content}
        if state_key is not None:
            event["state_key"] = state_key
        ids = self.selected_ids(event)
        if self.hash_room_ids:
            ids = [i for i in ids if self.events[i]["type"] != CREATE]
        return ids

    def selected_ids(self, event: JsonDict) -> list[str]:
        """IDs of the current-state entries the auth rules need (create included)."""
        keys = auth_types_of(self.rv, event)
        return [self.state[key] for key in sorted(k for k in keys if k in self.state)]

    def make(
        self,
        etype: str,
        sender: str,
        content: JsonDict,
        state_key: str | None = None,
        *,
        extra: JsonDict | None = None,
        prev: list[str] | None = None,
        signers: list[str] | None = None,
        id_server: str | None = None,
        drop: tuple[str, ...] = (),
    ) -> JsonDict:
        """A hashed and signed event on the current branch (not committed).

        Unlike :class:`RoomBuilder`'s events these carry no ``origin``:
        Synapse 1.163 no longer sets it, whatever the room version.
        """
        event = self.build(etype, sender, content, state_key, extra, prev, id_server)
        if not extra or "origin" not in extra:
            event.pop("origin", None)
        for key in drop:
            event.pop(key, None)
        event = self.sign(event, signers if signers is not None else [server_of(sender)])
        self.ts += self.rng.randrange(500, 90_000)
        return event

    def commit(self, event: JsonDict, label: str = "") -> str:
        """Add an event to the room and to the current branch; return its ID."""
        event_id = self.event_id(event)
        if event["type"] == CREATE and self.hash_room_ids and self.room_id is None:
            self.room_id = "!" + event_id[1:]
        self.events[event_id] = event
        self.depths[event_id] = event["depth"]
        self.extremities[:] = [event_id]
        if "state_key" in event:
            self.state[(event["type"], event["state_key"])] = event_id
        self.log.append((label, event))
        return event_id

    def auth_events_for(self, event: JsonDict, mode: str = "selected") -> list[JsonDict]:
        """The ``auth_events`` of an ``auth`` case: selected or full current state."""
        if event["type"] == CREATE:
            return []
        if mode == "full":
            ids = list(self.state.values())
            self.rng.shuffle(ids)
        else:
            ids = self.selected_ids(event)
            if mode == "no_create":
                ids = [i for i in ids if self.events[i]["type"] != CREATE]
        return [self.events[i] for i in ids]

    def judge(self, event: JsonDict, auth_events: list[JsonDict] | None = None) -> JsonDict:
        """The twin's ``auth`` answer for an event against the current state."""
        if auth_events is None:
            auth_events = self.auth_events_for(event)
        return twin.answer(
            {
                "op": "auth",
                "room_version": self.version,
                "event": event,
                "auth_events": auth_events,
            }
        )

    def content_of(self, key: tuple[str, str]) -> JsonDict:
        """A copy of the content of a current-state event."""
        return copy.deepcopy(self.events[self.state[key]]["content"])

    def auth_chain_closure(self, event_ids: list[str]) -> list[str]:
        """The events and everything their ``auth_events`` reach (v12: plus the create)."""
        seen: set[str] = set()
        order: list[str] = []
        stack = list(event_ids)
        if self.hash_room_ids:
            stack.append("$" + self.room_id[1:])
        while stack:
            event_id = stack.pop()
            if event_id in seen:
                continue
            seen.add(event_id)
            order.append(event_id)
            for ref in self.events[event_id]["auth_events"]:
                stack.append(ref[0] if isinstance(ref, list) else ref)
        return order


def third_party_signed_by(mxid: str, token: str, key: KeyPair) -> JsonDict:
    """A third-party invite's ``signed`` block signed with ``key``."""
    return signedjson.sign.sign_json({"mxid": mxid, "token": token}, key.server, key.signing_key)


def third_party_invite_content(
    public_key: str | None = None, public_keys: tuple[str, ...] = ()
) -> JsonDict:
    """Content of an ``m.room.third_party_invite`` event."""
    content: JsonDict = {"display_name": "z...@example.org", "key_validity_url": ID_KEY_URL}
    if public_key is not None:
        content["public_key"] = public_key
    if public_keys:
        content["public_keys"] = [
            {"public_key": key, "key_validity_url": ID_KEY_URL} for key in public_keys
        ]
    return content


def url_safe_identity_key() -> KeyPair:
    """An identity-server key whose standard base64 form has ``+`` or ``/``."""
    for index in range(100):
        key = KeyPair(IDENTITY_SERVER, f"ed25519:u{index}")
        if "+" in key.public or "/" in key.public:
            return key
    raise RuntimeError("no key with + or / found")


def to_url_safe(b64: str) -> str:
    """Standard unpadded base64 rewritten in the URL-safe alphabet."""
    return b64.replace("+", "-").replace("/", "_")


def without(content: JsonDict, *keys: str) -> JsonDict:
    """A copy of ``content`` without ``keys``."""
    return {k: v for k, v in content.items() if k not in keys}


# ---------------------------------------------------------------------------
# Authorization: scripted rooms exercising every rule of every room version
# ---------------------------------------------------------------------------


class AuthRecord(SimpleNamespace):
    """One judged event: ``case``, ``label``, ``answer``, ``mode`` (how the
    auth events were given), ``quirk``, ``setup`` (a step the script needed
    rather than a probe) and ``must`` (see :data:`AUTH_MUST_KEEP`)."""


#: Label fragments of the scenarios kept in every room version's main file
#: (when the version has them), whatever the sampling of :func:`select_auth`.
AUTH_MUST_KEEP = (
    "3pid invite:",
    "redaction:",
    "restricted join",
    "creator joins (prev_events = [create])",
    "right after create",
    "state key is the sender's own user ID",
    "state key is another user's ID",
    "message below events_default",
    "topic below state_default",
    "message type listed below events_default",
    "knock on a knock",
    "rescind a knock",
    "power levels: raise another user above own",
    "power levels: lower another user below own",
    "power levels: lower another user at own level",
    "power levels: lower own level",
    "power levels: raise own level",
    "power levels: remove an events entry above own",
    "power levels: raise notifications.room",
    "power levels: string users value",
    "power levels: float users value",
    "power levels: users key without '@'",
    "power levels: users value 2**53-1",
    "power levels: ban level 2**70",
    "raise a user to the sender's level",
    "power levels: creator listed in users",
    "power levels: additional creator",
    "first power levels, levels up to",
    "additional_creators with two users",
    "join from another server, m.federate false",
    "by a user who is not the creator, no power levels event",
    "join an invite-only room uninvited",
    "unban with the ban level but below the target's level",
)


class AuthScript:
    """Runs the authorization script of one room version, recording cases.

    :meth:`probe` builds an event on the current state and records it as an
    ``auth`` case with the twin's answer; ``expect`` (and ``why``, a piece
    of the expected reason) states what the script means to exercise and is
    checked, so a scenario that stops testing what it says fails loudly.
    :meth:`do` is a probe that must be allowed and then enters the state.
    """

    def __init__(self, rng: random.Random, version: str) -> None:
        self.rng = rng
        self.version = version
        self.n = int(version)
        self.records: list[AuthRecord] = []
        self.room: SimRoom | None = None
        self.setup = False
        self.full_state_cases = 0

    def new_room(self, server: str = "a.example") -> SimRoom:
        """Start another room; later probes build on it."""
        self.room = SimRoom(self.rng, self.version, server)
        return self.room

    def power(self) -> JsonDict:
        """A copy of the current power levels content."""
        return self.room.content_of((POWER, ""))

    def record(
        self,
        label: str,
        event: JsonDict,
        auth_events: list[JsonDict],
        expect: bool | None,
        why: str | None,
        kind: str,
    ) -> JsonDict:
        """Judge and record one case; check the script's expectation."""
        case = {
            "op": "auth",
            "room_version": self.version,
            "event": event,
            "auth_events": auth_events,
        }
        answer = twin.answer(copy.deepcopy(case))
        quirk = QUIRK in label
        if quirk:  # helpers prefix their own words: move the marker to the front
            label = QUIRK + label.replace(QUIRK, "", 1)
        if "error" in answer and not quirk:
            raise RuntimeError(f"v{self.version} {label}: twin error {answer}")
        if expect is not None and answer.get("allowed") is not expect:
            raise AssertionError(f"v{self.version} {label}: expected {expect}, got {answer}")
        if why is not None and why not in answer.get("reason", ""):
            raise AssertionError(f"v{self.version} {label}: expected reason {why!r}, got {answer}")
        self.records.append(
            AuthRecord(
                case=case,
                label=label,
                answer=answer,
                mode=kind,
                quirk=quirk,
                setup=self.setup,
                must=any(piece in label for piece in AUTH_MUST_KEEP),
            )
        )
        return answer

    def probe(
        self,
        label: str,
        etype: str,
        sender: str,
        content: JsonDict,
        state_key: str | None = None,
        *,
        expect: bool | None,
        why: str | None = None,
        mode: str | None = None,
        auth: list[JsonDict] | None = None,
        commit: bool = False,
        **make_args: Any,
    ) -> JsonDict:
        """Build an event on the current state and record it as a case."""
        room = self.room
        event = room.make(etype, sender, content, state_key, **make_args)
        if auth is None:
            if mode is None:
                small = len(room.state) <= 12 and self.full_state_cases < 3
                mode = "full" if small and self.rng.random() < 0.06 else "selected"
                self.full_state_cases += mode == "full"
            auth = room.auth_events_for(event, mode)
            if mode == "full":
                label += " [auth_events: full state]"
            elif mode == "no_create":
                label += " [auth_events: no create event]"
        answer = self.record(label, event, auth, expect, why, mode or "given")
        if commit and answer.get("allowed"):
            room.commit(event, label)
        return event

    def do(
        self,
        label: str,
        etype: str,
        sender: str,
        content: JsonDict,
        state_key: str | None = None,
        **kwargs: Any,
    ) -> str:
        """A probe that must be allowed; the event enters the state. Returns its ID."""
        self.setup = True
        try:
            event = self.probe(
                label, etype, sender, content, state_key, expect=True, commit=True, **kwargs
            )
        finally:
            self.setup = False
        return self.room.event_id(event)


JOIN = {"membership": "join"}
LEAVE = {"membership": "leave"}
INVITE = {"membership": "invite"}
BAN = {"membership": "ban"}
KNOCK = {"membership": "knock"}


def via(user: str) -> JsonDict:
    """Content of a restricted join authorised by ``user``."""
    return {"membership": "join", "join_authorised_via_users_server": user}


def auth_script_create(s: AuthScript) -> None:
    """The create event rules, then the creator-join rule."""
    n, v = s.n, s.version
    s.new_room()
    content: JsonDict = {"room_version": v}
    if n <= 10:
        content["creator"] = ALICE
    if n >= 12:
        content["additional_creators"] = [OSCAR]
    create_id = s.do("create", CREATE, ALICE, content, "", prev=[])

    def create(
        label: str, sender: str, body: JsonDict, expect: bool, why: str | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("prev", [])
        s.probe(f"create: {label}", CREATE, sender, body, "", expect=expect, why=why, **kwargs)

    create(
        "prev_events not empty",
        ALICE,
        content,
        False,
        "Create event has prev events",
        prev=[create_id],
    )
    if n <= 11:
        body = {**content, "creator": BOB} if n <= 10 else content
        create(
            "room_id on another server than the sender",
            BOB,
            body,
            False,
            "room_id domain does not match",
        )
    create(
        "unsupported room_version '99'",
        ALICE,
        {**content, "room_version": "99"},
        False,
        "unsupported version",
    )
    create(
        "room_version given as a JSON integer",
        ALICE,
        {**content, "room_version": n},
        False,
        "unsupported version",
    )
    create("room_version absent (means '1')", ALICE, without(content, "room_version"), True)
    other = "9" if n != 9 else "4"
    create(
        f"content.room_version '{other}' differs from the room's version",
        ALICE,
        {**content, "room_version": other},
        True,
    )
    if n <= 10:
        create("no creator", ALICE, without(content, "creator"), False, "lacks a 'creator'")
        create(
            "creator names another user than the sender", ALICE, {**content, "creator": CAROL}, True
        )
    else:
        create("no creator (not needed from v11)", ALICE, without(content, "creator"), True)
        create(
            "legacy creator field naming another user (ignored)",
            ALICE,
            {**content, "creator": CAROL},
            True,
        )
    create("m.federate false", ALICE, {**content, "m.federate": False}, True)
    if n >= 12:
        create(
            "additional_creators not an array",
            ALICE,
            {**content, "additional_creators": OSCAR},
            False,
            "must be an array",
        )
        create(
            "additional_creators entry not a string",
            ALICE,
            {**content, "additional_creators": [OSCAR, 5]},
            False,
            "not a string",
        )
        create(
            "additional_creators entry not a user ID",
            ALICE,
            {**content, "additional_creators": ["oscar"]},
            False,
            "not a valid user ID",
        )
        create(
            "additional_creators entry with an empty server name",
            ALICE,
            {**content, "additional_creators": ["@oscar:"]},
            False,
            "not a valid user ID",
        )
        create(
            "additional_creators entry longer than 255 bytes",
            ALICE,
            {**content, "additional_creators": ["@" + "o" * 250 + ":d.example"]},
            False,
            "too long",
        )
        create("additional_creators empty", ALICE, {**content, "additional_creators": []}, True)
        create(
            "additional_creators with two users",
            ALICE,
            {**content, "additional_creators": [OSCAR, BOB]},
            True,
        )
        create(
            "additional_creators listing the sender",
            ALICE,
            {**content, "additional_creators": [ALICE]},
            True,
        )
        s.probe(
            f"{QUIRK}create carrying room_id: Synapse cannot even parse it (bad_input); "
            "the spec's rule 1.2 rejects it",
            CREATE,
            ALICE,
            content,
            "",
            expect=None,
            prev=[],
            extra={"room_id": "!" + create_id[1:]},
        )
    else:
        create(
            "additional_creators is not a rule before v12 (junk ignored)",
            ALICE,
            {**content, "additional_creators": "junk"},
            True,
        )

    # The creator's join right after the create event.
    s.probe(
        "join right after create by someone else than the creator",
        MEMBER,
        BOB,
        JOIN,
        BOB,
        expect=False,
        why="not invited",
    )
    s.do("creator joins (prev_events = [create])", MEMBER, ALICE, JOIN, ALICE)

    # content.creator versus the create event's sender.
    s.new_room()
    body = {"room_version": v, "creator": CAROL}
    create_id = s.do(
        "create naming another user in content.creator", CREATE, ALICE, body, "", prev=[]
    )
    s.probe(
        "join right after create by content.creator (the creator up to v10)",
        MEMBER,
        CAROL,
        JOIN,
        CAROL,
        prev=[create_id],
        expect=n <= 10,
        why=None if n <= 10 else "not invited",
    )
    s.probe(
        "join right after create by the create event's sender (the creator from v11)",
        MEMBER,
        ALICE,
        JOIN,
        ALICE,
        prev=[create_id],
        expect=n >= 11,
        why=None if n >= 11 else "not invited",
    )


def auth_script_main(s: AuthScript) -> None:
    """A busy federated room: power levels, messages, memberships, join rules."""
    n, v = s.n, s.version
    room = s.new_room()
    content: JsonDict = {"room_version": v}
    if n <= 10:
        content["creator"] = ALICE
    if n >= 12:
        content["additional_creators"] = [OSCAR]
    s.do("create", CREATE, ALICE, content, "", prev=[])
    s.do("creator joins (prev_events = [create])", MEMBER, ALICE, JOIN, ALICE)
    users = {ALICE: 100, BOB: 50, CAROL: 25, DAVE: 10, FRANK: 50}
    if n >= 12:
        del users[ALICE]
    power = {
        "users": users,
        "state_default": 50,
        "ban": 50,
        "kick": 50,
        "invite": 0,
        "events": {NAME: 50, "m.room.tombstone": 100},
        "notifications": {"room": 50},
    }
    s.do("initial power levels", POWER, ALICE, power, "")
    s.do("join rules public", JOIN_RULES, ALICE, {"join_rule": "public"}, "")
    for user in (BOB, CAROL, DAVE, ERIN, FRANK):
        s.do("join (public room)", MEMBER, user, JOIN, user)
    if n >= 12:
        s.do("additional creator joins", MEMBER, OSCAR, JOIN, OSCAR)
    token_dave = "tokd" + random_word(s.rng, 8, 8)
    id_key = KeyPair(IDENTITY_SERVER, "ed25519:0")
    s.do(
        "third_party_invite event by a user at the invite level",
        TP_INVITE,
        DAVE,
        third_party_invite_content(id_key.public),
        token_dave,
    )
    msg = lambda: {"msgtype": "m.text", "body": random_word(s.rng)}  # noqa: E731

    # -- sending levels and state keys ----------------------------------------
    s.probe("message at events_default", MESSAGE, DAVE, msg(), expect=True)
    s.probe(
        "topic below state_default",
        TOPIC,
        CAROL,
        {"topic": "t"},
        "",
        expect=False,
        why="user_level (25) < send_level (50)",
    )
    s.do("topic at state_default", TOPIC, BOB, {"topic": "hello"}, "")
    s.probe(
        "name below its events level",
        NAME,
        CAROL,
        {"name": "n"},
        "",
        expect=False,
        why="send_level (50)",
    )
    s.probe(
        "custom state at state_default", "com.example.widget", BOB, {"url": "u"}, "w1", expect=True
    )
    s.probe(
        "custom state below state_default",
        "com.example.widget",
        DAVE,
        {"url": "u"},
        "w1",
        expect=False,
        why="user_level (10) < send_level (50)",
    )
    s.probe(
        "state key is the sender's own user ID",
        "com.example.status",
        BOB,
        {"s": 1},
        BOB,
        expect=True,
    )
    s.probe(
        "state key is another user's ID",
        "com.example.status",
        BOB,
        {"s": 1},
        CAROL,
        expect=False,
        why="set others state",
    )
    s.probe(
        "state key is another user's ID, sender has the highest power",
        "com.example.status",
        ALICE,
        {"s": 1},
        BOB,
        expect=False,
        why="set others state",
    )
    s.probe(
        "state key is the sender's ID plus a suffix",
        "com.example.status",
        BOB,
        {"s": 1},
        BOB + "_x",
        expect=False,
        why="set others state",
    )
    s.probe(
        "state key '@' alone",
        "com.example.status",
        BOB,
        {"s": 1},
        "@",
        expect=False,
        why="set others state",
    )
    s.probe(
        "state key naming a user without '@'",
        "com.example.status",
        BOB,
        {"s": 1},
        "bob:b.example",
        expect=True,
    )
    s.probe(
        "tombstone below its events level",
        "m.room.tombstone",
        BOB,
        {"body": "b", "replacement_room": "!new:a.example"},
        "",
        expect=False,
        why="send_level (100)",
    )
    s.probe(
        "message from a user who never joined",
        MESSAGE,
        HEIDI,
        msg(),
        expect=False,
        why="not in room",
    )
    s.probe(
        "state from a user who never joined",
        TOPIC,
        HEIDI,
        {"topic": "t"},
        "",
        expect=False,
        why="not in room",
    )
    power = s.power()
    s.do(
        "power levels: events_default 20, topic 25",
        POWER,
        ALICE,
        edited(power, ("events_default", 20), ("events", TOPIC, 25)),
        "",
    )
    s.probe(
        "message below events_default",
        MESSAGE,
        DAVE,
        msg(),
        expect=False,
        why="user_level (10) < send_level (20)",
    )
    s.probe("message above events_default", MESSAGE, CAROL, msg(), expect=True)
    s.probe(
        "topic at its events level (below state_default)",
        TOPIC,
        CAROL,
        {"topic": "t"},
        "",
        expect=True,
    )
    s.do(
        "power levels: m.room.message 0",
        POWER,
        ALICE,
        edited(s.power(), ("events", MESSAGE, 0)),
        "",
    )
    s.probe("message type listed below events_default", MESSAGE, DAVE, msg(), expect=True)
    s.probe(
        "unlisted message type falls back to events_default",
        "com.example.ping",
        DAVE,
        {"n": 1},
        expect=False,
        why="send_level (20)",
    )
    s.do(
        "power levels: events_default back to 0",
        POWER,
        ALICE,
        edited(s.power(), ("events_default", 0)),
        "",
    )

    # -- power level changes ----------------------------------------------------
    def pl(
        label: str, sender: str, changes: list[tuple], expect: bool | None, why: str | None = None
    ) -> None:
        s.probe(
            f"power levels: {label}",
            POWER,
            sender,
            edited(s.power(), *changes),
            "",
            expect=expect,
            why=why,
        )

    greater = "greater than your own"
    equal = "equal to your own"
    pl("raise another user, still below own", BOB, [("users", CAROL, 40)], True)
    pl("raise another user above own", BOB, [("users", CAROL, 60)], False, greater)
    pl("lower another user below own", BOB, [("users", CAROL, 0)], True)
    pl("remove another user below own", BOB, [("users", CAROL, DELETE)], True)
    pl("lower another user at own level", BOB, [("users", FRANK, 0)], False, equal)
    pl("remove another user at own level", BOB, [("users", FRANK, DELETE)], False, equal)
    pl("lower own level", BOB, [("users", BOB, 10)], True)
    pl("remove own entry", BOB, [("users", BOB, DELETE)], True)
    pl("raise own level", BOB, [("users", BOB, 60)], False, greater)
    pl("add a user at own level", BOB, [("users", ERIN, 50)], True)
    pl("add a user above own level", BOB, [("users", ERIN, 51)], False, greater)
    pl("lower ban", BOB, [("ban", 40)], True)
    pl("raise kick above own", BOB, [("kick", 75)], False, greater)
    pl("raise users_default to own level", BOB, [("users_default", 50)], True)
    pl("raise users_default above own", BOB, [("users_default", 60)], False, greater)
    pl("raise state_default above own", BOB, [("state_default", 100)], False, greater)
    pl("raise invite to own level", BOB, [("invite", 50)], True)
    pl("raise redact above own", BOB, [("redact", 51)], False, greater)
    pl(
        "remove an events entry above own",
        BOB,
        [("events", "m.room.tombstone", DELETE)],
        False,
        greater,
    )
    pl("lower an events entry", BOB, [("events", NAME, 25)], True)
    pl("add an events entry above own", BOB, [("events", "com.example.x", 51)], False, greater)
    pl(
        "raise notifications.room above own (checked from v6)",
        BOB,
        [("notifications", "room", 75)],
        n <= 5,
        None if n <= 5 else greater,
    )
    pl("lower notifications.room", BOB, [("notifications", "room", 10)], True)
    pl("raise a moderator to the sender's level", ALICE, [("users", BOB, 100)], True)
    pl("demote a moderator", ALICE, [("users", BOB, 0)], True)
    pl(
        "sent by a user below the power levels' send level",
        DAVE,
        [],
        False,
        "user_level (10) < send_level (50)",
    )
    pl("sent by a user who never joined", HEIDI, [], False, "not in room")
    pl("users key without '@'", BOB, [("users", "bob", 10)], False, "Not a valid user_id")
    pl(
        "users key without a server name",
        BOB,
        [("users", "@bob", 10)],
        False,
        "Not a valid user_id",
    )
    pl(
        "users key that is a room alias",
        BOB,
        [("users", "#room:a.example", 10)],
        False,
        "Not a valid user_id",
    )
    pl(
        "users value not a number",
        BOB,
        [("users", CAROL, "high")],
        False,
        "Not a valid power level",
    )
    pl("users value null", BOB, [("users", CAROL, None)], False, "Not a valid power level")
    pl("users not an object", BOB, [("users", "nope")], False, "has no attribute 'items'")
    pl("users value a list", BOB, [("users", CAROL, [30])], False, "Not a valid power level")
    if n <= 9:
        pl("string users value (allowed up to v9)", BOB, [("users", CAROL, "30")], True)
        pl("string users value with spaces and a sign", BOB, [("users", CAROL, " +40 ")], True)
        pl("string users value with leading zeros", BOB, [("users", CAROL, "040")], True)
        pl("string users value above own", BOB, [("users", CAROL, "60")], False, greater)
        pl("string ban level", BOB, [("ban", "40")], True)
        pl("string events level", BOB, [("events", NAME, "25")], True)
        pl(
            f"{QUIRK}string users value with an underscore: Python's int() reads '3_0' as 30; "
            "the spec's grammar has no underscores",
            BOB,
            [("users", CAROL, "3_0")],
            None,
        )
        pl(
            f"{QUIRK}string users value in Arabic-Indic digits: Python's int() reads it; the "
            "spec's grammar allows ASCII digits only",
            BOB,
            [("users", CAROL, "\u0663\u0660")],
            None,
        )
        pl(
            f"{QUIRK}boolean users value: Python's int(True) is 1 (the spec: not an integer)",
            BOB,
            [("users", CAROL, True)],
            None,
        )
        pl(
            f"{QUIRK}events value that is not a number, with an older power levels event: "
            "Synapse raises ValueError while comparing (the spec: not an integer)",
            BOB,
            [("events", NAME, "fifty")],
            None,
        )
    else:
        pl(
            "string users value (integers only from v10)",
            BOB,
            [("users", CAROL, "30")],
            False,
            "must be a dict wherein all the values are integers",
        )
        pl(
            "string ban level (integers only from v10)",
            BOB,
            [("ban", "40")],
            False,
            "must be an integer",
        )
        pl(
            "string events level (integers only from v10)",
            BOB,
            [("events", NAME, "25")],
            False,
            "must be a dict wherein",
        )
        pl(
            "string notifications level (integers only from v10)",
            BOB,
            [("notifications", "room", "50")],
            False,
            "must be a dict wherein",
        )
        pl("events not an object (v10+)", BOB, [("events", [])], False, "must be a dict wherein")
        pl(
            "boolean users value (v10+)",
            BOB,
            [("users", CAROL, True)],
            False,
            "must be a dict wherein",
        )
        pl("boolean kick level (v10+)", BOB, [("kick", True)], False, "must be an integer")
        pl(
            "float users value (v10+)",
            BOB,
            [("users", CAROL, 30.0)],
            False,
            "must be a dict wherein",
        )
        pl("float kick level (v10+)", BOB, [("kick", 50.0)], False, "must be an integer")
    if n <= 5:
        pl("float users value (truncated, v1-5)", BOB, [("users", CAROL, 30.9)], True)
        pl("float users value truncating to own level", BOB, [("users", CAROL, 50.9)], True)
        pl("float users value above own", BOB, [("users", CAROL, 51.5)], False, greater)
        pl("float kick level (truncated)", BOB, [("kick", 49.9)], True)
        pl(
            "users value 2**60 (v1-5 allow big integers)",
            ALICE,
            [("users", CAROL, 2**60)],
            False,
            greater,
        )
        pl("ban level 2**70", ALICE, [("ban", 2**70)], False, greater)
    elif n <= 9:
        pl(
            f"{QUIRK}float users value in v{n}: Synapse's int() truncates it; such an event is "
            "not canonical JSON and is dropped before auth",
            BOB,
            [("users", CAROL, 30.9)],
            None,
        )
        pl(
            f"{QUIRK}float kick level in v{n}: accepted by Synapse (not canonical JSON)",
            BOB,
            [("kick", 49.9)],
            None,
        )
    pl(
        "users value 2**53-1",
        ALICE,
        [("users", CAROL, 2**53 - 1)],
        n >= 12,
        None if n >= 12 else greater,
    )
    pl(
        f"{QUIRK}users key with a space in the localpart: Synapse accepts it (the historical "
        "user ID grammar does not)",
        BOB,
        [("users", "@b ob:b.example", 10)],
        None,
    )
    pl(
        f"{QUIRK}users key with an empty server name: Synapse accepts it",
        BOB,
        [("users", "@bob:", 10)],
        None,
    )
    if n >= 12:
        pl(
            "creator listed in users",
            ALICE,
            [("users", ALICE, 100)],
            False,
            "must not appear in content.users",
        )
        pl(
            "additional creator listed in users",
            ALICE,
            [("users", OSCAR, 100)],
            False,
            "Additional creators users must not appear",
        )
        pl(
            "additional creator raises a user to 2**53-1",
            OSCAR,
            [("users", CAROL, 2**53 - 1)],
            True,
        )
        pl("moderator raises a user to 2**53-1", BOB, [("users", CAROL, 2**53 - 1)], False, greater)
        pl(
            f"{QUIRK}creator sets a level above 2**53: Synapse's creators have power 2**53 and "
            "it rejects (the spec: creators' power is infinite; the value is not canonical "
            "JSON anyway)",
            ALICE,
            [("users", CAROL, 2**53 + 1)],
            None,
        )

    # -- redactions -------------------------------------------------------------
    bob_message = s.do("message", MESSAGE, BOB, msg())
    carol_message = s.do("message", MESSAGE, CAROL, msg())

    def redact(
        label: str,
        sender: str,
        target: str | None,
        expect: bool | None,
        why: str | None = None,
        **kwargs: Any,
    ) -> None:
        body: JsonDict = {"reason": "r"}
        extra = None
        if target is not None:
            if n >= 11:
                body["redacts"] = target
            else:
                extra = {"redacts": target}
        s.probe(
            f"redaction: {label}",
            "m.room.redaction",
            sender,
            body,
            extra=extra,
            expect=expect,
            why=why,
            **kwargs,
        )

    redact("by a user at the redact level", BOB, carol_message, True)
    redact(
        "below the redact level, of an event from the sender's server", CAROL, carol_message, True
    )
    redact(
        "below the redact level, of an event from another server",
        CAROL,
        bob_message,
        n >= 3,
        "permission to redact events" if n <= 2 else None,
    )
    if n <= 2:
        redact(
            "below the redact level, the redaction's event ID on the redacted event's server",
            CAROL,
            bob_message,
            True,
            id_server="b.example",
        )
        redact(
            f"{QUIRK}without redacts, below the redact level: Synapse allows it (the spec's "
            "v1-2 rule has no redacted event ID to match)",
            CAROL,
            None,
            None,
        )
    redact("by a user who is not joined", HEIDI, bob_message, False, "not in room")

    # -- joins, leaves, unknown memberships --------------------------------------
    s.do("join (public room)", MEMBER, GRACE, JOIN, GRACE)
    s.probe(
        "join on behalf of another user",
        MEMBER,
        BOB,
        JOIN,
        HEIDI,
        expect=False,
        why="Cannot force another user to join",
    )
    s.probe(
        "profile change (join while joined)",
        MEMBER,
        CAROL,
        {"membership": "join", "displayname": "Carol"},
        CAROL,
        expect=True,
    )
    s.do("self leave", MEMBER, GRACE, LEAVE, GRACE)
    s.probe(
        "self leave while already left",
        MEMBER,
        GRACE,
        LEAVE,
        GRACE,
        expect=False,
        why="not in room",
    )
    s.probe(
        "self leave without ever joining",
        MEMBER,
        HEIDI,
        LEAVE,
        HEIDI,
        expect=False,
        why="not in room",
    )
    s.do("rejoin a public room after leaving", MEMBER, GRACE, JOIN, GRACE)
    s.probe(
        "unknown membership 'kick'",
        MEMBER,
        BOB,
        {"membership": "kick"},
        DAVE,
        expect=False,
        why="Unknown membership kick",
    )
    s.probe(
        "membership 'JOIN' (case matters)",
        MEMBER,
        CAROL,
        {"membership": "JOIN"},
        CAROL,
        expect=False,
        why="Unknown membership JOIN",
    )
    if n <= 6:
        s.probe(
            "knock before room version 7 (unknown membership)",
            MEMBER,
            HEIDI,
            KNOCK,
            HEIDI,
            expect=False,
            why="Unknown membership knock",
        )
    s.probe(
        "member event without membership (Synapse fails on the missing key)",
        MEMBER,
        HEIDI,
        {"displayname": "h"},
        HEIDI,
        expect=False,
    )
    s.probe(
        "member event without state_key (Synapse fails on the missing key)",
        MEMBER,
        BOB,
        LEAVE,
        BOB,
        drop=("state_key",),
        expect=False,
    )

    # -- bans, unbans, kicks ---------------------------------------------------------
    s.do("ban", MEMBER, BOB, {"membership": "ban", "reason": "spam"}, ERIN)
    s.probe(
        "join while banned",
        MEMBER,
        ERIN,
        JOIN,
        ERIN,
        expect=False,
        why="You are banned from this room",
    )
    s.probe("self leave while banned", MEMBER, ERIN, LEAVE, ERIN, expect=False, why="not in room")
    s.probe("message while banned", MESSAGE, ERIN, msg(), expect=False, why="not in room")
    s.probe(
        "invite a banned user",
        MEMBER,
        BOB,
        INVITE,
        ERIN,
        expect=False,
        why="is banned from the room",
    )
    s.probe(
        "unban below the ban level", MEMBER, CAROL, LEAVE, ERIN, expect=False, why="cannot unban"
    )
    s.do("unban", MEMBER, BOB, LEAVE, ERIN)
    s.probe(
        "ban below the ban level", MEMBER, CAROL, BAN, DAVE, expect=False, why="permission to ban"
    )
    s.probe(
        "ban a user at the sender's level",
        MEMBER,
        BOB,
        BAN,
        FRANK,
        expect=False,
        why="permission to ban this user",
    )
    s.probe("ban oneself", MEMBER, BOB, BAN, BOB, expect=False, why="permission to ban this user")
    s.probe(
        "ban a more powerful user",
        MEMBER,
        BOB,
        BAN,
        ALICE,
        expect=False,
        why="permission to ban this user",
    )
    s.do("ban a user who never joined", MEMBER, BOB, BAN, WENDY)
    s.probe("ban an already banned user", MEMBER, BOB, BAN, WENDY, expect=True)
    s.probe(
        "ban by a user who is not joined", MEMBER, HEIDI, BAN, DAVE, expect=False, why="not in room"
    )
    s.do("power levels: grace 60", POWER, ALICE, edited(s.power(), ("users", GRACE, 60)), "")
    s.do("ban a user at 60", MEMBER, ALICE, BAN, GRACE)
    s.probe(
        "unban with the ban level but below the target's level",
        MEMBER,
        BOB,
        LEAVE,
        GRACE,
        expect=False,
        why="cannot kick",
    )
    s.do("unban by a more powerful user", MEMBER, ALICE, LEAVE, GRACE)
    s.do(
        "power levels: grace removed", POWER, ALICE, edited(s.power(), ("users", GRACE, DELETE)), ""
    )
    s.do("rejoin after an unban", MEMBER, GRACE, JOIN, GRACE)
    s.probe("kick", MEMBER, BOB, {"membership": "leave", "reason": "out"}, GRACE, expect=True)
    s.probe(
        "kick below the kick level", MEMBER, CAROL, LEAVE, DAVE, expect=False, why="cannot kick"
    )
    s.probe(
        "kick a user at the sender's level",
        MEMBER,
        BOB,
        LEAVE,
        FRANK,
        expect=False,
        why="cannot kick",
    )
    s.probe("kick a more powerful user", MEMBER, BOB, LEAVE, ALICE, expect=False, why="cannot kick")
    s.probe(
        "kick by a user who is not joined",
        MEMBER,
        HEIDI,
        LEAVE,
        DAVE,
        expect=False,
        why="not in room",
    )
    s.probe("kick a user who never joined", MEMBER, BOB, LEAVE, JUDY, expect=True)
    if n >= 12:
        s.probe(
            "kick the additional creator",
            MEMBER,
            BOB,
            LEAVE,
            OSCAR,
            expect=False,
            why="cannot kick",
        )
        s.probe(
            "additional creator kicks the creator",
            MEMBER,
            OSCAR,
            LEAVE,
            ALICE,
            expect=False,
            why="cannot kick",
        )
        s.probe(
            "additional creator bans the creator",
            MEMBER,
            OSCAR,
            BAN,
            ALICE,
            expect=False,
            why="permission to ban this user",
        )
        s.probe(
            "creator bans the additional creator",
            MEMBER,
            ALICE,
            BAN,
            OSCAR,
            expect=False,
            why="permission to ban this user",
        )
        s.probe("additional creator kicks a moderator", MEMBER, OSCAR, LEAVE, BOB, expect=True)

    # -- invites ----------------------------------------------------------------------
    s.do("invite", MEMBER, ALICE, {"membership": "invite", "reason": "join us"}, HEIDI)
    s.probe("message from an invited user", MESSAGE, HEIDI, msg(), expect=False, why="not in room")
    s.probe(
        "invite sent by an invited user",
        MEMBER,
        HEIDI,
        INVITE,
        IVAN,
        expect=False,
        why="not in room",
    )
    s.probe("invite an already invited user", MEMBER, ALICE, INVITE, HEIDI, expect=True)
    s.probe(
        "invite a joined user", MEMBER, BOB, INVITE, CAROL, expect=False, why="already in the room"
    )
    s.do("reject an invite (self leave)", MEMBER, HEIDI, LEAVE, HEIDI)
    s.do("invite after leaving", MEMBER, ALICE, INVITE, HEIDI)
    s.do("power levels: invite 20", POWER, ALICE, edited(s.power(), ("invite", 20)), "")
    s.probe(
        "invite below the invite level",
        MEMBER,
        DAVE,
        INVITE,
        IVAN,
        expect=False,
        why="permission to invite users",
    )
    s.do("invite at the invite level", MEMBER, CAROL, INVITE, IVAN)
    s.probe("revoke an invite (kick an invited user)", MEMBER, BOB, LEAVE, IVAN, expect=True)
    s.probe(
        "third_party_invite event below the invite level",
        TP_INVITE,
        DAVE,
        third_party_invite_content(id_key.public),
        "tokz",
        expect=False,
        why="permission to invite users",
    )
    s.probe(
        "third_party_invite event from a user who is not joined",
        TP_INVITE,
        HEIDI,
        third_party_invite_content(id_key.public),
        "tokz",
        expect=False,
        why="not in room",
    )
    s.probe(
        "third_party_invite event with another user's ID as state key (no @-key rule)",
        TP_INVITE,
        CAROL,
        third_party_invite_content(id_key.public),
        BOB,
        expect=True,
    )

    # -- join rules: invite, private, unknown, missing ------------------------------------
    s.do("join rules invite", JOIN_RULES, ALICE, {"join_rule": "invite"}, "")
    s.probe(
        "join an invite-only room uninvited",
        MEMBER,
        JUDY,
        JOIN,
        JUDY,
        expect=False,
        why="not invited",
    )
    s.do("join an invite-only room while invited", MEMBER, HEIDI, JOIN, HEIDI)
    s.probe(
        "profile change in an invite-only room",
        MEMBER,
        CAROL,
        {"membership": "join", "displayname": "C"},
        CAROL,
        expect=True,
    )
    s.do("join rules private", JOIN_RULES, ALICE, {"join_rule": "private"}, "")
    s.probe(
        "join a private room", MEMBER, JUDY, JOIN, JUDY, expect=False, why="not allowed to join"
    )
    s.probe(
        "join a private room while invited",
        MEMBER,
        IVAN,
        JOIN,
        IVAN,
        expect=False,
        why="not allowed to join",
    )
    s.do("join rules with an unknown value", JOIN_RULES, ALICE, {"join_rule": "secret"}, "")
    s.probe(
        "join with an unknown join rule",
        MEMBER,
        JUDY,
        JOIN,
        JUDY,
        expect=False,
        why="not allowed to join",
    )
    s.do("join rules without join_rule", JOIN_RULES, ALICE, {}, "")
    s.probe(
        "join uninvited when join_rules lacks join_rule",
        MEMBER,
        JUDY,
        JOIN,
        JUDY,
        expect=False,
        why="not invited",
    )
    s.probe(
        f"{QUIRK}join while invited when join_rules lacks join_rule: Synapse reads the "
        "missing rule as invite and allows (the spec: no known rule, reject)",
        MEMBER,
        IVAN,
        JOIN,
        IVAN,
        expect=True,
    )

    # -- knocking ------------------------------------------------------------------------
    s.do("join rules knock", JOIN_RULES, ALICE, {"join_rule": "knock"}, "")
    if n >= 7:
        s.do(
            "knock on a knock room",
            MEMBER,
            JUDY,
            {"membership": "knock", "reason": "let me in"},
            JUDY,
        )
        s.probe(
            "join after knocking, not invited",
            MEMBER,
            JUDY,
            JOIN,
            JUDY,
            expect=False,
            why="not invited",
        )
        s.probe("knock again", MEMBER, JUDY, KNOCK, JUDY, expect=True)
        s.probe(
            "knock for another user",
            MEMBER,
            BOB,
            KNOCK,
            KEN,
            expect=False,
            why="knock for other users",
        )
        s.probe("knock while joined", MEMBER, CAROL, KNOCK, CAROL, expect=False, why="already in")
        s.probe(
            "knock while invited", MEMBER, IVAN, KNOCK, IVAN, expect=False, why="already invited"
        )
        s.probe(
            "knock while banned",
            MEMBER,
            WENDY,
            KNOCK,
            WENDY,
            expect=False,
            why="You are banned from this room",
        )
        s.probe("rescind a knock (self leave)", MEMBER, JUDY, LEAVE, JUDY, expect=True)
        s.do("invite a user who knocked", MEMBER, ALICE, INVITE, JUDY)
        s.probe("join a knock room while invited", MEMBER, JUDY, JOIN, JUDY, expect=True)
    else:
        s.probe(
            "knock before room version 7 on a room with join rule knock",
            MEMBER,
            JUDY,
            KNOCK,
            JUDY,
            expect=False,
            why="Unknown membership knock",
        )
        s.probe(
            "join while invited, join rule knock unknown before v7",
            MEMBER,
            IVAN,
            JOIN,
            IVAN,
            expect=False,
            why="not allowed to join",
        )

    # -- restricted joins ---------------------------------------------------------------
    allow = [{"type": "m.room_membership", "room_id": "!space:a.example"}]
    s.do(
        "join rules restricted", JOIN_RULES, ALICE, {"join_rule": "restricted", "allow": allow}, ""
    )
    if n >= 8:
        s.do(
            "restricted join authorised by an admin",
            MEMBER,
            PEGGY,
            via(ALICE),
            PEGGY,
            signers=["b.example", "a.example"],
        )
        s.probe(
            "restricted join without an authorising user",
            MEMBER,
            TRENT,
            JOIN,
            TRENT,
            expect=False,
            why="missing authorising user",
        )
        s.probe(
            "restricted join authorised by a user who is not joined",
            MEMBER,
            TRENT,
            via(KEN),
            TRENT,
            signers=["c.example"],
            expect=False,
            why="not in room",
        )
        s.probe(
            "restricted join authorised by a user below the invite level",
            MEMBER,
            TRENT,
            via(DAVE),
            TRENT,
            signers=["c.example", "d.example"],
            expect=False,
            why="authorised by invalid server",
        )
        s.probe(
            "restricted join authorised by a user at the invite level",
            MEMBER,
            TRENT,
            via(CAROL),
            TRENT,
            signers=["c.example"],
            expect=True,
        )
        s.probe(
            "restricted join while invited, no authorising user",
            MEMBER,
            IVAN,
            JOIN,
            IVAN,
            expect=True,
        )
        s.probe(
            "restricted join while banned",
            MEMBER,
            WENDY,
            via(ALICE),
            WENDY,
            signers=["d.example", "a.example"],
            expect=False,
            why="You are banned from this room",
        )
    else:
        s.probe(
            "join with join rule restricted before v8",
            MEMBER,
            PEGGY,
            via(ALICE),
            PEGGY,
            signers=["b.example", "a.example"],
            expect=False,
            why="not allowed to join",
        )
        s.probe(
            "join while invited, join rule restricted unknown before v8",
            MEMBER,
            IVAN,
            JOIN,
            IVAN,
            expect=False,
            why="not allowed to join",
        )
    s.do(
        "join rules knock_restricted",
        JOIN_RULES,
        ALICE,
        {"join_rule": "knock_restricted", "allow": allow},
        "",
    )
    if n >= 10:
        s.probe("knock on a knock_restricted room", MEMBER, TRENT, KNOCK, TRENT, expect=True)
        s.probe(
            "restricted join in a knock_restricted room",
            MEMBER,
            TRENT,
            via(ALICE),
            TRENT,
            signers=["c.example", "a.example"],
            expect=True,
        )
        s.probe(
            "join a knock_restricted room without an authorising user",
            MEMBER,
            TRENT,
            JOIN,
            TRENT,
            expect=False,
            why="missing authorising user",
        )
        s.probe("join a knock_restricted room while invited", MEMBER, IVAN, JOIN, IVAN, expect=True)
    else:
        if n >= 7:
            s.probe(
                "knock with join rule knock_restricted before v10",
                MEMBER,
                TRENT,
                KNOCK,
                TRENT,
                expect=False,
                why="permission to knock",
            )
        s.probe(
            "join with join rule knock_restricted before v10",
            MEMBER,
            TRENT,
            via(ALICE),
            TRENT,
            signers=["c.example", "a.example"],
            expect=False,
            why="not allowed to join",
        )
    s.do("join rules public again", JOIN_RULES, ALICE, {"join_rule": "public"}, "")
    if n >= 7:
        s.probe(
            "knock on a public room",
            MEMBER,
            TRENT,
            KNOCK,
            TRENT,
            expect=False,
            why="permission to knock",
        )
    s.probe(
        "join_authorised_via_users_server in a public room (ignored)",
        MEMBER,
        TRENT,
        via(DAVE),
        TRENT,
        signers=["c.example", "d.example"],
        expect=True,
    )

    # -- third-party invites ------------------------------------------------------------
    not_invited = "not invited"
    token = "tok" + random_word(s.rng, 10, 10)
    s.do(
        "third_party_invite event (public_key and public_keys)",
        TP_INVITE,
        ALICE,
        third_party_invite_content(id_key.public, (id_key.public,)),
        token,
    )

    def tp(
        label: str,
        sender: str,
        target: str,
        third_party: Any,
        expect: bool | None,
        why: str | None = None,
    ) -> None:
        body = {"membership": "invite", "third_party_invite": third_party}
        s.probe(f"3pid invite: {label}", MEMBER, sender, body, target, expect=expect, why=why)

    def block(mxid: str, tok: str, key: KeyPair = id_key) -> JsonDict:
        return {"display_name": "z...@example.org", "signed": third_party_signed_by(mxid, tok, key)}

    tp("valid", ALICE, ZOE, block(ZOE, token), True)
    bad = block(ZOE, token)
    bad["signed"]["signatures"][IDENTITY_SERVER]["ed25519:0"] = flip_signature(
        bad["signed"]["signatures"][IDENTITY_SERVER]["ed25519:0"], s.rng
    )
    tp("signature altered", ALICE, ZOE, bad, False, not_invited)
    tp(
        "token of no third_party_invite event",
        ALICE,
        ZOE,
        block(ZOE, token + "x"),
        False,
        not_invited,
    )
    tp("no signed block", ALICE, ZOE, {"display_name": "z...@example.org"}, False, not_invited)
    unsigned = block(ZOE, token)
    del unsigned["signed"]["signatures"]
    tp("signed block without signatures", ALICE, ZOE, unsigned, False, not_invited)
    no_token = block(ZOE, token)
    del no_token["signed"]["token"]
    tp("signed block without token", ALICE, ZOE, no_token, False, not_invited)
    tp(
        "mxid is another user than the state key",
        ALICE,
        ZOE,
        block(YANN, token),
        False,
        not_invited,
    )
    tp(
        "sent by another user than the third_party_invite's sender",
        BOB,
        ZOE,
        block(ZOE, token),
        False,
        not_invited,
    )
    other_alg = block(ZOE, token)
    other_alg["signed"]["signatures"] = {IDENTITY_SERVER: {"curve25519:0": "AAAA"}}
    tp("signed only under a non-ed25519 key ID", ALICE, ZOE, other_alg, False, not_invited)
    tp(
        "signed under another server name and key ID with the listed key",
        ALICE,
        ZOE,
        block(ZOE, token, KeyPair("other.example", "ed25519:x", f"{IDENTITY_SERVER} ed25519:0")),
        True,
    )
    tp("third_party_invite not an object", ALICE, ZOE, "invite", False, not_invited)
    tp(
        "target banned, valid signature",
        ALICE,
        WENDY,
        block(WENDY, token),
        False,
        "is banned from the room",
    )
    bad = block(WENDY, token + "x")
    tp("target banned, token of no third_party_invite event", ALICE, WENDY, bad, False)
    tp(
        "target already joined (no membership check on this path)",
        ALICE,
        CAROL,
        block(CAROL, token),
        True,
    )
    key2 = KeyPair(IDENTITY_SERVER, "ed25519:1")
    token2 = "tok" + random_word(s.rng, 10, 10)
    s.do(
        "third_party_invite event with public_keys only",
        TP_INVITE,
        CAROL,
        third_party_invite_content(None, (key2.public,)),
        token2,
    )
    tp("key listed only in public_keys", CAROL, YANN, block(YANN, token2, key2), True)
    tp(
        "signed by a key the third_party_invite does not list",
        CAROL,
        YANN,
        block(YANN, token2, id_key),
        False,
        not_invited,
    )
    key3 = url_safe_identity_key()
    token3 = "tok" + random_word(s.rng, 10, 10)
    s.do(
        "third_party_invite event with a URL-safe base64 public_key",
        TP_INVITE,
        ALICE,
        third_party_invite_content(to_url_safe(key3.public)),
        token3,
    )
    tp("public_key in URL-safe base64", ALICE, YANN, block(YANN, token3, key3), True)
    token4 = "tok" + random_word(s.rng, 10, 10)
    s.do(
        "third_party_invite event: public_key wrong, public_keys right",
        TP_INVITE,
        ALICE,
        third_party_invite_content(key2.public, (id_key.public,)),
        token4,
    )
    tp("first listed key wrong, second right", ALICE, YANN, block(YANN, token4, id_key), True)
    tp(
        "sender below the invite level (no power check on this path)",
        DAVE,
        YANN,
        block(YANN, token_dave),
        True,
    )
    s.probe(
        "join carrying a third_party_invite block (only invites use it)",
        MEMBER,
        ZOE,
        {"membership": "join", "third_party_invite": block(ZOE, token)},
        ZOE,
        expect=True,
    )
    s.probe(
        "invite carrying join_authorised_via_users_server (only joins use it)",
        MEMBER,
        ALICE,
        {"membership": "invite", "join_authorised_via_users_server": BOB},
        KEN,
        expect=True,
    )
    dave_join = room.state[(MEMBER, DAVE)]
    dave_leave = s.do("self leave", MEMBER, DAVE, LEAVE, DAVE)
    tp(
        "sender no longer joined (no membership check on this path)",
        DAVE,
        YANN,
        block(YANN, token_dave),
        True,
    )

    # -- auth_events listing two member events for the sender -----------------------
    base = [room.events[room.state[(CREATE, "")]], room.events[room.state[(POWER, "")]]]
    s.probe(
        "message; auth_events hold the sender's join then leave (the later counts)",
        MESSAGE,
        DAVE,
        msg(),
        auth=base + [room.events[dave_join], room.events[dave_leave]],
        expect=False,
        why="not in room",
    )
    s.probe(
        "message; auth_events hold the sender's leave then join (the later counts)",
        MESSAGE,
        DAVE,
        msg(),
        auth=base + [room.events[dave_leave], room.events[dave_join]],
        expect=True,
    )

    # -- aliases -------------------------------------------------------------------------
    aliases = "m.room.aliases"
    old = n <= 5
    s.probe(
        "aliases for the sender's server",
        aliases,
        ALICE,
        {"aliases": ["#a:a.example"]},
        "a.example",
        expect=True,
    )
    s.probe(
        "aliases from a user below state_default",
        aliases,
        CAROL,
        {"aliases": ["#c:c.example"]},
        "c.example",
        expect=old,
        why=None if old else "send_level (50)",
    )
    s.probe(
        "aliases for another server",
        aliases,
        BOB,
        {"aliases": ["#b:a.example"]},
        "a.example",
        expect=not old,
        why="does not match sender's domain" if old else None,
    )
    s.probe(
        "aliases with an empty state key",
        aliases,
        BOB,
        {"aliases": []},
        "",
        expect=not old,
        why="non-empty state_key" if old else None,
    )
    s.probe(
        "aliases without a state key",
        aliases,
        BOB,
        {"aliases": []},
        expect=not old,
        why="must be a state event" if old else None,
    )
    s.probe(
        "aliases from a user who never joined",
        aliases,
        MALLORY,
        {"aliases": ["#m:d.example"]},
        "d.example",
        expect=old,
        why=None if old else "not in room",
    )

    # -- no create event among the auth events ---------------------------------------
    s.probe(
        "message", MESSAGE, BOB, msg(), mode="no_create", expect=False, why="missing a create event"
    )
    s.probe(
        "join", MEMBER, KEN, JOIN, KEN, mode="no_create", expect=False, why="missing a create event"
    )
    s.probe(
        "power levels",
        POWER,
        ALICE,
        s.power(),
        "",
        mode="no_create",
        expect=False,
        why="missing a create event",
    )
    s.probe(
        "ban", MEMBER, BOB, BAN, CAROL, mode="no_create", expect=False, why="missing a create event"
    )


def auth_script_federation(s: AuthScript) -> None:
    """m.federate: false, true, and values that are neither."""
    n, v = s.n, s.version
    for value, label in ((False, "false"), (True, "true"), ("false", "the string 'false'")):
        s.new_room()
        content: JsonDict = {"room_version": v, "m.federate": value}
        if n <= 10:
            content["creator"] = ALICE
        s.do(f"create, m.federate {label}", CREATE, ALICE, content, "", prev=[])
        s.do("creator joins", MEMBER, ALICE, JOIN, ALICE)
        s.do("join rules public", JOIN_RULES, ALICE, {"join_rule": "public"}, "")
        if value is False:
            s.do("join from the creator's server, m.federate false", MEMBER, ERIN, JOIN, ERIN)
            s.probe(
                "join from another server, m.federate false",
                MEMBER,
                BOB,
                JOIN,
                BOB,
                expect=False,
                why="unfederatable",
            )
            s.probe(
                "message from another server, m.federate false",
                MESSAGE,
                BOB,
                {"body": "hi"},
                expect=False,
                why="unfederatable",
            )
            s.probe(
                "message from the creator's server, m.federate false",
                MESSAGE,
                ERIN,
                {"body": "hi"},
                expect=True,
            )
            s.probe(
                f"{QUIRK}invite of a user on another server, m.federate false: Synapse "
                "also checks the target's server (the spec: only the sender's)",
                MEMBER,
                ALICE,
                INVITE,
                BOB,
                expect=False,
            )
        elif value is True:
            s.probe(
                "join from another server, m.federate true", MEMBER, BOB, JOIN, BOB, expect=True
            )
        else:
            s.probe(
                f"{QUIRK}join from another server, m.federate is the string 'false': "
                "Synapse federates only when the value is true (the spec blocks only "
                "false)",
                MEMBER,
                BOB,
                JOIN,
                BOB,
                expect=False,
            )


def auth_script_bare(s: AuthScript) -> None:
    """A room without power levels or join rules, then huge power levels."""
    n, v = s.n, s.version
    s.new_room()
    content: JsonDict = {"room_version": v}
    if n <= 10:
        content["creator"] = ALICE
    create_id = s.do("create", CREATE, ALICE, content, "", prev=[])
    s.do("creator joins", MEMBER, ALICE, JOIN, ALICE)
    s.probe(
        "join with prev_events = [create] by a user who is not the creator",
        MEMBER,
        BOB,
        JOIN,
        BOB,
        prev=[create_id],
        expect=False,
        why="not invited",
    )
    s.probe(
        "join with no join_rules event", MEMBER, BOB, JOIN, BOB, expect=False, why="not invited"
    )
    s.probe(
        "topic by the creator, no power levels event", TOPIC, ALICE, {"topic": "t"}, "", expect=True
    )
    s.do("invite, no power levels event", MEMBER, ALICE, INVITE, BOB)
    s.probe(
        f"{QUIRK}join while invited, no join_rules event: Synapse reads the missing rule "
        "as invite and allows (the spec: no join rule, reject)",
        MEMBER,
        BOB,
        JOIN,
        BOB,
        expect=True,
        commit=True,
    )
    s.probe(
        "topic by a user who is not the creator, no power levels event",
        TOPIC,
        BOB,
        {"topic": "t"},
        "",
        expect=False,
        why="user_level (0) < send_level (50)",
    )
    s.probe(
        "message by a user who is not the creator, no power levels event",
        MESSAGE,
        BOB,
        {"body": "hi"},
        expect=True,
    )
    s.probe(
        "kick the creator, no power levels event",
        MEMBER,
        BOB,
        LEAVE,
        ALICE,
        expect=False,
        why="cannot kick",
    )
    s.probe("ban by the creator, no power levels event", MEMBER, ALICE, BAN, BOB, expect=True)
    s.probe(
        "first power levels by a user who is not the creator",
        POWER,
        BOB,
        {"users": {BOB: 100}},
        "",
        expect=False,
        why="send_level (50)",
    )
    big = 2**60 if n <= 5 else 2**53 - 1
    users = {ALICE: big, BOB: big - 1}
    if n >= 12:
        users = {BOB: big - 1, CAROL: 1}
    label = "2**60" if n <= 5 else "2**53-1"
    s.do(
        f"first power levels, levels up to {label} (no older event to compare)",
        POWER,
        ALICE,
        {"users": users},
        "",
    )
    s.probe(
        f"raise a user to the sender's level {label}",
        POWER,
        ALICE,
        edited(s.power(), ("users", BOB, big)),
        "",
        expect=True,
    )
    s.probe(
        f"user at {label}-1 raises itself to {label}",
        POWER,
        BOB,
        edited(s.power(), ("users", BOB, big)),
        "",
        expect=False,
        why="greater than your own",
    )
    s.probe(
        f"user at {label}-1 lowers itself",
        POWER,
        BOB,
        edited(s.power(), ("users", BOB, 0)),
        "",
        expect=True,
    )
    s.probe(
        f"demote a user at {label}-1",
        POWER,
        ALICE,
        edited(s.power(), ("users", BOB, 0)),
        "",
        expect=True,
    )
    if n <= 5:
        s.probe(
            "raise oneself above 2**60",
            POWER,
            ALICE,
            edited(s.power(), ("users", ALICE, big + 1)),
            "",
            expect=False,
            why="greater than your own",
        )
    s.probe(
        "kick the creator by a user one level below the creator",
        MEMBER,
        BOB,
        LEAVE,
        ALICE,
        expect=False,
        why="cannot kick",
    )


def auth_records(rng: random.Random, version: str) -> list[AuthRecord]:
    """Every case the authorization script of one room version makes."""
    s = AuthScript(rng, version)
    auth_script_create(s)
    auth_script_main(s)
    auth_script_federation(s)
    auth_script_bare(s)
    return s.records


# ---------------------------------------------------------------------------
# State resolution: forked rooms
# ---------------------------------------------------------------------------

CHARLIE = "@charlie:c.example"
ZARA = "@zara:d.example"
EVELYN = "@evelyn:b.example"


class ResolveFailed(Exception):
    """Synapse's state resolution raised: the scenario is left out."""


class ForkScript:
    """Builds one forked room and turns branch states into ``resolve`` cases.

    Events are made on a branch with :meth:`act`, judged by the twin against
    the branch's state and committed only if allowed (a server would reject
    the others), so every state set is one a server could really hold.
    Merges (:meth:`merge`) take their state from the twin's resolution.
    """

    def __init__(self, rng: random.Random, version: str) -> None:
        self.rng = rng
        self.version = version
        self.n = int(version)
        self.room = SimRoom(rng, version)
        self.trunk = self.room.branch

    def creators(self) -> set[str]:
        """Users with creator power (room version 12)."""
        if self.n < 12:
            return set()
        create = self.room.events["$" + self.room.room_id[1:]]
        return {create["sender"], *create["content"].get("additional_creators", [])}

    def users(self, pairs: dict[str, int]) -> JsonDict:
        """A ``users`` map without the room's creators (v12 forbids listing them)."""
        creators = self.creators()
        return {user: level for user, level in pairs.items() if user not in creators}

    def act(
        self,
        branch: Branch,
        etype: str,
        sender: str,
        content: JsonDict,
        state_key: str | None = None,
        *,
        expect: bool | None = True,
        **make_args: Any,
    ) -> str | None:
        """Make an event on ``branch``; commit it if the auth rules allow it."""
        room = self.room
        room.use(branch)
        event = room.make(etype, sender, content, state_key, **make_args)
        answer = room.judge(event)
        allowed = answer.get("allowed") is True
        if expect is not None and allowed is not expect:
            raise AssertionError(
                f"v{self.version} {etype} by {sender} ({content}): expected {expect}, got {answer}"
            )
        if not allowed:
            return None
        return room.commit(event)

    def start(
        self,
        members: tuple[str, ...],
        levels: dict[str, int],
        *,
        creator: str = ALICE,
        additional_creators: tuple[str, ...] = (),
        join_rule: str = "public",
        power_extra: JsonDict | None = None,
    ) -> Branch:
        """Create the room, power levels, join rules and joins on the trunk."""
        content: JsonDict = {"room_version": self.version}
        if self.n <= 10:
            content["creator"] = creator
        if self.n >= 12 and additional_creators:
            content["additional_creators"] = list(additional_creators)
        trunk = self.trunk
        self.act(trunk, CREATE, creator, content, "", prev=[])
        self.act(trunk, MEMBER, creator, JOIN, creator)
        power = {"users": self.users(levels)}
        power.update(power_extra or {})
        self.act(trunk, POWER, creator, power, "")
        self.act(trunk, JOIN_RULES, creator, {"join_rule": "public"}, "")
        for user in members:
            if user != creator:
                self.act(trunk, MEMBER, user, JOIN, user)
        if join_rule != "public":
            self.act(trunk, JOIN_RULES, creator, {"join_rule": join_rule}, "")
        return trunk

    def power(self, branch: Branch, *changes: tuple) -> JsonDict:
        """The branch's power levels content with ``changes`` (see :func:`edited`)."""
        self.room.use(branch)
        return edited(self.room.content_of((POWER, "")), *changes)

    def fork(self, branch: Branch | None = None) -> Branch:
        """A new branch starting where ``branch`` (default: the trunk) is."""
        return self.room.fork(branch or self.trunk)

    def resolve_ids(self, states: list[dict]) -> list[str]:
        """The twin's resolution of some state maps (raises ResolveFailed)."""
        answer = twin.answer(self.case(states))
        if "error" in answer:
            raise ResolveFailed(answer.get("message"))
        return answer["state"]

    def merge(self, *branches: Branch) -> Branch:
        """A branch whose state is the resolution of ``branches`` and whose
        next event has all their tips as prev_events."""
        ids = self.resolve_ids([b.state for b in branches])
        state = {}
        for event_id in ids:
            event = self.room.events[event_id]
            state[(event["type"], event["state_key"])] = event_id
        tips: list[str] = []
        for branch in branches:
            tips.extend(t for t in branch.tips if t not in tips)
        return Branch(state, tips)

    def case(self, states: list[dict]) -> JsonDict:
        """A ``resolve`` case over state maps: events are their auth chain closure."""
        state_sets = []
        every: list[str] = []
        for state in states:
            ids = sorted(state.values())
            self.rng.shuffle(ids)
            state_sets.append(ids)
            every.extend(ids)
        closure = self.room.auth_chain_closure(every)
        closure.sort()
        self.rng.shuffle(closure)
        return {
            "op": "resolve",
            "room_version": self.version,
            "state_sets": state_sets,
            "events": [self.room.events[i] for i in closure],
        }


# -- the classic scenarios of Synapse's state resolution tests ------------------


def classic_start(f: ForkScript) -> Branch:
    """Alice creates; Bob, Charlie and Zara join a public room (Synapse's INITIAL_EVENTS)."""
    return f.start((BOB, CHARLIE, ZARA), {ALICE: 100})


def fork_ban_vs_pl(f: ForkScript) -> list[Branch]:
    """Alice gives Bob 50 then bans him; Bob, on a branch from the PL change, sets PL."""
    trunk = classic_start(f)
    f.act(trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    other = f.fork(trunk)
    f.act(trunk, MEMBER, ALICE, JOIN, ALICE)
    f.act(trunk, MEMBER, ALICE, BAN, BOB)
    f.act(other, POWER, BOB, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    return [trunk, other]


def fork_join_rule_evasion(f: ForkScript) -> list[Branch]:
    """Alice makes the room private while Evelyn joins it."""
    trunk = classic_start(f)
    other = f.fork(trunk)
    f.act(trunk, JOIN_RULES, ALICE, {"join_rule": "private"}, "")
    f.act(other, MEMBER, EVELYN, JOIN, EVELYN)
    return [trunk, other]


def fork_offtopic_pl(f: ForkScript) -> list[Branch]:
    """A chain of power level changes against the first of them."""
    trunk = classic_start(f)
    f.act(trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    other = f.fork(trunk)
    f.act(trunk, POWER, BOB, {"users": f.users({ALICE: 100, BOB: 50, CHARLIE: 50})}, "")
    f.act(trunk, POWER, CHARLIE, {"users": f.users({ALICE: 100, BOB: 50, CHARLIE: 0})}, "")
    return [trunk, other]


def fork_topic_basic(f: ForkScript) -> list[Branch]:
    """Topics under a power change that demotes their sender on the other branch."""
    trunk = classic_start(f)
    f.act(trunk, TOPIC, ALICE, {"topic": "T1"}, "")
    f.act(trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    other = f.fork(trunk)
    f.act(trunk, TOPIC, ALICE, {"topic": "T2"}, "")
    f.act(trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 0})}, "")
    f.act(other, POWER, BOB, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    f.act(other, TOPIC, BOB, {"topic": "T3"}, "")
    return [trunk, other]


def fork_topic_reset(f: ForkScript) -> list[Branch]:
    """Bob's topic, then his ban, against the earlier topic."""
    trunk = classic_start(f)
    f.act(trunk, TOPIC, ALICE, {"topic": "T1"}, "")
    other = f.fork(trunk)
    f.act(trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    f.act(trunk, TOPIC, BOB, {"topic": "T2"}, "")
    f.act(trunk, MEMBER, ALICE, BAN, BOB)
    return [trunk, other]


def fork_topic(f: ForkScript) -> list[Branch]:
    """topic_basic, merged by Zara's message, then another topic from Alice."""
    trunk = classic_start(f)
    f.act(trunk, TOPIC, ALICE, {"topic": "T1"}, "")
    f.act(trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    other = f.fork(trunk)
    f.act(trunk, TOPIC, ALICE, {"topic": "T2"}, "")
    f.act(trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 0})}, "")
    f.act(other, POWER, BOB, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    f.act(other, TOPIC, BOB, {"topic": "T3"}, "")
    merged = f.merge(trunk, other)
    f.act(merged, MESSAGE, ZARA, {"body": "MZ1"})
    last = f.fork(merged)
    f.act(last, TOPIC, ALICE, {"topic": "T4"}, "")
    return [last, merged]


def fork_mainline_sort(f: ForkScript) -> list[Branch]:
    """Topics ordered by the power levels they were sent under, not by time."""
    trunk = classic_start(f)
    f.act(trunk, TOPIC, ALICE, {"topic": "T1"}, "")
    f.act(trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    other = f.fork(trunk)
    f.act(trunk, TOPIC, ALICE, {"topic": "T2"}, "")
    f.act(
        trunk, POWER, ALICE, {"users": f.users({ALICE: 100, BOB: 50}), "events": {POWER: 100}}, ""
    )
    f.act(trunk, TOPIC, BOB, {"topic": "T3"}, "")
    f.act(other, POWER, BOB, {"users": f.users({ALICE: 100, BOB: 50})}, "")
    f.act(other, TOPIC, ALICE, {"topic": "T4"}, "")
    return [trunk, other]


CLASSIC_FORKS: list[tuple[str, Callable[[ForkScript], list[Branch]]]] = [
    ("classic: ban vs power levels", fork_ban_vs_pl),
    ("classic: join rule evasion", fork_join_rule_evasion),
    ("classic: offtopic power levels", fork_offtopic_pl),
    ("classic: topic basic", fork_topic_basic),
    ("classic: topic reset", fork_topic_reset),
    ("classic: topic", fork_topic),
    ("classic: mainline sort", fork_mainline_sort),
]


# -- scripted conflicts in a community room ---------------------------------------


def community_start(f: ForkScript, *extra: str, join_rule: str = "public") -> Branch:
    """Alice (100), Bob and Frank (50), Carol (25), Dave and Erin (0), on four servers."""
    return f.start(
        (BOB, CAROL, DAVE, FRANK, *extra),
        {ALICE: 100, BOB: 50, FRANK: 50, CAROL: 25},
        join_rule=join_rule,
    )


def fork_concurrent_bans(f: ForkScript) -> list[Branch]:
    """Alice bans Bob while Bob bans Dave and Frank bans Dave too."""
    community_start(f)
    one, two, three = f.fork(), f.fork(), f.fork()
    f.act(one, MEMBER, ALICE, BAN, BOB)
    f.act(two, MEMBER, BOB, BAN, DAVE)
    f.act(three, MEMBER, FRANK, {"membership": "ban", "reason": "spam"}, DAVE)
    return [one, two, three]


def fork_ban_vs_power(f: ForkScript) -> list[Branch]:
    """Alice demotes Bob while Bob bans Carol and sets the topic."""
    community_start(f)
    one, two = f.fork(), f.fork()
    f.act(one, POWER, ALICE, f.power(one, ("users", BOB, 0)), "")
    f.act(two, MEMBER, BOB, BAN, CAROL)
    f.act(two, TOPIC, BOB, {"topic": "bob was here"}, "")
    return [one, two]


def fork_power_race(f: ForkScript) -> list[Branch]:
    """Concurrent power level changes by Alice and two moderators."""
    community_start(f)
    one, two, three = f.fork(), f.fork(), f.fork()
    f.act(one, POWER, ALICE, f.power(one, ("users", CAROL, 50)), "")
    f.act(two, POWER, BOB, f.power(two, ("users", DAVE, 40)), "")
    f.act(three, POWER, FRANK, f.power(three, ("users", FRANK, 10), ("users", DAVE, 5)), "")
    return [one, two, three]


def fork_join_rule_flips(f: ForkScript) -> list[Branch]:
    """Join rules flip to invite and back while users join and get invited."""
    community_start(f)
    one, two, three = f.fork(), f.fork(), f.fork()
    f.act(one, JOIN_RULES, ALICE, {"join_rule": "invite"}, "")
    f.act(one, MEMBER, BOB, INVITE, ERIN)
    f.act(one, MEMBER, ERIN, JOIN, ERIN)
    f.act(one, JOIN_RULES, ALICE, {"join_rule": "public"}, "")
    f.act(two, MEMBER, GRACE, JOIN, GRACE)
    f.act(three, JOIN_RULES, BOB, {"join_rule": "invite"}, "")
    f.act(three, MEMBER, HEIDI, JOIN, HEIDI, expect=False)
    f.act(three, MEMBER, CAROL, INVITE, HEIDI)
    f.act(three, MEMBER, HEIDI, JOIN, HEIDI)
    return [one, two, three]


def fork_kick_vs_join(f: ForkScript) -> list[Branch]:
    """Bob kicks Dave while Dave leaves and rejoins and Erin joins."""
    community_start(f)
    one, two = f.fork(), f.fork()
    f.act(one, MEMBER, BOB, {"membership": "leave", "reason": "kick"}, DAVE)
    f.act(one, JOIN_RULES, ALICE, {"join_rule": "invite"}, "")
    f.act(two, MEMBER, DAVE, LEAVE, DAVE)
    f.act(two, MEMBER, DAVE, {"membership": "join", "displayname": "Dave again"}, DAVE)
    f.act(two, MEMBER, ERIN, JOIN, ERIN)
    return [one, two]


def fork_kick_vs_invite(f: ForkScript) -> list[Branch]:
    """Frank kicks Carol while Carol invites Erin, who joins."""
    community_start(f, join_rule="invite")
    one, two = f.fork(), f.fork()
    f.act(one, MEMBER, FRANK, LEAVE, CAROL)
    f.act(two, MEMBER, CAROL, INVITE, ERIN)
    f.act(two, MEMBER, ERIN, JOIN, ERIN)
    f.act(two, MESSAGE, ERIN, {"body": "hi"})
    return [one, two]


def fork_power_reduction_vs_sends(f: ForkScript) -> list[Branch]:
    """Alice lowers Carol's level and the topic level while Carol sets topic and name."""
    trunk = community_start(f)
    f.act(trunk, POWER, ALICE, f.power(trunk, ("users", CAROL, 50)), "")
    one, two = f.fork(), f.fork()
    f.act(one, POWER, ALICE, f.power(one, ("users", CAROL, 0)), "")
    f.act(two, TOPIC, CAROL, {"topic": "carol's topic"}, "")
    f.act(two, NAME, CAROL, {"name": "Carol's room"}, "")
    f.act(two, "com.example.widget", CAROL, {"url": "u"}, "w")
    return [one, two]


def fork_topic_name_resets(f: ForkScript) -> list[Branch]:
    """Several topics and names on three branches, one of which drops Bob's power."""
    trunk = community_start(f)
    f.act(trunk, TOPIC, ALICE, {"topic": "base"}, "")
    f.act(trunk, NAME, ALICE, {"name": "base"}, "")
    one, two, three = f.fork(), f.fork(), f.fork()
    f.act(one, TOPIC, BOB, {"topic": "one"}, "")
    f.act(one, NAME, BOB, {"name": "one"}, "")
    f.act(two, POWER, ALICE, f.power(two, ("users", BOB, DELETE)), "")
    f.act(two, TOPIC, FRANK, {"topic": "two"}, "")
    f.act(three, TOPIC, ALICE, {"topic": "three"}, "")
    f.act(three, TOPIC, FRANK, {"topic": "three, again"}, "")
    return [one, two, three]


def fork_four_ways(f: ForkScript) -> list[Branch]:
    """Four branches: ban, power change, join rules, topic."""
    community_start(f, ERIN)
    branches = [f.fork() for _ in range(4)]
    f.act(branches[0], MEMBER, BOB, BAN, ERIN)
    f.act(branches[1], POWER, ALICE, f.power(branches[1], ("users", ERIN, 50)), "")
    f.act(branches[1], MEMBER, ERIN, BAN, DAVE)
    f.act(branches[2], JOIN_RULES, FRANK, {"join_rule": "invite"}, "")
    f.act(branches[3], TOPIC, FRANK, {"topic": "four"}, "")
    f.act(branches[3], MEMBER, GRACE, JOIN, GRACE)
    return branches


def fork_long_vs_short(f: ForkScript) -> list[Branch]:
    """A long branch of Bob's doings against one event demoting Bob."""
    community_start(f)
    long, short = f.fork(), f.fork()
    f.act(long, TOPIC, BOB, {"topic": "1"}, "")
    f.act(long, MEMBER, GRACE, JOIN, GRACE)
    f.act(long, POWER, BOB, f.power(long, ("users", GRACE, 20)), "")
    f.act(long, NAME, BOB, {"name": "bob's"}, "")
    f.act(long, MEMBER, BOB, LEAVE, DAVE)
    f.act(long, TOPIC, BOB, {"topic": "2"}, "")
    f.act(long, MEMBER, HEIDI, JOIN, HEIDI)
    f.act(long, MEMBER, BOB, BAN, HEIDI)
    f.act(long, TOPIC, BOB, {"topic": "3"}, "")
    f.act(short, POWER, ALICE, f.power(short, ("users", BOB, 0)), "")
    return [long, short]


def fork_nested(f: ForkScript) -> list[Branch]:
    """A branch forks again and merges before meeting the other branch."""
    community_start(f)
    one, two = f.fork(), f.fork()
    f.act(one, TOPIC, BOB, {"topic": "one"}, "")
    inner_a, inner_b = f.fork(one), f.fork(one)
    f.act(inner_a, POWER, ALICE, f.power(inner_a, ("users", BOB, 10)), "")
    f.act(inner_b, TOPIC, BOB, {"topic": "inner"}, "")
    f.act(inner_b, MEMBER, BOB, BAN, DAVE)
    merged = f.merge(inner_a, inner_b)
    f.act(merged, MESSAGE, CAROL, {"body": "merge"})
    f.act(merged, TOPIC, FRANK, {"topic": "after merge"}, "")
    f.act(two, MEMBER, FRANK, BAN, BOB, expect=False)
    f.act(two, POWER, ALICE, f.power(two, ("users", FRANK, 75)), "")
    f.act(two, MEMBER, FRANK, BAN, BOB)
    return [merged, two]


def fork_unconflicted_power(f: ForkScript) -> list[Branch]:
    """Power levels changed before the fork (unconflicted) while topics conflict."""
    trunk = community_start(f)
    f.act(trunk, TOPIC, BOB, {"topic": "old"}, "")
    f.act(trunk, POWER, ALICE, f.power(trunk, ("users", BOB, 0), ("users", CAROL, 50)), "")
    one, two = f.fork(), f.fork()
    f.act(one, TOPIC, CAROL, {"topic": "one"}, "")
    f.act(two, TOPIC, FRANK, {"topic": "two"}, "")
    f.act(two, MEMBER, BOB, BAN, DAVE, expect=False)
    f.act(two, MEMBER, FRANK, BAN, DAVE)
    return [one, two]


def fork_two_creators(f: ForkScript) -> list[Branch]:
    """Alice and Oscar (additional creator from v12; 100 before) change power at once."""
    oscar = {} if f.n >= 12 else {OSCAR: 100}
    f.start((BOB, CAROL, OSCAR), {ALICE: 100, BOB: 50, **oscar}, additional_creators=(OSCAR,))
    one, two = f.fork(), f.fork()
    f.act(one, POWER, OSCAR, f.power(one, ("users", BOB, 0), ("users", CAROL, 50)), "")
    f.act(two, POWER, ALICE, f.power(two, ("users", BOB, 100)), "")
    f.act(two, TOPIC, BOB, {"topic": "bob"}, "")
    return [one, two]


def fork_creator_vs_admin(f: ForkScript) -> list[Branch]:
    """Oscar (additional creator from v12) kicks Bob while Bob raises Carol and bans Dave."""
    oscar = {} if f.n >= 12 else {OSCAR: 100}
    f.start((BOB, CAROL, DAVE, OSCAR), {ALICE: 100, BOB: 90, **oscar}, additional_creators=(OSCAR,))
    one, two = f.fork(), f.fork()
    f.act(one, MEMBER, OSCAR, LEAVE, BOB)
    f.act(one, TOPIC, OSCAR, {"topic": "oscar"}, "")
    f.act(two, POWER, BOB, f.power(two, ("users", CAROL, 90)), "")
    f.act(two, MEMBER, BOB, BAN, DAVE)
    return [one, two]


def fork_creator_demotes(f: ForkScript) -> list[Branch]:
    """The creator demotes an admin who, concurrently, demotes the additional creator
    (possible before v12 only: creators cannot be listed in v12)."""
    oscar = {} if f.n >= 12 else {OSCAR: 50}
    f.start((BOB, OSCAR, CAROL), {ALICE: 100, BOB: 75, **oscar}, additional_creators=(OSCAR,))
    one, two = f.fork(), f.fork()
    f.act(one, POWER, ALICE, f.power(one, ("users", BOB, 0)), "")
    f.act(
        two,
        POWER,
        BOB,
        f.power(two, ("users", OSCAR, 0)) if f.n < 12 else f.power(two, ("users", CAROL, 70)),
        "",
    )
    f.act(two, MEMBER, BOB, BAN, OSCAR, expect=f.n < 12)
    f.act(two, TOPIC, BOB, {"topic": "bob's"}, "")
    return [one, two]


SCRIPTED_FORKS: list[tuple[str, Callable[[ForkScript], list[Branch]]]] = [
    ("concurrent bans (three branches)", fork_concurrent_bans),
    ("ban vs demotion of the banner", fork_ban_vs_power),
    ("concurrent power level changes (three branches)", fork_power_race),
    ("join rule flips (three branches)", fork_join_rule_flips),
    ("kick racing a leave/rejoin and a join", fork_kick_vs_join),
    ("kick racing an invite and join", fork_kick_vs_invite),
    ("power level reduction racing sends", fork_power_reduction_vs_sends),
    ("topic and name resets (three branches)", fork_topic_name_resets),
    ("four branches", fork_four_ways),
    ("long branch vs short branch", fork_long_vs_short),
    ("nested fork merged before the outer merge", fork_nested),
    ("unconflicted power levels, conflicting topics", fork_unconflicted_power),
    ("two creators change power levels (v12: creator + additional creator)", fork_two_creators),
    ("additional creator kicks an admin racing the admin's actions", fork_creator_vs_admin),
    ("creator demotes an admin racing the admin's actions", fork_creator_demotes),
]


# -- random conflicts --------------------------------------------------------------

RANDOM_USERS = [ALICE, BOB, CAROL, DAVE, ERIN, FRANK, GRACE, HEIDI, IVAN, JUDY]


def random_action(f: ForkScript, branch: Branch, rng: random.Random) -> None:
    """One random action by a random user on a branch (kept only if allowed)."""
    room = f.room
    room.use(branch)
    members = sorted(
        user
        for (etype, user), eid in branch.state.items()
        if etype == MEMBER and room.events[eid]["content"].get("membership") == "join"
    )
    actor = rng.choice(members) if members and rng.random() < 0.9 else rng.choice(RANDOM_USERS)
    target = rng.choice(RANDOM_USERS)
    roll = rng.random()
    if roll < 0.18:
        f.act(branch, TOPIC, actor, {"topic": random_word(rng)}, "", expect=None)
    elif roll < 0.26:
        f.act(branch, NAME, actor, {"name": random_word(rng)}, "", expect=None)
    elif roll < 0.42:
        levels = rng.choice([0, 10, 25, 50, 75, 100])
        changes: list[tuple] = [("users", target, levels)]
        if rng.random() < 0.3:
            changes.append(
                (
                    rng.choice(["ban", "kick", "state_default", "invite"]),
                    rng.choice([0, 25, 50, 75]),
                )
            )
        if target in f.creators():
            changes = changes[1:] or [("events", TOPIC, rng.choice([0, 50]))]
        f.act(branch, POWER, actor, f.power(branch, *changes), "", expect=None)
    elif roll < 0.54:
        f.act(branch, MEMBER, actor, BAN, target, expect=None)
    elif roll < 0.64:
        f.act(branch, MEMBER, actor, LEAVE, target, expect=None)
    elif roll < 0.78:
        f.act(branch, MEMBER, target, JOIN, target, expect=None)
    elif roll < 0.86:
        f.act(branch, MEMBER, actor, INVITE, target, expect=None)
    elif roll < 0.94:
        rules = ["public", "invite"] + (["knock"] if f.n >= 7 else [])
        f.act(branch, JOIN_RULES, actor, {"join_rule": rng.choice(rules)}, "", expect=None)
    else:
        f.act(
            branch,
            "com.example.state",
            actor,
            {"v": rng.randrange(100)},
            rng.choice(["", actor, "x"]),
            expect=None,
        )


def fork_random(f: ForkScript, rng: random.Random) -> tuple[list[Branch], str]:
    """A community room forked 2-4 ways with random actions, maybe nested or with
    the fork point as one more state set."""
    levels = {ALICE: 100, BOB: rng.choice([50, 75]), CAROL: rng.choice([0, 25, 50])}
    if rng.random() < 0.5:
        levels[DAVE] = rng.choice([10, 50])
    members = tuple(rng.sample([BOB, CAROL, DAVE, ERIN, FRANK], rng.randint(3, 5)))
    trunk = f.start(members, levels)
    for _ in range(rng.randint(0, 3)):
        random_action(f, trunk, rng)
    count = rng.choice([2, 2, 2, 3, 3, 4])
    branches = [f.fork() for _ in range(count)]
    kinds = []
    long_branch = rng.random() < 0.3
    for index, branch in enumerate(branches):
        steps = rng.randint(8, 12) if long_branch and index == 0 else rng.randint(1, 5)
        for _ in range(steps):
            random_action(f, branch, rng)
    if long_branch:
        kinds.append("long branch")
    if rng.random() < 0.3:
        inner = [f.fork(branches[0]), f.fork(branches[0])]
        for branch in inner:
            for _ in range(rng.randint(1, 3)):
                random_action(f, branch, rng)
        merged = f.merge(*inner)
        f.act(merged, MESSAGE, ALICE, {"body": "merge"}, expect=None)
        for _ in range(rng.randint(0, 2)):
            random_action(f, merged, rng)
        branches[0] = merged
        kinds.append("nested fork")
    if rng.random() < 0.2:
        branches.append(f.fork(trunk))
        kinds.append("fork point as a state set")
    label = f"random: {count} branches" + "".join(f", {k}" for k in kinds)
    return branches, label


def resolve_candidates(
    rng: random.Random, version: str, randoms: int
) -> Iterator[tuple[JsonDict, str]]:
    """Scripted and random forked-room cases of one room version."""
    for label, scenario in CLASSIC_FORKS + SCRIPTED_FORKS:
        f = ForkScript(rng, version)
        try:
            branches = scenario(f)
            yield f.case([b.state for b in branches]), label
            if rng.random() < 0.1:
                # The same conflict with the fork's starting state as a third set.
                yield f.case(
                    [b.state for b in branches] + [f.trunk.state]
                ), label + ", + trunk state set"
        except ResolveFailed:
            continue
    made = 0
    while made < randoms:
        f = ForkScript(rng, version)
        try:
            branches, label = fork_random(f, rng)
        except ResolveFailed:
            continue
        states = [b.state for b in branches]
        if all(s == states[0] for s in states):
            continue
        made += 1
        yield f.case(states), label


# ---------------------------------------------------------------------------
# auth_types, auth and resolve generators
# ---------------------------------------------------------------------------


def version_rngs(rng: random.Random) -> dict[str, random.Random]:
    """One generator per room version, all drawn from ``rng`` up front."""
    return {version: random.Random(rng.getrandbits(64)) for version in ROOM_VERSIONS}


def normalise_reason(reason: str) -> str:
    """A Synapse rejection message with IDs and values replaced by placeholders.

    User IDs become ``@U``, room IDs ``!R``, event IDs ``$E``, numbers in
    the send-level message ``N``; values quoted in power level messages
    become ``X``, membership values ``M``, room versions ``V``.  The
    cause Synapse attaches (in brackets) and the member event ``repr`` of
    "not in room" messages are dropped.
    """
    reason = re.sub(r" \((<.*>|None)\)$", "", reason)
    replacements = [
        (r"^(SynapseError: Not a valid (user_id|power level): ).*$", r"\1X"),
        (r"^SynapseError: .* (must be an integer\.)$", r"SynapseError: X \1"),
        (
            r"^SynapseError: .* (must be a dict wherein all the values are integers\.)$",
            r"SynapseError: X \1",
        ),
        (r"^(AuthError: Unknown membership ).*$", r"\1M"),
        (r"^(AuthError: room appears to have unsupported version ).*$", r"\1V"),
        (r"@[^\s:]*:[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*", "@U"),
        (r"![A-Za-z0-9_\-]+(:[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*)?", "!R"),
        (r"\$[A-Za-z0-9+/_\-]+(:[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*)?", "$E"),
        (r"user_level \(\d+\) < send_level \(\d+\)", "user_level (N) < send_level (N)"),
    ]
    for pattern, replacement in replacements:
        reason = re.sub(pattern, replacement, reason)
    return reason


def base_label(label: str) -> str:
    """A label without the note on how auth_events were given."""
    return label.split(" [auth_events")[0]


def auth_topic(record: AuthRecord) -> str:
    """What a case is about, for spreading the sample: the event's kind."""
    kind = event_kind(record.case["event"])
    return kind.rsplit(" ", 1)[0] if kind.endswith((" self", " other")) else kind


def select_auth(
    records: list[AuthRecord], rng: random.Random, rejected: int = 44, allowed: int = 44
) -> list[AuthRecord]:
    """About ``rejected`` + ``allowed`` main-file cases of one room version.

    First the scenarios of :data:`AUTH_MUST_KEEP`, then one case of every
    distinct rejection reason not covered yet, then more rejected and
    allowed probes round-robin over topics (:func:`auth_topic`), setup steps
    last; never two cases with the same label.  Records keep script order.
    """
    main = [r for r in records if not r.quirk]
    taken: set[int] = set()
    labels: set[str] = set()

    def take(index: int) -> bool:
        label = base_label(main[index].label)
        if label in labels:
            return False
        labels.add(label)
        taken.add(index)
        return True

    def count(allowed_flag: bool) -> int:
        return sum(1 for i in taken if main[i].answer["allowed"] is allowed_flag)

    for index, record in enumerate(main):
        if record.must:
            take(index)
    by_reason: dict[str, list[int]] = {}
    for index, record in enumerate(main):
        if not record.answer["allowed"]:
            by_reason.setdefault(normalise_reason(record.answer["reason"]), []).append(index)
    covered = {
        normalise_reason(main[i].answer["reason"]) for i in taken if not main[i].answer["allowed"]
    }
    for reason in sorted(by_reason):
        if reason not in covered:
            choices = by_reason[reason][:]
            rng.shuffle(choices)
            any(take(i) for i in choices)

    def fill(allowed_flag: bool, limit: int, setup: bool) -> None:
        queues: dict[str, list[int]] = {}
        for index, record in enumerate(main):
            if record.answer["allowed"] is allowed_flag and record.setup is setup:
                queues.setdefault(auth_topic(record), []).append(index)
        topics = sorted(queues)
        rng.shuffle(topics)
        for topic in topics:
            rng.shuffle(queues[topic])
        while count(allowed_flag) < limit and any(queues.values()):
            for topic in topics:
                queue = queues[topic]
                while queue and not take(queue.pop()):
                    pass
                if count(allowed_flag) >= limit:
                    break

    for setup in (False, True):
        fill(False, rejected, setup)
        fill(True, allowed, setup)
    return [main[i] for i in sorted(taken)]


def quirk_sample(per_version: dict[str, list[AuthRecord]]) -> list[tuple[str, AuthRecord]]:
    """Each quirk scenario in the first room version that has it (and in v12,
    the version new rooms get, when it has it too)."""
    versions: dict[str, list[str]] = {}
    for version, records in per_version.items():
        for record in records:
            versions.setdefault(record.label, []).append(version)
    chosen = []
    for version, records in per_version.items():
        for record in records:
            found = versions[record.label]
            if version == found[0] or version == found[-1] == "12":
                chosen.append((version, record))
    return chosen


def gen_auth(rng: random.Random, rooms: dict[str, RoomBuilder]) -> Iterator[tuple[JsonDict, str]]:
    """~100 judged events per room version, about half rejected, every
    rejection reason of the version included; Synapse quirks apart."""
    quirks: dict[str, list[AuthRecord]] = {}
    for version, sub in version_rngs(rng).items():
        records = auth_records(sub, version)
        for record in select_auth(records, sub):
            yield record.case, record.label
        quirks[version] = [r for r in records if r.quirk]
    for version, record in quirk_sample(quirks):
        yield record.case, f"{QUIRK}v{version} {record.label[len(QUIRK):]}"


def event_kind(event: JsonDict) -> str:
    """What kind of event this is, for picking a varied ``auth_types`` set."""
    etype, content = event["type"], event["content"]
    state_key = event.get("state_key")
    if etype == MEMBER:
        kind = f"member {content.get('membership')!r}"
        third_party = content.get("third_party_invite")
        if third_party is not None:
            kind += (
                " 3pid"
                if isinstance(third_party, dict) and "signed" in third_party
                else " bad 3pid"
            )
        if "join_authorised_via_users_server" in content:
            kind += " authorised"
        if state_key is None:
            return kind + " without state_key"
        return kind + (" self" if state_key == event["sender"] else " other")
    if state_key is None:
        return f"{etype} (no state key)"
    if state_key.startswith("@"):
        return f"{etype} @-key"
    return etype


def gen_auth_types(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """~30 events per room version, one of every kind the auth script makes first."""
    for version, sub in version_rngs(rng).items():
        by_kind: dict[str, list[JsonDict]] = {}
        for record in auth_records(sub, version):
            event = record.case["event"]
            by_kind.setdefault(event_kind(event), []).append(event)
        chosen: list[tuple[str, JsonDict]] = []
        for kind in sorted(by_kind):
            chosen.append((kind, sub.choice(by_kind[kind])))
        rest = [
            (k, e)
            for k in sorted(by_kind)
            for e in by_kind[k]
            if all(e is not c for _, c in chosen)
        ]
        sub.shuffle(rest)
        chosen.extend(rest[: max(0, 30 - len(chosen))])
        for kind, event in chosen:
            case = {"op": "auth_types", "room_version": version, "event": event}
            answer = twin.answer(copy.deepcopy(case))
            if "error" in answer:
                if version in ("1", "8", "12"):
                    yield case, (
                        f"{QUIRK}v{version} {kind}: Synapse cannot list the auth "
                        f"types ({answer['message'].split(': ', 1)[-1]})"
                    )
                continue
            yield case, kind


def gen_resolve(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> Iterator[tuple[JsonDict, str]]:
    """~30 forked-room cases per room version: Synapse's classic scenarios,
    scripted conflicts and random forks; cases Synapse fails on are left out."""
    for version, sub in version_rngs(rng).items():
        for case, label in resolve_candidates(sub, version, randoms=4):
            if "error" not in twin.answer(copy.deepcopy(case)):
                yield case, label


# ---------------------------------------------------------------------------
# Synapse quirks: kept apart from the main files
# ---------------------------------------------------------------------------


#: Label prefix routing a generated case to ``synapse-quirks.jsonl``.
QUIRK = "quirk: "


def gen_quirks(
    rng: random.Random, rooms: dict[str, RoomBuilder]
) -> dict[str, list[tuple[JsonDict, str]]]:
    """Cases where Synapse goes beyond or against the spec's wording."""
    quirks: dict[str, list[tuple[JsonDict, str]]] = {}
    room = rooms["10"]
    event = room.log[12][1]
    for key, value in (("age_ts", 12345), ("outlier", True), ("destinations", ["b.example"])):
        extra = copy.deepcopy(event)
        extra[key] = value
        quirks.setdefault("content_hash", []).append(
            (
                {"op": "content_hash", "event": extra},
                f"Synapse drops top-level '{key}' before hashing "
                "(spec: only unsigned, signatures, hashes)",
            )
        )
    for version in ("1", "6", "11", "12"):
        event = rooms[version].log[12][1]
        extra = copy.deepcopy(event)
        extra["unsigned"] = {
            "age_ts": 5,
            "replaces_state": "$old",
            "prev_content": {"a": 1},
            "age": 3,
            "other": True,
        }
        quirks.setdefault("redact", []).append(
            (
                {"op": "redact", "room_version": version, "event": extra},
                f"v{version} Synapse keeps 'unsigned' (age_ts, replaces_state only) "
                "when redacting (spec: drop unsigned)",
            )
        )
    for version in ("3", "4", "12"):
        event = copy.deepcopy(rooms[version].log[5][1])
        event["event_id"] = "$explicit:a.example"
        quirks.setdefault("event_id", []).append(
            (
                {"op": "event_id", "room_version": version, "event": event},
                f"v{version} event carrying an explicit event_id: Synapse refuses to parse it",
            )
        )
    create = copy.deepcopy(rooms["12"].log[0][1])
    create["room_id"] = "!bogus:a.example"
    quirks.setdefault("event_id", []).append(
        (
            {"op": "event_id", "room_version": "12", "event": create},
            "v12 create event wrongly carrying room_id: Synapse refuses to parse it "
            "(its redaction would strip room_id)",
        )
    )
    quirks.setdefault("canonical", []).extend(
        [
            (
                canonical_case("9" * 4301, False),
                "integer of 4301 digits: Python's int-parsing limit makes Synapse reject it",
            ),
            (
                canonical_case("-" + "1" * 5000, False),
                "integer of 5000 digits: Python's int-parsing limit makes Synapse reject it",
            ),
            (
                canonical_case("1" * 4300, False),
                "integer of 4300 digits: the longest Python parses",
            ),
            (
                canonical_case("[" * 200 + "]" * 200),
                "arrays nested 200 deep: Synapse accepts (serde_json's default limit is 128)",
            ),
            (
                canonical_case("[" * 2000 + "]" * 2000),
                "arrays nested 2000 deep: beyond Python's recursion limit, Synapse rejects",
            ),
        ]
    )
    key = KeyPair("a.example", "ed25519:k1", "quirk float")
    quirks.setdefault("sign", []).append(
        (
            {
                "op": "sign",
                "json": {"f": 1.5, "g": 1e16, "h": 1e-7},
                "server_name": "a.example",
                "key_id": key.key_id,
                "seed": key.seed,
            },
            "floats are signed in Python's repr form (1e+16, 1e-07); the spec does not define them",
        )
    )
    return quirks


# ---------------------------------------------------------------------------
# The spec's published vectors
# ---------------------------------------------------------------------------


def find_spec_vectors() -> Path | None:
    """The shared spec-vectors directory, if present."""
    for candidate in SPEC_VECTORS_CANDIDATES:
        if candidate.is_dir():
            return candidate
    return None


def spec_vectors() -> dict[str, list[Vector]]:
    """The spec's published vectors, as protocol vector files.

    ``expect`` is the spec's published answer, except for the canonical JSON
    example with ``-0`` and ``1e10``, which Synapse cannot reproduce: that one
    records Synapse's answer and says so in ``source``.
    """
    directory = find_spec_vectors()
    if directory is None:
        print("spec vectors not found; skipping", file=sys.stderr)
        return {}
    files: dict[str, list[Vector]] = {}
    canonical = json.loads((directory / "canonical-json.json").read_text())
    out: list[Vector] = []
    source = f"spec: {canonical['source']}"
    for index, item in enumerate(canonical["cases"], 1):
        if "1e10" in item["input"]:
            note = (
                f"{source}; expect is Synapse {twin.SYNAPSE_VERSION}'s answer (lenient mode): "
                f"Synapse reads 1e10 as a float; the spec's own normalisation gives "
                f"{item['expected']}"
            )
            lenient = canonical_case(item["input"], False)
            out.append(make_vector(lenient, f"spec example {index}, lenient", note))
            strict_note = (
                f"{source}; expect is Synapse {twin.SYNAPSE_VERSION}'s answer "
                "(strict mode rejects the float 1e10)"
            )
            out.append(
                make_vector(
                    canonical_case(item["input"], True),
                    f"spec example {index}, strict",
                    strict_note,
                )
            )
            continue
        out.append(
            {
                "case": canonical_case(item["input"], None),
                "expect": {"canonical": item["expected"]},
                "source": source,
                "label": f"spec example {index}",
            }
        )
    files["canonical/spec"] = out

    signing = json.loads((directory / "json-signing.json").read_text())
    key = signing["signing_key"]
    files["sign/spec"] = [
        {
            "case": {
                "op": "sign",
                "json": item["input"],
                "server_name": key["server_name"],
                "key_id": key["key_id"],
                "seed": key["seed_base64_as_published"],
            },
            "expect": {"signed": item["expected"]},
            "source": f"spec: {signing['source']}",
            "label": f"spec JSON signing {index}",
        }
        for index, item in enumerate(signing["cases"], 1)
    ]

    events = json.loads((directory / "event-signing.json").read_text())
    key = events["signing_key"]
    files["sign_event/spec"] = [
        {
            "case": {
                "op": "sign_event",
                "room_version": "1",
                "event": item["input"],
                "server_name": key["server_name"],
                "key_id": key["key_id"],
                "seed": key["seed_base64_as_published"],
            },
            "expect": {"signed": item["expected"]},
            "source": f"spec: {events['source']} "
            "(the published signatures hold for room versions 1-10 only)",
            "label": f"spec event signing {item['name']}",
        }
        for item in events["cases"]
    ]

    derived = json.loads((directory / "derived.json").read_text())["v12_create_event"]
    files["event_id/spec-derived"] = [
        {
            "case": {"op": "event_id", "room_version": "12", "event": derived["signed"]},
            "expect": {"event_id": derived["event_id"]},
            "source": "derived (not published by the spec): shared/spec-vectors/derived.json "
            "v12_create_event, computed from the spec's test key and the room version 12 rules "
            "(MSC4291)",
            "label": "v12 create event ID",
        }
    ]
    return files


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

Generator = Callable[[random.Random, dict[str, RoomBuilder]], Iterator[tuple[JsonDict, str]]]

#: Generators of ``test-vectors/<op>/synapse.jsonl`` (``synapse_v<N>.jsonl``
#: for the ops in :data:`PER_VERSION`), by op.
GENERATORS: dict[str, Generator] = {
    "canonical": lambda rng, rooms: gen_canonical(rng),
    "content_hash": gen_content_hash,
    "redact": gen_redact,
    "event_id": gen_event_id,
    "sign": gen_sign,
    "verify": gen_verify,
    "sign_event": gen_sign_event,
    "verify_event": gen_verify_event,
    "auth_types": gen_auth_types,
    "auth": gen_auth,
    "resolve": gen_resolve,
    "sign_request": gen_sign_request,
    "verify_request": gen_verify_request,
    "verify_key_document": gen_verify_key_document,
}

#: Ops whose generated vectors are written one file per room version.
PER_VERSION = ("auth", "resolve")

#: The spec-notes section 8 rule behind each normalised rejection message.
REASON_RULES = [
    ("Create event has prev events", "A.1"),
    ("Creation event's room_id domain", "A.2"),
    ("unsupported version", "A.3"),
    ("lacks a 'creator'", "A.4"),
    ("additional_creators", "A.5"),
    ("missing a create event", "C (state has no create event)"),
    ("unfederatable", "D"),
    ("Alias event", "E"),
    ("KeyError: 'membership'", "F.1 (Synapse fails on the missing key)"),
    ("AttributeError: state_key", "F.1 (Synapse fails on the missing key)"),
    ("Cannot force another user to join", "F.3.2"),
    ("You are banned from this room", "F.3.2 / F.3.4 / F.7"),
    ("You are not invited to this room", "F.3.3 / F.3.6 (no or unknown rule), F.4.1 (3pid)"),
    ("Join event is missing authorising user", "F.3.4"),
    ("Join event authorised by invalid server", "F.3.4"),
    ("AuthError: User @U not in room", "G; F.3.4 (authorising user not joined)"),
    ("You are not allowed to join this room", "F.3.6"),
    ("is banned from the room", "F.4.1 / F.4.2"),
    ("UnstableSpecAuthError: @U not in room", "F.4.2 / F.5.1 / F.5.2 / F.6"),
    ("is already in the room", "F.4.2"),
    ("permission to invite users", "F.4.2 / H"),
    ("cannot unban", "F.5.3"),
    ("cannot kick", "F.5.4 (also unbans: F.5.4 after F.5.3)"),
    ("permission to ban this user", "F.6 (target level)"),
    ("permission to ban", "F.6 (ban level)"),
    ("permission to knock", "F.7 (join rule)"),
    ("knock for other users", "F.7"),
    ("knock on a room you are already in", "F.7"),
    ("already invited", "F.7"),
    ("Unknown membership", "F.8"),
    ("permission to post", "I"),
    ("set others state", "J"),
    ("Creator user", "K.3"),
    ("Additional creators users", "K.3"),
    ("SynapseError", "K.1 / K.2"),
    ("greater than your own", "K.5 / K.6 / K.7"),
    ("equal to your own", "K.7"),
    ("permission to redact", "L"),
]

#: Messages of Synapse's ``event_auth`` that the ``auth`` op never gives, and why.
UNREACHABLE_REASONS = [
    (
        "Create event has a room_id",
        "room version 12: Synapse's event parser already refuses a "
        "create event with a room_id (`bad_input`, see `synapse-quirks.jsonl`)",
    ),
    ("Create event has prev state events", "MSC4242 (state DAGs) only, no numbered room version"),
    (
        "State key neither equals a valid user ID, nor starts with one plus an underscore",
        "MSC3757 (`org.matrix.msc3757.*` room versions) only",
    ),
    (
        "Create event missing from auth_events",
        'membership rules; the earlier "missing a create ' 'event" check always fires first',
    ),
    ("Cannot check power levels without a create event in auth_events", "same: caught earlier"),
    ("Event has no room_id", "Synapse's parser refuses such events (`bad_input`)"),
    (
        "No create event in auth events; duplicate / unexpected / rejected / other-room "
        "auth_events",
        "rule C checks the event's own `auth_events` list "
        "(`check_state_independent_auth_rules`), which the `auth` op does not judge",
    ),
    (
        "Event not signed by sender's / sending / authorising server",
        "signatures are judged by `verify_event`, not `auth` (rule F.2 included)",
    ),
    (
        "EventSizeError ('event too large', 'sender' too large, ...)",
        "size limits are not judged by the `auth` op",
    ),
]


def reason_rule(reason: str) -> str:
    """The spec-notes rule of a normalised rejection message."""
    for piece, rule in REASON_RULES:
        if piece in reason:
            return rule
    return "?"


def write_reasons(by_version: dict[str, list[Vector]]) -> Path:
    """``test-vectors/auth/REASONS.md``: every rejection message, per room version."""
    counts: dict[str, dict[str, int]] = {}
    for version, vectors in by_version.items():
        for vector in vectors:
            expect = vector["expect"]
            key = "allowed" if expect["allowed"] else normalise_reason(expect["reason"])
            row = counts.setdefault(key, {})
            row[version] = row.get(version, 0) + 1
    rows = sorted(
        (k for k in counts if k != "allowed"), key=lambda k: (-sum(counts[k].values()), k)
    )
    head = "| reason | rule | " + " | ".join(f"v{v}" for v in ROOM_VERSIONS) + " | total |"
    rule = "| --- | --- |" + " ---: |" * (len(ROOM_VERSIONS) + 1)

    def line(name: str, rule_text: str) -> str:
        row = counts[name]
        cells = " | ".join(str(row.get(v, 0)) if row.get(v) else "." for v in ROOM_VERSIONS)
        return f"| {name.replace('|', '/')} | {rule_text} | {cells} | {sum(row.values())} |"

    totals = {v: len(by_version.get(v, [])) for v in ROOM_VERSIONS}
    distinct = {v: sum(1 for k in rows if counts[k].get(v)) for v in ROOM_VERSIONS}
    lines = [
        "# auth: Synapse's rejection messages per room version",
        "",
        "Generated by `generator/generate.py` with the main `synapse_v<N>.jsonl` files; "
        "do not edit.",
        f"Every distinct `reason` of a rejected case ({SOURCE}), with IDs and values "
        "normalised (`@U` user, `!R` room, `$E` event, `N` number, `X` value, `M` "
        "membership, `V` room version; the bracketed cause and member-event repr Synapse "
        "appends are dropped). `rule` is the rule of `shared/spec-notes.md` section 8 the "
        "message belongs to. `.` = no case.",
        "",
        head,
        rule,
        "| *cases* | |"
        + "".join(f" {totals[v]} |" for v in ROOM_VERSIONS)
        + f" {sum(totals.values())} |",
        line("allowed", "M (or an earlier allow)"),
        "| *distinct rejection messages* | |"
        + "".join(f" {distinct[v]} |" for v in ROOM_VERSIONS)
        + f" {len(rows)} |",
    ]
    lines += [line(name, reason_rule(name)) for name in rows]
    lines += [
        "",
        "Rejections that depend on the room version: the aliases rule (v1-5), the v1-2 "
        "redaction rule, `creator` (v1-10), the room_id domain rule (v1-11), knocking "
        '("Unknown membership knock" before v7), restricted joins (v8+; before that '
        '"not allowed to join"), `knock_restricted` (v10+), integer-only power levels '
        "(v10+), `notifications` checked (v6+), creators and `additional_creators` (v12).",
        "",
        "## Synapse messages that cannot occur in an `auth` case",
        "",
        "| message | why |",
        "| --- | --- |",
    ]
    lines += [f"| {message} | {why} |" for message, why in UNREACHABLE_REASONS]
    path = VECTORS / "auth" / "REASONS.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> int:
    """Generate the vector files of the chosen ops."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--only", nargs="*", help="ops to generate (default: all, plus quirks and spec)"
    )
    args = parser.parse_args()
    chosen = args.only or list(GENERATORS)
    rooms = all_rooms(args.seed)
    quirks = gen_quirks(random.Random(f"{args.seed} quirks"), rooms)
    for op in chosen:
        rng = random.Random(f"{args.seed} {op}")
        vectors = []
        for case, label in GENERATORS[op](rng, rooms):
            if label.startswith(QUIRK):
                quirks.setdefault(op, []).append((case, label[len(QUIRK) :]))
            else:
                vectors.append(make_vector(case, label))
        if op not in PER_VERSION:
            path = write_vectors(op, "synapse", vectors)
            print(f"{path.relative_to(VECTORS.parent)}: {len(vectors)} vectors")
            continue
        by_version: dict[str, list[Vector]] = {}
        for vector in vectors:
            by_version.setdefault(vector["case"]["room_version"], []).append(vector)
        for version in ROOM_VERSIONS:
            path = write_vectors(op, f"synapse_v{version}", by_version.get(version, []))
            print(f"{path.relative_to(VECTORS.parent)}: {len(by_version.get(version, []))} vectors")
        if op == "auth":
            print(f"{write_reasons(by_version).relative_to(VECTORS.parent)} written")
    for op, cases in quirks.items():
        if op in chosen or not args.only:
            vectors = [make_vector(case, label) for case, label in cases]
            path = write_vectors(op, "synapse-quirks", vectors)
            print(f"{path.relative_to(VECTORS.parent)}: {len(vectors)} vectors")
    if not args.only:
        for name, vectors in spec_vectors().items():
            op, stem = name.split("/")
            path = write_vectors(op, stem, vectors)
            print(f"{path.relative_to(VECTORS.parent)}: {len(vectors)} vectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Deterministic generator of conformance vectors answered by the Synapse twin.

Run with the virtualenv that ``setup.sh`` makes (the twin imports Synapse)::

    .venv/bin/python generate.py            # every op, default seed
    .venv/bin/python generate.py --only sign verify

For each op it builds cases from a seeded random generator, asks the twin
(:func:`twin.answer`, i.e. Synapse's own code) for the answer and writes
``test-vectors/<op>/synapse.jsonl``: one line per case,

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
byte-for-byte reproducible.  Generators are plain functions registered in
:data:`GENERATORS`; new ops (``auth_types``, ``auth``, ``resolve``) are added by
writing one more function and registering it.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import string
import sys
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


def make_vector(case: JsonDict, label: str, source: str = SOURCE) -> Vector:
    """Run ``case`` through the twin and wrap it as a vector line."""
    answer = twin.answer(copy.deepcopy(case))
    if answer.get("error") == "internal":
        raise RuntimeError(f"twin failed on {label}: {answer}")
    return {"case": case, "expect": answer, "source": source, "label": label}


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

#: Generators of ``test-vectors/<op>/synapse.jsonl``, by op.  ``auth_types``,
#: ``auth`` and ``resolve`` will be added here.
GENERATORS: dict[str, Generator] = {
    "canonical": lambda rng, rooms: gen_canonical(rng),
    "content_hash": gen_content_hash,
    "redact": gen_redact,
    "event_id": gen_event_id,
    "sign": gen_sign,
    "verify": gen_verify,
    "sign_event": gen_sign_event,
    "verify_event": gen_verify_event,
}


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
        path = write_vectors(op, "synapse", vectors)
        print(f"{path.relative_to(VECTORS.parent)}: {len(vectors)} vectors")
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

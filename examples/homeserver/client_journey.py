#!/usr/bin/env python3
"""The real-client test of the example homeserver.

Builds the example (unless --server-bin is given), installs matrix-nio from PyPI into a
throwaway virtualenv, starts the server on a free loopback port with a temporary data
directory, and walks a user journey with matrix-nio: two users register and log in, set
display names, create a private and a public room, invite, join, exchange messages
(plain, formatted, emoji, a long one), set the topic and name, see each other's
messages in order through sync, paginate history with /messages, read state, get
refused what their power level forbids, use the directory, typing and receipts, leave
and log out. Bad input, restarts and a kill -9 in the middle of a burst of sends are
checked too.

    python3 examples/homeserver/client_journey.py [--release] [--server-bin PATH]
                                                  [--keep-data]

Prints one line per step and "N passed, N failed"; exits non-zero on any failure.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from journey_common import StepFailed, expect, launch, run_steps

NIO_REQUIREMENT = "matrix-nio>=0.24,<1"
IN_VENV = "HOMESERVER_JOURNEY_IN_VENV"


def main() -> int:
    import asyncio

    return launch(__file__, __doc__, [NIO_REQUIREMENT], IN_VENV,
                  lambda args: asyncio.run(Journey(args.server_bin, args.keep_data).run()))


# --- everything below runs inside the virtualenv, with matrix-nio installed -----------


class Server:
    """The example homeserver as a child process on a free loopback port."""

    def __init__(self, binary: str, data_dir: str, flags: tuple[str, ...] = ("--no-rate-limits",)):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.binary = binary
        self.data_dir = data_dir
        # The journey registers, logs in and sends faster than the server's default rate
        # limits (Synapse's) allow; the limits have their own tests in the server.
        self.flags = list(flags)
        self.server_name = f"localhost:{self.port}"
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log = open(Path(data_dir).parent / "server.log", "ab")

    async def start(self) -> None:
        import asyncio
        import urllib.request

        self.process = subprocess.Popen(
            [self.binary, "--bind", f"127.0.0.1:{self.port}", "--server-name", self.server_name,
             "--data-dir", self.data_dir, *self.flags],
            stdout=self.log,
            stderr=self.log,
        )
        for _ in range(200):
            if self.process.poll() is not None:
                raise StepFailed(f"server exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/_matrix/client/versions", timeout=1):
                    return
            except OSError:
                await asyncio.sleep(0.05)
        raise StepFailed("server did not start listening")

    def stop(self) -> None:
        """Graceful stop (Ctrl-C)."""
        import signal

        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """kill -9."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Journey:
    def __init__(self, server_bin: str, keep_data: bool):
        self.workdir = tempfile.mkdtemp(prefix="homeserver-journey-")
        self.server = Server(server_bin, str(Path(self.workdir) / "data"))
        self.keep_data = keep_data
        self.passed = 0
        self.failed = 0
        self.sent: list[str] = []  # message bodies in the private room, in order
        self.txn_ids: dict[str, str] = {}  # event ID -> transaction ID (alice's sends)

    async def run(self) -> int:
        import logging

        # nio logs every expected error response ("Error validating response"); the
        # steps check those themselves.
        logging.getLogger("nio").setLevel(logging.CRITICAL)
        steps = [
            self.start_server,
            self.register,
            self.log_in,
            self.display_names,
            self.create_rooms,
            self.directory,
            self.invite_and_join,
            self.exchange_messages,
            self.topic_and_name,
            self.sync_sees_messages_in_order,
            self.paginate_history,
            self.read_state,
            self.typing_and_receipts,
            self.power_levels_refuse,
            self.redactions,
            self.ban_unban_kick,
            self.bad_input,
            self.federation_read_side,
            self.leave,
            self.restart_keeps_everything,
            self.kill_during_burst_loses_nothing,
            self.log_out,
        ]
        try:
            self.passed, self.failed = await run_steps(steps)
        finally:
            for client in getattr(self, "clients", []):
                await client.close()
            self.server.stop()
            if self.failed:
                print(f"server log: {Path(self.workdir) / 'server.log'}")
            elif not self.keep_data:
                shutil.rmtree(self.workdir, ignore_errors=True)
        not_run = len(steps) - self.passed - self.failed
        print(f"journey: {self.passed} passed, {self.failed} failed" + (f", {not_run} skipped" if not_run else ""))
        return 0 if self.failed == 0 else 1

    # --- helpers ------------------------------------------------------------------------

    def client(self, user: str = ""):
        from nio import AsyncClient, AsyncClientConfig

        config = AsyncClientConfig(max_timeouts=3, request_timeout=30)
        client = AsyncClient(self.server.url, user, config=config)
        self.clients = getattr(self, "clients", []) + [client]
        return client

    async def raw(self, method: str, path: str, token: str | None = None, body: bytes | None = None):
        """A plain HTTP request; returns (status, JSON body)."""
        import aiohttp

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as session:
            async with session.request(method, self.server.url + path, data=body, headers=headers) as response:
                return response.status, await response.json(content_type=None)

    async def sync(self, client, timeout: int = 0):
        from nio import SyncResponse

        response = await client.sync(timeout=timeout, full_state=False)
        expect(isinstance(response, SyncResponse), f"sync failed: {response}")
        return response

    def user_id(self, localpart: str) -> str:
        return f"@{localpart}:{self.server.server_name}"

    # --- steps --------------------------------------------------------------------------

    async def start_server(self):
        await self.server.start()
        status, body = await self.raw("GET", "/_matrix/client/versions")
        expect(status == 200 and "v1.1" in body["versions"], f"versions: {status} {body}")

    async def register(self):
        from nio import RegisterResponse

        status, body = await self.raw(
            "POST", "/_matrix/client/v3/register", body=b'{"username":"probe","password":"x"}'
        )
        expect(status == 401, f"registration without auth should be challenged, got {status}")
        expect({"flows", "params", "session"} <= body.keys(), f"challenge fields: {body}")
        expect(["m.login.dummy"] in [flow["stages"] for flow in body["flows"]], f"flows: {body}")
        for name in ("alice", "bob"):
            response = await self.client().register(name, f"{name}-password")
            expect(isinstance(response, RegisterResponse), f"register {name}: {response}")
            expect(response.user_id == self.user_id(name), f"user ID {response.user_id}")
        again = await self.client().register("alice", "other")
        expect(getattr(again, "status_code", None) == "M_USER_IN_USE", f"duplicate: {again}")

    async def log_in(self):
        from nio import LoginResponse, WhoamiResponse

        self.alice = self.client(self.user_id("alice"))
        self.bob = self.client("bob")  # a bare localpart works too
        for client, name in ((self.alice, "alice"), (self.bob, "bob")):
            response = await client.login(f"{name}-password", device_name=f"{name}'s journey")
            expect(isinstance(response, LoginResponse), f"login {name}: {response}")
            whoami = await client.whoami()
            expect(isinstance(whoami, WhoamiResponse) and whoami.user_id == self.user_id(name),
                   f"whoami {name}: {whoami}")
        wrong = await self.client("alice").login("wrong-password")
        expect(getattr(wrong, "status_code", None) == "M_FORBIDDEN", f"wrong password: {wrong}")

    async def display_names(self):
        from nio import ProfileGetDisplayNameResponse, ProfileSetDisplayNameResponse

        for client, name in ((self.alice, "Alice 🌸"), (self.bob, "Bob")):
            response = await client.set_displayname(name)
            expect(isinstance(response, ProfileSetDisplayNameResponse), f"set name: {response}")
            got = await client.get_displayname()
            expect(isinstance(got, ProfileGetDisplayNameResponse) and got.displayname == name,
                   f"get name: {got}")

    async def create_rooms(self):
        from nio import RoomCreateResponse, RoomPreset, RoomVisibility

        private = await self.alice.room_create(
            name="Plans", topic="secret plans", preset=RoomPreset.private_chat
        )
        expect(isinstance(private, RoomCreateResponse), f"private room: {private}")
        self.private = private.room_id
        public = await self.alice.room_create(
            visibility=RoomVisibility.public, alias="journey-lobby", name="Lobby",
            topic="everyone welcome", preset=RoomPreset.public_chat,
        )
        expect(isinstance(public, RoomCreateResponse), f"public room: {public}")
        self.public = public.room_id
        old = await self.alice.room_create(name="Old", room_version="1")
        expect(isinstance(old, RoomCreateResponse), f"room version 1: {old}")
        bad = await self.alice.room_create(room_version="99")
        expect(getattr(bad, "status_code", None) == "M_UNSUPPORTED_ROOM_VERSION", f"v99: {bad}")

    async def directory(self):
        from nio import RoomResolveAliasResponse
        from nio.responses import PublicRoomsResponse

        alias = f"#journey-lobby:{self.server.server_name}"
        resolved = await self.bob.room_resolve_alias(alias)
        expect(isinstance(resolved, RoomResolveAliasResponse) and resolved.room_id == self.public,
               f"resolve alias: {resolved}")
        rooms = await self.bob.list_public_rooms()
        expect(isinstance(rooms, PublicRoomsResponse), f"public rooms: {rooms}")
        listed = [room.room_id for room in rooms.public_rooms]
        expect(self.public in listed and self.private not in listed, f"directory lists {listed}")

    async def invite_and_join(self):
        from nio import JoinResponse, RoomInviteResponse

        invite = await self.alice.room_invite(self.private, self.user_id("bob"))
        expect(isinstance(invite, RoomInviteResponse), f"invite: {invite}")
        sync = await self.sync(self.bob)
        expect(self.private in sync.rooms.invite, f"bob's invites: {list(sync.rooms.invite)}")
        joined = await self.bob.join(self.private)
        expect(isinstance(joined, JoinResponse), f"join private: {joined}")
        by_alias = await self.bob.join(f"#journey-lobby:{self.server.server_name}")
        expect(isinstance(by_alias, JoinResponse) and by_alias.room_id == self.public,
               f"join by alias: {by_alias}")
        await self.sync(self.alice)
        await self.sync(self.bob)

    async def exchange_messages(self):
        from nio import RoomSendResponse

        long_body = "A long message. " * 1500
        messages = [
            (self.alice, {"msgtype": "m.text", "body": "Hello Bob"}),
            (self.alice, {"msgtype": "m.text", "body": "**bold** and _italic_",
                          "format": "org.matrix.custom.html",
                          "formatted_body": "<strong>bold</strong> and <em>italic</em>"}),
            (self.bob, {"msgtype": "m.text", "body": "Hi Alice! 🎉🚀 ünïcødé ✓ 日本語"}),
            (self.alice, {"msgtype": "m.text", "body": long_body}),
            (self.bob, {"msgtype": "m.emote", "body": "waves 👋"}),
        ]
        for index, (client, content) in enumerate(messages):
            txn = f"journey-{index}"
            response = await client.room_send(self.private, "m.room.message", content, tx_id=txn)
            expect(isinstance(response, RoomSendResponse), f"send {index}: {response}")
            self.sent.append(content["body"])
            if client is self.alice:
                self.txn_ids[response.event_id] = txn
            if index == 0:
                again = await client.room_send(self.private, "m.room.message", content, tx_id=txn)
                expect(getattr(again, "event_id", None) == response.event_id,
                       f"same transaction ID gave {again}, not {response.event_id}")
        self.last_event = response.event_id

    async def topic_and_name(self):
        from nio import RoomPutStateResponse

        for event_type, content in (("m.room.topic", {"topic": "the new topic"}),
                                    ("m.room.name", {"name": "Plans, renamed"})):
            response = await self.alice.room_put_state(self.private, event_type, content)
            expect(isinstance(response, RoomPutStateResponse), f"{event_type}: {response}")

    async def sync_sees_messages_in_order(self):
        from nio import RoomMessage

        for client in (self.bob, self.alice):
            sync = await self.sync(client)
            timeline = sync.rooms.join[self.private].timeline
            bodies = [event.body for event in timeline.events if isinstance(event, RoomMessage)]
            expect(bodies == self.sent, f"{client.user_id} saw {[b[:20] for b in bodies]}")
            room = client.rooms[self.private]
            expect(room.topic == "the new topic", f"topic as {client.user_id} sees it: {room.topic}")
            expect(room.name == "Plans, renamed", f"name: {room.name}")
            expect(room.user_name(self.user_id("alice")) == "Alice 🌸",
                   f"alice's display name: {room.user_name(self.user_id('alice'))}")
            expect(room.user_name(self.user_id("bob")) == "Bob", "bob's display name")
        # The sender's own events carry their transaction IDs; others' do not.
        for event in timeline.events:
            txn = event.source.get("unsigned", {}).get("transaction_id")
            expect(txn == self.txn_ids.get(event.event_id),
                   f"transaction_id {txn!r} on {event.event_id} ({event.sender})")
        # An inline filter limits the timeline; the gap shows as `limited`.
        from urllib.parse import quote

        inline = quote('{"room":{"timeline":{"limit":2}}}')
        status, body = await self.raw("GET", f"/_matrix/client/v3/sync?filter={inline}", self.bob.access_token)
        room = body["rooms"]["join"][self.private]
        expect(status == 200 and len(room["timeline"]["events"]) == 2 and room["timeline"]["limited"],
               f"filtered sync: {status} {room['timeline']}")
        expect(any(e["type"] == "m.room.create" for e in room["state"]["events"]), "state at timeline start")
        # Long-poll: a sync waits for the next event.
        import asyncio

        waiting = asyncio.create_task(self.sync(self.bob, timeout=10_000))
        await asyncio.sleep(0.3)
        expect(not waiting.done(), "an up-to-date sync should wait")
        await self.alice.room_send(self.private, "m.room.message", {"msgtype": "m.text", "body": "ping"})
        self.sent.append("ping")
        woke = await asyncio.wait_for(waiting, 5)
        bodies = [e.body for e in woke.rooms.join[self.private].timeline.events if isinstance(e, RoomMessage)]
        expect(bodies == ["ping"], f"long-poll woke with {bodies}")

    async def paginate_history(self):
        from nio import MessageDirection, RoomMessage, RoomMessagesResponse

        await self.sync(self.alice)
        token = self.alice.next_batch
        backwards: list[str] = []
        pages = 0
        while token and pages < 50:
            page = await self.alice.room_messages(self.private, start=token, limit=3)
            expect(isinstance(page, RoomMessagesResponse), f"messages: {page}")
            backwards += [e.body for e in page.chunk if isinstance(e, RoomMessage)]
            token, pages = page.end, pages + 1
        expect(list(reversed(backwards)) == self.sent, f"backwards: {[b[:15] for b in backwards]}")
        expect(pages > 2, f"only {pages} pages")
        forwards: list[str] = []
        token, types = "s0_0_0", []
        while token and pages < 100:
            page = await self.alice.room_messages(self.private, start=token, limit=4,
                                                  direction=MessageDirection.front)
            expect(isinstance(page, RoomMessagesResponse), f"messages forward: {page}")
            forwards += [e.body for e in page.chunk if isinstance(e, RoomMessage)]
            types += [e.source["type"] for e in page.chunk]
            token, pages = page.end, pages + 1
        expect(forwards == self.sent, f"forwards: {[b[:15] for b in forwards]}")
        expect(types[0] == "m.room.create", f"history starts with {types[0]}")

    async def read_state(self):
        from nio import RoomGetStateEventResponse, RoomGetStateResponse

        state = await self.bob.room_get_state(self.private)
        expect(isinstance(state, RoomGetStateResponse), f"state: {state}")
        kinds = {(e["type"], e["state_key"]) for e in state.events}
        for expected in [("m.room.create", ""), ("m.room.power_levels", ""), ("m.room.join_rules", ""),
                         ("m.room.member", self.user_id("bob")), ("m.room.topic", "")]:
            expect(expected in kinds, f"state lacks {expected}")
        topic = await self.bob.room_get_state_event(self.private, "m.room.topic")
        expect(isinstance(topic, RoomGetStateEventResponse) and topic.content["topic"] == "the new topic",
               f"topic: {topic}")
        missing = await self.bob.room_get_state_event(self.private, "m.room.avatar")
        expect(getattr(missing, "status_code", None) == "M_NOT_FOUND", f"missing state: {missing}")

    async def typing_and_receipts(self):
        from nio import ReceiptEvent, TypingNoticeEvent

        await self.sync(self.bob)
        await self.alice.room_typing(self.private, True, timeout=10_000)
        sync = await self.sync(self.bob)
        ephemeral = sync.rooms.join[self.private].ephemeral
        typing = [e for e in ephemeral if isinstance(e, TypingNoticeEvent)]
        expect(typing and self.user_id("alice") in typing[-1].users, f"typing: {ephemeral}")
        await self.sync(self.alice)
        response = await self.bob.update_receipt_marker(self.private, self.last_event)
        expect(type(response).__name__ == "UpdateReceiptMarkerResponse", f"receipt: {response}")
        sync = await self.sync(self.alice)
        receipts = [r for e in sync.rooms.join[self.private].ephemeral if isinstance(e, ReceiptEvent)
                    for r in e.receipts]
        expect(any(r.user_id == self.user_id("bob") and r.event_id == self.last_event for r in receipts),
               f"receipts: {receipts}")

    async def power_levels_refuse(self):
        rename = await self.bob.room_put_state(self.private, "m.room.name", {"name": "hijacked"})
        expect(getattr(rename, "status_code", None) == "M_FORBIDDEN", f"bob renaming: {rename}")
        kick = await self.bob.room_kick(self.private, self.user_id("alice"))
        expect(getattr(kick, "status_code", None) == "M_FORBIDDEN", f"bob kicking: {kick}")
        levels = await self.bob.room_put_state(self.private, "m.room.power_levels", {"users": {}})
        expect(getattr(levels, "status_code", None) == "M_FORBIDDEN", f"bob's power levels: {levels}")

    async def redactions(self):
        from urllib.parse import quote

        from nio import RoomRedactResponse, RoomSendResponse

        content = {"msgtype": "m.text", "body": "to be redacted"}
        sent = await self.alice.room_send(self.private, "m.room.message", content)
        expect(isinstance(sent, RoomSendResponse), f"send: {sent}")
        refused = await self.bob.room_redact(self.private, sent.event_id, reason="not mine")
        expect(getattr(refused, "status_code", None) == "M_FORBIDDEN",
               f"bob redacting alice's message: {refused}")
        redacted = await self.alice.room_redact(self.private, sent.event_id, reason="mine")
        expect(isinstance(redacted, RoomRedactResponse), f"alice redacting hers: {redacted}")
        path = (f"/_matrix/client/v3/rooms/{quote(self.private, safe='')}/event/"
                f"{quote(sent.event_id, safe='')}")
        status, event = await self.raw("GET", path, self.alice.access_token)
        because = event.get("unsigned", {}).get("redacted_because", {})
        expect(status == 200 and event.get("content") == {}
               and because.get("event_id") == redacted.event_id,
               f"the redacted event: {status} {event}")

    async def ban_unban_kick(self):
        from nio import JoinResponse, RoomBanResponse, RoomKickResponse, RoomUnbanResponse

        bob = self.user_id("bob")
        response = await self.alice.room_ban(self.public, bob, reason="testing")
        expect(isinstance(response, RoomBanResponse), f"ban: {response}")
        refused = await self.bob.join(self.public)
        expect(getattr(refused, "status_code", None) == "M_FORBIDDEN", f"banned join: {refused}")
        response = await self.alice.room_unban(self.public, bob)
        expect(isinstance(response, RoomUnbanResponse), f"unban: {response}")
        rejoined = await self.bob.join(self.public)
        expect(isinstance(rejoined, JoinResponse), f"rejoin: {rejoined}")
        response = await self.alice.room_kick(self.public, bob, reason="bye")
        expect(isinstance(response, RoomKickResponse), f"kick: {response}")

    async def bad_input(self):
        token = self.alice.access_token
        room = self.private.replace("!", "%21").replace(":", "%3A")
        send = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/"
        cases = [
            ("PUT", send + "bad-1", token, b"{not json", 400, "M_NOT_JSON"),
            ("PUT", send + "bad-2", token, b"[1, 2]", 400, "M_BAD_JSON"),
            ("PUT", send + "bad-3", token, b'{"body": 1.5}', 400, "M_BAD_JSON"),
            ("PUT", send + "bad-4", None, b"{}", 401, "M_MISSING_TOKEN"),
            ("PUT", send + "bad-5", "not-a-token", b"{}", 401, "M_UNKNOWN_TOKEN"),
            ("PUT", "/_matrix/client/v3/rooms/%21nowhere%3Ax/send/m.room.message/bad-6", token, b"{}",
             404, "M_NOT_FOUND"),
            ("PUT", send + "bad-7", token, b'{"body": "' + b"x" * 70_000 + b'"}', 413, "M_TOO_LARGE"),
            ("PUT", send + "bad-8", token, b'{"body": "' + b"x" * 2_000_000 + b'"}', 413, "M_TOO_LARGE"),
            ("POST", "/_matrix/client/v3/login", None, b'{"type": "m.login.password"}', 400,
             "M_MISSING_PARAM"),
            ("GET", "/_matrix/client/v3/no/such/endpoint", token, None, 404, "M_UNRECOGNIZED"),
            ("GET", "/_matrix/client/v3/createRoom", token, None, 405, "M_UNRECOGNIZED"),
            ("GET", "/_matrix/client/v3/rooms/%21nowhere%3Ax/state", token, None, 404, "M_NOT_FOUND"),
            ("GET", "/_matrix/client/v3/sync?since=garbage", token, None, 400, "M_INVALID_PARAM"),
        ]
        for method, path, auth, body, status, errcode in cases:
            got_status, got = await self.raw(method, path, auth, body)
            expect(got_status == status and got.get("errcode") == errcode and "error" in got,
                   f"{method} {path[:60]}: {got_status} {got}, wanted {status} {errcode}")
        status, body = await self.raw("GET", "/_matrix/client/versions")
        expect(status == 200, "the server should keep serving")

    async def federation_read_side(self):
        status, keys = await self.raw("GET", "/_matrix/key/v2/server")
        expect(status == 200 and keys["server_name"] == self.server.server_name, f"keys: {keys}")
        key_ids = list(keys["verify_keys"])
        expect(len(key_ids) == 1 and key_ids[0].startswith("ed25519:"), f"verify keys: {key_ids}")
        expect(key_ids[0] in keys["signatures"][self.server.server_name], "self-signature")
        verify_signature(keys, self.server.server_name, key_ids[0])
        status, version = await self.raw("GET", "/_matrix/federation/v1/version")
        expect(status == 200 and version["server"]["name"], f"version: {version}")

    async def leave(self):
        from nio import RoomLeaveResponse

        sync = await self.sync(self.bob)
        expect(self.public in sync.rooms.leave, "the kick shows as a left room")
        response = await self.bob.room_leave(self.private)
        expect(isinstance(response, RoomLeaveResponse), f"leave: {response}")
        sync = await self.sync(self.bob)
        expect(list(sync.rooms.leave) == [self.private], f"left rooms: {list(sync.rooms.leave)}")

    async def restart_keeps_everything(self):
        from nio import RoomMessage, RoomMessagesResponse, WhoamiResponse

        self.server.stop()
        await self.server.start()
        whoami = await self.alice.whoami()
        expect(isinstance(whoami, WhoamiResponse), f"token after restart: {whoami}")
        page = await self.alice.room_messages(self.private, start=self.alice.next_batch, limit=100)
        expect(isinstance(page, RoomMessagesResponse), f"messages after restart: {page}")
        bodies = [e.body for e in reversed(page.chunk) if isinstance(e, RoomMessage)]
        expect(bodies == self.sent, "history after restart")
        sync = await self.sync(self.alice)
        expect(sync.next_batch, "sync after restart")

    async def kill_during_burst_loses_nothing(self):
        import asyncio
        import aiohttp

        token = self.alice.access_token
        room = self.private.replace("!", "%21").replace(":", "%3A")
        acked: dict[str, str] = {}

        async def send(session, index):
            path = f"/_matrix/client/v3/rooms/{room}/send/m.room.message/burst-{index}"
            body = {"msgtype": "m.text", "body": f"burst {index}"}
            try:
                async with session.put(self.server.url + path, json=body,
                                       headers={"Authorization": f"Bearer {token}"}) as response:
                    if response.status == 200:
                        acked[f"burst-{index}"] = (await response.json())["event_id"]
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass  # in flight when the server died: not acknowledged

        async with aiohttp.ClientSession() as session:
            tasks = [asyncio.create_task(send(session, i)) for i in range(200)]
            while len(acked) < 20:
                await asyncio.sleep(0.005)
            self.server.kill()
            await asyncio.gather(*tasks)
        expect(20 <= len(acked) < 200, f"{len(acked)} of 200 acknowledged before kill -9")
        await self.server.start()
        for txn, event_id in acked.items():
            status, event = await self.raw(
                "GET", f"/_matrix/client/v3/rooms/{room}/event/{event_id.replace('$', '%24')}", token)
            expect(status == 200 and event["event_id"] == event_id, f"lost {event_id}: {status} {event}")
            expect(event.get("unsigned", {}).get("transaction_id") == txn, f"txn of {event_id}")
        # Idempotency survives too: resending an acknowledged transaction changes nothing.
        txn, event_id = next(iter(acked.items()))
        status, body = await self.raw("PUT", f"/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}",
                                      token, b'{"msgtype": "m.text", "body": "again"}')
        expect(status == 200 and body["event_id"] == event_id, f"resend after crash: {body}")
        print(f"     {len(acked)} sends acknowledged before kill -9, all present after restart")

    async def log_out(self):
        from nio import LogoutResponse

        for client in (self.alice, self.bob):
            token = client.access_token
            response = await client.logout()
            expect(isinstance(response, LogoutResponse), f"logout: {response}")
            status, body = await self.raw("GET", "/_matrix/client/v3/account/whoami", token)
            expect(status == 401 and body["errcode"] == "M_UNKNOWN_TOKEN", f"old token: {status} {body}")


def verify_signature(document: dict, server: str, key_id: str) -> None:
    """Checks the key document's self-signature over its canonical JSON, when an
    ed25519 implementation is at hand (pycryptodome comes with matrix-nio)."""
    import base64
    import json

    try:
        from Crypto.Signature import eddsa
    except ImportError:
        print("     (no ed25519 verifier available; signature not checked)")
        return

    def unpadded(text: str) -> bytes:
        return base64.b64decode(text + "=" * (-len(text) % 4))

    signed = {k: v for k, v in document.items() if k not in ("signatures", "unsigned")}
    message = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    key = eddsa.import_public_key(unpadded(document["verify_keys"][key_id]["key"]))
    signature = unpadded(document["signatures"][server][key_id])
    try:
        eddsa.new(key, "rfc8032").verify(message, signature)
    except ValueError as error:
        raise StepFailed("the key document's self-signature does not verify") from error


if __name__ == "__main__":
    sys.exit(main())

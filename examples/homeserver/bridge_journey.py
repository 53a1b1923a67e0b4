#!/usr/bin/env python3
"""The real-bridge test of the example homeserver's application-service API.

Builds the example (unless --server-bin is given), installs mautrix-python (its
`mautrix.appservice.AppService`) and matrix-nio from PyPI into a throwaway
virtualenv, writes a registration file, starts the server with `--appservice`, and
runs a small bridge of its own on mautrix: the alias query for `#remote_<chan>`
creates a portal room with that alias through the bot's intent, virtual users
`@remote_<name>` join and talk by masquerading, and every user message is echoed
back by a virtual user. A matrix-nio user joins `#remote_chan`, sends messages; the
server is killed with kill -9 mid-stream and restarted, the bridge is stopped for a
while and restarted; every message must reach the bridge exactly once and in order,
in transactions whose IDs increase, and every echo must reach the user exactly once
and in order. Typing reaches the bridge as an ephemeral event, and the ping API
round-trips.

    python3 examples/homeserver/bridge_journey.py [--release] [--server-bin PATH]
                                                  [--keep-data]

Prints one line per step, the delivery figures, and "N passed, N failed"; exits
non-zero on any failure.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from journey_common import StepFailed, expect, launch, run_steps

REQUIREMENTS = ["matrix-nio>=0.24,<1", "mautrix>=0.20,<0.22"]
IN_VENV = "HOMESERVER_BRIDGE_IN_VENV"
AS_TOKEN = "bridge-as-token-0123456789"
HS_TOKEN = "bridge-hs-token-9876543210"
# Messages before the kill, between the kill and the bridge's stop, while the bridge
# is down, and after it is back.
BATCHES = (30, 20, 20, 20)


def main() -> int:
    import asyncio

    return launch(__file__, __doc__, REQUIREMENTS, IN_VENV,
                  lambda args: asyncio.run(Journey(args.server_bin, args.keep_data).run()))


# --- everything below runs inside the virtualenv -------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def eventually(check, what: str, timeout: float = 30.0) -> None:
    """Waits until `check()` holds, polling."""
    import asyncio

    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise StepFailed(f"timed out waiting for {what() if callable(what) else what}")
        await asyncio.sleep(0.05)


class Bridge:
    """A small bridge on mautrix's AppService: portals on alias queries, puppets that
    talk by masquerading, an echo of every user message."""

    def __init__(self, hs_url: str, domain: str, port: int):
        self.hs_url = hs_url
        self.domain = domain
        self.port = port
        self.appservice = None
        self.portal: str | None = None
        # What arrived, in order: (txn ID, event ID, sender, body, time received).
        self.messages: list[tuple[int, str, str, str, float]] = []
        self.txn_ids: list[int] = []
        self.ephemeral: list[dict] = []
        self.echoes = None
        self.echo_task = None
        # The echo being sent when the bridge stopped, sent first after its start.
        self.inflight = None
        self.current_txn: int | None = None

    async def start(self) -> None:
        import asyncio

        from mautrix.appservice import AppService
        from mautrix.appservice.state_store import ASStateStore
        from mautrix.client.state_store import MemoryStateStore

        class Store(ASStateStore, MemoryStateStore):
            def __init__(self) -> None:
                ASStateStore.__init__(self)
                MemoryStateStore.__init__(self)

        appservice = AppService(
            server=self.hs_url, domain=self.domain, as_token=AS_TOKEN, hs_token=HS_TOKEN,
            bot_localpart="remote_bot", id="remote", query_alias=self.query_alias,
            state_store=Store(), ephemeral_events=True,
        )
        # One event at a time, in the order of the transaction.
        appservice.synchronous_handlers = True
        handle_transaction = appservice.handle_transaction

        async def recording(txn_id, **kwargs):
            self.txn_ids.append(int(txn_id))
            self.current_txn = int(txn_id)
            return await handle_transaction(txn_id, **kwargs)

        appservice.handle_transaction = recording
        appservice.matrix_event_handler(self.on_event)
        await appservice.start(host="127.0.0.1", port=self.port)
        self.appservice = appservice
        if self.echoes is None:
            self.echoes = asyncio.Queue()
        self.echo_task = asyncio.create_task(self.echo_loop())

    async def stop(self) -> None:
        if self.echo_task:
            self.echo_task.cancel()
            try:
                await self.echo_task
            except BaseException:
                pass
        if self.appservice:
            await self.appservice.stop()
            self.appservice = None

    def puppet(self, name: str):
        return self.appservice.intent.user(f"@remote_{name}:{self.domain}")

    async def query_alias(self, alias: str):
        from mautrix.types import RoomCreatePreset, RoomDirectoryVisibility

        localpart = alias[1:].split(":", 1)[0]
        if not localpart.startswith("remote_"):
            return None
        chan = localpart[len("remote_"):]
        room_id = await self.appservice.intent.create_room(
            alias_localpart=localpart, preset=RoomCreatePreset.PUBLIC,
            visibility=RoomDirectoryVisibility.PUBLIC, name=f"#{chan} (remote)",
        )
        self.portal = room_id
        greeter = self.puppet("greeter")
        await greeter.ensure_joined(room_id)
        await greeter.send_text(room_id, f"welcome to #{chan}")
        # mautrix answers 404 for a falsy result.
        return {"room_id": room_id}

    async def on_event(self, event) -> None:
        from mautrix.types import EventType

        if event.type.is_ephemeral:
            self.ephemeral.append({"type": str(event.type), "content": event.content.serialize()})
            return
        if event.type != EventType.ROOM_MESSAGE or event.sender.startswith("@remote_"):
            return
        body = event.content.body
        self.messages.append((self.current_txn, event.event_id, event.sender, body,
                              time.monotonic()))
        await self.echoes.put((event.room_id, event.event_id, body))

    async def echo_loop(self) -> None:
        import asyncio

        from mautrix.types import EventType, MessageType, TextMessageEventContent

        while True:
            if self.inflight is None:
                self.inflight = await self.echoes.get()
            room_id, event_id, body = self.inflight
            content = TextMessageEventContent(msgtype=MessageType.TEXT, body=f"echo: {body}")
            while True:
                try:
                    # The same transaction ID on every attempt: a send that reached the
                    # server before it died is not made twice.
                    await self.puppet("echo").send_message_event(
                        room_id, EventType.ROOM_MESSAGE, content, txn_id=f"echo-{event_id}")
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    await asyncio.sleep(0.2)
            self.inflight = None


class Journey:
    def __init__(self, server_bin: str, keep_data: bool):
        from client_journey import Server

        self.workdir = tempfile.mkdtemp(prefix="homeserver-bridge-journey-")
        self.bridge_port = free_port()
        registration = Path(self.workdir) / "remote.yaml"
        self.server = Server(server_bin, str(Path(self.workdir) / "data"),
                             ("--no-rate-limits", "--appservice", str(registration)))
        self.domain = self.server.server_name
        escaped = self.domain.replace(".", "\\\\.")
        registration.write_text(
            "# A registration as bridges ship them.\n"
            "id: remote\n"
            f"url: http://127.0.0.1:{self.bridge_port}\n"
            f"as_token: {AS_TOKEN}\n"
            f"hs_token: {HS_TOKEN}\n"
            "sender_localpart: remote_bot\n"
            "rate_limited: false\n"
            "receive_ephemeral: true\n"
            "namespaces:\n"
            "  users:\n"
            f"    - exclusive: true\n      regex: \"@remote_.*:{escaped}\"\n"
            "  aliases:\n"
            f"    - exclusive: true\n      regex: \"#remote_.*:{escaped}\"\n"
            "  rooms: []\n"
        )
        self.bridge = Bridge(self.server.url, self.domain, self.bridge_port)
        self.keep_data = keep_data
        self.client = None
        self.room_id: str | None = None
        self.sent: list[str] = []
        self.sent_at: dict[str, float] = {}
        self.echoes: list[tuple[str, str]] = []  # (event ID, body) seen by the user
        self.sync_task = None
        self.limited = False
        self.figures: list[str] = []

    async def run(self) -> int:
        import logging

        logging.getLogger("nio").setLevel(logging.CRITICAL)
        logging.getLogger("mau").setLevel(logging.CRITICAL)
        logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
        steps = [
            self.start_server_and_bridge,
            self.exclusive_names_are_refused,
            self.user_joins_the_portal_alias,
            self.messages_reach_the_bridge_and_echoes_come_back,
            self.server_killed_mid_stream_and_restarted,
            self.bridge_down_for_a_while_and_restarted,
            self.every_message_arrived_once_in_order,
            self.typing_reaches_the_bridge,
            self.ping_round_trips,
        ]
        try:
            passed, failed = await run_steps(steps)
        finally:
            await self.close()
        for figure in self.figures:
            print(figure, flush=True)
        print(f"{passed} passed, {failed} failed", flush=True)
        if failed or passed != len(steps):
            print(f"server log: {Path(self.workdir) / 'server.log'}", flush=True)
            self.keep_data = True
        return 1 if failed or passed != len(steps) else 0

    async def close(self) -> None:
        if self.sync_task:
            self.sync_task.cancel()
        if self.client:
            await self.client.close()
        await self.bridge.stop()
        self.server.stop()
        if not self.keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)

    async def start_server_and_bridge(self) -> None:
        await self.server.start()
        await self.bridge.start()
        await self.bridge.appservice.intent.ensure_registered()

    async def exclusive_names_are_refused(self) -> None:
        import json
        import urllib.error
        import urllib.request

        body = json.dumps({"username": "remote_mallory", "password": "pw",
                           "auth": {"type": "m.login.dummy"}}).encode()
        request = urllib.request.Request(self.server.url + "/_matrix/client/v3/register",
                                         data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request, timeout=10)
            raise StepFailed("an ordinary user registered a name in the bridge's namespace")
        except urllib.error.HTTPError as error:
            answer = json.loads(error.read())
            expect(answer.get("errcode") == "M_EXCLUSIVE", f"answer {answer}")

    async def user_joins_the_portal_alias(self) -> None:
        import asyncio

        from nio import AsyncClient, JoinResponse

        self.client = AsyncClient(self.server.url, "alice")
        answer = await self.client.register("alice", "a-long-password-1")
        expect(getattr(answer, "access_token", None), f"register: {answer}")
        self.client.access_token = answer.access_token
        self.client.user_id = answer.user_id
        joined = await self.client.join(f"#remote_chan:{self.domain}")
        expect(isinstance(joined, JoinResponse), f"join: {joined}")
        self.room_id = joined.room_id
        expect(self.bridge.portal == self.room_id, "the portal is not the room joined")
        self.sync_task = asyncio.create_task(self.sync_loop())

    async def sync_loop(self) -> None:
        import asyncio

        from nio import SyncResponse

        since = None
        while True:
            try:
                # A timeline long enough that no sync is `limited` (the echoes come
                # in bursts after the restarts).
                answer = await self.client.sync(
                    timeout=1000, since=since,
                    sync_filter={"room": {"timeline": {"limit": 1000}}})
            except Exception:
                await asyncio.sleep(0.2)
                continue
            if not isinstance(answer, SyncResponse):
                await asyncio.sleep(0.2)
                continue
            since = answer.next_batch
            room = answer.rooms.join.get(self.room_id)
            if room is None:
                continue
            if room.timeline.limited and since is not None:
                self.limited = True
            for event in room.timeline.events:
                body = getattr(event, "body", None)
                if event.sender == f"@remote_echo:{self.domain}" and body:
                    self.echoes.append((event.event_id, body))

    async def send_batch(self, count: int) -> None:
        import asyncio

        from nio import RoomSendResponse

        start = len(self.sent)
        for index in range(start, start + count):
            body = f"msg-{index}"
            txn_id = f"alice-{index}"
            self.sent_at[body] = time.monotonic()
            for _ in range(200):
                try:
                    answer = await self.client.room_send(
                        self.room_id, "m.room.message", {"msgtype": "m.text", "body": body},
                        tx_id=txn_id)
                except Exception:
                    answer = None
                if isinstance(answer, RoomSendResponse):
                    break
                await asyncio.sleep(0.1)
            else:
                raise StepFailed(f"cannot send {body}")
            self.sent.append(body)

    async def messages_reach_the_bridge_and_echoes_come_back(self) -> None:
        started = time.monotonic()
        await self.send_batch(BATCHES[0])
        await eventually(lambda: len(self.bridge.messages) >= BATCHES[0],
                         "the first messages at the bridge")
        elapsed = time.monotonic() - started
        delays = sorted((at - self.sent_at[body]) * 1000
                        for (_, _, _, body, at) in self.bridge.messages[:BATCHES[0]])
        p50 = delays[len(delays) // 2]
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        self.figures.append(
            f"figures: {BATCHES[0]} sends one after another pushed at "
            f"{BATCHES[0] / elapsed:.0f} events/s; send→bridge p50 {p50:.1f} ms, "
            f"p99 {p99:.1f} ms")
        await eventually(lambda: len(self.echoes) >= BATCHES[0], "the echoes at the user")
        expected = [f"echo: msg-{i}" for i in range(BATCHES[0])]
        expect([body for _, body in self.echoes] == expected, "echoes out of order")

    async def server_killed_mid_stream_and_restarted(self) -> None:
        await self.send_batch(BATCHES[1] // 2)
        # Killed without waiting for the bridge: transactions are in flight.
        self.server.kill()
        await self.server.start()
        await self.send_batch(BATCHES[1] - BATCHES[1] // 2)
        total = sum(BATCHES[:2])
        await eventually(lambda: len(self.bridge.messages) >= total,
                         "the messages around the kill at the bridge")

    async def bridge_down_for_a_while_and_restarted(self) -> None:
        import asyncio

        await self.bridge.stop()
        await self.send_batch(BATCHES[2])
        await asyncio.sleep(3)
        await self.bridge.start()
        await self.send_batch(BATCHES[3])
        total = sum(BATCHES)
        await eventually(lambda: len(self.bridge.messages) >= total,
                         "every message at the bridge", timeout=40)

    async def every_message_arrived_once_in_order(self) -> None:
        import asyncio

        total = sum(BATCHES)
        bodies = [body for (_, _, _, body, _) in self.bridge.messages]
        expect(bodies == self.sent, f"the bridge got {len(bodies)} messages, not the "
               f"{len(self.sent)} sent once each in order")
        event_ids = [event_id for (_, event_id, _, _, _) in self.bridge.messages]
        expect(len(set(event_ids)) == len(event_ids), "an event reached the bridge twice")
        txns = self.bridge.txn_ids
        expect(all(a < b for a, b in zip(txns, txns[1:])),
               f"transaction IDs do not increase: {txns}")
        await asyncio.sleep(0.5)
        await eventually(lambda: len(self.echoes) >= total,
                         lambda: f"every echo at the user (got {len(self.echoes)})", 40)
        await asyncio.sleep(1.5)
        expected = [f"echo: msg-{i}" for i in range(total)]
        got = [body for _, body in self.echoes]
        expect(not self.limited, "a sync skipped part of the timeline")
        expect(got == expected, f"the user saw {len(got)} echoes, not {total} in order")

    async def typing_reaches_the_bridge(self) -> None:
        await self.client.room_typing(self.room_id, True, 5000)
        await eventually(
            lambda: any(e["type"] == "m.typing"
                        and self.client.user_id in e["content"].get("user_ids", [])
                        for e in self.bridge.ephemeral),
            "typing at the bridge")

    async def ping_round_trips(self) -> None:
        duration = await self.bridge.appservice.ping_self("journey-ping")
        expect(isinstance(duration, int) and duration >= 0, f"ping: {duration}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Load across a federation link: messages/s and send-to-remote-/sync delay, both ways,
beside the same between two Synapse servers on the same machine.

Builds the example (release unless --server-bin is given), installs matrix-synapse into
a throwaway virtualenv, makes a throwaway test CA, and starts on loopback the example
homeserver and two Synapse servers (all trusting the CA and allowed to reach 127.0.0.1).
For each pair of servers (ours with Synapse A, then Synapse A with Synapse B) it
registers `--clients` senders and one observer on each side, creates a public room in
room version `--room-version` on the first server, joins everyone from the second over
federation, sends one warm-up message each way, and then, once per direction, lets the
senders on one side send `--messages` messages between them, each sender one request at
a time, while the observer on the other side long-polls /sync and notes when each
message arrives.

    python3 examples/homeserver/federation_load.py [--messages N] [--clients M]
                                                   [--room-version V] [--server-bin PATH]
                                                   [--debug] [--keep-data]

Prints one line per direction: the messages the other side's client read, the rate at
which they reached its /sync (those that arrived there, over the time from the first
send to the last such arrival), the send rate the sending server acknowledged, and the
p50/p95/p99 delay from a message's send request to its arrival in that /sync. A
receiving Synapse under a burst prunes its queue of incoming events and leaves gaps in
the room that only paging back fills (it then fetches them with /backfill); the tool
pages back at the end of each direction and counts such messages apart, and those it
cannot read at all (neither in /sync, which it waits for until nothing new arrived for
20 s or `--drain-timeout` seconds passed, nor by paging back). `--rate` offers a fixed
load instead of sending as fast as the senders go, to compare delays at a rate every
server sustains. Exits non-zero if a send fails, a message arrives twice, or a message
sent from Synapse never reaches this server's client.

All servers and the load generator share this machine's cores, so the figures compare
the pairs with each other under the same conditions; they are not absolute capacities.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from journey_common import StepFailed, build_server, expect

SYNAPSE_REQUIREMENT = "matrix-synapse==1.163.2"
IN_VENV = "FEDERATION_LOAD_IN_VENV"
SYNC_POLL_MS = 30_000
TIMELINE_LIMIT = 1000
REQUEST_TIMEOUT_S = 90
QUIET_S = 20  # a direction's drain ends when nothing new arrived for this long
MAX_MESSAGES = 100_000
MAX_CLIENTS = 64
MAX_PAGES = 1_000  # /messages pages read back at the end of a direction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500,
                        help="messages per direction (default 500)")
    parser.add_argument("--clients", type=int, default=4,
                        help="concurrent senders per side (default 4)")
    parser.add_argument("--room-version", default="12", help="room version (default 12)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="messages per second offered in all (default 0: as fast as the"
                             " senders go)")
    parser.add_argument("--drain-timeout", type=float, default=120.0,
                        help="seconds to wait for the last arrivals (default 120)")
    parser.add_argument("--server-bin", help="use this server binary instead of building")
    parser.add_argument("--debug", action="store_true", help="build without --release")
    parser.add_argument("--keep-data", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if not 1 <= args.messages <= MAX_MESSAGES:
        parser.error(f"--messages must be within 1..={MAX_MESSAGES}")
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be within 1..={MAX_CLIENTS}")
    if not 0 <= args.rate <= 100_000:
        parser.error("--rate must be within 0..=100000")
    return args


def main() -> int:
    args = parse_args()
    if os.environ.get(IN_VENV) == "1":
        return asyncio.run(LoadRun(args).run())
    server_bin = args.server_bin or build_server(release=not args.debug)
    venv_dir = tempfile.mkdtemp(prefix="federation-load-venv-")
    try:
        import venv

        print(f"creating a virtualenv in {venv_dir} with {SYNAPSE_REQUIREMENT}", flush=True)
        venv.create(venv_dir, with_pip=True)
        python = str(Path(venv_dir) / "bin" / "python")
        subprocess.run([python, "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", SYNAPSE_REQUIREMENT], check=True)
        command = [python, __file__, "--server-bin", server_bin] + forwarded_flags(args)
        return subprocess.run(command, env={**os.environ, IN_VENV: "1"}).returncode
    finally:
        shutil.rmtree(venv_dir, ignore_errors=True)


def forwarded_flags(args: argparse.Namespace) -> list[str]:
    flags = ["--messages", str(args.messages), "--clients", str(args.clients),
             "--room-version", args.room_version, "--drain-timeout", str(args.drain_timeout),
             "--rate", str(args.rate)]
    return flags + (["--keep-data"] if args.keep_data else [])


# --- everything below runs inside the virtualenv, with Synapse (and aiohttp) -----------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Client:
    """One user's HTTP(S) session on one server, trusting the test CA."""

    def __init__(self, base_url: str, ssl_context):
        import aiohttp

        self.base_url = base_url
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl_context, limit=4),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S + SYNC_POLL_MS / 1000),
        )
        self.user_id = ""
        self.token = ""

    async def call(self, method: str, path: str, body: dict | None = None,
                   query: dict | None = None) -> tuple[int, dict]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.session.request(method, self.base_url + path, json=body,
                                        params=query, headers=headers) as response:
            try:
                return response.status, await response.json(content_type=None)
            except ValueError:
                return response.status, {}

    async def register(self, name: str) -> None:
        status, body = await self.call("POST", "/_matrix/client/v3/register", {
            "username": name, "password": f"{name}-password",
            "auth": {"type": "m.login.dummy"},
        })
        expect(status == 200, f"register {name} at {self.base_url}: {status} {body}")
        self.user_id, self.token = body["user_id"], body["access_token"]

    async def close(self) -> None:
        await self.session.close()


@dataclass
class Side:
    """A server in a pair, with its senders and its observer."""

    label: str
    server_name: str
    senders: list[Client] = field(default_factory=list)
    observer: Client | None = None

    def everyone(self) -> list[Client]:
        return self.senders + ([self.observer] if self.observer else [])


@dataclass
class Figures:
    direction: str
    messages: int
    delivered: int
    duplicates: int
    failed_sends: int
    delivered_per_s: float
    acked_per_s: float
    delays_ms: list[float]
    gaps: int
    paged_back: int
    receiver_is_ours: bool

    def line(self) -> str:
        delays = sorted(self.delays_ms)
        return (f"{self.direction:<26} {self.delivered:>6}/{self.messages:<6}"
                f" {self.delivered_per_s:>9.1f} msg/s delivered {self.acked_per_s:>9.1f} msg/s acked"
                f"   delay p50 {percentile(delays, 0.50):>7.0f} ms"
                f"  p95 {percentile(delays, 0.95):>7.0f} ms"
                f"  p99 {percentile(delays, 0.99):>7.0f} ms"
                + (f"  ({self.gaps} limited syncs filled by /messages)" if self.gaps else "")
                + (f"  ({self.paged_back} only by paging back)" if self.paged_back else ""))

    def ok(self) -> bool:
        """Nothing sent twice or refused, and, where the receiver is this server,
        nothing acknowledged left unread (a receiving Synapse may drop events from its
        timeline under a burst; that is reported, not failed)."""
        complete = self.delivered == self.messages or not self.receiver_is_ours
        return complete and self.duplicates == 0 and self.failed_sends == 0


class Observer:
    """Long-polls /sync for one room and records when each expected body first arrives."""

    def __init__(self, client: Client, room_id: str, since: str):
        self.client = client
        self.room_id = room_id
        self.since = since
        self.seen: dict[str, float] = {}
        self.duplicates = 0
        self.expected: set[str] = set()
        self.limited_gaps = 0

    async def poll(self, stop: asyncio.Event) -> None:
        timeline_filter = json.dumps({"room": {"timeline": {"limit": TIMELINE_LIMIT}}})
        while not stop.is_set():
            status, body = await self.client.call("GET", "/_matrix/client/v3/sync", query={
                "since": self.since, "timeout": str(SYNC_POLL_MS), "filter": timeline_filter,
            })
            now = time.monotonic()
            if status != 200:
                await asyncio.sleep(0.1)
                continue
            self.since = body.get("next_batch", self.since)
            room = body.get("rooms", {}).get("join", {}).get(self.room_id, {})
            timeline = room.get("timeline", {})
            for event in timeline.get("events", []):
                text = event.get("content", {}).get("body")
                if text not in self.expected:
                    continue
                if text in self.seen:
                    self.duplicates += 1
                else:
                    self.seen[text] = now
            if timeline.get("limited") and timeline.get("prev_batch"):
                await self.fill_gap(timeline["prev_batch"], now)

    async def fill_gap(self, token: str, now: float) -> None:
        """A limited timeline left older events out: pages back with /messages until it
        reaches what an earlier sync showed, taking the gap's messages as arrived `now`
        (which is when this client could first have seen them)."""
        self.limited_gaps += 1
        path = f"/_matrix/client/v3/rooms/{quote(self.room_id, safe='')}/messages"
        while token:
            status, body = await self.client.call(
                "GET", path, query={"dir": "b", "from": token, "limit": str(TIMELINE_LIMIT)})
            chunk = body.get("chunk", []) if status == 200 else []
            reached_seen = False
            for event in chunk:
                text = event.get("content", {}).get("body")
                if text in self.seen:
                    reached_seen = True
                elif text in self.expected:
                    self.seen[text] = now
            if not chunk or reached_seen:
                return
            token = body.get("end", "")


    async def page_back(self, now: float) -> int:
        """After the run: pages back through the room's history with /messages (which
        makes a server fetch what it skipped with /backfill) and takes every expected
        message not seen in /sync as arrived `now`. Returns how many it found."""
        found = 0
        path = f"/_matrix/client/v3/rooms/{quote(self.room_id, safe='')}/messages"
        token = self.since
        for _ in range(MAX_PAGES):
            missing = self.expected.difference(self.seen)
            if not missing or not token:
                break
            status, body = await self.client.call(
                "GET", path, query={"dir": "b", "from": token, "limit": str(TIMELINE_LIMIT)})
            chunk = body.get("chunk", []) if status == 200 else []
            for event in chunk:
                text = event.get("content", {}).get("body")
                if text in missing and text not in self.seen:
                    self.seen[text] = now
                    found += 1
            if not chunk:
                break
            token = body.get("end", "")
        return found


class LoadRun:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="federation-load-"))
        self.failed = False

    def ssl_context(self):
        import ssl

        return ssl.create_default_context(cafile=str(self.workdir / "tls" / "ca.crt"))

    async def run(self) -> int:
        import logging

        from federation_journey import Ours, Synapse, make_test_ca

        logging.getLogger("aiohttp").setLevel(logging.CRITICAL)
        (self.workdir / "tls").mkdir()
        make_test_ca(self.workdir / "tls")
        ours = Ours(self.args.server_bin, self.workdir)
        synapse_a = Synapse(self.workdir, "synapse-a")
        synapse_b = Synapse(self.workdir, "synapse-b")
        servers = [ours, synapse_a, synapse_b]
        results: list[Figures] = []
        try:
            for synapse in (synapse_a, synapse_b):
                synapse.configure()
            await asyncio.gather(ours.start(), synapse_a.start(), synapse_b.start())
            print(f"servers up: ours {ours.server_name}, synapse A {synapse_a.server_name},"
                  f" synapse B {synapse_b.server_name}; {self.args.messages} messages per"
                  f" direction from {self.args.clients} senders, room version"
                  f" {self.args.room_version}", flush=True)
            results += await self.pair("ours", ours.url, ours.server_name,
                                       "synapse A", synapse_a.url, synapse_a.server_name)
            results += await self.pair("synapse A", synapse_a.url, synapse_a.server_name,
                                       "synapse B", synapse_b.url, synapse_b.server_name)
        except StepFailed as error:
            print(f"FAIL {error}", flush=True)
            self.failed = True
        finally:
            for server in servers:
                server.stop()
        if results:
            print("\nfederation load (delay: send request to arrival in the other server's"
                  " /sync)")
            for figures in results:
                unread = figures.messages - figures.delivered
                print(figures.line() + (f"  {unread} never read" if unread else "")
                      + ("" if figures.ok() else "   FAILED"))
        if self.failed or not all(figures.ok() for figures in results):
            print(f"logs: {self.workdir}")
            return 1
        if not self.args.keep_data:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return 0

    async def pair(self, host_label: str, host_url: str, host_name: str,
                   guest_label: str, guest_url: str, guest_name: str) -> list[Figures]:
        """One room hosted by the first server and joined from the second; one measured
        run each way."""
        tag = uuid.uuid4().hex[:6]
        host, guest = Side(host_label, host_name), Side(guest_label, guest_name)
        for side, url in ((host, host_url), (guest, guest_url)):
            side.senders = [Client(url, self.ssl_context()) for _ in range(self.args.clients)]
            side.observer = Client(url, self.ssl_context())
            names = [f"load{tag}s{i}" for i in range(self.args.clients)] + [f"load{tag}o"]
            await asyncio.gather(*(client.register(name)
                                   for client, name in zip(side.everyone(), names)))
        try:
            creator = host.senders[0]
            status, body = await creator.call("POST", "/_matrix/client/v3/createRoom", {
                "preset": "public_chat", "room_version": self.args.room_version,
                "name": f"load {tag}",
            })
            expect(status == 200, f"createRoom on {host_label}: {status} {body}")
            room_id = body["room_id"]
            for client in host.everyone()[1:]:
                await self.join(client, room_id, host_name)
            for client in guest.everyone():
                await self.join(client, room_id, host_name)
            await self.warm_up(host, guest, room_id)
            await self.warm_up(guest, host, room_id)
            return [await self.measure(host, guest, room_id),
                    await self.measure(guest, host, room_id)]
        finally:
            for client in host.everyone() + guest.everyone():
                await client.close()

    async def join(self, client: Client, room_id: str, via: str) -> None:
        status, body = await client.call(
            "POST", f"/_matrix/client/v3/join/{quote(room_id, safe='')}",
            {}, query={"server_name": via})
        expect(status == 200, f"{client.user_id} joins {room_id}: {status} {body}")

    async def since_token(self, client: Client) -> str:
        status, body = await client.call("GET", "/_matrix/client/v3/sync",
                                         query={"timeout": "0"})
        expect(status == 200, f"initial sync of {client.user_id}: {status} {body}")
        return body["next_batch"]

    async def warm_up(self, sender: Side, receiver: Side, room_id: str) -> None:
        """One message each way before measuring, so that keys are fetched, every member
        has arrived on both sides and the sending queues are open."""
        observer = Observer(receiver.observer, room_id, await self.since_token(receiver.observer))
        text = f"warm-up {uuid.uuid4().hex}"
        observer.expected.add(text)
        stop = asyncio.Event()
        poller = asyncio.create_task(observer.poll(stop))
        try:
            status, body = await self.send(sender.senders[0], room_id, text)
            expect(status == 200, f"warm-up send on {sender.label}: {status} {body}")
            deadline = time.monotonic() + 60
            while text not in observer.seen:
                expect(time.monotonic() < deadline,
                       f"warm-up from {sender.label} never reached {receiver.label}")
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            poller.cancel()

    async def send(self, client: Client, room_id: str, text: str) -> tuple[int, dict]:
        txn = uuid.uuid4().hex
        return await client.call(
            "PUT",
            f"/_matrix/client/v3/rooms/{quote(room_id, safe='')}/send/m.room.message/{txn}",
            {"msgtype": "m.text", "body": text})

    async def measure(self, sender: Side, receiver: Side, room_id: str) -> Figures:
        total = self.args.messages
        observer = Observer(receiver.observer, room_id, await self.since_token(receiver.observer))
        texts = [f"load {sender.label} {i} {uuid.uuid4().hex[:8]}" for i in range(total)]
        observer.expected.update(texts)
        sent_at: dict[str, float] = {}
        acked_at: dict[str, float] = {}
        failures = 0
        stop = asyncio.Event()
        poller = asyncio.create_task(observer.poll(stop))

        start = time.monotonic()
        interval = 1 / self.args.rate if self.args.rate else 0.0

        async def sender_loop(client: Client, first: int, step: int) -> None:
            nonlocal failures
            for index in range(first, total, step):
                text = texts[index]
                if interval:
                    # Message `index` is due at start + index * interval.
                    await asyncio.sleep(max(0.0, start + index * interval - time.monotonic()))
                sent_at[text] = time.monotonic()
                status, _ = await self.send(client, room_id, text)
                if status == 200:
                    acked_at[text] = time.monotonic()
                else:
                    failures += 1

        count = len(sender.senders)
        await asyncio.gather(*(sender_loop(client, i, count)
                               for i, client in enumerate(sender.senders)))
        # Wait for the rest until everything arrived, nothing new arrived for
        # QUIET_S seconds, or the drain timeout.
        deadline = time.monotonic() + self.args.drain_timeout
        last_count, last_change = len(observer.seen), time.monotonic()
        while any(text not in observer.seen for text in acked_at):
            now = time.monotonic()
            if len(observer.seen) != last_count:
                last_count, last_change = len(observer.seen), now
            if now >= deadline or now - last_change >= QUIET_S:
                break
            await asyncio.sleep(0.05)
        stop.set()
        poller.cancel()
        in_sync = dict(observer.seen)
        paged_back = await observer.page_back(time.monotonic())
        delivered = [text for text in acked_at if text in observer.seen]
        timely = [text for text in acked_at if text in in_sync]
        first_send = min(sent_at.values())
        last_arrival = max((in_sync[text] for text in timely), default=first_send)
        last_ack = max(acked_at.values(), default=first_send)
        return Figures(
            direction=f"{sender.label} -> {receiver.label}",
            messages=total,
            delivered=len(delivered),
            duplicates=observer.duplicates,
            failed_sends=failures,
            delivered_per_s=len(timely) / max(last_arrival - first_send, 1e-9),
            acked_per_s=len(acked_at) / max(last_ack - first_send, 1e-9),
            delays_ms=[(in_sync[text] - sent_at[text]) * 1000 for text in timely],
            gaps=observer.limited_gaps,
            paged_back=paged_back,
            receiver_is_ours=receiver.label == "ours",
        )


if __name__ == "__main__":
    sys.exit(main())

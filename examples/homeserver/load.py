#!/usr/bin/env python3
"""A load test of the example homeserver: N messages over M concurrent clients.

Builds the example (release by default, unless --server-bin or --server-url is given),
installs matrix-nio (and with it aiohttp) into a throwaway virtualenv, starts the server
on a free loopback port with a temporary data directory (unless --server-url points at
one already running), registers M sending users and one observer, has the first sender
create a public room that the others join, then lets the M senders send N messages in
total concurrently, each sender one request at a time
(PUT /rooms/{roomId}/send/m.room.message/{txnId}). Meanwhile the observer long-polls
/sync and notes when each message shows up.

    python3 examples/homeserver/load.py [--messages N] [--clients M] [--release | --debug]
                                        [--server-bin PATH | --server-url URL]
                                        [--time-limit SECONDS]

Reports sends per second, the p50/p95/p99 latency of a send (request to acknowledgement),
the p50/p95/p99 sync latency (acknowledgement to the message arriving in the observer's
/sync) and how many acknowledged messages the observer saw. Exits non-zero when an
acknowledged message was never seen, was seen more than once, a send failed, or the time
limit (which covers everything from server start to the last sync) was hit.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

# The journey script only defines things at import time; reuse its build and server
# helpers rather than copying them.
from client_journey import NIO_REQUIREMENT, Server
from journey_common import build_server

IN_VENV = "HOMESERVER_LOAD_IN_VENV"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_MESSAGES = 1_000_000
MAX_CLIENTS = 256
SYNC_POLL_MS = 30_000  # the observer's long-poll timeout
TIMELINE_LIMIT = 1000  # the most the server returns in one sync timeline
REQUEST_TIMEOUT_S = 60  # any single HTTP request (a long-poll takes SYNC_POLL_MS more)
CHILD_GRACE_S = 30  # how long past --time-limit the venv child may take to wind down


def main() -> int:
    """Parses the flags; outside the virtualenv builds and re-runs, inside runs the load."""
    args = parse_args()
    if os.environ.get(IN_VENV) == "1":
        import asyncio

        return asyncio.run(run_load(args))
    server_bin = None
    if not args.server_url:
        server_bin = args.server_bin or build_server(args.release)
    return run_in_venv(args, server_bin)


def parse_args() -> argparse.Namespace:
    """The command line, checked: bounded counts, a positive time limit, loopback only."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=2000, help="messages in total (default 2000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent senders (default 8)")
    build = parser.add_mutually_exclusive_group()
    build.add_argument("--release", dest="release", action="store_true", default=True,
                       help="build and use the release binary (the default)")
    build.add_argument("--debug", dest="release", action="store_false",
                       help="build and use the debug binary")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--server-bin", help="use this server binary instead of building")
    target.add_argument("--server-url", help="use this already running server (loopback only)")
    parser.add_argument("--rate-limits", action="store_true",
                        help="keep the server's default rate limits (the tool starts it with "
                             "--no-rate-limits; a server given by --server-url needs that flag)")
    parser.add_argument("--time-limit", type=float, default=120.0,
                        help="stop and fail after this many seconds (default 120)")
    args = parser.parse_args()
    if not 1 <= args.messages <= MAX_MESSAGES:
        parser.error(f"--messages must be between 1 and {MAX_MESSAGES}")
    if not 1 <= args.clients <= MAX_CLIENTS:
        parser.error(f"--clients must be between 1 and {MAX_CLIENTS}")
    if not args.time_limit > 0:
        parser.error("--time-limit must be positive")
    if args.server_url:
        url = urlsplit(args.server_url)
        if url.scheme != "http" or url.hostname not in LOOPBACK_HOSTS:
            parser.error("--server-url must be http:// on loopback, e.g. http://127.0.0.1:8008")
        args.server_url = args.server_url.rstrip("/")
    return args


def install_nio(venv_dir: str) -> str:
    """Makes a virtualenv in `venv_dir` with matrix-nio; returns its python."""
    import venv

    venv.create(venv_dir, with_pip=True)
    python = str(Path(venv_dir) / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    NIO_REQUIREMENT], check=True)
    return python


def run_in_venv(args: argparse.Namespace, server_bin: str | None) -> int:
    """Creates a throwaway virtualenv with matrix-nio and runs this script inside it.

    The child runs in its own process group (the server it starts joins that group), so
    if it overruns the time limit by more than CHILD_GRACE_S, or this script is
    interrupted, the whole group is killed and no server is left behind.
    """
    venv_dir = tempfile.mkdtemp(prefix="homeserver-load-venv-")
    try:
        python = install_nio(venv_dir)
        command = [python, __file__, "--messages", str(args.messages), "--clients", str(args.clients),
                   "--time-limit", str(args.time_limit)] + (["--rate-limits"] if args.rate_limits else [])
        command += ["--server-url", args.server_url] if args.server_url else ["--server-bin", server_bin]
        child = subprocess.Popen(command, env={**os.environ, IN_VENV: "1"}, start_new_session=True)
        try:
            return child.wait(timeout=args.time_limit + CHILD_GRACE_S)
        except subprocess.TimeoutExpired:
            print("the load run did not stop by itself; killing its process group", flush=True)
            return 1
        finally:  # overrun, or Ctrl-C here (the child has its own group and misses it)
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
    finally:
        shutil.rmtree(venv_dir, ignore_errors=True)


# --- everything below runs inside the virtualenv, with aiohttp installed --------------


class LoadError(Exception):
    """A setup step (start, register, create, join, first sync) did not work."""


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile of the samples by the nearest-rank method (0 when empty)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
    return ordered[int(rank) - 1]


class Load:
    """One load run: setup, concurrent senders, the observer's sync, the tallies."""

    def __init__(self, args: argparse.Namespace):
        import asyncio
        import secrets

        self.args = args
        self.run_id = secrets.token_hex(3)  # keeps user names unique on a reused server
        self.workdir: str | None = None
        self.server: Server | None = None
        self.url = args.server_url
        self.sessions: list = []
        self.room_id = ""
        self.sends_done = asyncio.Event()
        self.timed_out = False
        self.setup_seconds = 0.0
        # Senders' tallies.
        self.send_latencies: list[float] = []  # seconds, acknowledged sends only
        self.acked_at: dict[str, float] = {}  # event ID -> when its send was acknowledged
        self.send_errors: list[str] = []
        self.first_send = 0.0
        self.last_ack = 0.0
        # The observer's tallies.
        self.seen_at: dict[str, float] = {}  # event ID -> when it first came through sync
        self.seen_count: dict[str, int] = {}  # load messages only, by event ID
        self.sync_responses = 0
        self.gaps_backfilled = 0
        self.backfilled = 0

    # --- the run ------------------------------------------------------------------------

    async def run(self) -> None:
        """Sets up the server, users and room, then sends while the observer syncs."""
        import asyncio
        import time

        started = time.perf_counter()
        await self.start_server()
        tokens = await asyncio.gather(*(self.register(f"load-{self.run_id}-{i}")
                                        for i in range(self.args.clients + 1)))
        senders, observer = tokens[:-1], tokens[-1]
        self.room_id = await self.create_room(senders[0])
        await asyncio.gather(*(self.join(token) for token in senders[1:] + [observer]))
        observer_session = self.session()
        since = await self.initial_sync(observer_session, observer)
        self.setup_seconds = time.perf_counter() - started

        follower = asyncio.ensure_future(self.follow_sync(observer_session, observer, since))
        self.first_send = time.perf_counter()
        try:
            await asyncio.gather(*(self.send_share(index, token) for index, token in enumerate(senders)))
        except BaseException:  # the time limit cancelled us: stop the observer too
            follower.cancel()
            raise
        finally:
            self.sends_done.set()
        await follower

    async def start_server(self) -> None:
        """Starts the example server on a free loopback port, unless --server-url."""
        if self.url:
            return
        self.workdir = tempfile.mkdtemp(prefix="homeserver-load-")
        # Thousands of sends per second: the server's rate limits are lifted unless
        # --rate-limits asks to keep them.
        flags = () if self.args.rate_limits else ("--no-rate-limits",)
        self.server = Server(self.args.server_bin, str(Path(self.workdir) / "data"), flags)
        await self.server.start()
        self.url = self.server.url

    async def close(self, keep_workdir: bool) -> None:
        """Closes the HTTP sessions, stops the server and removes the data directory."""
        for session in self.sessions:
            await session.close()
        if self.server:
            self.server.stop()
            self.server.log.close()
        if self.workdir:
            if keep_workdir:
                print(f"server log: {Path(self.workdir) / 'server.log'}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)

    # --- HTTP ---------------------------------------------------------------------------

    def session(self):
        """A new aiohttp session (its own connection pool), closed at the end."""
        import aiohttp

        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S))
        self.sessions.append(session)
        return session

    async def call(self, session, method: str, path: str, token: str | None = None,
                   body: dict | None = None, timeout: float | None = None) -> tuple[int, dict]:
        """One request under /_matrix/client/v3; returns (status, JSON body)."""
        import aiohttp

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        extra = {"timeout": aiohttp.ClientTimeout(total=timeout)} if timeout else {}
        async with session.request(method, f"{self.url}/_matrix/client/v3{path}", json=body,
                                   headers=headers, **extra) as response:
            return response.status, await response.json(content_type=None)

    async def call_ok(self, session, method: str, path: str, token: str | None = None,
                      body: dict | None = None, timeout: float | None = None) -> dict:
        """Like call, but anything other than 200 is a LoadError."""
        status, answer = await self.call(session, method, path, token, body, timeout)
        if status != 200:
            raise LoadError(f"{method} {path.split('?')[0]}: {status} {answer}")
        return answer

    # --- setup --------------------------------------------------------------------------

    async def register(self, localpart: str) -> str:
        """Registers a user through the m.login.dummy flow; returns the access token."""
        body = {"username": localpart, "password": f"{localpart}-password",
                "auth": {"type": "m.login.dummy"}}
        answer = await self.call_ok(self.session(), "POST", "/register", body=body)
        return answer["access_token"]

    async def create_room(self, token: str) -> str:
        """Creates the public room everyone sends into; returns its ID."""
        body = {"preset": "public_chat", "visibility": "public", "name": f"load {self.run_id}"}
        answer = await self.call_ok(self.session(), "POST", "/createRoom", token, body)
        return answer["room_id"]

    async def join(self, token: str) -> None:
        """Joins the room."""
        await self.call_ok(self.session(), "POST", f"/join/{quote(self.room_id)}", token, {})

    async def initial_sync(self, session, token: str) -> str:
        """The observer's first sync, before any message; returns its next_batch token."""
        answer = await self.call_ok(session, "GET", sync_path(None, 0), token)
        if self.room_id not in answer.get("rooms", {}).get("join", {}):
            raise LoadError("the observer's initial sync does not show the room as joined")
        return answer["next_batch"]

    # --- sending ------------------------------------------------------------------------

    async def send_share(self, index: int, token: str) -> None:
        """Sender `index` sends messages index, index + M, index + 2M, ... below N, one at
        a time, noting each acknowledged send's latency and event ID."""
        import time

        session = self.session()
        path = f"/rooms/{quote(self.room_id)}/send/m.room.message/"
        for number in range(index, self.args.messages, self.args.clients):
            txn = f"load-{self.run_id}-{number}"
            body = {"msgtype": "m.text", "body": f"load message {number}"}
            began = time.perf_counter()
            try:
                status, answer = await self.call(session, "PUT", path + txn, token, body)
            except Exception as error:  # connection refused, reset, timed out, bad JSON
                self.send_errors.append(f"message {number}: {type(error).__name__}: {error}")
                continue
            acked = time.perf_counter()
            if status != 200 or "event_id" not in answer:
                self.send_errors.append(f"message {number}: {status} {answer}")
                continue
            self.send_latencies.append(acked - began)
            self.acked_at[answer["event_id"]] = acked
            self.last_ack = max(self.last_ack, acked)

    # --- the observer -------------------------------------------------------------------

    async def follow_sync(self, session, token: str, since: str) -> None:
        """Long-polls /sync until the senders are done, then makes one last sync that
        started after the last acknowledgement, so it must hold every acknowledged
        message. A long-poll still waiting when the senders finish is abandoned (its
        since token was not used, so nothing is skipped)."""
        import asyncio

        while True:
            final = self.sends_done.is_set()
            fetch = asyncio.ensure_future(
                self.call_ok(session, "GET", sync_path(since, 0 if final else SYNC_POLL_MS), token,
                             timeout=REQUEST_TIMEOUT_S + SYNC_POLL_MS / 1000))
            if not final:
                done = asyncio.ensure_future(self.sends_done.wait())
                await asyncio.wait({fetch, done}, return_when=asyncio.FIRST_COMPLETED)
                done.cancel()
                if not fetch.done():
                    fetch.cancel()
                    await asyncio.gather(fetch, return_exceptions=True)
                    continue
            answer = await fetch
            since = await self.absorb(session, token, answer, since)
            if final:
                return

    async def absorb(self, session, token: str, answer: dict, since: str) -> str:
        """Notes the load messages of one sync response (filling a `limited` timeline's
        gap from /messages first); returns the next since token."""
        import time

        arrived = time.perf_counter()
        self.sync_responses += 1
        room = answer.get("rooms", {}).get("join", {}).get(self.room_id)
        if room:
            timeline = room.get("timeline", {})
            if timeline.get("limited"):
                await self.backfill(session, token, timeline["prev_batch"], since)
            self.note(timeline.get("events", []), arrived)
        return answer["next_batch"]

    async def backfill(self, session, token: str, start: str, since: str) -> None:
        """Pages /messages backwards from a limited timeline's prev_batch to the previous
        since token: the messages sync left out. They count as seen when fetched."""
        import time

        self.gaps_backfilled += 1
        while start:
            page = await self.call_ok(
                session, "GET",
                f"/rooms/{quote(self.room_id)}/messages?dir=b&limit={TIMELINE_LIMIT}"
                f"&from={quote(start)}&to={quote(since)}", token)
            self.backfilled += self.note(page.get("chunk", []), time.perf_counter())
            start = page.get("end")

    def note(self, events: list[dict], arrived: float) -> int:
        """Counts the load messages among the events; returns how many there were."""
        count = 0
        for event in events:
            body = event.get("content", {}).get("body", "")
            if event.get("type") == "m.room.message" and body.startswith("load message "):
                event_id = event["event_id"]
                self.seen_count[event_id] = self.seen_count.get(event_id, 0) + 1
                self.seen_at.setdefault(event_id, arrived)
                count += 1
        return count

    # --- the report ---------------------------------------------------------------------

    def report(self) -> tuple[str, bool]:
        """The report's lines and whether the run passed."""
        acked = len(self.acked_at)
        seen_once = sum(1 for event_id in self.acked_at if self.seen_count.get(event_id) == 1)
        missing = [e for e in self.acked_at if e not in self.seen_count]
        duplicated = [e for e, count in self.seen_count.items() if count > 1]
        unacked = [e for e in self.seen_count if e not in self.acked_at]
        sync_latencies, early = [], 0
        for event_id, acked_at in self.acked_at.items():
            if event_id in self.seen_at:
                delay = self.seen_at[event_id] - acked_at
                early += delay < 0  # the observer got it before the sender got the answer
                sync_latencies.append(max(0.0, delay))
        send_seconds = (self.last_ack - self.first_send) if acked else 0.0
        rate = acked / send_seconds if send_seconds > 0 else 0.0

        def ms(samples: list[float]) -> str:
            figures = [(f"p{p}", percentile(samples, p)) for p in (50, 95, 99)]
            figures.append(("max", max(samples, default=0.0)))
            return "  ".join(f"{name} {value * 1000:7.1f}" for name, value in figures)

        lines = [
            f"load: {self.args.messages} messages over {self.args.clients} clients to {self.url}",
            f"setup: {self.args.clients + 1} users registered and joined in {self.setup_seconds:.2f} s",
            f"sends: {acked} acknowledged, {len(self.send_errors)} failed in {send_seconds:.2f} s"
            f" = {rate:.1f} sends/s",
            f"send latency (ms): {ms(self.send_latencies)}",
            f"sync latency (ms): {ms(sync_latencies)}"
            + (f"  ({early} arrived before their ack, counted as 0)" if early else ""),
            f"seen in sync: {seen_once} of {acked} acknowledged messages exactly once;"
            f" {len(missing)} missing, {len(duplicated)} duplicated, {len(unacked)} unacknowledged;"
            f" {self.sync_responses} sync responses"
            + (f", {self.gaps_backfilled} limited gaps with {self.backfilled} messages backfilled"
               if self.gaps_backfilled else ""),
        ]
        lines += [f"send error: {error}" for error in self.send_errors[:5]]
        problems = []
        if self.timed_out:
            problems.append(f"time limit of {self.args.time_limit:g} s hit")
        if missing and self.timed_out:
            problems.append(f"{len(missing)} acknowledged messages not seen before the time limit")
        elif missing:
            problems.append(f"{len(missing)} acknowledged messages lost")
        if duplicated:
            problems.append(f"{len(duplicated)} messages seen more than once")
        if self.send_errors:
            problems.append(f"{len(self.send_errors)} sends failed")
        lines.append("result: " + ("; ".join(problems) if problems else "OK"))
        return "\n".join(lines), not problems


def quote(text: str) -> str:
    """Percent-encodes a path or query component (room IDs, tokens)."""
    from urllib.parse import quote as url_quote

    return url_quote(text, safe="")


def sync_path(since: str | None, timeout_ms: int) -> str:
    """The observer's /sync: the largest timeline the server gives, long-polling."""
    import json

    room_filter = json.dumps({"room": {"timeline": {"limit": TIMELINE_LIMIT}}}, separators=(",", ":"))
    path = f"/sync?timeout={timeout_ms}&filter={quote(room_filter)}"
    return path + (f"&since={quote(since)}" if since else "")


async def run_load(args: argparse.Namespace) -> int:
    """Runs the load under the time limit, prints the report; 0 when it passed."""
    import asyncio
    import logging

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # cancelled long-polls at the end
    load = Load(args)
    passed = False
    try:
        await asyncio.wait_for(load.run(), timeout=args.time_limit)
    except asyncio.TimeoutError:
        load.timed_out = True
    except Exception as error:  # a setup step failed (LoadError or otherwise): no figures
        print(f"FAIL setup: {type(error).__name__}: {error}", flush=True)
        await load.close(keep_workdir=True)
        return 1
    try:
        text, passed = load.report()
        print(text, flush=True)
    finally:
        await load.close(keep_workdir=not passed)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

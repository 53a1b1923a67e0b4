#!/usr/bin/env python3
"""Slow and stalled clients against the homeserver: how long each connection stays open.

Starts the server binary on a free loopback port with a temporary data directory, then,
all at once: headers cut off, an idle keep-alive connection after one request, a body
that stops after one byte, a declared 2 GB body, and headers sent a byte every 200 ms.
Prints when the server closed or answered each one (or that it had not within
--limit seconds). Then holds --hold stalled connections (more than --max-connections)
and times a normal request. The standard library only.

    python3 examples/homeserver/slow_clients.py --server-bin target/release/examples/homeserver \\
        [--limit 70] [--hold 1100] [--server-flag=--header-timeout=10 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time

CASES = [
    ("cut-off headers", b"GET /_matrix/client/versions HTTP/1.1\r\nHo"),
    ("idle keep-alive", b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("partial body",
     b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"),
    ("2 GB Content-Length",
     b"POST /_matrix/client/v3/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000000\r\n\r\n"),
]


async def watch(port: int, name: str, payload: bytes, limit: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    start = time.monotonic()
    got = b""
    try:
        while True:
            data = await asyncio.wait_for(reader.read(65536), limit - (time.monotonic() - start))
            if not data:
                break
            got += data
    except (asyncio.TimeoutError, ValueError):
        print(f"{name}: still open after {limit:.0f} s; answer {got[:12]!r}")
        return
    except ConnectionError:
        pass
    print(f"{name}: closed after {time.monotonic() - start:.1f} s; answer {got[:12]!r}")


async def byte_at_a_time(port: int, limit: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.monotonic()
    request = b"GET /_matrix/client/versions HTTP/1.1\r\nX-Slow: " + b"a" * 100_000
    for byte in request:
        if time.monotonic() - start > limit:
            break
        try:
            writer.write(bytes([byte]))
            await writer.drain()
            if not await asyncio.wait_for(reader.read(100), 0.2):
                break
        except asyncio.TimeoutError:
            continue
        except ConnectionError:
            break
    else:
        return
    elapsed = time.monotonic() - start
    state = "still open" if elapsed > limit else "closed"
    print(f"headers a byte every 200 ms: {state} after {elapsed:.1f} s")


async def held_then_normal(port: int, hold: int) -> None:
    writers = []
    for _ in range(hold):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /")
        writers.append(writer)
    await asyncio.sleep(0.5)
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /_matrix/client/versions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    await writer.drain()
    try:
        line = await asyncio.wait_for(reader.readline(), 120)
        print(f"{hold} stalled connections held, then a normal request: "
              f"{line.decode().strip()} after {time.monotonic() - start:.1f} s")
    except asyncio.TimeoutError:
        print(f"{hold} stalled connections held, then a normal request: no answer in 120 s")
    for held in writers:
        held.close()


async def run(args: argparse.Namespace, port: int) -> None:
    await asyncio.gather(*(watch(port, name, payload, args.limit) for name, payload in CASES),
                         byte_at_a_time(port, args.limit))
    if args.hold:
        await held_then_normal(port, args.hold)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--limit", type=float, default=70.0,
                        help="seconds to wait on each connection (default 70)")
    parser.add_argument("--hold", type=int, default=0,
                        help="stalled connections to hold before a normal request (default none)")
    parser.add_argument("--server-flag", action="append", default=[],
                        help="an extra flag for the server (repeatable)")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="homeserver-slow-") as workdir:
        server = subprocess.Popen(
            [args.server_bin, "--bind", f"127.0.0.1:{port}", "--server-name",
             f"localhost:{port}", "--data-dir", f"{workdir}/data", *args.server_flag],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            asyncio.run(run(args, port))
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())

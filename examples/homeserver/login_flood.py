#!/usr/bin/env python3
"""A login flood against the homeserver: peak memory and other users' latency.

Starts the server binary on a free loopback port with a temporary data directory,
registers two users, then sends --logins wrong-password logins for the first one all at
once (one thread and connection each) while the second calls `whoami` in a loop. Prints
the server's peak resident memory (VmHWM from /proc/<pid>/status), its resident memory
once the flood is over, how the logins were answered, and the `whoami` latencies.
Linux only; the standard library only.

    python3 examples/homeserver/login_flood.py --server-bin target/release/examples/homeserver \\
        [--logins 128] [--server-flag=--no-rate-limits ...]

Exits non-zero when the peak is over --max-peak-mib (default 512) or a `whoami` failed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def request(port: int, method: str, path: str, body: dict | None = None,
            token: str | None = None, timeout: float = 120.0) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        data = response.read()
        return response.status, json.loads(data) if data else {}
    finally:
        connection.close()


def memory_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for {pid}")


def register(port: int, name: str) -> str:
    body = {"username": name, "password": "correct horse", "auth": {"type": "m.login.dummy"}}
    status, answer = request(port, "POST", "/_matrix/client/v3/register", body)
    if status != 200:
        raise RuntimeError(f"register {name}: {status} {answer}")
    return answer["access_token"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server-bin", required=True)
    parser.add_argument("--logins", type=int, default=128)
    parser.add_argument("--server-flag", action="append", default=[],
                        help="an extra flag for the server (repeatable)")
    parser.add_argument("--max-peak-mib", type=float, default=512.0)
    args = parser.parse_args()

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="homeserver-flood-") as workdir:
        server = subprocess.Popen(
            [args.server_bin, "--bind", f"127.0.0.1:{port}", "--server-name",
             f"localhost:{port}", "--data-dir", f"{workdir}/data", *args.server_flag],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return flood(args, port, server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)


def flood(args: argparse.Namespace, port: int, pid: int) -> int:
    for _ in range(200):
        try:
            request(port, "GET", "/_matrix/client/versions", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    register(port, "victim")
    token = register(port, "bystander")
    start_kib = memory_kib(pid, "VmRSS")

    answers: dict[int, int] = {}
    lock = threading.Lock()
    gate = threading.Barrier(args.logins + 1)

    def login() -> None:
        gate.wait()
        body = {"type": "m.login.password", "user": "victim", "password": "wrong"}
        try:
            status, _ = request(port, "POST", "/_matrix/client/v3/login", body)
        except OSError:
            status = 0
        with lock:
            answers[status] = answers.get(status, 0) + 1

    threads = [threading.Thread(target=login) for _ in range(args.logins)]
    for thread in threads:
        thread.start()
    gate.wait()
    started = time.monotonic()
    latencies: list[float] = []
    failures = 0
    while any(thread.is_alive() for thread in threads):
        before = time.monotonic()
        try:
            status, _ = request(port, "GET", "/_matrix/client/v3/account/whoami", token=token,
                                timeout=30)
            failures += status != 200
        except OSError:
            failures += 1
        latencies.append((time.monotonic() - before) * 1000)
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    time.sleep(1)
    peak_mib = memory_kib(pid, "VmHWM") / 1024
    idle_mib = memory_kib(pid, "VmRSS") / 1024
    latencies.sort()
    print(f"logins: {args.logins} at once, answered {dict(sorted(answers.items()))} in {elapsed:.1f} s")
    print(f"memory: {start_kib / 1024:.0f} MiB before, peak {peak_mib:.0f} MiB, "
          f"{idle_mib:.0f} MiB after")
    if latencies:
        print(f"whoami meanwhile: {len(latencies)} calls, median {latencies[len(latencies) // 2]:.1f} ms, "
              f"max {latencies[-1]:.1f} ms, {failures} failed")
    ok = peak_mib <= args.max_peak_mib and failures == 0
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

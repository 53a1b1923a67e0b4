#!/usr/bin/env python3
"""The two-server test of the example homeserver: it federates with a real Synapse.

Builds the example (unless --server-bin is given), installs matrix-synapse and
matrix-nio from PyPI into a throwaway virtualenv, makes a throwaway test CA with a
certificate for `localhost`, starts one Synapse and the example on loopback (each
trusting the CA, each allowed to reach 127.0.0.1 despite its default deny list), and
checks, one line per step, that the two servers authenticate each other's requests
(each fetches and validates the other's key document over TLS and answers the other's
signed profile queries; each refuses requests that are unsigned, signed for another
destination, method or URI), that a Synapse user joins rooms this server hosts in room
versions 10, 11 and 12 (by alias and by room ID), that messages flow both ways, that
history sent before the join is read by paging back, that an invite from us is
countersigned by Synapse and accepted, that typing and read receipts cross, that messages sent while Synapse is stopped all arrive once it is back, and that
the Synapse user leaves.

    python3 examples/homeserver/federation_journey.py [--release] [--server-bin PATH]
                                                      [--keep-data]

Prints one line per step and "N passed, N failed"; exits non-zero on any failure.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from journey_common import StepFailed, expect, launch, run_steps

SYNAPSE_REQUIREMENT = "matrix-synapse==1.163.2"
NIO_REQUIREMENT = "matrix-nio>=0.24,<1"
IN_VENV = "FEDERATION_JOURNEY_IN_VENV"


def main() -> int:
    import asyncio

    return launch(__file__, __doc__, [SYNAPSE_REQUIREMENT, NIO_REQUIREMENT], IN_VENV,
                  lambda args: asyncio.run(Journey(args.server_bin, args.keep_data).run()))


# --- everything below runs inside the virtualenv, with Synapse and matrix-nio ----------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_test_ca(directory: Path) -> None:
    """Writes ca.crt, and localhost.crt / localhost.key signed by it (valid for the name
    `localhost` and the address 127.0.0.1), with the `cryptography` package."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "federation journey test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.crt").write_bytes(ca_cert.public_bytes(pem))
    (directory / "localhost.crt").write_bytes(leaf_cert.public_bytes(pem))
    (directory / "localhost.key").write_bytes(
        leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    )


class Process:
    """A server as a child process with its log in the working directory."""

    def __init__(self, name: str, workdir: Path):
        self.name = name
        self.log_path = workdir / f"{name}.log"
        self.process: subprocess.Popen | None = None

    def spawn(self, command: list[str], cwd: Path | None = None) -> None:
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, cwd=cwd)

    async def wait_for(self, url: str, attempts: int = 600) -> None:
        import asyncio
        import urllib.request

        for _ in range(attempts):
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise StepFailed(f"{self.name} exited with {code}; see {self.log_path}")
            try:
                with urllib.request.urlopen(url, timeout=1):
                    return
            except OSError:
                await asyncio.sleep(0.1)
        raise StepFailed(f"{self.name} did not start listening on {url}")

    def stop(self) -> None:
        import signal

        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Ours(Process):
    """The example homeserver: client API on one port, federation (TLS) on another, the
    server name naming the federation port."""

    def __init__(self, binary: str, workdir: Path):
        super().__init__("ours", workdir)
        self.binary = binary
        self.workdir = workdir
        self.client_port = free_port()
        self.federation_port = free_port()
        self.server_name = f"localhost:{self.federation_port}"
        self.url = f"http://127.0.0.1:{self.client_port}"
        self.federation_url = f"https://127.0.0.1:{self.federation_port}"
        self.data_dir = workdir / "ours-data"

    async def start(self) -> None:
        tls = self.workdir / "tls"
        self.spawn([
            self.binary, "--bind", f"127.0.0.1:{self.client_port}",
            "--server-name", self.server_name, "--data-dir", str(self.data_dir),
            "--federation-bind", f"127.0.0.1:{self.federation_port}",
            "--tls-cert", str(tls / "localhost.crt"), "--tls-key", str(tls / "localhost.key"),
            "--federation-ca", str(tls / "ca.crt"), "--federation-allow-ip", "127.0.0.0/8",
            # Registrations, logins and sends come faster than the default rate limits
            # (Synapse's) allow; the limits have their own tests in the server.
            "--no-rate-limits",
        ])
        await self.wait_for(self.url + "/_matrix/client/versions")

    def signing_key(self):
        """Our server's signing key, read from its key file (Synapse's format)."""
        from signedjson.key import decode_signing_key_base64

        algorithm, version, seed = (self.data_dir / "signing.key").read_text().split()
        return decode_signing_key_base64(algorithm, version, seed)


class Synapse(Process):
    """One Synapse with a TLS listener serving both the client and federation APIs."""

    def __init__(self, workdir: Path, name: str = "synapse"):
        super().__init__(name, workdir)
        self.workdir = workdir
        self.port = free_port()
        self.server_name = f"localhost:{self.port}"
        self.url = f"https://127.0.0.1:{self.port}"
        self.dir = workdir / name

    def configure(self) -> None:
        self.dir.mkdir()
        tls = self.workdir / "tls"
        config = {
            "server_name": self.server_name,
            "pid_file": str(self.dir / "homeserver.pid"),
            "listeners": [{
                "port": self.port, "bind_addresses": ["127.0.0.1"], "type": "http",
                "tls": True, "x_forwarded": False,
                "resources": [{"names": ["client", "federation", "keys"], "compress": False}],
            }],
            "tls_certificate_path": str(tls / "localhost.crt"),
            "tls_private_key_path": str(tls / "localhost.key"),
            "federation_custom_ca_list": [str(tls / "ca.crt")],
            "federation_verify_certificates": True,
            "ip_range_whitelist": ["127.0.0.0/8"],
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            "database": {"name": "sqlite3", "args": {"database": str(self.dir / "homeserver.db")}},
            "media_store_path": str(self.dir / "media"),
            "signing_key_path": str(self.dir / "signing.key"),
            "log_config": str(self.dir / "log.yaml"),
            "report_stats": False,
            "enable_registration": True,
            "enable_registration_without_verification": True,
            "registration_shared_secret": "journey",
            "macaroon_secret_key": "journey-macaroon",
            "form_secret": "journey-form",
            "presence": {"enabled": True},
            "rc_message": {"per_second": 1000, "burst_count": 1000},
            "rc_registration": {"per_second": 1000, "burst_count": 1000},
            "rc_login": {"address": {"per_second": 1000, "burst_count": 1000},
                         "account": {"per_second": 1000, "burst_count": 1000},
                         "failed_attempts": {"per_second": 1000, "burst_count": 1000}},
            "rc_joins": {"local": {"per_second": 1000, "burst_count": 1000},
                         "remote": {"per_second": 1000, "burst_count": 1000}},
            "rc_federation": {"window_size": 1000, "sleep_limit": 1000, "sleep_delay": 1,
                              "reject_limit": 1000, "concurrent": 100},
            "federation_rr_transactions_per_room_per_second": 1000,
            "rc_room_creation": {"per_second": 1000, "burst_count": 1000},
            "rc_invites": {"per_room": {"per_second": 1000, "burst_count": 1000},
                           "per_user": {"per_second": 1000, "burst_count": 1000},
                           "per_issuer": {"per_second": 1000, "burst_count": 1000}},
        }
        (self.dir / "homeserver.yaml").write_text(json.dumps(config, indent=1))
        (self.dir / "log.yaml").write_text(
            "version: 1\n"
            "formatters: {precise: {format: '%(asctime)s %(name)s %(levelname)s %(message)s'}}\n"
            "handlers: {file: {class: logging.FileHandler, formatter: precise, "
            f"filename: '{self.dir / 'homeserver.log'}'}}}}\n"
            "root: {level: INFO, handlers: [file]}\n"
            "disable_existing_loggers: false\n"
        )
        subprocess.run(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.dir / "homeserver.yaml"),
             "--generate-keys"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    async def start(self) -> None:
        self.spawn([sys.executable, "-m", "synapse.app.homeserver", "-c",
                    str(self.dir / "homeserver.yaml")], cwd=self.dir)
        await self.wait_for_tls(self.url + "/_matrix/client/versions")

    async def wait_for_tls(self, url: str) -> None:
        import asyncio
        import ssl
        import urllib.request

        context = ssl.create_default_context(cafile=str(self.workdir / "tls" / "ca.crt"))
        for _ in range(900):
            if self.process is None or self.process.poll() is not None:
                raise StepFailed(f"{self.name} exited; see {self.dir / 'homeserver.log'}")
            try:
                with urllib.request.urlopen(url, timeout=1, context=context):
                    return
            except OSError:
                await asyncio.sleep(0.1)
        raise StepFailed(f"{self.name} did not start listening")

    def signing_key(self):
        from signedjson.key import read_signing_keys

        with open(self.dir / "signing.key") as file:
            return read_signing_keys(file)[0]


class Journey:
    def __init__(self, server_bin: str, keep_data: bool):
        self.workdir = Path(tempfile.mkdtemp(prefix="federation-journey-"))
        self.ours = Ours(server_bin, self.workdir)
        self.synapse = Synapse(self.workdir)
        self.keep_data = keep_data
        self.passed = 0
        self.failed = 0

    async def run(self) -> int:
        import logging

        logging.getLogger("nio").setLevel(logging.CRITICAL)
        steps = [
            self.make_certificates,
            self.start_synapse,
            self.start_ours,
            self.register_users,
            self.synapse_reads_our_profile,
            self.we_read_synapse_profile,
            self.synapse_validated_our_keys,
            self.synapse_refuses_misdirected_requests,
            self.we_refuse_misdirected_requests,
            self.synapse_user_joins_our_rooms,
            self.messages_both_ways_in_our_rooms,
            self.history_from_before_a_join,
            self.we_invite_a_synapse_user,
            self.we_join_synapse_rooms,
            self.messages_both_ways_in_synapse_rooms,
            self.a_conversation_of_every_kind,
            self.older_room_versions_both_ways,
            self.we_read_history_from_before_our_join,
            self.synapse_invites_our_user,
            self.we_reject_a_synapse_invite,
            self.we_knock_on_a_synapse_room,
            self.synapse_user_knocks_on_our_room,
            self.typing_and_receipts_across,
            self.presence_across,
            self.synapse_down_then_caught_up,
            self.synapse_user_leaves_our_room,
            self.we_leave_a_synapse_room,
        ]
        try:
            self.passed, self.failed = await run_steps(steps)
        finally:
            self.ours.stop()
            self.synapse.stop()
            if self.failed:
                print(f"logs: {self.workdir}/ours.log, {self.synapse.dir}/homeserver.log")
            elif not self.keep_data:
                shutil.rmtree(self.workdir, ignore_errors=True)
        not_run = len(steps) - self.passed - self.failed
        print(f"federation journey: {self.passed} passed, {self.failed} failed"
              + (f", {not_run} skipped" if not_run else ""))
        return 0 if self.failed == 0 else 1

    # --- helpers ------------------------------------------------------------------------

    def ssl_context(self):
        import ssl

        return ssl.create_default_context(cafile=str(self.workdir / "tls" / "ca.crt"))

    async def request(self, method: str, url: str, token: str | None = None,
                      body: dict | None = None, headers: dict | None = None):
        """An HTTP(S) request trusting the test CA; returns (status, parsed JSON or None)."""
        import aiohttp

        all_headers = dict(headers or {})
        if token:
            all_headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        if data is not None:
            all_headers["Content-Type"] = "application/json"
        import yarl

        connector = aiohttp.TCPConnector(ssl=self.ssl_context())
        # `encoded=True`: send the request-target exactly as given (and as signed); yarl
        # would otherwise decode `%40` and `%3A` in the query.
        target = yarl.URL(url, encoded=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.request(method, target, data=data, headers=all_headers,
                                       timeout=aiohttp.ClientTimeout(total=60)) as response:
                text = await response.text()
                try:
                    return response.status, json.loads(text)
                except ValueError:
                    return response.status, None

    def x_matrix(self, key, origin: str, destination: str, method: str, uri: str,
                 content: dict | None = None) -> str:
        """An X-Matrix header as Synapse builds one, signed by `key`."""
        from signedjson.sign import sign_json

        request = {"method": method, "uri": uri, "origin": origin, "destination": destination}
        if content is not None:
            request["content"] = content
        signed = sign_json(request, origin, key)
        sig = signed["signatures"][origin][f"{key.alg}:{key.version}"]
        return (f'X-Matrix origin="{origin}",key="{key.alg}:{key.version}",sig="{sig}",'
                f'destination="{destination}"')

    async def register(self, base_url: str, name: str) -> tuple[str, str]:
        status, body = await self.request(
            "POST", base_url + "/_matrix/client/v3/register",
            body={"username": name, "password": f"{name}-password",
                  "auth": {"type": "m.login.dummy"}},
        )
        expect(status == 200, f"register {name} at {base_url}: {status} {body}")
        return body["user_id"], body["access_token"]

    # --- steps --------------------------------------------------------------------------

    async def make_certificates(self):
        (self.workdir / "tls").mkdir()
        make_test_ca(self.workdir / "tls")

    async def start_synapse(self):
        self.synapse.configure()
        await self.synapse.start()

    async def start_ours(self):
        await self.ours.start()
        status, body = await self.request(
            "GET", self.ours.federation_url + "/_matrix/federation/v1/version")
        expect(status == 200 and "server" in body, f"our federation /version: {status} {body}")

    async def register_users(self):
        self.alice, self.alice_token = await self.register(self.ours.url, "alice")
        self.bob, self.bob_token = await self.register(self.synapse.url, "bob")
        for url, user, token, name in ((self.ours.url, self.alice, self.alice_token, "Alice 🌸"),
                                       (self.synapse.url, self.bob, self.bob_token, "Bob")):
            status, body = await self.request(
                "PUT", f"{url}/_matrix/client/v3/profile/{user}/displayname", token,
                {"displayname": name})
            expect(status == 200, f"set display name of {user}: {status} {body}")

    async def synapse_validated_our_keys(self):
        """Synapse fetched our key document over TLS to authenticate our request, and now
        serves it, countersigned, as a notary (it answers from its cache only)."""
        key = self.ours.signing_key()
        key_id = f"{key.alg}:{key.version}"
        status, body = await self.request(
            "GET", f"{self.synapse.url}/_matrix/key/v2/query/{self.ours.server_name}")
        expect(status == 200, f"notary query: {status} {body}")
        documents = body.get("server_keys", [])
        expect(len(documents) == 1, f"expected one key document, got {body}")
        document = documents[0]
        expect(document["server_name"] == self.ours.server_name, f"document: {document}")
        expect(key_id in document["verify_keys"], f"our key {key_id} not in {document}")
        expect(self.synapse.server_name in document["signatures"], "not countersigned by Synapse")

    async def synapse_reads_our_profile(self):
        """Bob's server asks ours for Alice's profile: a signed request it makes, that we
        authenticate (fetching and validating Synapse's keys) and answer."""
        status, body = await self.request(
            "GET", f"{self.synapse.url}/_matrix/client/v3/profile/{self.alice}", self.bob_token)
        expect(status == 200 and body.get("displayname") == "Alice 🌸",
               f"Synapse's view of {self.alice}: {status} {body}")

    async def we_read_synapse_profile(self):
        """Alice's server asks Synapse for Bob's profile: our signed request, which Synapse
        authenticates by fetching our key document."""
        status, body = await self.request(
            "GET", f"{self.ours.url}/_matrix/client/v3/profile/{self.bob}", self.alice_token)
        expect(status == 200 and body.get("displayname") == "Bob",
               f"our view of {self.bob}: {status} {body}")

    async def synapse_refuses_misdirected_requests(self):
        """Requests signed with our key but not for what is sent: Synapse answers 401."""
        from urllib.parse import quote

        key = self.ours.signing_key()
        uri = f"/_matrix/federation/v1/query/profile?user_id={quote(self.bob, safe='')}"
        url = self.synapse.url + uri
        origin = self.ours.server_name
        good = self.x_matrix(key, origin, self.synapse.server_name, "GET", uri)
        status, body = await self.request("GET", url, headers={"Authorization": good})
        expect(status == 200, f"a correctly signed request: {status} {body}")
        cases = {
            "unsigned": None,
            "another destination": self.x_matrix(key, origin, "localhost:1", "GET", uri),
            "another URI": self.x_matrix(key, origin, self.synapse.server_name, "GET",
                                         uri + "&field=displayname"),
            "another method": self.x_matrix(key, origin, self.synapse.server_name, "POST", uri),
        }
        for name, header in cases.items():
            headers = {} if header is None else {"Authorization": header}
            status, body = await self.request("GET", url, headers=headers)
            expect(status == 401, f"{name}: Synapse answered {status} {body}")

    async def we_refuse_misdirected_requests(self):
        """The same requests to us, signed with Synapse's key: 401 M_UNAUTHORIZED unless
        signed for exactly what is sent."""
        from urllib.parse import quote

        key = self.synapse.signing_key()
        uri = f"/_matrix/federation/v1/query/profile?user_id={quote(self.alice, safe='')}"
        url = self.ours.federation_url + uri
        origin = self.synapse.server_name
        good = self.x_matrix(key, origin, self.ours.server_name, "GET", uri)
        status, body = await self.request("GET", url, headers={"Authorization": good})
        expect(status == 200 and body.get("displayname") == "Alice 🌸",
               f"a correctly signed request: {status} {body}")
        cases = {
            "unsigned": None,
            "another destination": self.x_matrix(key, origin, "localhost:1", "GET", uri),
            "another URI": self.x_matrix(key, origin, self.ours.server_name, "GET",
                                         uri + "&field=displayname"),
            "another method": self.x_matrix(key, origin, self.ours.server_name, "POST", uri),
        }
        for name, header in cases.items():
            headers = {} if header is None else {"Authorization": header}
            status, body = await self.request("GET", url, headers=headers)
            expect(status == 401 and (body or {}).get("errcode") == "M_UNAUTHORIZED",
                   f"{name}: we answered {status} {body}")


    # --- rooms this server hosts ---------------------------------------------------------

    async def wait_for_message(self, url: str, token: str, room_id: str, body: str,
                               timeout: float = 30.0) -> dict:
        """Polls /messages (newest first) until a message with `body` appears."""
        import asyncio
        from urllib.parse import quote

        deadline = asyncio.get_running_loop().time() + timeout
        path = f"{url}/_matrix/client/v3/rooms/{quote(room_id, safe='')}/messages?dir=b&limit=50"
        last = None
        while asyncio.get_running_loop().time() < deadline:
            status, answer = await self.request("GET", path, token)
            last = (status, answer)
            for event in (answer or {}).get("chunk", []):
                if event.get("content", {}).get("body") == body:
                    return event
            await asyncio.sleep(0.3)
        raise StepFailed(f"{body!r} never reached {url} in {room_id}: {last}")

    async def synapse_user_joins_our_rooms(self):
        """Alice makes a public room with an alias in room versions 10, 11 and 12; Bob's
        Synapse resolves the alias over federation and joins with make_join/send_join."""
        from urllib.parse import quote

        self.our_rooms = {}
        for version in ROOM_VERSIONS:
            alias = f"fed-lobby-v{version}"
            status, body = await self.request(
                "POST", self.ours.url + "/_matrix/client/v3/createRoom", self.alice_token,
                {"preset": "public_chat", "room_alias_name": alias, "room_version": version,
                 "name": f"Lobby v{version}"})
            expect(status == 200, f"create a v{version} room: {status} {body}")
            room_id = body["room_id"]
            full_alias = quote(f"#{alias}:{self.ours.server_name}", safe="")
            status, body = await self.request(
                "POST", f"{self.synapse.url}/_matrix/client/v3/join/{full_alias}",
                self.bob_token, {})
            expect(status == 200 and body.get("room_id") == room_id,
                   f"Bob joins the v{version} room by alias: {status} {body}")
            self.our_rooms[version] = room_id

    async def messages_both_ways_in_our_rooms(self):
        """A message from each side reaches the other side's client."""
        from urllib.parse import quote

        for version, room_id in self.our_rooms.items():
            room = quote(room_id, safe="")
            ours = f"hello from ours in v{version} 🌍"
            status, body = await self.request(
                "PUT", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/o{version}",
                self.alice_token, {"msgtype": "m.text", "body": ours})
            expect(status == 200, f"Alice sends: {status} {body}")
            await self.wait_for_message(self.synapse.url, self.bob_token, room_id, ours)
            theirs = f"hello from Synapse in v{version}"
            status, body = await self.request(
                "PUT", f"{self.synapse.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/s{version}",
                self.bob_token, {"msgtype": "m.text", "body": theirs})
            expect(status == 200, f"Bob sends: {status} {body}")
            await self.wait_for_message(self.ours.url, self.alice_token, room_id, theirs)

    async def history_from_before_a_join(self):
        """Alice talks in a room before Bob joins; Bob's Synapse pages back into that
        history, which it fetches from us with /backfill."""
        from urllib.parse import quote

        status, body = await self.request(
            "POST", self.ours.url + "/_matrix/client/v3/createRoom", self.alice_token,
            {"preset": "public_chat", "room_version": "12", "name": "History"})
        expect(status == 200, f"create the history room: {status} {body}")
        room_id = body["room_id"]
        room = quote(room_id, safe="")
        early = [f"before Bob joined #{n}" for n in range(3)]
        for n, text in enumerate(early):
            status, body = await self.request(
                "PUT", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/h{n}",
                self.alice_token, {"msgtype": "m.text", "body": text})
            expect(status == 200, f"Alice sends history: {status} {body}")
        status, body = await self.request(
            "POST", f"{self.synapse.url}/_matrix/client/v3/join/{room}?server_name="
            f"{quote(self.ours.server_name, safe='')}", self.bob_token, {})
        expect(status == 200, f"Bob joins by room ID: {status} {body}")
        for text in early:
            await self.wait_for_message(self.synapse.url, self.bob_token, room_id, text)

    async def we_invite_a_synapse_user(self):
        """Alice invites Bob to a private room: Bob's Synapse countersigns the invite,
        Bob sees it in his sync and joins; then they talk."""
        from urllib.parse import quote

        status, body = await self.request(
            "POST", self.ours.url + "/_matrix/client/v3/createRoom", self.alice_token,
            {"preset": "private_chat", "name": "Invite only"})
        expect(status == 200, f"create a private room: {status} {body}")
        room_id = body["room_id"]
        room = quote(room_id, safe="")
        status, body = await self.request(
            "POST", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/invite", self.alice_token,
            {"user_id": self.bob})
        expect(status == 200, f"Alice invites Bob: {status} {body}")

        async def bob_invited():
            status, body = await self.request(
                "GET", f"{self.synapse.url}/_matrix/client/v3/sync?timeout=0", self.bob_token)
            invites = list((body or {}).get("rooms", {}).get("invite", {}))
            return room_id in invites, invites
        await self.wait_until("Bob never saw the invite", bob_invited)
        status, body = await self.request(
            "POST", f"{self.synapse.url}/_matrix/client/v3/join/{room}", self.bob_token, {})
        expect(status == 200, f"Bob accepts the invite: {status} {body}")
        text = "thanks for the invite"
        status, body = await self.request(
            "PUT", f"{self.synapse.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/inv",
            self.bob_token, {"msgtype": "m.text", "body": text})
        expect(status == 200, f"Bob sends: {status} {body}")
        await self.wait_for_message(self.ours.url, self.alice_token, room_id, text)

    async def wait_until(self, what: str, check, timeout: float = 30.0):
        import asyncio

        deadline = asyncio.get_running_loop().time() + timeout
        last = None
        while asyncio.get_running_loop().time() < deadline:
            ok, last = await check()
            if ok:
                return last
            await asyncio.sleep(0.3)
        raise StepFailed(f"{what}: {last}")

    async def ephemeral_until(self, url: str, token: str, room_id: str, event_type: str,
                              predicate, what: str, timeout: float = 30.0) -> None:
        """Incremental syncs (Synapse caches repeated initial syncs) until an ephemeral
        event of `event_type` in `room_id` satisfies `predicate`."""
        import asyncio

        status, body = await self.request("GET", f"{url}/_matrix/client/v3/sync?timeout=0", token)
        expect(status == 200, f"sync: {status} {body}")
        seen = []
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            room = body.get("rooms", {}).get("join", {}).get(room_id, {})
            for event in room.get("ephemeral", {}).get("events", []):
                if event.get("type") == event_type:
                    seen.append(event["content"])
                    if predicate(event["content"]):
                        return
            if asyncio.get_running_loop().time() > deadline:
                raise StepFailed(f"{what}: saw {seen}")
            since = body["next_batch"]
            status, body = await self.request(
                "GET", f"{url}/_matrix/client/v3/sync?timeout=1000&since={since}", token)
            expect(status == 200, f"sync: {status} {body}")

    async def typing_and_receipts_across(self):
        """Alice's typing and read receipt reach Bob's Synapse, and Bob's typing reaches
        us."""
        from urllib.parse import quote

        room_id = self.our_rooms["12"]
        room = quote(room_id, safe="")
        status, body = await self.request(
            "PUT", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/typing/{self.alice}",
            self.alice_token, {"typing": True, "timeout": 20000})
        expect(status == 200, f"Alice types: {status} {body}")
        await self.ephemeral_until(
            self.synapse.url, self.bob_token, room_id, "m.typing",
            lambda content: self.alice in content.get("user_ids", []),
            "Synapse never saw Alice typing")

        status, body = await self.request(
            "PUT", f"{self.synapse.url}/_matrix/client/v3/rooms/{room}/typing/{self.bob}",
            self.bob_token, {"typing": True, "timeout": 20000})
        expect(status == 200, f"Bob types: {status} {body}")
        await self.ephemeral_until(
            self.ours.url, self.alice_token, room_id, "m.typing",
            lambda content: self.bob in content.get("user_ids", []),
            "we never saw Bob typing")

        message = await self.wait_for_message(self.ours.url, self.alice_token, room_id,
                                              "hello from Synapse in v12")
        event_id = message["event_id"]
        status, body = await self.request(
            "POST",
            f"{self.ours.url}/_matrix/client/v3/rooms/{room}/receipt/m.read/"
            f"{quote(event_id, safe='')}",
            self.alice_token, {})
        expect(status == 200, f"Alice's receipt: {status} {body}")
        await self.ephemeral_until(
            self.synapse.url, self.bob_token, room_id, "m.receipt",
            lambda content: self.alice in content.get(event_id, {}).get("m.read", {}),
            "Synapse never saw Alice's receipt")

    async def presence_across(self):
        """Bob's presence and status message reach Alice's sync; Alice's reach Synapse."""
        import asyncio
        from urllib.parse import quote

        status, body = await self.request(
            "PUT", f"{self.synapse.url}/_matrix/client/v3/presence/{quote(self.bob, safe='')}/status",
            self.bob_token, {"presence": "online", "status_msg": "on Synapse"})
        expect(status == 200, f"Bob sets his presence: {status} {body}")
        status, body = await self.request(
            "GET", f"{self.ours.url}/_matrix/client/v3/sync?timeout=0", self.alice_token)
        deadline = asyncio.get_running_loop().time() + 30
        seen = []
        while True:
            for event in body.get("presence", {}).get("events", []):
                seen.append(event)
                if (event.get("sender") == self.bob
                        and event["content"].get("status_msg") == "on Synapse"):
                    break
            else:
                expect(asyncio.get_running_loop().time() < deadline,
                       f"Bob's presence never reached Alice: {seen}")
                status, body = await self.request(
                    "GET", f"{self.ours.url}/_matrix/client/v3/sync?timeout=1000"
                    f"&since={body['next_batch']}", self.alice_token)
                continue
            break
        status, body = await self.request(
            "PUT", f"{self.ours.url}/_matrix/client/v3/presence/{quote(self.alice, safe='')}/status",
            self.alice_token, {"presence": "unavailable", "status_msg": "on ours"})
        expect(status == 200, f"Alice sets her presence: {status} {body}")

        async def synapse_sees_alice():
            status, body = await self.request(
                "GET", f"{self.synapse.url}/_matrix/client/v3/presence/"
                f"{quote(self.alice, safe='')}/status", self.bob_token)
            return status == 200 and body.get("status_msg") == "on ours", (status, body)
        await self.wait_until("Synapse never saw Alice's presence", synapse_sees_alice)

    async def synapse_down_then_caught_up(self):
        """Synapse stops; Alice sends five messages; Synapse starts again and every one
        reaches Bob (our outbox keeps them until Synapse acknowledges)."""
        from urllib.parse import quote

        room_id = self.our_rooms["11"]
        room = quote(room_id, safe="")
        self.synapse.stop()
        bodies = [f"sent while Synapse was down #{n}" for n in range(5)]
        for n, text in enumerate(bodies):
            status, body = await self.request(
                "PUT", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/down{n}",
                self.alice_token, {"msgtype": "m.text", "body": text})
            expect(status == 200, f"Alice sends while Synapse is down: {status} {body}")
        await self.synapse.start()
        for text in bodies:
            await self.wait_for_message(self.synapse.url, self.bob_token, room_id, text,
                                        timeout=90.0)

    async def synapse_user_leaves_our_room(self):
        """Bob leaves a room we host (make_leave/send_leave); Alice's server sees it."""
        from urllib.parse import quote

        room_id = self.our_rooms["10"]
        room = quote(room_id, safe="")
        status, body = await self.request(
            "POST", f"{self.synapse.url}/_matrix/client/v3/rooms/{room}/leave", self.bob_token, {})
        expect(status == 200, f"Bob leaves: {status} {body}")

        async def bob_left():
            status, body = await self.request(
                "GET", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/joined_members",
                self.alice_token)
            joined = list((body or {}).get("joined", {}))
            return self.bob not in joined, joined
        await self.wait_until("Bob still joined on our side", bob_left)

    # --- rooms Synapse hosts -------------------------------------------------------------

    async def create_synapse_room(self, body: dict) -> str:
        status, answer = await self.request(
            "POST", self.synapse.url + "/_matrix/client/v3/createRoom", self.bob_token, body)
        expect(status == 200, f"Bob creates a room {body}: {status} {answer}")
        return answer["room_id"]

    async def synapse_members(self, room_id: str) -> dict:
        """Each member's membership in `room_id`, as Bob's Synapse sees it."""
        from urllib.parse import quote

        status, body = await self.request(
            "GET", f"{self.synapse.url}/_matrix/client/v3/rooms/{quote(room_id, safe='')}/members",
            self.bob_token)
        expect(status == 200, f"Synapse's members of {room_id}: {status} {body}")
        return {event["state_key"]: event["content"].get("membership")
                for event in body.get("chunk", [])}

    async def our_sync_section(self, section: str, room_id: str):
        status, body = await self.request(
            "GET", f"{self.ours.url}/_matrix/client/v3/sync?timeout=0", self.alice_token)
        rooms = (body or {}).get("rooms", {}).get(section, {})
        return room_id in rooms, rooms.get(room_id, list(rooms))

    async def we_join_synapse_rooms(self):
        """Bob makes public rooms on Synapse in room versions 10, 11 and 12; Alice joins
        them through our server's join handshake: by alias (resolved over federation) and
        by room ID with a `server_name` hint. Our server then holds the room's state."""
        from urllib.parse import quote

        self.their_rooms = {}
        for version in ROOM_VERSIONS:
            alias = f"synapse-lobby-v{version}"
            room_id = await self.create_synapse_room(
                {"preset": "public_chat", "room_alias_name": alias, "room_version": version,
                 "name": f"Synapse lobby v{version}", "topic": "hosted by Synapse"})
            if version == "11":
                target = (f"{quote(room_id, safe='')}?server_name="
                          f"{quote(self.synapse.server_name, safe='')}")
            else:
                target = quote(f"#{alias}:{self.synapse.server_name}", safe="")
            status, body = await self.request(
                "POST", f"{self.ours.url}/_matrix/client/v3/join/{target}", self.alice_token, {})
            expect(status == 200 and body.get("room_id") == room_id,
                   f"Alice joins Bob's v{version} room: {status} {body}")
            self.their_rooms[version] = room_id
            members = await self.synapse_members(room_id)
            expect(members.get(self.alice) == "join",
                   f"Synapse does not see Alice joined in v{version}: {members}")
            room = quote(room_id, safe="")
            status, body = await self.request(
                "GET", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/state/m.room.topic",
                self.alice_token)
            expect(status == 200 and body.get("topic") == "hosted by Synapse",
                   f"our copy of the v{version} room's topic: {status} {body}")

    async def messages_both_ways_in_synapse_rooms(self):
        """In the rooms Synapse hosts, each side's message reaches the other side, and
        Bob's read receipt on Alice's message reaches us."""
        from urllib.parse import quote

        for version, room_id in self.their_rooms.items():
            room = quote(room_id, safe="")
            theirs = f"Synapse speaking in its own v{version} room"
            status, body = await self.request(
                "PUT", f"{self.synapse.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/t{version}",
                self.bob_token, {"msgtype": "m.text", "body": theirs})
            expect(status == 200, f"Bob sends: {status} {body}")
            await self.wait_for_message(self.ours.url, self.alice_token, room_id, theirs)
            ours = f"a guest from ours in v{version} 🙋"
            status, body = await self.request(
                "PUT", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/g{version}",
                self.alice_token, {"msgtype": "m.text", "body": ours})
            expect(status == 200, f"Alice sends: {status} {body}")
            message = await self.wait_for_message(self.synapse.url, self.bob_token, room_id, ours)
        event_id = message["event_id"]
        status, body = await self.request(
            "POST",
            f"{self.synapse.url}/_matrix/client/v3/rooms/{room}/receipt/m.read/"
            f"{quote(event_id, safe='')}",
            self.bob_token, {})
        expect(status == 200, f"Bob's receipt: {status} {body}")
        await self.ephemeral_until(
            self.ours.url, self.alice_token, room_id, "m.receipt",
            lambda content: self.bob in content.get(event_id, {}).get("m.read", {}),
            "we never saw Bob's receipt")

    async def a_conversation_of_every_kind(self):
        """Plain, formatted, emoji and long messages, each way, arrive with their content
        intact."""
        from urllib.parse import quote

        room_id = self.their_rooms["12"]
        room = quote(room_id, safe="")
        kinds = {
            "plain": {"msgtype": "m.text", "body": "just words"},
            "formatted": {"msgtype": "m.text", "body": "bold and a link",
                          "format": "org.matrix.custom.html",
                          "formatted_body": "<b>bold</b> and <a href=\"https://matrix.org\">a link</a>"},
            "emoji": {"msgtype": "m.text", "body": "👩‍🚀 🇫🇷 ✨ façade ß"},
            "long": {"msgtype": "m.text", "body": "long " + "abcdefghij" * 3000},
        }
        for side, (url, token, other_url, other_token) in {
            "ours": (self.ours.url, self.alice_token, self.synapse.url, self.bob_token),
            "synapse": (self.synapse.url, self.bob_token, self.ours.url, self.alice_token),
        }.items():
            for kind, content in kinds.items():
                content = dict(content, body=f"{content['body']} ({side})")
                status, body = await self.request(
                    "PUT", f"{url}/_matrix/client/v3/rooms/{room}/send/m.room.message/k-{side}-{kind}",
                    token, content)
                expect(status == 200, f"{side} sends a {kind} message: {status} {body}")
                event = await self.wait_for_message(other_url, other_token, room_id,
                                                    content["body"])
                expect(event["content"] == content,
                       f"the {kind} message from {side} arrived as {event['content']}")

    async def older_room_versions_both_ways(self):
        """Room versions 1 to 9 (event IDs with server names in 1 and 2, the older
        redaction and auth rules): Alice joins Bob's room and Bob joins Alice's, and a
        message crosses each way in each."""
        from urllib.parse import quote

        for version in [str(v) for v in range(1, 10)]:
            theirs = await self.create_synapse_room(
                {"preset": "public_chat", "room_version": version, "name": f"old v{version}"})
            status, body = await self.request(
                "POST", self.ours.url + "/_matrix/client/v3/createRoom", self.alice_token,
                {"preset": "public_chat", "room_version": version, "name": f"our old v{version}"})
            expect(status == 200, f"Alice creates a v{version} room: {status} {body}")
            ours = body["room_id"]
            for room_id, (joiner, token, url, host) in {
                theirs: ("Alice", self.alice_token, self.ours.url, self.synapse.server_name),
                ours: ("Bob", self.bob_token, self.synapse.url, self.ours.server_name),
            }.items():
                status, body = await self.request(
                    "POST", f"{url}/_matrix/client/v3/join/{quote(room_id, safe='')}"
                    f"?server_name={quote(host, safe='')}", token, {})
                expect(status == 200, f"{joiner} joins the v{version} room: {status} {body}")
            for room_id in (theirs, ours):
                room = quote(room_id, safe="")
                for sender_url, token, reader_url, reader_token, who in (
                    (self.ours.url, self.alice_token, self.synapse.url, self.bob_token, "ours"),
                    (self.synapse.url, self.bob_token, self.ours.url, self.alice_token, "synapse"),
                ):
                    text = f"v{version} from {who} in {room_id[:8]}"
                    status, body = await self.request(
                        "PUT", f"{sender_url}/_matrix/client/v3/rooms/{room}/send/m.room.message/"
                        f"old{version}{who}{room_id[1:6]}", token, {"msgtype": "m.text", "body": text})
                    expect(status == 200, f"{who} sends in v{version}: {status} {body}")
                    await self.wait_for_message(reader_url, reader_token, room_id, text)

    async def we_read_history_from_before_our_join(self):
        """Bob talks in a new room before Alice joins; paging back on our server reaches
        that history, which our server fetches from Synapse with /backfill."""
        from urllib.parse import quote

        room_id = await self.create_synapse_room(
            {"preset": "public_chat", "name": "Synapse history"})
        room = quote(room_id, safe="")
        early = [f"said before Alice came #{n}" for n in range(3)]
        for n, text in enumerate(early):
            status, body = await self.request(
                "PUT", f"{self.synapse.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/e{n}",
                self.bob_token, {"msgtype": "m.text", "body": text})
            expect(status == 200, f"Bob sends history: {status} {body}")
        status, body = await self.request(
            "POST", f"{self.ours.url}/_matrix/client/v3/join/{room}?server_name="
            f"{quote(self.synapse.server_name, safe='')}", self.alice_token, {})
        expect(status == 200, f"Alice joins by room ID: {status} {body}")
        for text in early:
            await self.wait_for_message(self.ours.url, self.alice_token, room_id, text)
        status, body = await self.request(
            "GET", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/messages?dir=b&limit=100",
            self.alice_token)
        types = [event["type"] for event in body.get("chunk", [])]
        expect(types and types[-1] == "m.room.create",
               f"paging back does not reach the room's creation: {types}")
        bodies = [event["content"].get("body") for event in reversed(body["chunk"])
                  if event["type"] == "m.room.message"]
        expect(bodies == early, f"history out of order or repeated: {bodies}")

    async def synapse_invites_our_user(self):
        """Bob invites Alice to a private room on Synapse: our server countersigns the
        invite, Alice sees it (with the room's name) in her sync, accepts it by joining
        through Bob's server, and they talk."""
        from urllib.parse import quote

        room_id = await self.create_synapse_room(
            {"preset": "private_chat", "name": "Bob's den", "invite": [self.alice]})

        async def alice_invited():
            invited, details = await self.our_sync_section("invite", room_id)
            names = [event.get("content", {}).get("name")
                     for event in (details.get("invite_state", {}).get("events", [])
                                   if invited else [])]
            return invited and "Bob's den" in names, details
        await self.wait_until("Alice never saw Bob's invite", alice_invited)
        room = quote(room_id, safe="")
        status, body = await self.request(
            "POST", f"{self.ours.url}/_matrix/client/v3/join/{room}", self.alice_token, {})
        expect(status == 200, f"Alice accepts Bob's invite: {status} {body}")
        text = "glad to be in your den"
        status, body = await self.request(
            "PUT", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/send/m.room.message/den",
            self.alice_token, {"msgtype": "m.text", "body": text})
        expect(status == 200, f"Alice sends: {status} {body}")
        await self.wait_for_message(self.synapse.url, self.bob_token, room_id, text)
        self.den = room_id

    async def we_reject_a_synapse_invite(self):
        """Bob invites Alice again, to another room; she declines, which our server does
        with make_leave/send_leave through Bob's server."""
        from urllib.parse import quote

        room_id = await self.create_synapse_room(
            {"preset": "private_chat", "name": "Declined", "invite": [self.alice]})

        async def alice_invited():
            return await self.our_sync_section("invite", room_id)
        await self.wait_until("Alice never saw the second invite", alice_invited)
        room = quote(room_id, safe="")
        status, body = await self.request(
            "POST", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/leave", self.alice_token, {})
        expect(status == 200, f"Alice declines: {status} {body}")
        members = await self.synapse_members(room_id)
        expect(members.get(self.alice) == "leave", f"Synapse's view after declining: {members}")
        invited, _ = await self.our_sync_section("invite", room_id)
        expect(not invited, "the declined invite is still listed")

    async def we_knock_on_a_synapse_room(self):
        """Alice knocks on Bob's knock-only room (make_knock/send_knock); Synapse sees the
        knock, Bob lets her in with an invite, and she joins."""
        from urllib.parse import quote

        room_id = await self.create_synapse_room(
            {"preset": "private_chat", "room_version": "12", "name": "Knock first",
             "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                                "content": {"join_rule": "knock"}}]})
        room = quote(room_id, safe="")
        status, body = await self.request(
            "POST", f"{self.ours.url}/_matrix/client/v3/knock/{room}?server_name="
            f"{quote(self.synapse.server_name, safe='')}", self.alice_token,
            {"reason": "may I?"})
        expect(status == 200 and body.get("room_id") == room_id, f"Alice knocks: {status} {body}")
        members = await self.synapse_members(room_id)
        expect(members.get(self.alice) == "knock", f"Synapse's view of the knock: {members}")
        knocked, details = await self.our_sync_section("knock", room_id)
        expect(knocked, f"Alice's sync does not list the knock: {details}")
        status, body = await self.request(
            "POST", f"{self.synapse.url}/_matrix/client/v3/rooms/{room}/invite", self.bob_token,
            {"user_id": self.alice})
        expect(status == 200, f"Bob lets Alice in: {status} {body}")
        await self.wait_until("Alice never saw the invite after knocking",
                              lambda: self.our_sync_section("invite", room_id))
        status, body = await self.request(
            "POST", f"{self.ours.url}/_matrix/client/v3/join/{room}", self.alice_token, {})
        expect(status == 200, f"Alice joins after knocking: {status} {body}")
        members = await self.synapse_members(room_id)
        expect(members.get(self.alice) == "join", f"Synapse's view after the join: {members}")

    async def synapse_user_knocks_on_our_room(self):
        """Bob knocks on Alice's knock-only room; our server answers make_knock and
        send_knock, and Alice sees the knock."""
        from urllib.parse import quote

        status, body = await self.request(
            "POST", self.ours.url + "/_matrix/client/v3/createRoom", self.alice_token,
            {"preset": "private_chat", "room_version": "12", "name": "Our knock room",
             "initial_state": [{"type": "m.room.join_rules", "state_key": "",
                                "content": {"join_rule": "knock"}}]})
        expect(status == 200, f"Alice creates a knock room: {status} {body}")
        room_id = body["room_id"]
        room = quote(room_id, safe="")
        status, body = await self.request(
            "POST", f"{self.synapse.url}/_matrix/client/v3/knock/{room}?server_name="
            f"{quote(self.ours.server_name, safe='')}", self.bob_token, {"reason": "hello?"})
        expect(status == 200, f"Bob knocks: {status} {body}")

        async def knock_seen():
            status, body = await self.request(
                "GET", f"{self.ours.url}/_matrix/client/v3/rooms/{room}/state/m.room.member/"
                f"{quote(self.bob, safe='')}", self.alice_token)
            return status == 200 and body.get("membership") == "knock", (status, body)
        await self.wait_until("we never saw Bob's knock", knock_seen)

    async def we_leave_a_synapse_room(self):
        """Alice leaves a room Synapse hosts; Synapse sees it."""
        room_id = self.their_rooms["10"]
        from urllib.parse import quote

        status, body = await self.request(
            "POST", f"{self.ours.url}/_matrix/client/v3/rooms/{quote(room_id, safe='')}/leave",
            self.alice_token, {})
        expect(status == 200, f"Alice leaves Bob's room: {status} {body}")

        async def alice_left():
            members = await self.synapse_members(room_id)
            return members.get(self.alice) == "leave", members
        await self.wait_until("Synapse still sees Alice joined", alice_left)


ROOM_VERSIONS = ("10", "11", "12")


if __name__ == "__main__":
    sys.exit(main())

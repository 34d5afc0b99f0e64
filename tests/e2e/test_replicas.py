"""Stateless replicas: two `ttsign serve` processes behind nginx, sharing one Redis, act as one server.

Everything real and on loopback: the strict emulator, two servers on port 0, the real Redis on
127.0.0.1:6379 (database 12 and a key prefix of this test, deleted afterwards), and an nginx of this test
running the shipped site file deploy/nginx/ttsign.conf over TLS (a certificate made here; free loopback
ports; foreground, stopped by PID). Proves: a key allowed N per minute gets exactly N successes across both
replicas under concurrent load; a key revoked through the shared store is refused by the other replica
within one second; an identity one replica bootstrapped is reused by the other (the emulator sees one
cookie-page bootstrap); behind nginx each client address has its own bucket (TTSIGN_TRUSTED_PROXIES) and
cannot choose another with a forged X-Forwarded-For; plain HTTP is redirected to HTTPS.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import os
import shutil
import signal
import ssl
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.e2e.harness import ROOT, EmulatorHandle, Proc, serve_argv, start_emulator, ttsign_keys
from tests.redis_db import delete_prefix, free_port, new_prefix, require_redis
from ttsign.config import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

REDIS_URL = os.environ.get("TTSIGN_TEST_E2E_REDIS_URL", "redis://127.0.0.1:6379/12")
ROOM = "7390000000000000001"  # the default scenario's room
BOOTSTRAP_PAGES = Settings.model_fields["bootstrap_pages"].default  # where an identity gets its ttwid
ANONYMOUS_PER_MINUTE = 3  # small, so one client address's own bucket runs out within the test
SIGN_BODY = {"url": f"https://webcast.tiktok.com/webcast/im/fetch/?aid=1988&room_id={ROOM}"}
SITE = ROOT / "deploy" / "nginx" / "ttsign.conf"  # the site file operators copy: this test runs it
# The main nginx.conf around the shipped site file: this test's own paths, and a log of who served what.
NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 512; }}
http {{
    log_format replicas '$status $upstream_addr';
    access_log {dir}/access.log replicas;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/ttsign.conf;
}}
"""


def render_site(upstreams: tuple[str, str], http_port: int, https_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx/ttsign.conf with this test's replicas, loopback ports and certificate; nothing else
    changes. Each example value must appear exactly once, so the shipped file is the one tested."""
    text = SITE.read_text()
    example_replicas = "    server 127.0.0.1:8081;\n    server 127.0.0.1:8082;\n"
    replicas = "".join(f"    server {upstream};\n" for upstream in upstreams)
    for example, actual in (
        (example_replicas, replicas),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("/etc/ssl/certs/ttsign.crt", str(cert)),
        ("/etc/ssl/private/ttsign.key", str(key)),
    ):  # fmt: skip
        assert text.count(example) == 1, f"{SITE.name}: expected {example!r} once"
        text = text.replace(example, actual)
    return text


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, valid for a day, and its key (PEM files)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ttsign test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class Nginx:
    """nginx in the foreground running deploy/nginx/ttsign.conf over TLS; no ready line, so readiness is polled."""

    def __init__(self, workdir: Path, upstreams: tuple[str, str]) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            pytest.fail("nginx is not installed: run `make nginx`")
        self.dir = workdir
        self.http_port, self.port = free_port(), free_port()
        cert, key = self_signed_certificate(workdir)
        self.tls = ssl.create_default_context(cafile=str(cert))
        (workdir / "ttsign.conf").write_text(render_site(upstreams, self.http_port, self.port, cert, key))
        (workdir / "nginx.conf").write_text(NGINX_CONF.format(dir=workdir))
        argv = [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", str(workdir / "error.log")]
        self.process = subprocess.Popen(
            [*argv, "-g", "daemon off;"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = f"https://127.0.0.1:{self.port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"

    def client(self, *, local_address: str | None = None, timeout: float = 10) -> httpx.Client:
        """A client that trusts this nginx's certificate, optionally from another loopback address."""
        transport = httpx.HTTPTransport(verify=self.tls, local_address=local_address)
        return httpx.Client(transport=transport, timeout=timeout)

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        with self.client(timeout=1) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                    pytest.fail(f"nginx exited ({self.process.returncode}): {stderr}\n{self.error_log()}")
                try:
                    if http.get(self.url + "/healthz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"nginx did not answer on {self.url}\n{self.error_log()}")

    def error_log(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_log(self) -> list[tuple[int, str]]:
        path = self.dir / "access.log"
        lines = path.read_text().split("\n") if path.exists() else []
        return [(int(status), addr) for status, addr in (line.split(" ", 1) for line in lines if line.strip())]

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)  # fast shutdown of the master and its worker
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


@dataclass
class Deployment:
    emulator: EmulatorHandle
    servers: list[Proc]
    urls: list[str]
    nginx: Nginx
    env: dict[str, str]

    def keys(self, *args: str) -> dict[str, Any]:
        """`ttsign keys ...` against the shared Redis (the CLI reads TTSIGN_REDIS_URL like the servers)."""
        return ttsign_keys(self.env, *args)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    require_redis(REDIS_URL)
    prefix = new_prefix()
    env = {
        "TTSIGN_REDIS_URL": REDIS_URL,
        "TTSIGN_REDIS_KEY_PREFIX": prefix,
        "TTSIGN_STORE_PATH": str(tmp_path / "unused.sqlite3"),  # must stay untouched: Redis holds the keys
        "TTSIGN_CONTACT_EMAIL": "ops@example.org",
        # As deploy/README.md says: replicas believe nginx's X-Forwarded-For and nobody else's, and share
        # one JWT secret that does not live in Redis.
        "TTSIGN_TRUSTED_PROXIES": "127.0.0.1",
        "TTSIGN_JWT_SECRET": "replicas-share-this-secret-" + "x" * 24,
        "TTSIGN_ANONYMOUS_PER_MINUTE": str(ANONYMOUS_PER_MINUTE),
    }
    # Every bootstrap-page visit mints a ttwid, so one bootstrap is one visit (the default mints a third).
    emulator = start_emulator({"era_2026_09": {"ttwid_mint_fraction": 1}}, strict=True, tls=False)
    servers: list[Proc] = []
    nginx: Nginx | None = None
    try:
        for name in ("replica-a", "replica-b"):
            argv = serve_argv(emulator.url)
            servers.append(Proc(argv, name=name, env=env).start())
        urls = [str(proc.wait_ready()["url"]) for proc in servers]
        nginx = Nginx(tmp_path, (urls[0].removeprefix("http://"), urls[1].removeprefix("http://")))
        nginx.wait_ready()
        yield Deployment(emulator, servers, urls, nginx, env)
        assert not (tmp_path / "unused.sqlite3").exists()
    finally:
        if nginx is not None:
            nginx.stop()
        codes = {proc.name: proc.stop() for proc in servers}
        emulator.proc.stop()
        delete_prefix(prefix, REDIS_URL)
    assert all(code == 0 for code in codes.values()), codes


async def _sign_many(url: str, api_key: str, count: int, tls: ssl.SSLContext) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=15, limits=limits, verify=tls) as client:
        return await asyncio.gather(
            *(
                client.post(url + "/webcast/sign_url", json=SIGN_BODY, headers={"X-Api-Key": api_key})
                for _ in range(count)
            )
        )


def test_a_per_minute_limit_holds_exactly_across_both_replicas(deployment: Deployment) -> None:
    created = deployment.keys("create", "--name", "replicas", "--per-minute", "20")
    responses = asyncio.run(_sign_many(deployment.nginx.url, created["api_key"], 60, deployment.nginx.tls))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 20, 429: 40}, statuses
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["limit_label"] == "minute" and int(refused.headers["Retry-After"]) >= 1
    signed = next(r for r in responses if r.status_code == 200).json()
    assert "X-Bogus=" in signed["response"]["signedUrl"]
    # nginx spread the load and each replica alone saw more than 20 requests: had either counted in its
    # own memory, more than 20 would have passed. Exactly 20 did, so the window is the shared one.
    served = Counter(addr for _, addr in deployment.nginx.access_log())
    assert set(served) == {u.removeprefix("http://") for u in deployment.urls}, served
    assert all(count > 20 for count in served.values()), served
    # One identity for both replicas: the emulator handed out cookies once.
    bootstraps = [e for e in deployment.emulator.log("http") if e["path"] in BOOTSTRAP_PAGES]
    assert len(bootstraps) == 1, bootstraps


def test_a_key_revoked_is_refused_by_the_other_replica_within_a_second(deployment: Deployment) -> None:
    created = deployment.keys("create", "--name", "to-revoke")
    headers = {"X-Api-Key": created["api_key"]}
    replica_b = deployment.urls[1]
    with deployment.nginx.client() as http:
        assert http.post(replica_b + "/webcast/sign_url", json=SIGN_BODY, headers=headers).status_code == 200
        assert http.get(deployment.urls[0] + "/webcast/rate_limits", headers=headers).status_code == 200
        # Revoke through the shared store (as an operator would, from any host); replica B just used the key.
        assert http.post(replica_b + "/webcast/sign_url", json=SIGN_BODY, headers=headers).status_code == 200
        deployment.keys("revoke", created["key_id"])
        revoked_at = time.monotonic()  # the CLI has written the revocation to Redis before exiting
        # Every request replica B still accepts must have been sent within 1 s of the revocation (its key
        # cache lives 1 s); measured at sending, so a slow, loaded machine cannot make this flaky.
        while True:
            sent = time.monotonic() - revoked_at
            status = http.post(replica_b + "/webcast/sign_url", json=SIGN_BODY, headers=headers).status_code
            if status == 401:
                break
            assert status == 200 and sent < 1.0, (status, sent)
            time.sleep(0.02)
        assert sent < 3.0, sent  # and the refusal followed (bounded even on a loaded machine)
        # Replica A read the key last before the revocation too: past 1 s, nobody accepts it.
        time.sleep(max(0.0, revoked_at + 1.05 - time.monotonic()))
        for url in (deployment.urls[0], deployment.nginx.url):
            assert http.post(url + "/webcast/sign_url", json=SIGN_BODY, headers=headers).status_code == 401


def test_an_identity_bootstrapped_by_one_replica_is_reused_by_the_other(deployment: Deployment) -> None:
    created = deployment.keys("create", "--name", "connect")
    headers = {"X-Api-Key": created["api_key"]}
    params = {"client": "ttlive-python", "room_id": ROOM}
    with httpx.Client(timeout=10) as http:
        first = http.get(deployment.urls[0] + "/webcast/fetch", params=params, headers=headers)
        assert first.status_code == 200, first.text
        second = http.get(deployment.urls[1] + "/webcast/fetch", params=params, headers=headers)
        assert second.status_code == 200, second.text
    # Replica B connected with A's identity: same ttwid handed to the client, one cookie-page visit.
    assert first.headers["X-Set-TT-Cookie"] == second.headers["X-Set-TT-Cookie"]
    bootstraps = [e for e in deployment.emulator.log("http") if e["path"] in BOOTSTRAP_PAGES]
    assert len(bootstraps) == 1, bootstraps
    # Each replica then called TikTok once for its connect (whatever the connect strategy), both with the
    # one ttwid the emulator issued.
    upstream = [e for e in deployment.emulator.log("http") if e["path"] not in BOOTSTRAP_PAGES]
    assert len(upstream) == 2 and all(e["ttwid_issued"] and e["status"] == 200 for e in upstream), upstream


def anonymous_signs(http: httpx.Client, url: str, count: int, **headers: str) -> list[int]:
    return [http.post(url + "/webcast/sign_url", json=SIGN_BODY, headers=headers).status_code for _ in range(count)]


def test_each_client_address_behind_nginx_has_its_own_bucket_and_cannot_pick_another(
    deployment: Deployment,
) -> None:
    """nginx sets X-Forwarded-For to the connecting address; the replicas believe it from nginx only."""
    limit = ANONYMOUS_PER_MINUTE
    with deployment.nginx.client(local_address="127.0.0.2") as first:
        assert anonymous_signs(first, deployment.nginx.url, limit + 1) == [200] * limit + [429]
        # A forged X-Forwarded-For is replaced by nginx: still 127.0.0.2's empty bucket.
        assert anonymous_signs(first, deployment.nginx.url, 1, **{"X-Forwarded-For": "10.9.9.9"}) == [429]
    with deployment.nginx.client(local_address="127.0.0.3") as second:
        # Another client behind the same proxy is counted apart (were the proxy's own address counted, as
        # without TTSIGN_TRUSTED_PROXIES, this would be refused: both would share 127.0.0.1's bucket).
        assert anonymous_signs(second, deployment.nginx.url, 1) == [200]
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2"), timeout=10) as direct:
        # Straight to a replica, from an address it does not trust: the header is ignored, not believed.
        forged = anonymous_signs(direct, deployment.urls[0], 1, **{"X-Forwarded-For": "10.8.8.8"})
        assert forged == [429]


def test_plain_http_is_redirected_to_https(deployment: Deployment) -> None:
    with httpx.Client(timeout=10) as http:
        answer = http.get(deployment.nginx.http_url + "/healthz")
    assert answer.status_code == 301 and answer.headers["location"].startswith("https://")

"""`etl serve` as a real process: plain HTTP on loopback, the HTTPS rule on other addresses, TLS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from etl.api.keys import create_key
from etl.db.engine import make_engine
from etl.db.schema import init_db


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_db(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    engine = make_engine(url)
    init_db(engine)
    with engine.begin() as conn:
        _info, key = create_key(conn, "serve-test")
    engine.dispose()
    return url, key


class Server:
    def __init__(self, url: str, args: list[str], tmp_path: Path) -> None:
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ETL_", "STRIPE_"))}
        env.update({"DATABASE_URL": url, "ETL_LOG_FORMAT": "json"})
        self.log = tmp_path / "serve.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "etl", "serve", "--port", str(self.port), *args],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("w"),
        )

    def wait(self, scheme: str = "http") -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"etl serve exited: {self.log.read_text()}")
            try:
                httpx.get(f"{scheme}://127.0.0.1:{self.port}/healthz", verify=False, timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
            else:
                return
        raise AssertionError("etl serve did not start within 30 s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def serve(served_db: tuple[str, str], tmp_path: Path) -> Iterator[object]:
    servers: list[Server] = []

    def start(*args: str, scheme: str = "http") -> Server:
        server = Server(served_db[0], list(args), tmp_path)
        servers.append(server)
        server.wait(scheme)
        return server

    yield start
    for server in servers:
        server.stop()


def test_serve_loopback_plain_http(serve: object, served_db: tuple[str, str]) -> None:
    _url, key = served_db
    server = serve()  # type: ignore[operator]
    base = f"http://127.0.0.1:{server.port}"
    health = httpx.get(f"{base}/healthz").json()
    assert health["status"] == "ok" and health["database"] == "ok"
    assert httpx.get(f"{base}/v2/customers").status_code == 401
    created = httpx.post(f"{base}/v2/customers", auth=(key, ""), data={"email": "curl@example.com"})
    assert created.status_code == 200, created.text
    listed = httpx.get(
        f"{base}/v2/customers?limit=2", headers={"Authorization": f'Token token="{key}"'}
    )
    assert [c["email"] for c in listed.json()["data"]] == ["curl@example.com"]
    assert httpx.get(f"{base}/v2/openapi.json").json()["openapi"].startswith("3.")
    server.stop()
    log = server.log.read_text()
    assert '"event": "api.request"' in log and '"path": "/v2/customers"' in log
    assert key not in log


def test_serve_on_all_addresses_requires_https(serve: object, served_db: tuple[str, str]) -> None:
    _url, key = served_db
    server = serve("--host", "0.0.0.0")  # type: ignore[operator]
    base = f"http://127.0.0.1:{server.port}"
    r = httpx.get(f"{base}/v2/mrr", auth=(key, ""))
    assert r.status_code == 403 and "HTTPS" in r.json()["error"]["message"]
    r = httpx.get(f"{base}/v2/mrr", auth=(key, ""), headers={"X-Forwarded-Proto": "https"})
    assert r.status_code == 200 and r.json() == {"data": []}


def test_serve_tls(serve: object, served_db: tuple[str, str], tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: cannot make a test certificate")
    cert, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=127.0.0.1", "-keyout", str(keyfile), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    _url, key = served_db
    server = serve(  # type: ignore[operator]
        "--host",
        "0.0.0.0",
        "--ssl-certfile",
        str(cert),
        "--ssl-keyfile",
        str(keyfile),
        scheme="https",
    )
    r = httpx.get(f"https://127.0.0.1:{server.port}/v2/plans", auth=(key, ""), verify=False)
    assert r.status_code == 200 and r.json()["object"] == "list"


def test_serve_rejects_half_tls_options(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "etl", "serve", "--ssl-certfile", str(tmp_path / "x.pem")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"},
    )
    assert r.returncode == 2
    assert "--ssl-keyfile" in r.stderr and "Traceback" not in r.stderr

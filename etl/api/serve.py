"""The API app as the daemon and the demo serve it, and serving it from a thread."""

from __future__ import annotations

import errno
import ipaddress
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from etl.errors import EtlError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from etl.bootstrap import Container


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the server on this machine (HTTPS is then not required)."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def ensure_port_free(host: str, port: int) -> None:
    """Bind and release `host:port` as uvicorn will, so that a port another process holds
    is one clear EtlError (exit 1: the setting is valid, the machine's state is not)
    before anything says "Serving"; uvicorn itself would log and exit 3."""
    if port == 0:
        return  # any free port
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise EtlError(f"cannot serve on {host}:{port}: unknown address ({exc.strerror})") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise EtlError(
                    f"cannot serve on {host}:{port}: the port is already in use by another "
                    "process (stop it or choose another with --port)"
                ) from None
            raise EtlError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None


def build_app(container: Container, **kwargs: Any) -> FastAPI:
    """The API app (its factory includes the /chart page, etl.api.routes.chart)."""
    # Lazy: `etl` imports this module at startup (is_loopback); the app loads to serve.
    from etl.api.app import create_app  # noqa: PLC0415

    return create_app(container, **kwargs)


class ApiThread:
    """uvicorn in a background thread (it installs no signal handlers off the main thread)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        # Lazy: uvicorn loads only when a thread serves (see build_app).
        import uvicorn  # noqa: PLC0415

        config = uvicorn.Config(
            app, host=host, port=port, log_config=None, access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.host = host
        self.thread = threading.Thread(target=self.server.run, name="api", daemon=True)

    @property
    def port(self) -> int:
        for server in getattr(self.server, "servers", []) or []:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self.server.config.port)

    def start(self, timeout: float = 15.0) -> ApiThread:
        ensure_port_free(self.host, int(self.server.config.port))
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive():
                raise EtlError(
                    f"could not serve the API on {self.host}:{self.server.config.port} "
                    "(is the port already in use?)"
                )
            if time.monotonic() > deadline:
                raise EtlError(f"the API did not start within {timeout:.0f} s")
            time.sleep(0.05)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout)

"""Helpers of the operations tests: an `etl` subprocess environment and a refusing Stripe."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

ETL = [sys.executable, "-m", "etl"]


def etl_env(cwd: Path, db_url: str, **settings: str) -> dict[str, str]:
    """The environment of an `etl` subprocess: nothing inherited from the developer's ETL_*."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ETL_", "STRIPE_")) and k != "DATABASE_URL"
    }
    env.update({"DATABASE_URL": db_url, "ETL_LOG_FORMAT": "json", "PYTHONUNBUFFERED": "1"})
    env.update(settings)
    return env


@contextmanager
def refusing_stripe(status: int = 400, delay_s: float = 0.0) -> Iterator[str]:
    """A Stripe look-alike that answers every request with an error (after `delay_s`)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if delay_s:
                time.sleep(delay_s)
            body = json.dumps(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "this test server refuses every request",
                    }
                }
            ).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Request-Id", "req_test")
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        do_POST = do_GET

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def job_runs(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM job_runs ORDER BY id")).mappings().all()
    return [dict(r) for r in rows]


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def json_lines(text_: str) -> list[dict[str, Any]]:
    out = []
    for raw_line in text_.splitlines():
        line = raw_line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out

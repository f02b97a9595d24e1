"""Headless Chromium driven over the DevTools protocol on a pipe (no extra package).

`--remote-debugging-pipe` makes Chromium read NUL-terminated JSON commands on fd 3 and
write replies and events on fd 4. `render` loads a page, collects every console error,
uncaught exception and failed resource (Log.entryAdded with level error), and evaluates
an expression in the page once it has loaded.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
)


def chromium_path() -> str | None:
    for p in CHROMIUM_PATHS:
        if os.access(p, os.X_OK):
            return p
    return shutil.which("chromium")


@dataclass
class PageReport:
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    value: Any = None
    loaded: bool = False


class _Cdp:
    def __init__(self, binary: str, user_data_dir: str) -> None:
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        # Chromium talks on fds 3 and 4: a tiny Python trampoline moves the pipe ends
        # there (copying them away first, as either may already be 3 or 4), then execs.
        trampoline = (
            "import os, sys\n"
            "r, w = os.dup(int(sys.argv[1])), os.dup(int(sys.argv[2]))\n"
            "os.dup2(r, 3); os.dup2(w, 4)\n"
            "os.set_inheritable(3, True); os.set_inheritable(4, True)\n"
            "os.execv(sys.argv[3], sys.argv[3:])\n"
        )
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                trampoline,
                str(to_chrome_r),
                str(from_chrome_w),
                binary,
                *FLAGS,
                f"--user-data-dir={user_data_dir}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(to_chrome_r, from_chrome_w),
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> int:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._w, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from Chromium")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed the DevTools pipe")
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)  # type: ignore[no-any-return]

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30,
    ) -> dict[str, Any]:
        msg_id = self.send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_message(deadline)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})  # type: ignore[no-any-return]
            self.events.append(msg)

    def wait_event(self, method: str, timeout: float) -> dict[str, Any]:
        for ev in self.events:
            if ev.get("method") == method:
                return ev
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_message(deadline)
            self.events.append(msg)
            if msg.get("method") == method:
                return msg

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._read_message(deadline))
        except TimeoutError:
            return

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._r, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


def render(
    url: str, *, headers: dict[str, str] | None = None, evaluate: str = "true", timeout: float = 60
) -> PageReport:
    binary = chromium_path()
    if binary is None:
        raise RuntimeError("chromium is not installed (Debian: apt-get install chromium)")
    report = PageReport()
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        cdp = _Cdp(binary, profile)
        try:
            target = cdp.call("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
            session = cdp.call(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )["sessionId"]
            for domain in ("Runtime", "Log", "Page", "Network"):
                cdp.call(f"{domain}.enable", session=session)
            if headers:
                cdp.call("Network.setExtraHTTPHeaders", {"headers": headers}, session=session)
            nav = cdp.call("Page.navigate", {"url": url}, session=session)
            if nav.get("errorText"):
                report.errors.append(f"navigation: {nav['errorText']}")
            cdp.wait_event("Page.loadEventFired", timeout)
            report.loaded = True
            cdp.drain(1.0)  # late console messages and resource failures
            res = cdp.call(
                "Runtime.evaluate",
                {"expression": evaluate, "returnByValue": True},
                session=session,
            )
            if "exceptionDetails" in res:
                report.errors.append(f"evaluate: {res['exceptionDetails']}")
            report.value = res.get("result", {}).get("value")
        finally:
            cdp.close()
    _report_events(report, cdp.events)
    return report


def _report_events(report: PageReport, events: list[dict[str, Any]]) -> None:
    """Console lines, and every kind of error the page met, from the CDP events."""
    for ev in events:
        method, params = ev.get("method"), ev.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            report.console.append(f"{params['type']}: {text}")
            if params["type"] in ("error", "assert"):
                report.errors.append(f"console.{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            described = details.get("exception", {}).get("description", "")
            report.errors.append(f"exception: {details.get('text')} {described}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            e = params["entry"]
            report.errors.append(f"log: {e.get('text')} {e.get('url', '')}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            report.errors.append(f"network: {params.get('errorText')}")
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            r = params["response"]
            report.errors.append(f"http {r['status']}: {r['url']}")

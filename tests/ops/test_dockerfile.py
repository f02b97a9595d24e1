"""The Dockerfile runs the daemon with the API, checks /healthz, keeps data in a volume.

No Docker daemon is needed: the file is read, and its health-check command is run
against a real server.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

from etl.api.serve import ApiThread, build_app
from etl.bootstrap import bootstrap
from etl.config import load_settings
from etl.db.schema import init_db

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    out = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_image_runs_the_daemon_with_the_api_and_a_data_volume() -> None:
    ins = _instructions()
    get = lambda w: [rest for word, rest in ins if word == w]  # noqa: E731
    assert get("ENTRYPOINT")[-1] == '["etl"]'
    cmd = get("CMD")[-1]
    assert cmd.startswith('["daemon", "--serve"') and '"0.0.0.0"' in cmd
    assert get("VOLUME") == ['["/data"]']
    assert "DATABASE_URL=sqlite:////data/etl.db" in get("ENV")[-1]
    assert get("USER") == ["etl"]
    assert get("STOPSIGNAL") == ["SIGTERM"]
    assert get("EXPOSE") == ["8000"]


def _healthcheck_argv(port: int) -> list[str]:
    [hc] = [rest for word, rest in _instructions() if word == "HEALTHCHECK"]
    shell = re.sub(r"^(--\S+\s+)*CMD\s+", "", hc)
    assert "/healthz" in shell
    python_part = shell.split("||")[0].strip()
    argv = shlex.split(python_part.replace("127.0.0.1:8000", f"127.0.0.1:{port}"))
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_the_health_check_passes_on_a_healthy_server_and_fails_without_one(
    tmp_path: Path,
) -> None:
    c = bootstrap(
        load_settings(database_url=f"sqlite:///{tmp_path / 'etl.db'}", log_level="warning")
    )
    init_db(c.engine)
    # The image binds 0.0.0.0, where HTTPS is required: /healthz must stay reachable.
    api = ApiThread(build_app(c, require_https=True), "127.0.0.1", 0).start()
    try:
        ok = subprocess.run(_healthcheck_argv(api.port), capture_output=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
    finally:
        api.stop()
        c.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    down = subprocess.run(_healthcheck_argv(free), capture_output=True, timeout=30)
    assert down.returncode != 0

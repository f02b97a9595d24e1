"""A bar per resource on a terminal (objects and rate); silent otherwise."""

from __future__ import annotations

import sys
import threading
from typing import Any


class Progress:
    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = enabled
        self._bars: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._progress: Any = None
        if enabled:
            # Lazy: rich loads only when a terminal shows the bars.
            from rich.console import Console  # noqa: PLC0415
            from rich.progress import (  # noqa: PLC0415
                BarColumn,
                MofNCompleteColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as RichProgress  # noqa: PLC0415

            self._progress = RichProgress(
                TextColumn("{task.description:<14}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]:>8} obj/s"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> Progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, resource: str, total: int | None = None) -> None:
        if self._progress is None:
            return
        with self._lock:
            if resource not in self._bars:
                self._bars[resource] = self._progress.add_task(resource, total=total, rate="-")

    def advance(self, resource: str, n: int) -> None:
        if self._progress is None:
            return
        self.add(resource)
        with self._lock:
            task_id = self._bars[resource]
            self._progress.advance(task_id, n)
            task = self._progress.tasks[task_id]
            speed = task.speed
            self._progress.update(task_id, rate=f"{speed:,.0f}" if speed else "-")

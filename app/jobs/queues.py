"""The queues, declared once with their timeouts and retries, and how a job function is named."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class QueueSpec:
    name: str
    timeout_seconds: int
    description: str
    # Waits (seconds) before each retry of a failed job; their number is how many retries it gets. A job
    # kind may bring its own (``enqueue(..., retry_intervals=...)``).
    retry_intervals: tuple[int, ...] = ()


# Engine jobs retry soon: what they do is waited for (a case to open, a timer to fire); photos can wait.
ENGINE_QUEUE = QueueSpec(
    "engine", 120, "advance workflow instances: due timers, messages", retry_intervals=(10, 60, 300)
)
PHOTOS_QUEUE = QueueSpec("photos", 60, "thumbnails and photo processing", retry_intervals=(30, 300, 1800))
QUEUES: dict[str, QueueSpec] = {q.name: q for q in (ENGINE_QUEUE, PHOTOS_QUEUE)}

Job = Callable[..., Any]


def job_path(func: Job) -> str:
    """The import path a worker finds ``func`` by (what RQ stores). Only a module-level function has one."""
    qualname = getattr(func, "__qualname__", "")
    if not qualname or "." in qualname or "<" in qualname:
        raise ValueError(f"a job must be a module-level function, not {func!r}")
    return f"{func.__module__}.{qualname}"


def resolve(func_path: str) -> Job:
    module_name, _, attribute = func_path.rpartition(".")
    func: Job = getattr(importlib.import_module(module_name), attribute)
    return func

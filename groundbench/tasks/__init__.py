"""The tasks (one small object each, see base.py); TASKS maps the CLI name to the task class (a constant)."""
from __future__ import annotations

from ..errors import GroundbenchError
from .base import DataRef, HumanRows, Task
from .captioning import CaptioningTask
from .vqa import VQATask

TASKS: dict[str, type[Task]] = {cls.name: cls for cls in (VQATask, CaptioningTask)}


def get_task(name: str) -> Task:
    """A fresh task object for ``name`` ('vqa', 'captioning')."""
    if name not in TASKS:
        raise GroundbenchError(f"unknown task '{name}' (known: {', '.join(TASKS)})")
    return TASKS[name]()


__all__ = ["DataRef", "HumanRows", "TASKS", "Task", "get_task"]

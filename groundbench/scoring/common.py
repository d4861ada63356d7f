"""Helpers shared by the scoring modules: naming sets of ids in one-line errors, capturing data warnings."""
from __future__ import annotations

import contextlib
import logging
from typing import Iterable, Iterator

SHOWN_IDS = 5  # ids named in an error message; the count says how many there are in all


def describe_ids(ids: Iterable[object], limit: int = SHOWN_IDS) -> str:
    """'3: 1, 2, 3' or '12: 1, 2, 3, 4, 5, ...': how many ids, then the first ``limit`` of them (sorted)."""
    ordered = sorted(set(ids), key=lambda x: (str(type(x)), x))
    shown = ", ".join(str(i) for i in ordered[:limit])
    return f"{len(ordered)}: {shown}{', ...' if len(ordered) > limit else ''}"


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def captured_warnings(logger: str = "groundbench.data") -> Iterator[list[str]]:
    """Collect the WARNING messages of ``logger`` in the yielded list (and keep them off stderr), so that a
    report can carry them, e.g. data/vqa.read_annotations' "fields derived where missing"."""
    handler = _Collect()
    log = logging.getLogger(logger)
    propagate = log.propagate
    log.addHandler(handler)
    log.propagate = False
    try:
        yield handler.messages
    finally:
        log.removeHandler(handler)
        log.propagate = propagate

"""User-facing errors: one line naming the file and the record; the CLI turns them into exit 2."""
from __future__ import annotations

import reprlib
from pathlib import Path
from typing import Any

_SHOW = reprlib.Repr()
_SHOW.maxlevel, _SHOW.maxstring, _SHOW.maxother, _SHOW.maxlong = 2, 40, 40, 40


def show_value(value: Any) -> str:
    """A short one-line repr of a parsed JSON value for error messages: long strings, big numbers and deep
    or large lists / objects are abbreviated with '...' (never a RecursionError on deep nesting)."""
    return _SHOW.repr(value)


class GroundbenchError(Exception):
    """An error caused by the user's input (a file, a record, an option), never by a bug.

    The message reads ``<path>: record <record>: <what is wrong>``; path and record are optional.
    """

    def __init__(self, message: str, *, path: str | Path | None = None, record: object = None):
        self.message = message
        self.path = None if path is None else str(path)
        self.record = record
        super().__init__(self.__str__())

    def __str__(self) -> str:
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if self.record is not None:
            parts.append(f"record {self.record}")
        parts.append(self.message)
        return ": ".join(parts)

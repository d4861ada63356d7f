"""User-facing errors: one line naming the file and the record; the CLI turns them into exit 2."""
from __future__ import annotations

from pathlib import Path


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

"""Ids (question, image, annotation, category ids) as the store keeps them: integers in [0, 2**63).

The store holds ids in int64 arrays (features/image_ids.npy, human_{split}.npz), so a larger id could not be
stored; in JSON an id must be an integer (VQA, COCO formats), never a bool, float or string. In a feature TSV
(generate_tsv.py writes ``str(int)``) an integer field is parsed exactly, as a decimal number: an id is
never rounded through a float (2**53 + 1 stays itself). Every violation is a GroundbenchError naming the
file, the record and the field.
"""
from __future__ import annotations


import decimal
from pathlib import Path

from ..errors import GroundbenchError, show_value

ID_LIMIT = 2 ** 63


def check_id(value: object, name: str, path: Path, record: object, limit: int = ID_LIMIT) -> int:
    """``value`` if it is a JSON integer in [0, limit); else a GroundbenchError naming file, record, field."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise GroundbenchError(f"field '{name}' must be an integer, got {show_value(value)}", path=path, record=record)
    if not 0 <= value < limit:
        bound = "2**63" if limit == ID_LIMIT else str(limit)
        raise GroundbenchError(f"field '{name}' is {show_value(value)}, outside the range [0, {bound})", path=path,
                               record=record)
    return value


def record_name(entry: object, key: str, fallback: str, label: str = "") -> str | int:
    """How errors name an entry: ``label <id>`` (the bare id without a label) when it has a plain, short
    integer id under ``key``, else ``fallback`` (its position, e.g. ``#3`` or ``images[3]``)."""
    value = entry.get(key) if isinstance(entry, dict) else None
    if type(value) is int and len(str(value)) <= 30:
        return f"{label} {value}" if label else value
    return fallback


def parse_integer(text: str, name: str, path: Path, record: str, low: int, limit: int) -> int:
    """An integer field of a text format, exactly: decimal notation ("42", "42.0", "4.2e1"), never through a
    float; it must be a whole number in [low, limit)."""
    try:
        number = decimal.Decimal(text)
    except decimal.InvalidOperation:
        raise GroundbenchError(f"field '{name}' is not a number: {text[:20]!r}", path=path, record=record) from None
    if not number.is_finite() or number != number.to_integral_value():
        raise GroundbenchError(f"field '{name}' is not an integer: {text[:20]!r}", path=path, record=record)
    if not low <= number < limit:
        bound = "2**63" if limit == ID_LIMIT else str(limit)
        raise GroundbenchError(f"field '{name}' is {text[:24]}, outside the range [{low}, {bound})", path=path,
                               record=record)
    return int(number)

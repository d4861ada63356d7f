"""Question records of a VQA store's split held as columns of arrays instead of a list of dicts.

A JSON record (data/vqa.store_record: question_id, image_id, question, question_type, answer_type, answers,
labels, scores) costs ~1.6 KB as Python objects; here it costs ~150 bytes, so a process's memory no longer grows
with the number of questions it trains on (README, "Full size on bounded memory"). ``table[i]`` rebuilds the
same dict (same keys in the same order, same values and types), so every reader of records works unchanged.

Saved beside the store's ``{split}.json`` as ``records_{split}.npz`` (plain arrays, no pickle), keyed by that
JSON's sha256: prepare writes it, and a store opened without it (or with a stale one) rebuilds it from the JSON.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ..io import atomic_open
from .npy import LOAD_ERRORS

FIELDS = ("question_id", "image_id", "question", "question_type", "answer_type", "answers", "labels", "scores")
TABLE_VERSION = 1


def _offsets(lengths: list[int]) -> np.ndarray:
    """[N + 1] int64 start offsets of N consecutive runs of the given lengths."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lengths, dtype=np.int64), out=out[1:])
    return out


def _codes(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings -> (codes [N] int32, the distinct strings [U] in order of first appearance)."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int32, count=len(values))
    return codes, np.array(list(index), dtype=str) if index else np.zeros(0, dtype="<U1")


class RecordTable(Sequence):
    """Columns: ids [N] int64 each; question UTF-8 bytes + offsets [N + 1]; question/answer types as codes into
    their distinct strings; answers as codes + offsets; labels int64 and scores float64 sharing offsets.
    ``rows`` ([n] int64 or None: all) selects and orders the records this table shows (``take``)."""

    def __init__(self, columns: dict[str, np.ndarray], rows: np.ndarray | None = None):
        self.columns = columns
        self.rows = rows
        self._strings = {name: columns[name].tolist() for name in ("question_types", "answer_types", "answer_names")}

    @classmethod
    def from_records(cls, records: list[dict]) -> "RecordTable":
        """From store records (dicts with FIELDS)."""
        questions = [r["question"].encode("utf-8") for r in records]
        answers = [a for r in records for a in r["answers"]]
        qtype, qtypes = _codes([r["question_type"] for r in records])
        atype, atypes = _codes([r["answer_type"] for r in records])
        answer_codes, answer_names = _codes(answers)
        return cls({
            "question_id": np.array([r["question_id"] for r in records], dtype=np.int64),
            "image_id": np.array([r["image_id"] for r in records], dtype=np.int64),
            "question_bytes": np.frombuffer(b"".join(questions), dtype=np.uint8).copy(),
            "question_offsets": _offsets([len(q) for q in questions]),
            "question_type": qtype, "question_types": qtypes, "answer_type": atype, "answer_types": atypes,
            "answers": answer_codes, "answer_names": answer_names,
            "answer_offsets": _offsets([len(r["answers"]) for r in records]),
            "labels": np.array([x for r in records for x in r["labels"]], dtype=np.int64),
            "scores": np.array([x for r in records for x in r["scores"]], dtype=np.float64),
            "label_offsets": _offsets([len(r["labels"]) for r in records]),
        })

    def __len__(self) -> int:
        return int(self.columns["question_id"].shape[0] if self.rows is None else self.rows.shape[0])

    def _row(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"record {index} out of range ({n} records)")
        index %= n
        return index if self.rows is None else int(self.rows[index])

    def __getitem__(self, index):  # noqa: ANN001 - int -> dict, slice -> RecordTable
        if isinstance(index, slice):
            return self.take(np.arange(len(self))[index])
        c, i = self.columns, self._row(int(index))
        q0, q1 = c["question_offsets"][i], c["question_offsets"][i + 1]
        a0, a1 = c["answer_offsets"][i], c["answer_offsets"][i + 1]
        l0, l1 = c["label_offsets"][i], c["label_offsets"][i + 1]
        names = self._strings["answer_names"]
        return {
            "question_id": int(c["question_id"][i]), "image_id": int(c["image_id"][i]),
            "question": c["question_bytes"][q0:q1].tobytes().decode("utf-8"),
            "question_type": self._strings["question_types"][c["question_type"][i]],
            "answer_type": self._strings["answer_types"][c["answer_type"][i]],
            "answers": [names[a] for a in c["answers"][a0:a1].tolist()],
            "labels": c["labels"][l0:l1].tolist(), "scores": c["scores"][l0:l1].tolist(),
        }

    def __iter__(self) -> Iterator[dict]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        """Equal records in the same order (to another table or a list of record dicts)."""
        if not isinstance(other, (RecordTable, list)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]  # mutable-looking sequence: compared by value, like a list

    def column(self, name: str) -> np.ndarray:
        """question_id or image_id of the shown records, in order: [n] int64."""
        values = self.columns[name]
        return values if self.rows is None else values[self.rows]

    def take(self, positions: np.ndarray) -> "RecordTable":
        """The records at ``positions`` (of this table), in that order, sharing the columns."""
        positions = np.asarray(positions, dtype=np.int64)
        return RecordTable(self.columns, positions if self.rows is None else self.rows[positions])

    def save(self, path: str | Path, key: str) -> Path:
        """Write all columns (not ``rows``) to ``path`` atomically, with ``key`` (the source JSON's sha256)."""
        with atomic_open(path, "wb") as handle:
            np.savez(handle, **self.columns, key=np.array(key), version=np.int64(TABLE_VERSION))
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, key: str) -> "RecordTable | None":
        """The table saved at ``path`` under ``key``; None when absent, unreadable, of another version or key."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["key"]) != key or int(data["version"]) != TABLE_VERSION:
                    return None
                columns = {name: data[name] for name in data.files if name not in ("key", "version")}
        except LOAD_ERRORS:
            return None
        return cls(columns) if _consistent(columns) else None


def _consistent(c: dict[str, np.ndarray]) -> bool:
    """The columns of a loaded table fit together (else it is rebuilt from the JSON)."""
    if set(c) != set(RecordTable.from_records([]).columns):
        return False
    n = c["question_id"].shape[0]
    runs = (("question_offsets", "question_bytes"), ("answer_offsets", "answers"), ("label_offsets", "labels"))
    for offsets, values in runs:
        o = c[offsets]
        if o.shape != (n + 1,) or o[0] != 0 or o[-1] != c[values].shape[0] or np.any(np.diff(o) < 0):
            return False
    codes = (("question_type", "question_types"), ("answer_type", "answer_types"), ("answers", "answer_names"))
    return (c["image_id"].shape == (n,) and c["scores"].shape == c["labels"].shape
            and all(c[k].shape[0] == (n if k != "answers" else c["answers"].shape[0]) for k, _ in codes)
            and all(c[k].size == 0 or 0 <= c[k].min() and c[k].max() < c[names].shape[0] for k, names in codes))

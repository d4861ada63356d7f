"""The prepared store (written by data/prepare.py): open, check, and hand out datasets by split."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..errors import GroundbenchError
from ..io import read_json
from .attention import HumanArrays, read_human
from .batch import OPTIONAL
from .dataset import VQADataset
from .feature_arrays import FeatureArrays
from .oracle_importance import load_oracle
from .prepare import STORE_FORMAT, STORE_VERSION, upper_bound
from .record_table import RecordTable
from .store_check import (check_features_match, check_importance_width, check_records, check_strings, open_manifest,
                          store_files)

PREPARE = "`groundbench data vqa`"
MANIFEST_KEYS = {"source": str, "split_scheme": str, "splits": dict, "files": dict, "num_answers": int,
                 "k_max": int, "feature_dim": int, "num_images": int, "maps": dict}
RECORD_FIELDS = ("question_id", "image_id", "question", "question_type", "answer_type", "answers", "labels",
                 "scores")


def hint_subsample(question_ids: list[int], fraction: float, seed: int = 0) -> set[int]:
    """A fixed, seeded subsample of ``fraction`` of the ids (at least one), nested across fractions.

    Each id gets a seeded hash key; the ids with the smallest keys are kept, so for one seed a smaller
    fraction always keeps a subset of what a larger one keeps.
    """
    if not 0.0 < fraction <= 1.0:
        raise GroundbenchError(f"hint fraction must be in (0, 1], got {fraction}")
    def key(qid: int) -> bytes:
        return hashlib.blake2b(f"{int(seed)}:{int(qid)}".encode(), digest_size=8).digest()
    ranked = sorted(question_ids, key=key)
    keep = max(1, round(fraction * len(ranked))) if ranked else 0
    return set(ranked[:keep])


class VQAStore:
    """A prepared VQA store. Attributes: root, manifest, answers, vocab, splits (list of split names)."""

    def __init__(self, root: Path, manifest: dict, answers: list[str], vocab: list[str]):
        self.root = root
        self.manifest = manifest
        self.answers = answers
        self.vocab = vocab
        self.splits = list(manifest["splits"])
        self._records: dict[str, RecordTable] = {}
        self._human: dict[str, HumanArrays] = {}
        self._features: FeatureArrays | None = None
        self._oracle: dict[str, np.ndarray] | None = None  # split -> [N, K], loaded by provide(["oracle"])
        self._carry: frozenset[str] = frozenset()  # the optional fields datasets carry (provide)

    @classmethod
    def open(cls, root: str | Path, *, verify_features: bool = False) -> "VQAStore":
        """Open and check a store (data/store_check.py): manifest format, version and keys; every file the store
        needs listed, present at its size and matching its sha256 (cached by size and mtime), except
        features/features.npy, whose sum is checked only with ``verify_features`` (it is read whole: slow)."""
        root = Path(root)
        manifest = open_manifest(root, STORE_FORMAT, STORE_VERSION, PREPARE, keys=MANIFEST_KEYS,
                                 files=lambda m: store_files(m, "answers.json", "vocab.json"),
                                 verify_features=verify_features)
        answers = read_json(root / "answers.json", what="answer list")
        vocab = read_json(root / "vocab.json", what="question vocabulary")
        for name, words in (("answers.json", answers), ("vocab.json", vocab)):
            check_strings(words, list, root / name, PREPARE)
        return cls(root, manifest, answers, vocab)

    def _split(self, split: str) -> str:
        if split not in self.splits:
            raise GroundbenchError(f"no split '{split}' (this store has {', '.join(self.splits)})", path=self.root)
        return split

    @property
    def features(self) -> FeatureArrays:
        if self._features is None:
            self._features = FeatureArrays(self.root / "features", PREPARE)
        return self._features

    def records(self, split: str) -> RecordTable:
        """The split's question records (see prepare.py for the fields), as a RecordTable: ``records_{split}.npz``
        when it matches ``{split}.json``'s sha256 in the manifest, else parsed from the JSON, checked and cached."""
        if self._split(split) not in self._records:
            key = self.manifest["files"][f"{split}.json"]["sha256"]
            table = RecordTable.load(self.root / f"records_{split}.npz", key)
            if table is None or not np.isin(table.column("image_id"), self.features.image_ids).all():
                table = self._records_from_json(split, key)
            else:
                check_features_match(self.features, self.manifest, [], self.root, split, PREPARE, "question_id")  # K, D
            self._records[split] = table
        return self._records[split]

    def _records_from_json(self, split: str, key: str) -> RecordTable:
        """Parse, check and table ``{split}.json``; the table is saved when the store is writable."""
        path = self.root / f"{split}.json"
        records = check_records(read_json(path, what=f"{split} split"), RECORD_FIELDS, path, PREPARE, "question_id")
        check_features_match(self.features, self.manifest, records, self.root, split, PREPARE, "question_id")
        table = RecordTable.from_records(records)
        try:
            table.save(self.root / f"records_{split}.npz", key)
        except OSError:
            pass  # a read-only store: the table is rebuilt by every process that opens it
        return table

    def human(self, split: str) -> HumanArrays:
        """The split's human importance [M, K] and grid masks [M, G, G] (questions with usable maps)."""
        if self._split(split) not in self._human:
            path = self.root / f"human_{split}.npz"
            self._human[split] = check_importance_width(read_human(path, PREPARE), self.features.k_max, path, PREPARE)
        return self._human[split]

    def provide(self, names) -> None:
        """Datasets made from now on carry exactly the optional batch fields ``names`` (data/batch.OPTIONAL: the
        fields a model takes, models/protocol.batch_inputs), "oracle" the oracle importance [K] of each question
        (data/oracle_importance.py, built and cached on first use); a store without it (real data) or an unknown
        field is a GroundbenchError naming the store."""
        names = frozenset(names)
        for name in sorted(names - set(OPTIONAL)):
            raise GroundbenchError(f"a model asks for the batch field '{name}', which no store provides "
                                   f"(known: {', '.join(OPTIONAL)})", path=self.root)
        if "oracle" in names and self._oracle is None:
            records = {split: self.records(split) for split in self.splits}
            self._oracle = load_oracle(self.root, records, self.features, PREPARE)
        self._carry = names

    def dataset(self, split: str, *, human_only: bool = False, hint_fraction: float | None = None,
                seed: int = 0) -> VQADataset:
        """The split as a Dataset; ``human_only`` keeps questions with maps, ``hint_fraction`` a nested subsample."""
        records, human = self.records(split), self.human(split)
        oracle = self._oracle[split] if "oracle" in self._carry else None
        oracle_ids = None if oracle is None else records.column("question_id")
        if human_only or hint_fraction is not None:
            with_maps = set(human.question_ids.tolist())
            if hint_fraction is not None:
                with_maps = hint_subsample(sorted(with_maps), hint_fraction, seed)
            keep = np.isin(records.column("question_id"), np.fromiter(with_maps, dtype=np.int64, count=len(with_maps)))
            records = records.take(np.flatnonzero(keep))
        return VQADataset(records, self.features, self.vocab, len(self.answers), human, oracle, oracle_ids)

    def upper_bound(self, split: str) -> float:
        """Accuracy ceiling implied by out-of-vocabulary answers (which score 0), in [0, 1]."""
        stored = self.manifest.get("upper_bound", {})
        if self._split(split) in stored:
            return float(stored[split])
        return upper_bound(self.records(split), self.answers)

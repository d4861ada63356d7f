"""The prepared caption store (written by data/caption_prepare.py): open, check, hand out datasets by split.

Layout (the captioning spec): manifest.json, vocab.json, categories.json, visual_words.json, {split}.json
(records: image_id, captions, tokens, objects, has_masks), features/ (data/features.FeatureArrays) and
human_{split}.npz (data/caption_masks: one row per (image with masks, annotated category), HINT Eq. 1).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from ..errors import GroundbenchError
from ..io import read_json
from .caption_dataset import CaptionDataset, CaptionImageDataset
from .caption_masks import CaptionHumanArrays, read_caption_human
from .caption_text import decode_caption
from .feature_arrays import FeatureArrays
from .store import hint_subsample
from .store_check import (check_features_match, check_importance_width, check_records, check_strings, open_manifest,
                          store_files)

STORE_FORMAT = "groundbench-caption-store"
STORE_VERSION = 1
PREPARE = "`groundbench data captioning`"
MANIFEST_KEYS = {"source": str, "split_scheme": str, "splits": dict, "files": dict, "vocab_size": int,
                 "k_max": int, "feature_dim": int, "num_images": int}
RECORD_FIELDS = ("image_id", "captions", "tokens", "objects", "has_masks")


class CaptionStore:
    """A prepared caption store. Attributes: root, manifest, vocab (id -> word), categories (index -> name),
    visual_words ({word or phrase: category}), splits (split names)."""

    def __init__(self, root: Path, manifest: dict, vocab: list[str], categories: list[str],
                 visual_words: dict[str, str]):
        self.root = root
        self.manifest = manifest
        self.vocab = vocab
        self.categories = categories
        self.visual_words = visual_words
        self.splits = list(manifest["splits"])
        self._records: dict[str, list[dict]] = {}
        self._human: dict[str, CaptionHumanArrays] = {}
        self._features: FeatureArrays | None = None

    @classmethod
    def open(cls, root: str | Path, *, verify_features: bool = False) -> "CaptionStore":
        """Open and check a store (data/store_check.py): manifest format, version and keys; every file the store
        needs listed, present at its size and matching its sha256 (cached by size and mtime), except
        features/features.npy, whose sum is checked only with ``verify_features`` (it is read whole: slow)."""
        root = Path(root)
        manifest = open_manifest(root, STORE_FORMAT, STORE_VERSION, PREPARE, "caption store", keys=MANIFEST_KEYS,
                                 files=lambda m: store_files(m, "vocab.json", "categories.json", "visual_words.json"),
                                 verify_features=verify_features)
        vocab = read_json(root / "vocab.json", what="caption vocabulary")
        categories = read_json(root / "categories.json", what="category list")
        words = read_json(root / "visual_words.json", what="visual-word map")
        for name, value, kind in (("vocab.json", vocab, list), ("categories.json", categories, list),
                                  ("visual_words.json", words, dict)):
            check_strings(value, kind, root / name, PREPARE)
        return cls(root, manifest, vocab, categories, words)

    def _split(self, split: str) -> str:
        if split not in self.splits:
            raise GroundbenchError(f"no split '{split}' (this store has {', '.join(self.splits)})", path=self.root)
        return split

    @property
    def features(self) -> FeatureArrays:
        if self._features is None:
            self._features = FeatureArrays(self.root / "features", PREPARE)
        return self._features

    def records(self, split: str) -> list[dict]:
        """The split's image records (image_id, captions, tokens, objects, has_masks), sorted by image id."""
        if self._split(split) not in self._records:
            path = self.root / f"{split}.json"
            records = check_records(read_json(path, what=f"{split} split"), RECORD_FIELDS, path, PREPARE, "image_id")
            check_features_match(self.features, self.manifest, records, self.root, split, PREPARE, "image_id")
            self._records[split] = records
        return self._records[split]

    def human(self, split: str) -> CaptionHumanArrays:
        """The split's human rows: image_ids [M], category [M], importance [M, K], hat_mask [M, G, G]."""
        if self._split(split) not in self._human:
            path = self.root / f"human_{split}.npz"
            self._human[split] = check_importance_width(read_caption_human(path, PREPARE), self.features.k_max, path, PREPARE)
        return self._human[split]

    def _records_with(self, split: str, human_only: bool, hint_fraction: float | None, seed: int) -> list[dict]:
        records = self.records(split)
        if human_only or hint_fraction is not None:
            with_masks = set(self.human(split).image_ids.tolist())
            if hint_fraction is not None:
                with_masks = hint_subsample(sorted(with_masks), hint_fraction, seed)
            records = [r for r in records if r["image_id"] in with_masks]
        return records

    def dataset(self, split: str, *, human_only: bool = False, hint_fraction: float | None = None,
                seed: int = 0) -> CaptionDataset:
        """One item per (image, caption). ``human_only``: only images with at least one human row;
        ``hint_fraction``: a seeded subsample of those images, nested across fractions (store.hint_subsample)."""
        records = self._records_with(split, human_only, hint_fraction, seed)
        return CaptionDataset(records, self.features, self.vocab, self.categories, self.visual_words,
                              self.human(split))

    def image_dataset(self, split: str) -> CaptionImageDataset:
        """One item per image (its first caption's tokens, caption_index -1, all references)."""
        return CaptionImageDataset(self.records(split), self.features, self.vocab, self.categories,
                                   self.visual_words, self.human(split))

    def references(self, split: str) -> dict[int, list[str]]:
        """{image_id: its raw reference captions}."""
        return {r["image_id"]: list(r["captions"]) for r in self.records(split)}

    def objects(self, split: str) -> dict[int, set[str]]:
        """{image_id: names of the categories annotated in it (those of the visual-word list)}."""
        return {r["image_id"]: set(r["objects"]) for r in self.records(split)}

    def decode(self, ids: Iterable[int]) -> str:
        """Token ids -> caption text (stops at <eos>, skips <pad> / <bos>)."""
        return decode_caption(ids, self.vocab)

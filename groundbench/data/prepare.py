"""Official VQA files (or the synthetic world's copy of them) -> the prepared store training reads.

Three steps, each skipped on a re-run when its stamp (``.stamps/{step}.json``: a key over its inputs
and parameters, and every output's bytes / sha256 / mtime) still matches:
  records   {split}.json, answers.json, vocab.json       (data/vqa.py)
  features  features/*.npy, memory-mapped               (data/features.py)
  human     human_{split}.npz from the VQA-HAT maps      (data/attention.py, Eq. 1)
Outputs are written under temporary names and renamed; a step's stamp is written after its outputs
and ``manifest.json`` last, after being removed before any work: a conversion killed half-way leaves
no manifest (the store does not open) and no stamp a later run would take as complete.
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from ..errors import GroundbenchError
from ..io import read_json, write_json
from ..metrics.vqa import best_accuracy, normalize_answer
from .attention import HAT_THRESHOLD, MapCounts, compute_human, find_maps, write_human
from .batch import HAT_GRID
from .features import FeatureArrays, scan_features, tsv_files, write_feature_store
from .splits import DEFAULT_VAL_FRACTION
from .text import MAX_QUESTION_TOKENS, build_vocab
from .vqa import SCHEMES, assign_splits, build_answer_vocab, raw_files, read_raw, store_record

log = logging.getLogger("groundbench.data")

STORE_FORMAT = "groundbench-vqa-store"
STORE_VERSION = 1
SOURCES = {"cp": "vqa-cp-v2", "v2": "vqa-v2"}


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 8 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 23), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fingerprint(paths: list[Path], root: Path) -> list:
    """[relpath, bytes, mtime_ns] of each input: changes when an input is replaced or edited."""
    return [[str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class _Steps:
    """Stamps of one store directory: which steps are complete, and recording new ones."""

    def __init__(self, out: Path):
        self.out = out
        self.files: dict[str, dict] = {}

    def _stamp(self, step: str) -> Path:
        return self.out / ".stamps" / f"{step}.json"

    def done(self, step: str, key: str) -> bool:
        """True when the stamp's key matches and every output still has its size and checksum."""
        stamp = self._stamp(step)
        try:
            data = json.loads(stamp.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if data.get("key") != key:
            return False
        for rel, entry in data["files"].items():
            path = self.out / rel
            if not path.is_file() or path.stat().st_size != entry["bytes"]:
                return False
            if path.stat().st_mtime_ns != entry["mtime_ns"] and sha256_file(path) != entry["sha256"]:
                return False
        self.files.update(data["files"])
        return True

    def begin(self, step: str) -> None:
        """Work is about to change outputs: drop the manifest and this step's stamp first."""
        (self.out / "manifest.json").unlink(missing_ok=True)
        self._stamp(step).unlink(missing_ok=True)

    def finish(self, step: str, key: str, paths: list[Path]) -> None:
        entries = {}
        for path in paths:
            stat = path.stat()
            entries[str(path.relative_to(self.out))] = {"bytes": stat.st_size, "sha256": sha256_file(path),
                                                        "mtime_ns": stat.st_mtime_ns}
        write_json(self._stamp(step), {"key": key, "files": entries})
        self.files.update(entries)


def _records_step(root: Path, out: Path, steps: _Steps, scheme: str, params: dict) -> dict[str, list[dict]]:
    inputs = [p for pair in raw_files(root, scheme).values() for p in pair]
    for path in inputs:
        if not path.is_file():
            raise GroundbenchError(f"{'questions' if 'question' in path.name else 'annotations'} file not found "
                                   f"(split scheme '{scheme}')", path=path)
    key = _key("records", _fingerprint(inputs, root), params)
    if steps.done("records", key):
        return {name: read_json(out / f"{name}.json") for name in _split_names(scheme)}
    steps.begin("records")
    splits = assign_splits(read_raw(root, scheme), scheme, params["val_fraction"])
    answers = build_answer_vocab(splits["train"], params["min_answer_count"])
    if not answers:
        raise GroundbenchError(f"no answer occurs {params['min_answer_count']} times in train "
                               "(lower --min-answer-count?)", path=raw_files(root, scheme)["train"][1])
    label = {a: i for i, a in enumerate(answers)}
    stored = {name: [store_record(r, label) for r in records] for name, records in splits.items()}
    paths = [write_json(out / "answers.json", answers),
             write_json(out / "vocab.json", build_vocab([r["question"] for r in splits["train"]]))]
    paths += [write_json(out / f"{name}.json", records, indent=None) for name, records in stored.items()]
    steps.finish("records", key, paths)
    return stored


def _split_names(scheme: str) -> list[str]:
    return ["train", "val", "test"] if scheme == "cp" else ["train", "val"]


def _question_file(root: Path, scheme: str, split: str) -> Path:
    raw = "train" if scheme == "cp" and split == "val" else split
    return raw_files(root, scheme)[raw][0]


def _features_step(root: Path, out: Path, steps: _Steps, scheme: str, splits: dict[str, list[dict]],
                   progress: bool) -> None:
    tsvs = tsv_files(root)
    if not tsvs:
        raise GroundbenchError("no bottom-up feature files (*.tsv) found under the data root", path=root)
    wanted = sorted({r["image_id"] for records in splits.values() for r in records})
    key = _key("features", _fingerprint(tsvs, root), wanted)
    if steps.done("features", key):
        return
    steps.begin("features")
    index = scan_features(tsvs, set(wanted))
    for name, records in splits.items():
        for record in records:
            if record["image_id"] not in index.rows:
                raise GroundbenchError(f"image {record['image_id']} has no features in any TSV under {root}",
                                       path=_question_file(root, scheme, name), record=record["question_id"])
    steps.finish("features", key, write_feature_store(index, out / "features", progress=progress))


def _human_step(root: Path, out: Path, steps: _Steps, splits: dict[str, list[dict]], progress: bool) -> dict:
    maps = find_maps(root)
    inputs = [p for paths in maps.values() for p in paths]
    upstream = {rel: e["sha256"] for rel, e in steps.files.items() if not rel.startswith("human_")}
    key = _key("human", _fingerprint(inputs, root), upstream, HAT_GRID, HAT_THRESHOLD)
    counts_path = out / ".stamps" / "maps.json"
    if steps.done("human", key) and counts_path.is_file():
        return read_json(counts_path)
    steps.begin("human")
    features, counts = FeatureArrays(out / "features"), MapCounts()
    paths = [write_human(out / f"human_{name}.npz",
                         compute_human(records, maps, features, counts, progress=progress, desc=f"maps {name}"))
             for name, records in splits.items()]
    for kind, example in counts.examples.items():
        n = counts.excluded_unreadable if kind == "unreadable" else counts.excluded_all_zero
        log.warning("%s: %d HAT map(s) %s, left out (no importance can be defined); first shown",
                    example, n, "not readable images" if kind == "unreadable" else "all zero")
    write_json(counts_path, counts.to_dict())
    steps.finish("human", key, paths)
    return counts.to_dict()


def _sweep_temporaries(out: Path) -> None:
    """Remove ``.NAME.XXXX.tmp`` files (groundbench.io.atomic_path) a killed run left; none is ever read.

    Two conversions must not write the same store at once (the second would sweep the first's files).
    """
    for path in out.rglob(".*.tmp"):
        if path.is_file():
            path.unlink()


def upper_bound(records: list[dict], answers: list[str]) -> float:
    """Mean over ``records`` of the best official accuracy an in-vocabulary answer can reach."""
    if not records:
        return 0.0
    vocab, normalised = set(answers), {normalize_answer(a) for a in answers}
    return sum(best_accuracy(r["answers"], vocab, normalised) for r in records) / len(records)


def prepare_vqa(root: str | Path, out: str | Path, *, split_scheme: str = "cp", min_answer_count: int = 9,
                val_fraction: float = DEFAULT_VAL_FRACTION, source: str | None = None, progress: bool = True) -> Path:
    """Convert the raw VQA root into a store at ``out`` (layout: see DESIGN / README); returns ``out``."""
    root, out = Path(root), Path(out)
    if split_scheme not in SCHEMES:
        raise GroundbenchError(f"unknown split scheme '{split_scheme}' (expected one of {', '.join(SCHEMES)})")
    if not root.is_dir():
        raise GroundbenchError("data root is not a directory", path=root)
    if min_answer_count < 1 or not 0.0 <= val_fraction < 1.0:
        raise GroundbenchError(f"need min_answer_count >= 1 and 0 <= val_fraction < 1, got "
                               f"{min_answer_count} and {val_fraction}")
    out.mkdir(parents=True, exist_ok=True)
    _sweep_temporaries(out)
    params = {"min_answer_count": int(min_answer_count), "val_fraction": float(val_fraction),
              "split_scheme": split_scheme}
    steps = _Steps(out)
    splits = _records_step(root, out, steps, split_scheme, params)
    _features_step(root, out, steps, split_scheme, splits, progress)
    counts = _human_step(root, out, steps, splits, progress)
    answers = read_json(out / "answers.json")
    features = FeatureArrays(out / "features")
    manifest = {
        "format": STORE_FORMAT, "version": STORE_VERSION, "source": source or SOURCES[split_scheme],
        "split_scheme": split_scheme, "splits": {name: len(records) for name, records in splits.items()},
        "num_answers": len(answers), "k_max": features.k_max, "feature_dim": features.dim,
        "num_images": int(features.image_ids.shape[0]),
        "files": {rel: {"bytes": e["bytes"], "sha256": e["sha256"]} for rel, e in sorted(steps.files.items())},
        "maps": counts,
        "upper_bound": {name: upper_bound(records, answers) for name, records in splits.items()},
        "params": {**params, "hat_grid": HAT_GRID, "hat_threshold": HAT_THRESHOLD,
                   "question_tokens": MAX_QUESTION_TOKENS},
    }
    write_json(out / "manifest.json", manifest)
    return out

"""Official VQA files (or the synthetic world's copy of them) -> the prepared store training reads.

Three steps, each skipped on a re-run when its stamp (``.stamps/{step}.json``: a key over its inputs
and parameters, and every output's bytes / sha256 / mtime) still matches:
  records   {split}.json, answers.json, vocab.json       (data/vqa.py)
  features  features/*.npy, memory-mapped               (data/features.py; a root's prebuilt
            features/ folder is linked instead: data/feature_npy.py)
  human     human_{split}.npz from the VQA-HAT maps      (data/attention.py, Eq. 1)
Outputs are written under temporary names and renamed; a step's stamp is written after its outputs
and ``manifest.json`` last, after being removed before any work: a conversion killed half-way leaves
no manifest (the store does not open) and no stamp a later run would take as complete. The sums just
computed are cached in ``.stamps/verified.json`` so that opening the store (data/store_check.py) hashes nothing.
Each split's records are also saved as arrays (``records_{split}.npz``, data/record_table.py, keyed by the JSON's
sha256), so that training and evaluation never hold them as Python dicts.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import GroundbenchError
from ..io import read_json, require_file, write_json
from ..metrics.vqa import best_accuracy, normalize_answer
from .attention import HAT_THRESHOLD, MapCounts, compute_human, find_maps, write_human
from .batch import HAT_GRID
from .feature_npy import FEATURES_DIR, feature_store_files, has_feature_store, link_feature_store
from .features import FeatureArrays, scan_features, tsv_files, write_feature_store
from .splits import DEFAULT_VAL_FRACTION
from ..locking import exclusive
from .record_table import RecordTable
from .stamps import Steps, fingerprint, stamp_key, sweep_temporaries
from .store_check import record_verified
from .text import MAX_QUESTION_TOKENS, build_vocab
from .vqa import SCHEMES, assign_splits, build_answer_vocab, raw_files, read_raw, store_record

log = logging.getLogger("groundbench.data")

STORE_FORMAT = "groundbench-vqa-store"
STORE_VERSION = 1
SOURCES = {"cp": "vqa-cp-v2", "v2": "vqa-v2"}


def _records_step(root: Path, out: Path, steps: Steps, scheme: str, params: dict) -> dict[str, list[dict]]:
    inputs = [p for pair in raw_files(root, scheme).values() for p in pair]
    for path in inputs:
        require_file(path, "questions file" if "question" in path.name else "annotations file",
                     hint=f"split scheme '{scheme}'")
    key = stamp_key("records", fingerprint(inputs, root), params)
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


def _features_step(root: Path, out: Path, steps: Steps, scheme: str, splits: dict[str, list[dict]],
                   progress: bool) -> None:
    tsvs = tsv_files(root)
    wanted = sorted({r["image_id"] for records in splits.values() for r in records})
    if not tsvs and has_feature_store(root):  # a large synthetic world's npy features (data/feature_npy.py)
        arrays = feature_store_files(root / FEATURES_DIR)
        key = stamp_key("features", "npy", fingerprint(arrays, root), wanted)
        if not steps.done("features", key):
            steps.begin("features")
            steps.finish("features", key, link_feature_store(root / FEATURES_DIR, out / "features", wanted))
        return
    if not tsvs:
        raise GroundbenchError("no bottom-up feature files (*.tsv) found under the data root", path=root)
    key = stamp_key("features", fingerprint(tsvs, root), wanted)
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


MAP_NOTES = {"unreadable": ("excluded_unreadable", "not readable images, left out"),
             "all_zero": ("excluded_all_zero", "all zero, left out (no importance can be defined)"),
             "not_a_file": ("excluded_not_a_file", "named like maps but not files (a folder, a broken link, a "
                            "symlink loop), left out"),
             "resized": ("resized", "not at their image's size, resized bilinearly to it")}
MAP_COUNTS_VERSION = 2  # the counters of .stamps/maps.json (a store with older counts redoes the step)


def _human_step(root: Path, out: Path, steps: Steps, splits: dict[str, list[dict]], progress: bool) -> dict:
    maps = find_maps(root)
    entries = [p for paths in maps.values() for p in paths]
    not_files = sorted(str(p.relative_to(root)) for p in entries if not p.is_file())
    inputs = [p for p in entries if p.is_file()]
    upstream = {rel: e["sha256"] for rel, e in steps.files.items() if not rel.startswith("human_")}
    key = stamp_key("human", fingerprint(inputs, root), upstream, HAT_GRID, HAT_THRESHOLD, not_files,
                    MAP_COUNTS_VERSION)
    counts_path = out / ".stamps" / "maps.json"
    if steps.done("human", key) and counts_path.is_file():
        return read_json(counts_path)
    steps.begin("human")
    features, counts = FeatureArrays(out / "features"), MapCounts()
    paths = [write_human(out / f"human_{name}.npz",
                         compute_human(records, maps, features, counts, progress=progress, desc=f"maps {name}"))
             for name, records in splits.items()]
    for kind, example in counts.examples.items():
        counter, note = MAP_NOTES[kind]
        log.warning("%s: %d HAT map(s) %s; first shown", example, getattr(counts, counter), note)
    write_json(counts_path, counts.to_dict())
    steps.finish("human", key, paths)
    return counts.to_dict()


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
    with exclusive(out, "prepare vqa"):
        return _prepare_vqa_locked(root, out, split_scheme, min_answer_count, val_fraction, source, progress)


def _prepare_vqa_locked(root: Path, out: Path, split_scheme: str, min_answer_count: int, val_fraction: float,
                        source: str | None, progress: bool) -> Path:
    """The body of ``prepare_vqa``, run while holding the lock of ``out``."""
    sweep_temporaries(out)
    params = {"min_answer_count": int(min_answer_count), "val_fraction": float(val_fraction),
              "split_scheme": split_scheme}
    steps = Steps(out)
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
    record_verified(out, steps.files)
    for name, records in splits.items():  # the records as arrays, so that readers never parse the JSON
        RecordTable.from_records(records).save(out / f"records_{name}.npz", manifest["files"][f"{name}.json"]["sha256"])
    write_json(out / "manifest.json", manifest)
    return out

"""Official COCO caption files (or the synthetic captioning world's copy) -> the prepared caption store.

Three steps, stamped and skipped on a re-run exactly as data/prepare.py's (see data/stamps.py):
  records   {split}.json, vocab.json, categories.json, visual_words.json   (data/coco.py, caption_text.py)
  features  features/*.npy, memory-mapped                                  (data/features.py)
  human     human_{split}.npz from the instance masks, Eq. 1               (data/caption_masks.py)
``manifest.json`` is removed before any work and written last: a failed or killed conversion leaves none.
Images in the captions files that the split does not name are ignored (counted in the manifest). Without captions
files, the captions are dataset_coco.json's sentences (data/coco.py caption_source; the manifest's caption_source
says which, and the records step is redone when it changes).
"""
from __future__ import annotations

from pathlib import Path

from ..errors import GroundbenchError
from ..io import read_json, require_file, write_json
from ..metrics.chair import VisualWords
from .attention import HAT_THRESHOLD
from .batch import HAT_GRID
from .caption_masks import check_image_sizes, compute_caption_human, write_caption_human
from .caption_store import STORE_FORMAT, STORE_VERSION
from .caption_text import MAX_CAPTION_TOKENS, build_caption_vocab, caption_tokens
from .coco import (FROM_CAPTIONS, INSTANCE_FILES, SPLIT_FILES, SPLITS, Captions, Instances, caption_source,
                   read_captions, read_instances, read_sentences, read_split, split_file, split_images)
from .features import FeatureArrays, scan_features, tsv_files, write_feature_store
from ..locking import exclusive
from .stamps import Steps, fingerprint, sha256_file, stamp_key, sweep_temporaries
from .store_check import record_verified
from .store import hint_subsample

SCHEMES = tuple(SPLIT_FILES)
ROOT_WORDS = "visual_words.txt"  # the synthetic world's list, used when present in the root
DEFAULT_WORDS = Path(__file__).parent / "lists" / "coco_class_name.txt"


def word_list(root: Path, words_file: str | Path | None) -> Path:
    """The visual-word list: ``words_file``, else ROOT/visual_words.txt if present, else the shipped COCO list."""
    if words_file is not None:
        return require_file(words_file, "visual-word list")
    return root / ROOT_WORDS if (root / ROOT_WORDS).is_file() else DEFAULT_WORDS


def load_visual_words(path: Path, categories: set[str]) -> VisualWords:
    """Parse the list (metrics/chair.py); every category it names must be a category of the instances files."""
    words = VisualWords.from_file(path)
    for name in words.categories:
        if name not in categories:
            lines = path.read_text(encoding="utf-8").splitlines()
            line = next(n for n, text in enumerate(lines, 1) if text.split(",")[0].strip() == name)
            raise GroundbenchError(f"line {line}: category {name!r} is not a category of the instances files "
                                   f"({', '.join(INSTANCE_FILES)})", path=path)
    return words


def masked_images(ids: dict[str, list[int]], fraction: float, seed: int) -> set[int]:
    """Every val and test image, plus a seeded, nested ``fraction`` of train (store.hint_subsample)."""
    train = hint_subsample(ids["train"], fraction, seed) if fraction > 0 else set()
    return train | {i for split in SPLITS if split != "train" for i in ids[split]}


def store_record(image_id: int, captions: Captions, instances: Instances, listed: set[str], has_masks: bool) -> dict:
    """The record layout of a store's ``{split}.json`` (see the captioning spec)."""
    raw = captions.captions[image_id]
    return {"image_id": image_id, "captions": raw, "tokens": [caption_tokens(c) for c in raw],
            "objects": sorted(instances.objects(image_id) & listed), "has_masks": has_masks}


def _paths(root: Path, names: tuple[str, ...]) -> list[Path]:
    """``root / name`` for each name; a missing file is an error naming it."""
    return [require_file(root / name, "file", hint="see the README's COCO captioning layout") for name in names]


def _shown(path: Path, root: Path) -> str:
    """How the manifest names an input: relative to the data root, or ``shipped:NAME`` for a file of the package."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else f"shipped:{path.name}"


def _records_step(root: Path, out: Path, steps: Steps, words_path: Path, params: dict):
    """-> (records per split, the instances read (None when skipped), info for the manifest)."""
    source, caption_paths = caption_source(root)
    instance_paths = _paths(root, INSTANCE_FILES)
    split_path = split_file(root, params["split_scheme"])
    key = stamp_key("records", fingerprint([*caption_paths, *instance_paths], root), sha256_file(split_path),
                    sha256_file(words_path), params, source)
    info_path = out / ".stamps" / "records_info.json"
    if steps.done("records", key) and info_path.is_file():
        return {split: read_json(out / f"{split}.json") for split in SPLITS}, None, read_json(info_path)
    steps.begin("records")
    split_path, assignment = read_split(root, params["split_scheme"])
    captions = read_captions(caption_paths) if source == FROM_CAPTIONS else read_sentences(caption_paths[0])
    instances = read_instances(instance_paths)
    words = load_visual_words(words_path, set(instances.categories.values()))
    ids = split_images(assignment, split_path, captions, instances)
    masked = masked_images(ids, params["mask_fraction"], params["mask_seed"])
    listed = set(words.categories)
    records = {split: [store_record(i, captions, instances, listed, i in masked) for i in ids[split]]
               for split in SPLITS}
    vocab = build_caption_vocab((t for r in records["train"] for t in r["tokens"]), params["min_count"])
    paths = [write_json(out / "vocab.json", vocab), write_json(out / "categories.json", list(words.categories)),
             write_json(out / "visual_words.json", words.words)]
    paths += [write_json(out / f"{split}.json", records[split], indent=None) for split in SPLITS]
    info = {"ignored_images": len(set(captions.file_of) - set(assignment)), "split_file": _shown(split_path, root),
            "caption_source": source, "skipped": instances.skipped.to_dict(),
            "unlisted_categories": sorted(set(instances.categories.values()) - listed)}
    write_json(info_path, info)
    steps.finish("records", key, paths)
    return records, instances, info


def _features_step(root: Path, out: Path, steps: Steps, scheme: str, records: dict[str, list[dict]],
                   progress: bool) -> None:
    tsvs = tsv_files(root)
    if not tsvs:
        raise GroundbenchError("no bottom-up feature files (*.tsv) found under the data root", path=root)
    wanted = sorted({r["image_id"] for split in SPLITS for r in records[split]})
    key = stamp_key("features", fingerprint(tsvs, root), wanted)
    if steps.done("features", key):
        return
    steps.begin("features")
    index = scan_features(tsvs, set(wanted))
    for split in SPLITS:
        for record in records[split]:
            if record["image_id"] not in index.rows:
                raise GroundbenchError(f"{split} image {record['image_id']} has no features in any TSV under {root}",
                                       path=root / SPLIT_FILES[scheme], record=f"image {record['image_id']}")
    steps.finish("features", key, write_feature_store(index, out / "features", progress=progress))


def _human_step(root: Path, out: Path, steps: Steps, records: dict[str, list[dict]], instances: Instances | None,
                progress: bool) -> dict:
    inputs = _paths(root, INSTANCE_FILES)
    upstream = {rel: e["sha256"] for rel, e in steps.files.items() if not rel.startswith("human_")}
    key = stamp_key("human", fingerprint(inputs, root), upstream, HAT_GRID, HAT_THRESHOLD)
    info_path = out / ".stamps" / "masks.json"
    if steps.done("human", key) and info_path.is_file():
        return read_json(info_path)
    steps.begin("human")
    instances = instances or read_instances(inputs)
    features = FeatureArrays(out / "features")
    categories = read_json(out / "categories.json")
    check_image_sizes([r["image_id"] for split in SPLITS for r in records[split]], instances, features)
    counts, rows, paths = {"empty_masks": 0}, {}, []
    for split in SPLITS:
        arrays = compute_caption_human(records[split], instances, features, categories, counts, progress=progress,
                                       desc=f"masks {split}")
        rows[split] = int(arrays.image_ids.shape[0])
        paths.append(write_caption_human(out / f"human_{split}.npz", arrays))
    info = {"rows": rows, "empty_masks": counts["empty_masks"]}
    write_json(info_path, info)
    steps.finish("human", key, paths)
    return info


def prepare_captioning(root: str | Path, out: str | Path, *, split_scheme: str = "robust", mask_fraction: float = 0.06,
                       mask_seed: int = 0, words_file: str | Path | None = None, min_count: int = 5,
                       source: str | None = None, progress: bool = True) -> Path:
    """Convert the COCO caption files under ``root`` into a caption store at ``out``; returns ``out``.

    min_count: words seen at most this many times in train captions become <unk> (5: "more than 5 times").
    mask_fraction / mask_seed: the seeded share of train images whose masks give human importance.
    """
    root, out = Path(root), Path(out)
    if split_scheme not in SCHEMES:
        raise GroundbenchError(f"unknown split scheme '{split_scheme}' (expected one of {', '.join(SCHEMES)})")
    if not root.is_dir():
        raise GroundbenchError("data root is not a directory", path=root)
    if not 0.0 <= mask_fraction <= 1.0 or min_count < 0:
        raise GroundbenchError(f"need 0 <= mask_fraction <= 1 and min_count >= 0, got {mask_fraction} and {min_count}")
    words_path = word_list(root, words_file)
    with exclusive(out, "prepare captioning"):
        return _prepare_captioning_locked(root, out, split_scheme, mask_fraction, mask_seed, words_path, min_count,
                                          source, progress)


def _prepare_captioning_locked(root: Path, out: Path, split_scheme: str, mask_fraction: float, mask_seed: int,
                               words_path: Path, min_count: int, source: str | None, progress: bool) -> Path:
    """The body of ``prepare_captioning``, run while holding the lock of ``out``."""
    sweep_temporaries(out)
    params = {"split_scheme": split_scheme, "min_count": int(min_count), "mask_fraction": float(mask_fraction),
              "mask_seed": int(mask_seed)}
    steps = Steps(out)
    records, instances, info = _records_step(root, out, steps, words_path, params)
    _features_step(root, out, steps, split_scheme, records, progress)
    masks = _human_step(root, out, steps, records, instances, progress)
    features = FeatureArrays(out / "features")
    manifest = {
        "format": STORE_FORMAT, "version": STORE_VERSION, "task": "captioning", "source": source or "coco",
        "split_scheme": split_scheme, "splits": {split: len(records[split]) for split in SPLITS},
        "captions": {split: sum(len(r["captions"]) for r in records[split]) for split in SPLITS},
        "k_max": features.k_max, "feature_dim": features.dim, "num_images": int(features.image_ids.shape[0]),
        "vocab_size": len(read_json(out / "vocab.json")), "max_caption_tokens": MAX_CAPTION_TOKENS,
        "visual_words": {"list": words_path.name, "sha256": sha256_file(words_path),
                         "categories": len(read_json(out / "categories.json"))},
        "mask_fraction": float(mask_fraction), "mask_seed": int(mask_seed),
        "masks": {split: sum(r["has_masks"] for r in records[split]) for split in SPLITS},
        "mask_rows": masks["rows"], "empty_masks": masks["empty_masks"],
        "ignored_images": info["ignored_images"], "unlisted_categories": info["unlisted_categories"],
        "split_file": info.get("split_file"), "caption_source": info["caption_source"],
        "skipped": info.get("skipped", {"counts": {}, "examples": {}}),
        "files": {rel: {"bytes": e["bytes"], "sha256": e["sha256"]} for rel, e in sorted(steps.files.items())},
        "params": {**params, "hat_grid": HAT_GRID, "hat_threshold": HAT_THRESHOLD,
                   "max_caption_tokens": MAX_CAPTION_TOKENS},
    }
    record_verified(out, steps.files)
    write_json(out / "manifest.json", manifest)
    return out

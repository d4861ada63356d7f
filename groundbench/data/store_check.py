"""Checking a prepared store before use (both kinds: data/store.py, data/caption_store.py).

``open_manifest`` checks that manifest.json is there, of this format and version, with the keys the store
reads (each of its type), and that every file it lists (among them every file the store needs) is present
at its size and matches its sha256 -- except the big features array (BIG_FILES: features/features.npy),
whose sum is checked only when asked (``verify_features=True``; reading it whole takes long). Hashing is
cached: a file whose (bytes, mtime_ns) and manifest sum are those of an earlier verification is not hashed
again, within the process and across processes through ``.stamps/verified.json`` in the store (written when
the folder is writable; the conversion writes it with the sums it has just computed, so opening a fresh
store hashes nothing). A same-size edit gives the file a new mtime, so it is hashed and caught (an edit that
also puts the old mtime back is not: the cache trusts (bytes, mtime_ns)).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from ..errors import GroundbenchError
from ..io import file_problem, os_problem, read_json, write_json
from .feature_arrays import STORE_ARRAYS
from .stamps import sha256_file

BIG_FILES = frozenset({"features/features.npy"})
CACHE = Path(".stamps") / "verified.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KIND_NAMES = {int: "an integer", str: "a string", dict: "an object", list: "a list"}
_verified: set[tuple] = set()  # (resolved path, bytes, mtime_ns, sha256) hashed by this process


def _check_keys(manifest: dict, keys: dict[str, type], path: Path, prepare: str) -> None:
    for name, kind in keys.items():
        value = manifest.get(name)
        if name not in manifest:
            raise GroundbenchError(f"manifest lacks '{name}' (re-run {prepare})", path=path)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise GroundbenchError(f"manifest '{name}' must be {_KIND_NAMES[kind]}, got {repr(value)[:40]} "
                                   f"(re-run {prepare})", path=path)
    splits = manifest.get("splits")
    if "splits" in keys and (not splits or not all(isinstance(k, str) and type(v) is int and v >= 0
                                                   for k, v in splits.items())):
        raise GroundbenchError(f"manifest 'splits' must map split names to question counts (re-run {prepare})",
                               path=path)


def _file_entries(manifest: dict, required: list[str], path: Path, prepare: str) -> dict[str, dict]:
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise GroundbenchError(f"manifest lacks its 'files' list (re-run {prepare})", path=path)
    for rel, entry in files.items():
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise GroundbenchError(f"manifest lists {rel!r}, outside the store (re-run {prepare})", path=path)
        if not (isinstance(entry, dict) and type(entry.get("bytes")) is int and isinstance(entry.get("sha256"), str)
                and _SHA256.match(entry["sha256"])):
            raise GroundbenchError(f"manifest entry for {rel} needs 'bytes' and a hex 'sha256' (re-run {prepare})",
                                   path=path)
    for rel in required:
        if rel not in files:
            raise GroundbenchError(f"manifest does not list {rel} (re-run {prepare})", path=path)
    return files


def _read_cache(root: Path) -> dict[str, list]:
    try:
        data = json.loads((root / CACHE).read_text(encoding="utf-8"))
        return {rel: key for rel, key in data["files"].items() if isinstance(key, list)}
    except (OSError, ValueError, RecursionError, KeyError, TypeError, AttributeError):
        return {}


def _write_cache(root: Path, entries: dict[str, list]) -> None:
    """Best effort: a read-only store is simply verified again next time."""
    try:
        write_json(root / CACHE, {"files": entries}, indent=None)
    except (OSError, GroundbenchError):
        pass


def verify_files(root: Path, files: dict[str, dict], prepare: str, verify_features: bool = False) -> None:
    """Every listed file present, at its size, and (BIG_FILES only with ``verify_features``) of its sha256."""
    cache, known = _read_cache(root), {}
    for rel, entry in files.items():
        path = root / rel
        problem = file_problem(path)
        if problem is not None:
            raise GroundbenchError(f"store file {rel} {'is missing' if problem == 'not found' else problem} "
                                   f"(re-run {prepare})", path=root)
        stat = path.stat()
        if stat.st_size != entry["bytes"]:
            raise GroundbenchError(f"store file {rel} has {stat.st_size} bytes, the manifest says "
                                   f"{entry['bytes']} (re-run {prepare})", path=root)
        key = [stat.st_size, stat.st_mtime_ns, entry["sha256"]]
        if cache.get(rel) == key or (str(path.resolve()), *key) in _verified:
            known[rel] = key
            continue
        if rel in BIG_FILES and not verify_features:
            continue
        try:
            digest = sha256_file(path)
        except OSError as exc:
            raise GroundbenchError(f"store file {rel} {os_problem(exc)}", path=root) from None
        if digest != entry["sha256"]:
            raise GroundbenchError(f"store file {rel} does not match its sha256 in the manifest (changed since "
                                   f"the store was prepared); re-run {prepare}", path=root)
        _verified.add((str(path.resolve()), *key))
        known[rel] = key
    if known != {rel: key for rel, key in cache.items() if rel in files}:
        _write_cache(root, known)


def record_verified(out: Path, entries: dict[str, dict]) -> None:
    """For a conversion: cache the sums it has just written (stamp entries: bytes, sha256, mtime_ns) for the
    files still at that size and mtime, so the next open hashes nothing."""
    known = {}
    for rel, entry in entries.items():
        try:
            stat = (out / rel).stat()
        except OSError:
            continue
        if stat.st_size == entry["bytes"] and stat.st_mtime_ns == entry.get("mtime_ns"):
            known[rel] = [stat.st_size, stat.st_mtime_ns, entry["sha256"]]
    _write_cache(out, known)


def store_files(manifest: dict, *names: str) -> list[str]:
    """The files every store needs: ``names``, {split}.json and human_{split}.npz per split, features/*.npy."""
    splits = list(manifest["splits"])
    return [*names, *(f"{s}.json" for s in splits), *(f"human_{s}.npz" for s in splits),
            *(f"features/{name}.npy" for name in STORE_ARRAYS)]


def open_manifest(root: Path, store_format: str, version: int, prepare: str, kind: str = "store", *,
                  keys: dict[str, type] | None = None, files: Callable[[dict], list[str]] | None = None,
                  verify_features: bool = False) -> dict:
    """Check a prepared store before use and return its manifest (see the module docstring). ``prepare`` names
    the command that (re)builds it, for the messages; ``kind`` what the store is ("caption store"); ``keys``
    the manifest keys the store reads ({name: type}); ``files(manifest)`` the files it needs (relative paths)."""
    root = Path(root)
    problem = file_problem(root)
    if problem is None:
        raise GroundbenchError(f"is a file, not a prepared {kind} (a folder)", path=root)
    if problem != "is a folder, not a file":
        raise GroundbenchError("data directory not found" if problem == "not found" else f"data directory {problem}",
                               path=root)
    if file_problem(root / "manifest.json") == "not found":
        raise GroundbenchError(f"not a prepared {kind}: no manifest.json (run {prepare}; "
                               "an interrupted conversion leaves none)", path=root)
    manifest = read_json(root / "manifest.json", what="store manifest")
    if not isinstance(manifest, dict) or manifest.get("format") != store_format:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise GroundbenchError(f"not a {store_format} manifest (format {found!r})", path=root / "manifest.json")
    if manifest.get("version") != version:
        raise GroundbenchError(f"store version {manifest.get('version')} is not {version}; re-run {prepare}",
                               path=root / "manifest.json")
    _check_keys(manifest, keys or {}, root / "manifest.json", prepare)
    needed = files(manifest) if files is not None else []
    verify_files(root, _file_entries(manifest, needed, root / "manifest.json", prepare), prepare, verify_features)
    return manifest


def check_records(records: object, fields: tuple[str, ...], path: Path, prepare: str, id_key: str) -> list[dict]:
    """A store's ``{split}.json`` on first use: a list of objects with the ``fields`` the datasets read."""
    if not isinstance(records, list):
        raise GroundbenchError(f"expected a JSON list of records, got {type(records).__name__} (re-run {prepare})",
                               path=path)
    for i, record in enumerate(records):
        if not isinstance(record, dict) or any(name not in record for name in fields):
            rid = record.get(id_key, f"#{i}") if isinstance(record, dict) else f"#{i}"
            lacking = [name for name in fields if name not in record] if isinstance(record, dict) else fields
            raise GroundbenchError(f"record lacks {', '.join(lacking)} (re-run {prepare})", path=path, record=rid)
    return records


def check_features_match(features, manifest: dict, records: list[dict], root: Path, split: str, prepare: str,
                         id_key: str) -> None:
    """The feature arrays agree with the manifest (K, D) and hold every image the split's records name."""
    for name, value, key in (("boxes", features.k_max, "k_max"), ("features", features.dim, "feature_dim")):
        if value != manifest[key]:
            raise GroundbenchError(f"holds {key} {value}, the manifest says {manifest[key]} (re-run {prepare})",
                                   path=root / "features" / f"{name}.npy")
    for record in records:
        if type(record["image_id"]) is not int or record["image_id"] not in features.row_of:
            raise GroundbenchError(f"image {record['image_id']} has no row in features/image_ids.npy "
                                   f"(re-run {prepare})", path=root / f"{split}.json", record=record[id_key])


def check_strings(value: object, kind: type, path: Path, prepare: str) -> None:
    """A store's word lists / maps: a JSON list of strings (``kind`` list) or an object of strings (dict)."""
    if kind is dict:
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    else:
        ok = isinstance(value, list) and all(isinstance(x, str) for x in value)
    if not ok:
        raise GroundbenchError(f"expected a JSON {'object' if kind is dict else 'list'} of strings (re-run {prepare})",
                               path=path)


def check_importance_width(human, k_max: int, path: Path, prepare: str):
    """``human`` (arrays with ``importance`` [M, K]) when its K is the features' ``k_max``, else an error naming
    ``path``; shared by the VQA and caption stores."""
    if human.importance.shape[1] != k_max:
        raise GroundbenchError(f"importance has {human.importance.shape[1]} proposals per row, the features "
                               f"{k_max} (re-run {prepare})", path=path)
    return human

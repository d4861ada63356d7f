"""Step stamps of a prepared store: which conversion steps are complete, so a re-run skips them.

A step's stamp (``.stamps/{step}.json``) holds a key over its inputs and parameters and every output's
bytes / sha256 / mtime; ``begin`` drops the manifest and the stamp before any work, so a killed
conversion is never taken as complete. Shared by the VQA and the captioning converters.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..io import remove_stale_temporaries, write_json


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 8 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 23), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(paths: list[Path], root: Path) -> list:
    """[relpath, bytes, mtime_ns] of each input: changes when an input is replaced or edited."""
    return [[str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns] for p in paths]


def stamp_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class Steps:
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


def sweep_temporaries(out: Path) -> None:
    """Remove the temporaries (groundbench.io.atomic_path) a killed run of this tool left below ``out``: only
    ours (``.NAME.gbtmp-PID-XXXX.tmp``) and only when their process is gone; none is ever read."""
    remove_stale_temporaries(out, recursive=True)

"""Where a synthetic world lives in the cache, whether its raw folder is complete, and writing that folder
whole (a temporary folder renamed into place). Shared by the VQA and the captioning worlds."""
from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from ..io import remove_stale_temporaries, temp_prefix


def world_dir(cache_root: str | Path, version: str, params: dict | None) -> Path:
    """cache_root/synthetic/<version> for the default parameters (``params`` None), plus a short hash of the
    parameters for any other setting."""
    base = Path(cache_root) / "synthetic"
    if params is None:
        return base / version
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]
    return base / f"{version}-{digest}"


def stamp_matches(raw_dir: str | Path, version: str, params: dict) -> bool:
    """True when ``raw_dir/world.json`` (written last) names this world version and these parameters."""
    stamp = Path(raw_dir) / "world.json"
    if not stamp.is_file():
        return False
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(data, dict) and data.get("world_version") == version and data.get("params") == params


def write_folder(target: str | Path, fill: Callable[[Path], None]) -> Path:
    """Run ``fill(tmp)`` on a fresh temporary folder beside ``target``, then replace ``target`` with it whole;
    a failure leaves ``target`` as it was."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target.parent, glob.escape(target.name))
    tmp = Path(tempfile.mkdtemp(prefix=temp_prefix(target), dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes a 0700 folder; give the usual permissions
    try:
        fill(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return target

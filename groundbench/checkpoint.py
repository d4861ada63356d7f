"""Checkpoints: safetensors weights + JSON metadata in the header and a sidecar; loading never unpickles.

A checkpoint is one ``.safetensors`` file. Its header carries the metadata as JSON under
``__metadata__["groundbench"]``, so the file alone suffices; ``<stem>.json`` beside it is a human-readable
copy (schema ``groundbench.checkpoint/1``) with the tensor names, shapes and dtypes.
"""
from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import __version__
from .errors import GroundbenchError
from .io import atomic_path, write_json

METADATA_KEY = "groundbench"
SIDECAR_SCHEMA = "groundbench.checkpoint/1"
OPTIMIZER_FORMAT = "groundbench.optimizer/1"
BEST_NAME = "best.safetensors"
_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format caps its JSON header at 100 MB
_PICKLE_REFUSAL = "is a pickle/torch.save file; groundbench reads only safetensors checkpoints and never unpickles"


def save_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    """Write ``tensors`` (name -> tensor) and JSON-serialisable ``metadata`` atomically; return the path.

    Tensors are copied to contiguous CPU memory first (tied weights are stored twice, as safetensors
    forbids shared storage). The sidecar ``<stem>.json`` is written after the weights.
    """
    path = Path(path)
    if path.suffix != ".safetensors":
        raise GroundbenchError("a checkpoint file name must end in .safetensors", path=path)
    try:
        meta_json = json.dumps(metadata, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"checkpoint metadata is not plain JSON: {exc}") from None
    cpu = {str(name): t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(cpu, str(tmp), metadata={METADATA_KEY: meta_json, "format": "pt"})
    sidecar = {
        "schema": SIDECAR_SCHEMA,
        "file": path.name,
        "tensors": {name: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)} for name, t in cpu.items()},
        "metadata": metadata,
    }
    write_json(path.with_suffix(".json"), sidecar)
    return path


def resolve_checkpoint(path: str | Path) -> Path:
    """The checkpoint file for ``path``: the file itself, or ``best.safetensors`` inside a run directory."""
    path = Path(path)
    if path.is_dir():
        best = path / BEST_NAME
        if not best.is_file():
            raise GroundbenchError(f"run directory has no {BEST_NAME}", path=path)
        return best
    if not path.exists():
        raise GroundbenchError("checkpoint not found", path=path)
    if not path.is_file():
        raise GroundbenchError("checkpoint is not a regular file", path=path)
    return path


def _is_torch_zip(path: Path) -> bool:
    """Whether a zip archive is torch.save's format (a ``*/data.pkl`` member); read with zipfile, never loaded."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _read_header(path: Path) -> dict[str, Any]:
    """Parse and check the safetensors header of ``path`` without reading tensor data or unpickling."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(8)
        if head[:4] == b"PK\x03\x04" and not _is_torch_zip(path):
            raise GroundbenchError("is a zip archive, not a safetensors checkpoint", path=path)
        if head[:4] == b"PK\x03\x04" or (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
            raise GroundbenchError(_PICKLE_REFUSAL, path=path)
        if len(head) < 8:
            raise GroundbenchError(f"not a safetensors checkpoint (file is only {size} bytes)", path=path)
        (n_header,) = struct.unpack("<Q", head)
        if n_header < 2 or n_header > min(_MAX_HEADER_BYTES, size - 8):
            raise GroundbenchError("not a safetensors checkpoint, or truncated (bad header length)", path=path)
        raw = handle.read(n_header)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise GroundbenchError("corrupt safetensors header (not JSON)", path=path) from None
    if not isinstance(header, dict):
        raise GroundbenchError("corrupt safetensors header (not a JSON object)", path=path)
    data_bytes = size - 8 - n_header
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise GroundbenchError(f"corrupt safetensors header (tensor '{name}' has no data offsets)", path=path)
        if offsets[1] > data_bytes:
            raise GroundbenchError(
                f"truncated checkpoint (tensor '{name}' needs {offsets[1]} data bytes, file has {data_bytes})", path=path
            )
    return header


def _metadata_from_header(header: dict[str, Any], path: Path) -> dict[str, Any]:
    """The groundbench metadata dict stored under ``__metadata__`` in a parsed header."""
    block = header.get("__metadata__")
    if not isinstance(block, dict) or METADATA_KEY not in block:
        raise GroundbenchError(
            f"safetensors file has no '{METADATA_KEY}' metadata (not a groundbench checkpoint?)", path=path
        )
    try:
        metadata = json.loads(block[METADATA_KEY])
    except (TypeError, json.JSONDecodeError):
        raise GroundbenchError(f"checkpoint metadata '{METADATA_KEY}' is not valid JSON", path=path) from None
    if not isinstance(metadata, dict):
        raise GroundbenchError(f"checkpoint metadata '{METADATA_KEY}' is not a JSON object", path=path)
    return metadata


def read_checkpoint_metadata(path: str | Path) -> dict[str, Any]:
    """Only the metadata of a checkpoint (file or run directory), without loading any tensor."""
    file = resolve_checkpoint(path)
    return _metadata_from_header(_read_header(file), file)


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Load ``(tensors, metadata)`` from a checkpoint file or a run directory (its ``best.safetensors``).

    Pickles and torch.save zip files are recognised by their magic bytes and refused before anything is
    read; missing, truncated or corrupt files and files without groundbench metadata raise a one-line
    GroundbenchError naming the file.
    """
    file = resolve_checkpoint(path)
    metadata = _metadata_from_header(_read_header(file), file)
    try:
        tensors = load_file(str(file), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise GroundbenchError(f"corrupt safetensors checkpoint ({reason})", path=file) from None
    return tensors, metadata


def _encode(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """JSON-encode ``obj``, moving every tensor into ``tensors`` under ``key`` and leaving a reference."""
    if isinstance(obj, torch.Tensor):
        if key in tensors:
            raise ValueError(f"optimizer state key collision at '{key}'")
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise ValueError(f"optimizer state has a key of type {type(k).__name__} at '{key}'")
            items.append([k, _encode(v, f"{key}/{k}", tensors)])
        return {"__dict__": items}
    if isinstance(obj, (list, tuple)):
        encoded = [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]
        return {"__tuple__": encoded} if isinstance(obj, tuple) else encoded
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise ValueError(f"optimizer state holds a {type(obj).__name__} at '{key}', which cannot be stored as JSON")


def _decode(obj: Any, tensors: dict[str, torch.Tensor], path: str | Path | None) -> Any:
    """Invert :func:`_encode`; a reference to a tensor that is not there is a corrupt checkpoint."""
    if isinstance(obj, list):
        return [_decode(v, tensors, path) for v in obj]
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            if obj["__tensor__"] not in tensors:
                raise GroundbenchError(f"optimizer state refers to missing tensor '{obj['__tensor__']}'", path=path)
            return tensors[obj["__tensor__"]]
        if set(obj) == {"__tuple__"}:
            return tuple(_decode(v, tensors, path) for v in obj["__tuple__"])
        if set(obj) == {"__dict__"}:
            return {k: _decode(v, tensors, path) for k, v in obj["__dict__"]}
        raise GroundbenchError("optimizer state metadata is malformed", path=path)
    return obj


def flatten_optimizer_state(
    state_dict: dict[str, Any], prefix: str = "optimizer/"
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into safetensors-ready tensors and JSON metadata.

    Tensor names are ``<prefix>state/<param id>/<name>`` (e.g. ``optimizer/state/0/exp_avg``); int keys,
    tuples (Adam's ``betas``) and scalars round-trip exactly through :func:`unflatten_optimizer_state`.
    """
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state_dict, prefix.rstrip("/"), tensors)
    return tensors, {"format": OPTIMIZER_FORMAT, "prefix": prefix, "tree": tree}


def unflatten_optimizer_state(
    tensors: dict[str, torch.Tensor], meta: dict[str, Any], *, path: str | Path | None = None
) -> dict[str, Any]:
    """Rebuild the dict for ``optimizer.load_state_dict`` from :func:`flatten_optimizer_state` output.

    ``tensors`` may hold other entries too (the model weights of the same checkpoint); ``path`` only
    names the file in errors.
    """
    if not isinstance(meta, dict) or meta.get("format") != OPTIMIZER_FORMAT or "tree" not in meta:
        raise GroundbenchError(f"optimizer state metadata is not in format {OPTIMIZER_FORMAT}", path=path)
    state = _decode(meta["tree"], tensors, path)
    if not isinstance(state, dict):
        raise GroundbenchError("optimizer state metadata is malformed", path=path)
    return state


def _git(args: list[str], cwd: Path, git: str) -> str | None:
    """stdout of a read-only git command, or None when git is absent, fails or hangs."""
    try:
        done = subprocess.run(
            [git, *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version(repo_root: str | Path | None = None, *, git: str = "git") -> str:
    """``<version>`` or ``<version>+g<short hash>[+dirty]`` when the package sits in a git checkout.

    ``repo_root`` defaults to the directory above the package; a checkout whose top level is elsewhere
    (the package installed inside some other repository) is ignored. Tracked modifications count as dirty.
    """
    root = Path(repo_root) if repo_root is not None else Path(__file__).resolve().parent.parent
    top = _git(["rev-parse", "--show-toplevel"], root, git)
    if not top or Path(top).resolve() != root.resolve():
        return __version__
    short = _git(["rev-parse", "--short", "HEAD"], root, git)
    if not short:
        return __version__
    status = _git(["status", "--porcelain", "--untracked-files=no"], root, git)
    dirty = "+dirty" if status else ""
    return f"{__version__}+g{short}{dirty}"

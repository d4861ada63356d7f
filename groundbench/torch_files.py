"""Weights people actually have: plain torch.save state dicts and foreign safetensors, loaded without running code.

``load_state_dict_file`` reads ``.pt``/``.pth``/``.bin`` files written by ``torch.save(model.state_dict(), p)``
(zip or legacy layout, optionally wrapped as ``{"state_dict"|"model"|"model_state_dict": sd, ...}``) after
:mod:`groundbench.pickle_scan` has cleared every pickle in them, then with ``torch.load(weights_only=True)``;
and any ``.safetensors`` file. ``save_state_dict_file`` writes the export format: a plain ``torch.save`` of the
weights plus a sidecar ``<stem>.json`` (schema ``groundbench.export/1``) that carries the metadata.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from .checkpoint import METADATA_KEY, _read_header, load_checkpoint, resolve_checkpoint
from .errors import GroundbenchError
from .io import atomic_path, write_json
from .pickle_scan import ZIP_MAGIC, check_torch_file

EXPORT_SCHEMA = "groundbench.export/1"
TORCH_SUFFIXES = (".pt", ".pth", ".bin")
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict")  # checked in this order, one level deep
OPTIM_PREFIX = "optim."  # groundbench.train.OPTIM_PREFIX: optimizer tensors in a last.safetensors
RESUME_ONLY_METADATA = ("optimizer", "rng")  # metadata that only resuming training needs
_PARALLEL_PREFIX = "module."  # torch.nn.DataParallel / DistributedDataParallel


def load_state_dict_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """``(tensors, metadata or None)`` from a torch.save state dict, a safetensors file or a run directory.

    The format is told by content, not by suffix. A groundbench checkpoint gives its own metadata (model
    weights only: optimizer tensors and resume-only metadata are dropped); a torch file gives the metadata of
    its ``<stem>.json`` export sidecar when there is one; anything else gives None. Keys that all start with
    ``module.`` lose that prefix. Unsafe, corrupt or non-tensor content raises a one-line GroundbenchError.
    """
    path = Path(path)
    if path.is_dir():
        path = resolve_checkpoint(path)
    elif not path.is_file():
        raise GroundbenchError("weights file not found" if not path.exists() else "not a regular file", path=path)
    with open(path, "rb") as handle:
        head = handle.read(9)
    torch_signature = head[:4] == ZIP_MAGIC or (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5)
    safetensors_signature = head[8:9] == b"{"  # 8-byte header length, then the JSON header
    if torch_signature or (not safetensors_signature and path.suffix in TORCH_SUFFIXES):
        tensors = _strip_parallel_prefix(_load_torch(path))
        return tensors, _read_sidecar(path, tensors)
    return _load_safetensors(path)


def _load_torch(path: Path) -> dict[str, torch.Tensor]:
    """Scan, then ``torch.load(weights_only=True)`` onto the CPU, then unwrap to a name -> tensor dict."""
    layout = check_torch_file(path)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; a user's file is never a traceback
        raise GroundbenchError(f"could not load this torch.save file ({layout} layout): {_reason(exc)}",
                               path=path) from None
    return _unwrap(obj, path)


def _reason(exc: Exception) -> str:
    """One short line from a torch.load exception (the core of a weights-only refusal, not its advice)."""
    text = str(exc)
    if "WeightsUnpickler error:" in text:
        core = text.split("WeightsUnpickler error:", 1)[1].split("Check the documentation", 1)[0]
        text = f"torch's weights-only loader refused it: {core}"
    return " ".join(text.split())[:300] or type(exc).__name__


def _unwrap(obj: Any, path: Path) -> dict[str, torch.Tensor]:
    """The state dict inside ``obj``: itself or its first wrapper entry; every value must be a tensor."""
    if not isinstance(obj, Mapping):
        what = "a tensor" if isinstance(obj, torch.Tensor) else f"a {type(obj).__name__}"
        raise GroundbenchError(f"holds {what}, not a state dict (a dict of name -> tensor)", path=path)
    if {"state", "param_groups"} <= set(obj):
        raise GroundbenchError("holds an optimizer state dict, not model weights", path=path)
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), Mapping):
            obj = obj[key]
            break
    tensors: dict[str, torch.Tensor] = {}
    for name, value in obj.items():
        if not isinstance(name, str):
            raise GroundbenchError(f"state dict has a key of type {type(name).__name__} ({name!r})", path=path)
        if not isinstance(value, torch.Tensor):
            raise GroundbenchError(
                f"state dict entry '{name}' is a {type(value).__name__}, not a tensor", path=path
            )
        tensors[name] = value.detach()  # an nn.Parameter becomes a plain tensor
    if not tensors:
        raise GroundbenchError("state dict holds no tensors", path=path)
    return tensors


def _strip_parallel_prefix(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` that DataParallel puts before every key (only when every key has it)."""
    if tensors and all(name.startswith(_PARALLEL_PREFIX) for name in tensors):
        return {name[len(_PARALLEL_PREFIX):]: value for name, value in tensors.items()}
    return tensors


def _load_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict | None]:
    """A groundbench checkpoint (weights + metadata) or any other safetensors file (weights, None)."""
    header = _read_header(path)  # refuses truncated or non-safetensors files with one line
    block = header.get("__metadata__")
    if isinstance(block, dict) and METADATA_KEY in block:
        tensors, metadata = load_checkpoint(path)
        return model_weights(tensors, metadata)
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise GroundbenchError(f"corrupt safetensors file ({reason})", path=path) from None
    return _strip_parallel_prefix(tensors), None


def model_weights(
    tensors: dict[str, torch.Tensor], metadata: dict[str, Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A groundbench checkpoint without what only resuming needs: ``optim.`` tensors, optimizer/RNG metadata."""
    weights = {name: t for name, t in tensors.items() if not name.startswith(OPTIM_PREFIX)}
    meta = {key: value for key, value in metadata.items() if key not in RESUME_ONLY_METADATA}
    return weights, meta


def sidecar_path(path: str | Path) -> Path:
    """The export sidecar beside a weights file: ``<stem>.json``."""
    return Path(path).with_suffix(".json")


def _describe_tensors(tensors: Mapping[str, torch.Tensor]) -> dict[str, dict[str, Any]]:
    """name -> {dtype, shape}, the listing a sidecar carries (dtype without the ``torch.`` prefix)."""
    return {name: {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)} for name, t in tensors.items()}


def _read_sidecar(path: Path, tensors: Mapping[str, torch.Tensor]) -> dict | None:
    """The metadata of an export sidecar beside ``path``; None when there is no sidecar of ours.

    A JSON file of another schema is someone else's and is ignored; one of ours must be well-formed and
    list exactly the tensors (names, dtypes, shapes) of the file, else it is stale and an error.
    """
    side = sidecar_path(path)
    if not side.is_file():
        return None
    try:
        sidecar = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = " ".join(str(exc).split())
        raise GroundbenchError(f"export sidecar is not readable JSON ({reason})", path=side) from None
    if not isinstance(sidecar, dict) or sidecar.get("schema") != EXPORT_SCHEMA:
        return None
    metadata = sidecar.get("metadata")
    if not isinstance(metadata, dict):
        raise GroundbenchError("export sidecar has no 'metadata' object", path=side)
    listed = sidecar.get("tensors")
    if listed is not None and listed != _describe_tensors(tensors):
        raise GroundbenchError(
            f"export sidecar does not describe {path.name} (tensor names, dtypes or shapes differ); "
            "re-export it or remove the sidecar", path=side,
        )
    return metadata


def save_state_dict_file(path: str | Path, tensors: Mapping[str, torch.Tensor], metadata: dict[str, Any],
                         *, source: str | None = None) -> Path:
    """Write ``torch.save(tensors)`` to ``path`` (.pt/.pth/.bin) and the sidecar ``<stem>.json``, both atomically.

    The sidecar (schema ``groundbench.export/1``) holds ``metadata``, the tensor names/dtypes/shapes and the
    ``source`` checkpoint; :func:`load_state_dict_file` gives back the same tensors and metadata.
    """
    path = Path(path)
    if path.suffix not in TORCH_SUFFIXES:
        raise GroundbenchError(f"an export file name must end in {', '.join(TORCH_SUFFIXES)}", path=path)
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"export metadata is not plain JSON: {exc}") from None
    cpu = {str(name): t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            torch.save(cpu, handle)
    sidecar = {"schema": EXPORT_SCHEMA, "file": path.name, "source": source,
               "tensors": _describe_tensors(cpu), "metadata": metadata}
    write_json(sidecar_path(path), sidecar)
    return path


def export_checkpoint(checkpoint: str | Path, dest: str | Path) -> tuple[Path, int]:
    """Export a groundbench checkpoint (file or run directory) as a plain torch file; return (path, #tensors)."""
    dest = Path(dest)
    if dest.suffix not in TORCH_SUFFIXES:
        raise GroundbenchError(f"--to must end in {', '.join(TORCH_SUFFIXES)}", path=dest)
    file = resolve_checkpoint(checkpoint)
    tensors, metadata = model_weights(*load_checkpoint(file))
    save_state_dict_file(dest, tensors, metadata, source=str(file))
    return dest, len(tensors)

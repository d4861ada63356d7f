"""Reading a prepared store's NumPy files safely (formats: numpy.lib.format ``.npy``; ``.npz``, a zip of them).

Nothing is ever unpickled (``allow_pickle`` is never set: a pickled or object array is refused), and every
failure (a missing file, garbage, a truncated array, an array of the wrong type or rank, a missing member)
is a one-line GroundbenchError naming the file and saying which command rebuilds it.
"""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from ..errors import GroundbenchError
from ..io import require_file

LOAD_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)
KINDS = {"i": "integer", "u": "unsigned integer", "f": "floating-point", "b": "boolean"}


def _reason(exc: BaseException) -> str:
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text.split(". ")[0][:100] or type(exc).__name__


def check_array(array: np.ndarray, kinds: str, ndim: int, path: Path, prepare: str, name: str = "") -> np.ndarray:
    """``array`` when its dtype kind is one of ``kinds`` (numpy dtype.kind letters) and it has ``ndim`` axes."""
    if array.dtype.kind not in kinds or array.ndim != ndim:
        wanted = " or ".join(KINDS.get(k, k) for k in kinds)
        what = f"'{name}' " if name else ""
        raise GroundbenchError(f"{what}holds a {array.dtype} array of shape {tuple(array.shape)}, expected a "
                               f"{ndim}-D {wanted} array (re-run {prepare})", path=path)
    return array


def load_npy(path: Path, prepare: str, kinds: str, ndim: int, *, mmap: bool = False) -> np.ndarray:
    """One ``.npy`` array, checked (check_array); memory-mapped read-only when ``mmap``."""
    require_file(path, "store file", hint=f"re-run {prepare}")
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except LOAD_ERRORS as exc:
        raise GroundbenchError(f"not a readable NumPy array ({_reason(exc)}); re-run {prepare}", path=path) from None
    if not isinstance(array, np.ndarray):  # an .npz archive under an .npy name
        array.close()
        raise GroundbenchError(f"an .npz archive, not a .npy array (re-run {prepare})", path=path)
    return check_array(array, kinds, ndim, path, prepare)


def load_npz(path: Path, prepare: str, spec: dict[str, tuple[str, int]]) -> dict[str, np.ndarray]:
    """The members ``spec`` names ({name: (kinds, ndim)}) of an ``.npz`` archive, read into memory, checked."""
    require_file(path, "store file", hint=f"re-run {prepare}")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise GroundbenchError(f"a .npy array, not an .npz archive (re-run {prepare})", path=path)
        with data:
            missing = [name for name in spec if name not in data.files]
            if missing:
                raise GroundbenchError(f"archive lacks {', '.join(missing)} (re-run {prepare})", path=path)
            arrays = {name: data[name] for name in spec}
    except LOAD_ERRORS as exc:
        raise GroundbenchError(f"not a readable NumPy archive ({_reason(exc)}); re-run {prepare}", path=path) from None
    return {name: check_array(arrays[name], *spec[name], path, prepare, name) for name in spec}

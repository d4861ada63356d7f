"""Atomic file writing and checked JSON reading: never a half-written output, always a named error."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import GroundbenchError


TMP_TAG = "gbtmp"  # every temporary this tool writes is named .NAME.gbtmp-PID-XXXX.tmp (folders: no .tmp)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stale_temporaries(folder: Path, name: str = "*", recursive: bool = False) -> list[Path]:
    """This tool's temporaries in ``folder`` (for target ``name``) whose writing process is gone: litter of a
    killed run. Files that are not ours (any other ``.tmp``) are never matched."""
    pattern = f".{name}.{TMP_TAG}-*"
    found = Path(folder).rglob(pattern) if recursive else Path(folder).glob(pattern)
    stale = []
    for path in found:
        pid = path.name.rsplit(f".{TMP_TAG}-", 1)[-1].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            stale.append(path)
    return stale


def remove_stale_temporaries(folder: Path, name: str = "*", recursive: bool = False) -> int:
    """Delete ``stale_temporaries``; returns how many."""
    import shutil

    paths = stale_temporaries(folder, name, recursive)
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    return len(paths)


def temp_prefix(path: Path) -> str:
    return f".{path.name}.{TMP_TAG}-{os.getpid()}-"


def check_writable(path: str | Path) -> None:
    """A one-line error when ``path``'s folder cannot be made or written, or ``path`` is a folder (call it before
    long work whose result goes to ``path``)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise GroundbenchError("cannot write here: a parent of this path is a file", path=path) from None
    except OSError as exc:
        raise GroundbenchError(f"cannot write here ({exc.strerror or exc})", path=path) from None
    if path.is_dir():
        raise GroundbenchError("cannot write a file here: it is a folder", path=path)
    if not os.access(path.parent, os.W_OK):
        raise GroundbenchError("cannot write here: the folder is not writable", path=path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds. Litter of
    earlier killed writes of the same file is removed first."""
    path = Path(path)
    check_writable(path)
    import glob

    remove_stale_temporaries(path.parent, glob.escape(path.name))
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(path), suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise GroundbenchError(f"cannot write here ({exc.strerror or exc})", path=path) from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """Open a temporary file beside ``path`` for writing; rename it onto ``path`` on success."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON atomically (temp file + rename)."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        json.dump(obj, handle, indent=indent, sort_keys=False)
        handle.write("\n")
    return Path(path)


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be read as a file, in words ("not found", "is a folder, not a file", "is a symlink
    loop ...", ...); None when it is a regular file. Callers put the file's role in front: "questions file "."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return f"is a broken symlink (its target {os.readlink(path)} does not exist)"
        return "not found"
    except NotADirectoryError:
        return "not found (a parent of this path is a file)"
    except OSError as exc:
        return os_problem(exc)
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a pipe, socket or device)"
    return None


def os_problem(exc: OSError) -> str:
    """An OSError met opening or reading a file, in words."""
    if isinstance(exc, PermissionError):
        return "cannot be read: permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a folder, not a file"
    if exc.errno == errno.ELOOP:
        return "is a symlink loop (too many levels of symbolic links)"
    return f"cannot be read ({exc.strerror or exc})"


def require_file(path: str | Path, what: str, *, hint: str | None = None) -> Path:
    """``path`` if it is a regular file, else a GroundbenchError naming it and saying what it is instead
    (``<path>: <what> not found (<hint>)``, ``<what> is a folder, not a file``, ``... is a symlink loop``)."""
    problem = file_problem(path)
    if problem is not None:
        raise GroundbenchError(f"{what} {problem}" + (f" ({hint})" if hint else ""), path=path)
    return Path(path)


def read_json(path: str | Path, *, what: str = "JSON file") -> Any:
    """Read JSON (RFC 8259, UTF-8). Every failure is a one-line GroundbenchError naming the file: missing,
    a folder, a symlink loop, unreadable (permissions), not UTF-8, not JSON (line and column), nested more
    deeply than Python's recursion limit allows, or holding an integer of more than 4300 digits."""
    path = require_file(path, what)
    try:
        with open(path, "r", encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as exc:
        raise GroundbenchError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", path=path) from None
    except UnicodeDecodeError:
        raise GroundbenchError("not UTF-8 text (is this a JSON file?)", path=path) from None
    except RecursionError:
        raise GroundbenchError(f"JSON nested too deeply (more than about {sys.getrecursionlimit()} levels of "
                               "lists / objects; no file this tool reads needs that)", path=path) from None
    except ValueError as exc:  # an integer literal longer than Python's limit on digits (int_max_str_digits)
        what_failed = str(exc).split(":")[0]
        raise GroundbenchError(f"not a JSON file this tool reads: {what_failed}", path=path) from None
    except OSError as exc:
        raise GroundbenchError(f"{what} {os_problem(exc)}", path=path) from None


def require_fields(record: Any, fields: tuple[str, ...] | list[str], *, path: str | Path, record_id: object) -> None:
    """Raise GroundbenchError naming file and record when ``record`` lacks one of ``fields``."""
    if not isinstance(record, dict):
        raise GroundbenchError(f"expected a JSON object, got {type(record).__name__}", path=path, record=record_id)
    for name in fields:
        if name not in record:
            raise GroundbenchError(f"missing field '{name}'", path=path, record=record_id)

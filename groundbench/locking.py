"""One writer per output: an advisory lock (``fcntl.flock``) on a lock file in the folder a command writes, so
two trainings pointed at the same ``--out`` (or two preparations of the same store) never interleave their
files. The kernel drops the lock when its process dies, so a killed run never leaves a stale lock."""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path
from typing import Iterator

from .errors import GroundbenchError

LOCK_NAME = ".groundbench.lock"


def _holder(handle) -> str:
    try:
        handle.seek(0)
        info = json.loads(handle.read() or "{}")
        return f"pid {info.get('pid')} on {info.get('host')}, {info.get('what')}, since {info.get('since')}"
    except (OSError, ValueError):
        return "another process"


@contextlib.contextmanager
def exclusive(folder: str | Path, what: str, lock_name: str = LOCK_NAME) -> Iterator[Path]:
    """Hold the lock of ``folder`` (created if needed) while the block writes there; a folder that cannot be
    created or written, or that another process holds, is a one-line error before any work."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / lock_name, "a+", encoding="utf-8")
    except FileExistsError:
        raise GroundbenchError("cannot write here: a file is in the way of this folder", path=folder) from None
    except NotADirectoryError:
        raise GroundbenchError("cannot write here: a parent of this folder is a file", path=folder) from None
    except OSError as exc:
        raise GroundbenchError(f"cannot write here ({exc.strerror or exc})", path=folder) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise GroundbenchError(f"another groundbench process is writing here ({_holder(handle)}); wait for "
                                   "it to finish or stop it", path=folder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
        handle.flush()
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

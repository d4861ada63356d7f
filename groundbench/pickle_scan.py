"""Static safety check of the pickles in a torch.save file: nothing is imported, called or unpickled.

A pickle can only run code through a callable it imports by name (GLOBAL, STACK_GLOBAL, INST) or takes
from the copyreg extension registry (EXT1/2/4). :func:`check_torch_file` walks the opcodes with
``pickletools.genops``, resolves every such name, and refuses any name outside :data:`ALLOWED_GLOBALS`,
the few torch helpers that a plain ``state_dict`` of tensors needs. ``torch.load(weights_only=True)``
stays the second layer of defence.
"""
from __future__ import annotations

import pickletools
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import IO, Iterable

import torch

from .errors import GroundbenchError

ZIP_MAGIC = b"PK\x03\x04"  # torch.serialization._is_zipfile: only the first four bytes decide
_LEGACY_PICKLES = 5  # torch legacy layout: magic number, protocol version, sys info, object, storage keys
_EXPORT_HINT = "save a plain state dict instead: torch.save(model.state_dict(), PATH)"

# The legacy typed storages that torch.save pickles as ``torch.<Name>Storage`` (one per classic dtype).
_STORAGES = ("Float", "Double", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool",
             "ComplexFloat", "ComplexDouble")
# Every torch dtype object (``torch.uint16`` ...): _rebuild_tensor_v3 pickles the dtype by name.
_DTYPES = tuple(name for name, value in vars(torch).items() if isinstance(value, torch.dtype))

ALLOWED_GLOBALS: frozenset[str] = frozenset(
    ["collections.OrderedDict",  # state_dict() returns one; the _metadata versions ride along via BUILD
     "torch._utils._rebuild_tensor_v2",  # every tensor of a classic dtype
     "torch._utils._rebuild_tensor_v3",  # tensors of newer dtypes (uint16/32/64, float8 ...)
     "torch._utils._rebuild_parameter",  # nn.Parameter values kept in a hand-made dict
     "torch._utils._rebuild_parameter_with_state",  # the same, for a Parameter with attributes
     "torch.storage.UntypedStorage"]  # the storage type _rebuild_tensor_v3 refers to
    + [f"torch.{kind}Storage" for kind in _STORAGES]
    + [f"torch.{name}" for name in _DTYPES]
)

_STRING_OPS = {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
               "BINUNICODE8"}
_PUT_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
_GET_OPS = {"GET", "BINGET", "LONG_BINGET"}
_UNKNOWN = object()  # a stack value the scan cannot know statically
_MARK = object()


class UnsafePickle(Exception):
    """A pickle refers to something outside the allowlist (``ref``), or to something it cannot resolve."""

    def __init__(self, ref: str | None, why: str):
        self.ref = ref
        super().__init__(why)


def scan_pickle(stream: IO[bytes]) -> list[str]:
    """The ``module.name`` of every global one pickle imports, read from its opcodes (pickletools / PEP 3154).

    Consumes ``stream`` up to the STOP opcode. A simulated stack and memo track string constants, so that
    STACK_GLOBAL (protocol 4+) resolves even through the memo; a name built any other way, or an
    extension-registry code, raises UnsafePickle. A malformed stream raises ValueError.
    """
    stack: list[object] = []
    memo: dict[int, object] = {}
    names: list[str] = []
    for op, arg, _ in pickletools.genops(stream):
        name = op.name
        if name in ("EXT1", "EXT2", "EXT4"):
            raise UnsafePickle(None, "imports through the copyreg extension registry")
        popped = _pop(stack, op)
        if name in ("GLOBAL", "INST"):
            names.append(_dotted(*str(arg).split(" ", 1)))
        elif name == "STACK_GLOBAL":
            module, qualname = popped
            if not (isinstance(module, str) and isinstance(qualname, str)):
                raise UnsafePickle(None, "builds an import name at load time that cannot be checked")
            names.append(_dotted(module, qualname))
        if name in _PUT_OPS or name == "MEMOIZE":
            if not stack:
                raise ValueError(f"{name} on an empty stack")
            memo[len(memo) if name == "MEMOIZE" else arg] = stack[-1]
        elif name in _GET_OPS:
            stack.append(memo.get(arg, _UNKNOWN))
        elif name == "DUP":
            stack.extend(popped * 2)
        elif name == "MARK":
            stack.append(_MARK)
        elif name in _STRING_OPS:
            stack.append(arg if isinstance(arg, str) else _UNKNOWN)
        else:
            stack.extend(_UNKNOWN for _ in op.stack_after)
    return names


def _pop(stack: list[object], op: pickletools.OpcodeInfo) -> list[object]:
    """Pop what ``op`` consumes (its pickletools ``stack_before``), honouring MARK; return it in order."""
    before = op.stack_before
    if op.name == "POP" and stack and stack[-1] is _MARK:
        stack.pop()
        return []
    if pickletools.markobject in before:
        if _MARK not in stack:
            raise ValueError(f"{op.name} without a MARK")
        at = len(stack) - 1 - stack[::-1].index(_MARK)
        del stack[at:]
        count = before.index(pickletools.markobject)
    elif op.name in _PUT_OPS or op.name == "MEMOIZE":
        return []  # inspects the top without popping
    else:
        count = len(before)
    if len(stack) < count or any(value is _MARK for value in stack[len(stack) - count:]):
        raise ValueError(f"{op.name} on a stack that is too short")
    popped = stack[len(stack) - count:] if count else []
    del stack[len(stack) - count:]
    return popped


def _dotted(module: str, qualname: str) -> str:
    """``module.qualname``, with the Python 2 names that protocol 2 pickles use mapped as pickle does."""
    module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)
    return f"{module}.{qualname}"


def describe(ref: str) -> str:
    """A short phrase for what a pickle that imports ``ref`` holds, for the refusal message."""
    if ref.split(".", 1)[0] == "numpy":
        return f"numpy data ({ref})"
    if ref.startswith("torch.optim."):
        return f"an optimizer ({ref})"
    if ref.startswith("__torch__."):
        return f"a TorchScript module ({ref})"
    last = ref.rsplit(".", 1)[-1]
    kind = "object of class" if last[:1].isupper() else "call to"
    return f"a pickled {kind} {ref}"


def _check(names: Iterable[str], path: Path) -> None:
    """Refuse the first name outside the allowlist, as one line naming the file and what it holds."""
    for ref in names:
        if ref not in ALLOWED_GLOBALS:
            raise GroundbenchError(
                f"holds {describe(ref)}, and groundbench never runs code from a weights file; {_EXPORT_HINT}",
                path=path,
            )


def _scan_or_refuse(stream: IO[bytes], path: Path, where: str) -> None:
    """Scan one pickle of ``path`` (``where`` names it in errors) and refuse it unless it is allowed."""
    try:
        names = scan_pickle(stream)
    except UnsafePickle as exc:
        raise GroundbenchError(f"{where} {exc}, which groundbench refuses; {_EXPORT_HINT}", path=path) from None
    except (ValueError, EOFError, OSError, zipfile.BadZipFile, UnicodeDecodeError, zlib.error) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise GroundbenchError(f"corrupt or truncated torch file ({where}: {reason})", path=path) from None
    _check(names, path)


def check_torch_file(path: str | Path) -> str:
    """Statically check every pickle that ``torch.load`` would unpickle in ``path``; return its layout.

    Layouts (torch.serialization): ``"zip"`` (torch >= 1.6: ``<archive>/data.pkl`` + ``<archive>/data/N``,
    told apart by the first four bytes, as torch does) or ``"legacy"`` (``_use_new_zipfile_serialization=
    False``: five pickles in a row, then raw storage bytes). Raises a one-line GroundbenchError for an
    unsafe, corrupt or unrecognised file.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head == ZIP_MAGIC:
        _check_zip(path)
        return "zip"
    if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
        raise GroundbenchError("not a torch.save file (no zip or pickle signature)", path=path)
    if tarfile.is_tarfile(path):
        raise GroundbenchError("is in torch's pre-0.4 tar format, which groundbench does not read", path=path)
    with open(path, "rb") as handle:
        for index in range(_LEGACY_PICKLES):
            if index and not handle.peek(1)[:1]:
                break  # a plain pickle file: torch.load will reject it after our scan
            _scan_or_refuse(handle, path, f"pickle {index + 1}")
    return "legacy"


def _check_zip(path: Path) -> None:
    """Scan every ``.pkl`` member of a torch zip archive; refuse duplicate member names."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
            if len(members) != len(set(members)):
                raise GroundbenchError("corrupt torch file (duplicate zip members)", path=path)
            pickles = [m for m in members if m.endswith(".pkl")]
            if not any(m == "data.pkl" or m.endswith("/data.pkl") for m in pickles):
                raise GroundbenchError("not a torch.save file (zip archive without data.pkl)", path=path)
            if any(m.endswith("/constants.pkl") or "/code/" in m for m in members):
                raise GroundbenchError(f"holds a TorchScript module (torch.jit.save); {_EXPORT_HINT}", path=path)
            for member in pickles:
                with archive.open(member) as stream:
                    _scan_or_refuse(stream, path, member)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError, NotImplementedError,
            zlib.error) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise GroundbenchError(f"corrupt or truncated torch file ({reason})", path=path) from None

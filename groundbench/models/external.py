"""Models named by the user rather than registered here: ``package.module:ClassName`` (``--model``) or an
entry point of the group ``groundbench.models`` (a third-party package's ``pyproject.toml``:
``[project.entry-points."groundbench.models"] mynet = "mypkg.nets:MyNet"``).

Importing the named module runs the user's own code, on purpose (the same trust as ``python -m``); nothing
here unpickles. The class is built with ``cls(**kwargs)``: the user's ``--model-args`` JSON, plus each data
dimension (``num_tokens``, ``num_answers``, ``v_dim``) that the constructor accepts and the user left out.
"""
from __future__ import annotations

import importlib
import inspect
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from torch import nn

from ..errors import GroundbenchError
from ..io import read_json

ENTRY_POINT_GROUP = "groundbench.models"


def _import_target(target: str, what: str) -> object:
    """``module:attr`` -> the attribute; the working directory is importable, as with ``python -m``."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise GroundbenchError(f"{what} '{target}' is not of the form package.module:ClassName")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise GroundbenchError(f"{what} '{target}': cannot import '{module_name}' ({exc}); run from the "
                               "directory that holds it, or install it") from None
    except Exception as exc:  # the user's module raised while importing: say so in one line
        raise GroundbenchError(f"{what} '{target}': importing '{module_name}' failed: "
                               f"{type(exc).__name__}: {exc}") from None
    finally:
        if added and cwd in sys.path:
            sys.path.remove(cwd)
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise GroundbenchError(f"{what} '{target}': module '{module_name}' has no attribute '{attr}'")
        obj = getattr(obj, part)
    return obj


def _entry_point(name: str) -> str | None:
    """The ``module:attr`` of entry point ``name`` in the group ``groundbench.models``, or None."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.value
    return None


def installed_models() -> list[str]:
    """Names of the models that installed packages offer through the ``groundbench.models`` entry points."""
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def resolve_model_class(spec: str) -> type[nn.Module]:
    """The nn.Module subclass that ``spec`` names: ``module:Class`` or an installed entry point name."""
    if ":" in spec:
        target = spec
    else:
        target = _entry_point(spec)
        if target is None:
            raise GroundbenchError(f"unknown model '{spec}': not a built-in model, not 'package.module:ClassName', "
                                   f"and no installed entry point '{ENTRY_POINT_GROUP}' of that name "
                                   f"(installed: {', '.join(installed_models()) or 'none'})")
    cls = _import_target(target, "--model")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise GroundbenchError(f"--model '{spec}' names {cls!r}, not a torch.nn.Module subclass")
    return cls


def constructor_kwargs(cls: type, dims: dict, args: dict) -> dict:
    """``args`` plus every entry of ``dims`` the constructor of ``cls`` takes by name and ``args`` lacks."""
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    filled = {k: v for k, v in dims.items() if k not in args and (k in params or takes_any)}
    return {**filled, **args}


def instantiate(cls: type[nn.Module], spec: str, kwargs: dict) -> nn.Module:
    """``cls(**kwargs)``; a constructor that rejects its arguments is a one-line error naming them."""
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise GroundbenchError(f"--model '{spec}' could not be built with arguments {sorted(kwargs)}: {exc}") from None


def read_model_args(path: Path | None) -> dict:
    """The ``--model-args`` JSON object (constructor keyword arguments); {} when not given."""
    if path is None:
        return {}
    args = read_json(path, what="--model-args file")
    if not isinstance(args, dict):
        raise GroundbenchError("--model-args must hold a JSON object of constructor keyword arguments", path=path)
    return args

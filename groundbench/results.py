"""The result record: one run (or one paper-reported row) as typed, versioned JSON (schema groundbench.result/1).

A record names its benchmark, method, model and seed and maps metric names ``<split>/<name>``
(``val/accuracy``, ``test/spearman_grad``, ...) to a value with its direction, the number of questions
behind it, a bootstrap 95% interval and the number of undefined (unscored) questions. Accuracies are in %.

Values are checked against their metric's scale when a record is read (``metric_range``): accuracies in %
[0, 100] (vqaEval.py x 100); rank correlations (``spearman*``, ``occl*``) [-1, 1]; IoU, CHAIR (Rohrbach et al.
2018), CPIG (Shrestha et al. 2020) and collapse shares [0, 1]; CIDEr-D [0, 10] (pycocoevalcap's ``cider_scorer.py`` scales
by 10); BLEU-n, METEOR, ROUGE-L [0, 1]. Any other metric must be finite. An interval holds its value, except for
the corpus statistics BLEU-n and METEOR, whose interval is that of the per-image mean (``caption_report``).
Counts are integers in [0, 2**53] (exact as floats). Bounds allow float rounding (1e-9 relative).
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import GroundbenchError, show_value
from .io import read_json, write_json

SCHEMA = "groundbench.result/1"
SCHEMA_PREFIX = "groundbench.result/"
MEASURED = "measured"
DIRECTIONS = ("higher", "lower")
LOWER_IS_BETTER = frozenset({"cpig", "chair_i", "chair_s", "collapse_grad"})  # metric base names (after the split), lower is better
_METRIC_NAME = re.compile(r"^[a-z][a-z0-9_-]*/[A-Za-z0-9_.@-]+$")
_FIELDS = ("schema", "benchmark", "method", "model", "seed", "metrics", "config", "code_version", "date", "source")
_METRIC_FIELDS = ("value", "direction", "n", "ci95", "undefined")
_RANGES = (  # metric base name (after the split, before any "@<subset>") -> the scale its producer reports
    (re.compile(r"accuracy(_\w+)?"), (0.0, 100.0)),
    (re.compile(r"(spearman|occl)(_\w+)?"), (-1.0, 1.0)),
    (re.compile(r"(top_)?iou|chair_[is]|cpig|collapse_grad"), (0.0, 1.0)),
    (re.compile(r"cider(_d)?"), (0.0, 10.0)),
    (re.compile(r"bleu[1-4]?|meteor|rouge_l"), (0.0, 1.0)),
)
_CORPUS = re.compile(r"bleu[1-4]?|meteor")  # corpus statistics: their interval need not hold the value
_MAX_COUNT, _SLACK = 2**53, 1e-9
def default_direction(name: str) -> str:
    """'lower' for CPIG (Shrestha et al. 2020) and CHAIR (Rohrbach et al. 2018), 'higher' for every other
    metric; ``name`` is ``split/metric``."""
    return "lower" if name.rsplit("/", 1)[-1] in LOWER_IS_BETTER else "higher"


def _base(name: str) -> str:
    return name.split("/", 1)[-1].split("@", 1)[0]


def metric_range(name: str) -> tuple[float, float] | None:
    """(low, high) of metric ``<split>/<base>[@subset]`` (see the module docstring), None when unknown."""
    return next((bounds for pattern, bounds in _RANGES if pattern.fullmatch(_base(name))), None)


@dataclass(frozen=True)
class Metric:
    """One metric value. value None = undefined for every question; n None = not reported (paper rows)."""

    value: float | None
    direction: str = "higher"
    n: int | None = None
    ci95: tuple[float, float] | None = None
    undefined: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: all five fields, ci95 as a list."""
        return {
            "value": self.value,
            "direction": self.direction,
            "n": self.n,
            "ci95": None if self.ci95 is None else [self.ci95[0], self.ci95[1]],
            "undefined": self.undefined,
        }


@dataclass
class ResultRecord:
    """A result record; ``source`` is "measured" or a citation for rows reported in a paper."""

    benchmark: str
    method: str
    model: str
    seed: int | None
    metrics: dict[str, Metric]
    config: dict[str, Any] = field(default_factory=dict)
    code_version: str = ""
    date: str = ""
    source: str = MEASURED
    schema: str = SCHEMA

    @property
    def measured(self) -> bool:
        """True for a run measured by groundbench, False for a number reported in a paper."""
        return self.source == MEASURED

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, fields in schema order, metrics sorted by name."""
        return {
            "schema": self.schema,
            "benchmark": self.benchmark,
            "method": self.method,
            "model": self.model,
            "seed": self.seed,
            "metrics": {name: self.metrics[name].to_dict() for name in sorted(self.metrics)},
            "config": self.config,
            "code_version": self.code_version,
            "date": self.date,
            "source": self.source,
        }


def make_record(
    benchmark: str,
    method: str,
    model: str,
    seed: int | None,
    metrics: dict[str, Metric | float | None],
    config: dict[str, Any] | None = None,
    *,
    source: str = MEASURED,
    code_version: str | None = None,
    date: str | None = None,
) -> ResultRecord:
    """Build a record stamped with the code version and the current UTC date.

    Plain floats in ``metrics`` become Metric objects with :func:`default_direction` and n unknown.
    """
    if code_version is None:
        from .checkpoint import code_version as _code_version

        code_version = _code_version()
    typed = {
        name: m if isinstance(m, Metric) else Metric(value=None if m is None else float(m), direction=default_direction(name))
        for name, m in metrics.items()
    }
    record = ResultRecord(
        benchmark=benchmark,
        method=method,
        model=model,
        seed=seed,
        metrics=typed,
        config=dict(config or {}),
        code_version=code_version,
        date=date or datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        source=source,
    )
    return record_from_dict(record.to_dict(), path="<record being built>")


def _fail(path: str | Path, where: str, what: str) -> GroundbenchError:
    """A validation error naming the file and the field."""
    return GroundbenchError(f"field '{where}': {what}", path=path)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_number(x: Any) -> bool:
    """A finite int or float (not a bool); an int beyond the float range is not."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False
    try:
        return math.isfinite(x)
    except OverflowError:
        return False


def _is_count(x: Any) -> bool:
    return _is_int(x) and 0 <= x <= _MAX_COUNT


def _within(x: float, low: float, high: float) -> bool:
    """low <= x <= high up to float rounding."""
    return low - _SLACK * max(1.0, abs(low)) <= x <= high + _SLACK * max(1.0, abs(high))


def _one_line(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in text)


def _label(name: str) -> str:
    """A key as it may appear in a one-line message: as is when short and one line, else abbreviated."""
    return name if _one_line(name) and len(name) <= 80 else show_value(name)


def _text(data: dict[str, Any], name: str, path: str | Path, *, empty_ok: bool = False) -> str:
    value = data[name]
    if not isinstance(value, str) or (not empty_ok and not value.strip()) or not _one_line(value):
        raise _fail(path, name, f"expected a {'' if empty_ok else 'non-empty '}string on one line (no control "
                                f"characters), got {show_value(value)}")
    return value


def _check_scale(name: str, value: float | None, ci: tuple[float, float] | None, path: str | Path) -> None:
    """The value and its interval on the metric's scale; the interval holds the value (module docstring)."""
    bounds = metric_range(name)
    for what, x in (("value", value), *(("ci95", c) for c in ci or ())):
        if bounds is not None and x is not None and not _within(x, *bounds):
            raise _fail(path, f"metrics.{name}.{what}", f"{x!r} is outside [{bounds[0]:g}, {bounds[1]:g}], the "
                                                       f"range of this metric")
    if ci is not None and value is None:
        raise _fail(path, f"metrics.{name}.ci95", "an interval without a value (value is null)")
    if ci is not None and not _CORPUS.fullmatch(_base(name)) and not _within(value, *ci):
        raise _fail(path, f"metrics.{name}.ci95", f"[{ci[0]!r}, {ci[1]!r}] does not hold the value {value!r}")


def _metric_from_dict(name: str, raw: Any, path: str | Path) -> Metric:
    """Validate one metric entry ``{"value", "direction", "n", "ci95", "undefined"}``."""
    where = f"metrics.{_label(name)}"
    if not _METRIC_NAME.fullmatch(name):
        raise _fail(path, where, "metric names read '<split>/<name>', e.g. 'test/accuracy'")
    if not isinstance(raw, dict):
        raise _fail(path, where, f"expected a JSON object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - set(_METRIC_FIELDS))
    if unknown:
        raise _fail(path, f"{where}.{_label(unknown[0])}", "unknown field")
    for required in ("value", "direction"):
        if required not in raw:
            raise _fail(path, f"{where}.{required}", "missing")
    value = raw["value"]
    if value is not None and not _is_number(value):
        raise _fail(path, f"{where}.value", f"expected a finite number or null, got {show_value(value)}")
    direction = raw["direction"]
    if direction not in DIRECTIONS:
        raise _fail(path, f"{where}.direction", f"must be 'higher' or 'lower', got {show_value(direction)}")
    n = raw.get("n")
    if n is not None and not _is_count(n):
        raise _fail(path, f"{where}.n", f"expected a count >= 0 (at most 2**53) or null, got {show_value(n)}")
    undefined = raw.get("undefined", 0)
    if not _is_count(undefined):
        raise _fail(path, f"{where}.undefined", f"expected a count >= 0 (at most 2**53), got {show_value(undefined)}")
    ci = raw.get("ci95")
    if ci is not None:
        if not (isinstance(ci, list) and len(ci) == 2 and all(_is_number(c) for c in ci) and ci[0] <= ci[1]):
            raise _fail(path, f"{where}.ci95", f"expected [low, high] (finite, low <= high) or null, got "
                                               f"{show_value(ci)}")
        ci = (float(ci[0]), float(ci[1]))
    value = None if value is None else float(value)
    _check_scale(name, value, ci, path)
    return Metric(value=value, direction=direction, n=n, ci95=ci, undefined=undefined)


def record_from_dict(data: Any, *, path: str | Path) -> ResultRecord:
    """Validate a parsed JSON record; errors name ``path`` and the offending field."""
    if not isinstance(data, dict):
        raise GroundbenchError(f"a result record is a JSON object, got {type(data).__name__}", path=path)
    schema = data.get("schema")
    if not isinstance(schema, str) or not schema.startswith(SCHEMA_PREFIX):
        raise _fail(path, "schema", f"expected '{SCHEMA}', got {show_value(schema)}")
    if schema != SCHEMA:
        raise _fail(path, "schema", f"unsupported version {show_value(schema)}; this groundbench reads '{SCHEMA}'")
    for name in _FIELDS:
        if name not in data:
            raise _fail(path, name, "missing")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise _fail(path, _label(unknown[0]), "unknown field")
    seed = data["seed"]
    if seed is not None and not _is_int(seed):
        raise _fail(path, "seed", f"expected an integer or null, got {show_value(seed)}")
    if not isinstance(data["metrics"], dict):
        raise _fail(path, "metrics", "expected a JSON object of metric name -> metric")
    if not isinstance(data["config"], dict):
        raise _fail(path, "config", "expected a JSON object")
    date = _text(data, "date", path)
    try:
        datetime.fromisoformat(date)
    except ValueError:
        raise _fail(path, "date", f"expected an ISO 8601 date, got {show_value(date)}") from None
    return ResultRecord(
        benchmark=_text(data, "benchmark", path),
        method=_text(data, "method", path),
        model=_text(data, "model", path),
        seed=seed,
        metrics={name: _metric_from_dict(name, raw, path) for name, raw in data["metrics"].items()},
        config=data["config"],
        code_version=_text(data, "code_version", path, empty_ok=True),
        date=date,
        source=_text(data, "source", path),
        schema=schema,
    )


def save_record(path: str | Path, record: ResultRecord) -> Path:
    """Validate ``record`` and write it as JSON atomically."""
    data = record.to_dict()
    record_from_dict(data, path=path)
    return write_json(path, data)


def load_record(path: str | Path) -> ResultRecord:
    """Read and validate a record; a missing file, bad JSON or a bad field raises GroundbenchError."""
    return record_from_dict(read_json(path, what="result record"), path=path)

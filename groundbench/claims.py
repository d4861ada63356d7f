"""The HINT paper's claims, one by one, beside their measured counterparts on the synthetic worlds.

Each claim names the paper's numbers (Selvaraju et al., ICCV 2019, as transcribed in the project's
shared ``hint-paper-reported.json``: Table 1, Sec. 5-6 text), the benchmark and records that measure its
counterpart here, and how it is judged. Measured values come only from result records (the committed
``leaderboards/records/<benchmark>/*.json``) or the supervision-curve file, never typed in.

Judging, per claim kind:
* ``gain`` (B beats A on a metric): the per-seed paired differences d_s = B_s - A_s over the seeds both
  rows have; mean and a 95% t-interval over seeds (n - 1 degrees of freedom). Holds when the interval lies
  above 0, does not hold when it lies below 0, else "not shown" (the interval holds 0).
* ``no-gain`` (B does not beat A): holds unless the interval lies above 0.
* ``order`` (metric X above metric Y for one row): d_s = X_s - Y_s, judged as ``gain``.
* ``curve-gain`` (a share of maps beats no maps, one seed): the two points' own bootstrap intervals; holds
  when B's lower bound is above A's upper bound, does not hold when B's upper bound is below A's lower bound,
  else not shown.
* ``unmeasurable``: the reason it cannot be measured here.
A claim whose records are missing is "not measurable here" with the missing records named.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .io import read_json
from .metrics.stats import t_interval
from .results import load_record

PAPER = "Selvaraju et al., ICCV 2019"


@dataclass(frozen=True)
class Claim:
    """One claim. paper: (A value, B value) as printed; kind: see the module docstring."""

    key: str
    text: str
    paper: tuple[float | None, float | None]
    paper_setting: str
    kind: str
    benchmark: str = ""
    metric: str = ""
    rows: tuple[str, str] = ("updn", "hint")  # methods A, B (``order``: one method, metrics A = metric, B = other)
    other_metric: str = ""
    fraction: float = 0.0  # curve-gain: the share of train maps of point B
    reason: str = ""


CLAIMS = (
    Claim("vqacp-accuracy", "HINT raises VQA-CP test accuracy over UpDn (+7.2)", (39.49, 46.73),
          "VQA-CP v2 test, Table 1", "gain", "synth-vqacp", "test/accuracy"),
    Claim("attn-align-no-gain", "Attention Alignment does not raise VQA-CP accuracy", (39.49, 39.37),
          "VQA-CP v2 test, Table 1", "no-gain", "synth-vqacp", "test/accuracy", ("updn", "attn-align")),
    Claim("vqa-spearman", "HINT raises the rank correlation of gradient importance with human attention",
          (-0.09, 0.18), "model trained on VQA v2, VQA-HAT maps", "gain", "synth-vqacp", "test/spearman_grad"),
    Claim("occlusion", "Occlusion agrees with gradient importance more than with attention (UpDn)", (0.10, 0.48),
          "rank correlation with occlusion importance: attention 0.10, gradient 0.48", "order", "synth-vqacp",
          "test/occl_attn", ("updn", "updn"), "test/occl_grad"),
    Claim("top-iou", "HINT raises the IoU of the top attended proposal with human attention", (0.57, 0.63),
          "VQA-CP", "gain", "synth-vqacp", "test/top_iou"),
    Claim("few-maps", "Maps for 1.5% of VQA train questions give about +5 on VQA-CP", (None, 5.0),
          "VQA-CP v2 test, supervision curve", "curve-gain", "supervision-curve", "test_accuracy", fraction=0.015),
    Claim("caption-cider", "HINT raises CIDEr on the robust captioning split (+0.02)", (0.90, 0.92),
          "COCO robust split (Lu et al. 2018)", "gain", "synth-captions-robust", "test/cider"),
    Claim("caption-spearman", "HINT raises the rank correlation of gradient importance with segmentations",
          (0.008, 0.17), "COCO robust split, visual words", "gain", "synth-captions-robust", "test/spearman_grad"),
    Claim("human-trust", "People trust HINT's explanations more (49.9% vs 33.1% prefer, captioning)", (33.1, 49.9),
          "1,000 human responses", "unmeasurable", reason="needs human raters"),
)


def _records(root: Path, benchmark: str, method: str) -> dict[int, object]:
    """{seed: record} of one measured row."""
    out = {}
    for path in sorted((root / "records" / benchmark).glob(f"{method}-s*.json")):
        record = load_record(path)
        if record.method == method and record.measured and record.seed is not None:
            out[record.seed] = record
    return out


def _value(record, metric: str) -> float | None:
    entry = record.metrics.get(metric)
    return None if entry is None else entry.value


def _verdict(interval: tuple[float, float] | None, kind: str) -> str:
    if interval is None:
        return "not shown (one seed: no interval)"
    low, high = interval
    if kind == "no-gain":
        return "does not hold (B is higher)" if low > 0 else "holds"
    if low > 0:
        return "holds"
    return "does not hold (the difference is negative)" if high < 0 else "not shown (the interval holds 0)"


def _paired(claim: Claim, root: Path) -> dict:
    a_name, b_name = claim.rows
    a_rows, b_rows = _records(root, claim.benchmark, a_name), _records(root, claim.benchmark, b_name)
    metric_b = claim.other_metric or claim.metric
    seeds = sorted(s for s in set(a_rows) & set(b_rows)
                   if _value(a_rows[s], claim.metric) is not None and _value(b_rows[s], metric_b) is not None)
    if not seeds:
        missing = [f"{claim.benchmark}/{m}" for m, rows in ((a_name, a_rows), (b_name, b_rows)) if not rows]
        return {"verdict": f"not measurable here (no records: {', '.join(missing) or 'no shared seeds'})"}
    a = [_value(a_rows[s], claim.metric) for s in seeds]
    b = [_value(b_rows[s], metric_b) for s in seeds]
    mean, interval = t_interval([y - x for x, y in zip(a, b)])
    return {"a": sum(a) / len(a), "b": sum(b) / len(b), "difference": mean, "ci95": interval, "seeds": seeds,
            "verdict": _verdict(interval, claim.kind),
            "records": [f"records/{claim.benchmark}/{m}-s{s}.json" for m in dict.fromkeys(claim.rows) for s in seeds]}


def _curve(claim: Claim, root: Path) -> dict:
    path = root / "supervision-curve.json"
    if not path.is_file():
        return {"verdict": "not measurable here (no supervision-curve.json)"}
    points = sorted(read_json(path, what="supervision curve")["points"], key=lambda p: p["fraction"])
    base = next((p for p in points if p["fraction"] == 0.0), None)
    near = next((p for p in points if p["fraction"] >= claim.fraction), None)
    if base is None or near is None:
        return {"verdict": "not measurable here (the curve has no 0 or no point at this share)"}
    a, b = base[claim.metric], near[claim.metric]
    if b["ci95"][0] > a["ci95"][1]:
        verdict = "holds"
    elif b["ci95"][1] < a["ci95"][0]:
        verdict = "does not hold (fewer maps than none would be better)"
    else:
        verdict = "not shown (the two intervals overlap)"
    return {"a": a["value"], "b": b["value"], "difference": b["value"] - a["value"], "ci95": None,
            "point_ci95": [a["ci95"], b["ci95"]], "seeds": [read_json(path)["seed"]],
            "verdict": f"{verdict}; measured at {near['fraction']:.0%} of maps", "records": ["supervision-curve.json"]}


def check_claims(root: str | Path = "leaderboards") -> list[dict]:
    """Every claim with its paper numbers and measured counterpart: JSON-ready dicts (see the docstring)."""
    root = Path(root)
    out = []
    for claim in CLAIMS:
        if claim.kind == "unmeasurable":
            measured = {"verdict": f"not measurable here ({claim.reason})"}
        elif claim.kind == "curve-gain":
            measured = _curve(claim, root)
        else:
            measured = _paired(claim, root)
        out.append({"key": claim.key, "claim": claim.text, "paper": list(claim.paper), "paper_setting": claim.paper_setting,
                    "source": PAPER, "benchmark": claim.benchmark, "metric": claim.metric,
                    "other_metric": claim.other_metric or None, "rows": list(claim.rows), **measured})
    return out

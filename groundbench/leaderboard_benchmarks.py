"""The benchmarks a result record may name: what data each one is, which splits it scores, and which real
benchmark a synthetic one is the analogue of.

A benchmark is fixed by its task and the prepared store it scores (the store manifest's ``source`` and
``split_scheme``). ``groundbench submit`` uses this to refuse a record filed under the wrong benchmark or
holding a metric of an unknown split; the leaderboard uses ``analogue`` to show, below the measured rows of a
synthetic world, the paper's rows for the real setting that world imitates (reported, real-data numbers in a
block of their own, never in the same cells as measured ones and never averaged with them).

| synthetic benchmark | analogue (real data) | why |
|---|---|---|
| synth-vqacp | vqacp-v2 | the world's train / test answer priors differ per question type, as in VQA-CP v2 |
| synth-captions-robust | coco-robust | object pairs of test are unseen in train (Lu et al. 2018's robust split) |
| synth-captions-standard | coco-karpathy | train and test drawn alike, as in the Karpathy split |
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import GroundbenchError


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: ``task`` (groundbench/tasks name), the store manifest's ``source`` and ``split_scheme``,
    the ``splits`` its records score, a one-line ``title``, and for a synthetic world its real ``analogue``."""

    name: str
    task: str
    source: str
    split_scheme: str
    splits: tuple[str, ...]
    title: str
    analogue: str | None = None

    @property
    def real(self) -> bool:
        """True for a benchmark on real data (its rows are comparable with the papers' numbers)."""
        return not self.source.startswith("synthetic")


BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (
    Benchmark("synth-vqacp", "vqa", "synthetic", "cp", ("val", "test"),
              "synthetic VQA-CP-style world (answer priors change from train to test)", analogue="vqacp-v2"),
    Benchmark("vqacp-v2", "vqa", "vqa-cp-v2", "cp", ("val", "test"), "VQA-CP v2, real data (test split)"),
    Benchmark("vqa-v2", "vqa", "vqa-v2", "v2", ("val",), "VQA v2, real data (val split)"),
    Benchmark("synth-captions-robust", "captioning", "synthetic-captions", "robust", ("val", "test"),
              "synthetic captioning world, robust split (test object pairs unseen in train)",
              analogue="coco-robust"),
    Benchmark("synth-captions-standard", "captioning", "synthetic-captions", "standard", ("val", "test"),
              "synthetic captioning world, standard split", analogue="coco-karpathy"),
    Benchmark("coco-robust", "captioning", "coco", "robust", ("val", "test"),
              "COCO captioning, robust split (Lu et al. 2018), real data"),
    Benchmark("coco-karpathy", "captioning", "coco", "karpathy", ("val", "test"),
              "COCO captioning, Karpathy split, real data"),
)}

# Benchmarks that only hold numbers reported in papers (no store defines them; nothing can be submitted there).
REPORTED_ONLY: dict[str, str] = {
    "hint-paper-analyses": "the HINT paper's analyses whose dataset the transcription does not name "
                           "(occlusion faithfulness, human trust studies), real data",
}


def get_benchmark(name: str) -> Benchmark:
    """The registered benchmark ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in BENCHMARKS:
        raise GroundbenchError(f"unknown benchmark '{name}' (known: {', '.join(BENCHMARKS)})")
    return BENCHMARKS[name]


def benchmark_for_store(task: str, source: str, split_scheme: str) -> Benchmark | None:
    """The benchmark of a ``task`` store whose manifest reads ``source`` / ``split_scheme``; None if none is."""
    return next((b for b in BENCHMARKS.values()
                 if (b.task, b.source, b.split_scheme) == (task, source, split_scheme)), None)


def title(name: str) -> str:
    """A benchmark's one-line description for table captions ('' for names not registered here)."""
    if name in BENCHMARKS:
        return BENCHMARKS[name].title
    return REPORTED_ONLY.get(name, "")


def analogue(name: str) -> str | None:
    """The real benchmark whose reported rows a table of ``name`` shows beside its own (None: none)."""
    bench = BENCHMARKS.get(name)
    return None if bench is None else bench.analogue

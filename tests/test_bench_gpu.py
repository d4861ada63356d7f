"""benchmarks/gpu.py runs on CPU (--tiny) and prints one JSON line per figure."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_benchmark_runs_on_cpu_and_prints_its_figures():
    done = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--tiny", "--epochs", "1", "--device", "cpu",
                           "--precision", "fp32"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [r["name"] for r in records] == ["updn_epoch", "hint_epoch", "gradient_importance", "occlusion",
                                            "peak_memory"]
    assert all(r["device"] == "cpu" and r["size"] == "tiny" and r["precision"] == "fp32" for r in records)
    by_name = {r["name"]: r for r in records}
    assert by_name["updn_epoch"]["seconds"] > 0 and by_name["hint_epoch"]["seconds"] > 0
    assert by_name["hint_epoch"]["questions"] == round(0.06 * by_name["updn_epoch"]["train_questions"])
    for name in ("updn_epoch", "hint_epoch", "gradient_importance", "occlusion"):
        assert by_name[name]["questions_per_s"] > 0
    assert by_name["peak_memory"]["mib"] > 0

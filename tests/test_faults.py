"""Fault injection: real subprocesses killed with SIGKILL at chosen points of `data synth`, `data vqa`,
`train` and `eval --out`, then re-run or resumed; the final files must equal an uninterrupted run's, bit for
bit, and nothing half-written or stray may remain."""
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from fakes import dead_pid

GB = [sys.executable, "-c", "import sys; from groundbench.cli import main; sys.argv[0] = 'groundbench'; main()"]
IMAGES = 100


def run(*args, cwd: Path) -> None:
    done = subprocess.run(GB + [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]


def kill_when(args, cwd: Path, ready, delay: float = 0.0, timeout: float = 300) -> None:
    """Start ``groundbench ARGS``, SIGKILL it ``delay`` s after ``ready()`` first holds; it must die killed."""
    proc = subprocess.Popen(GB + [str(a) for a in args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.time() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"finished before the kill point: {args}"
            assert time.time() < end, "kill point never reached"
            time.sleep(0.002)
        time.sleep(delay)
        proc.kill()
    finally:
        proc.wait()
    assert proc.returncode == -9, f"finished before the kill: {args}"


def files(root: Path) -> dict[str, bytes]:
    """Every file below ``root`` but the incremental stamps (they hold input mtimes) and the lock note."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".stamps" not in p.parts and p.name != ".groundbench.lock"}


def epoch_of(run_dir: Path) -> int:
    try:
        return json.loads((run_dir / "last.json").read_text())["metadata"]["epoch"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


def assert_same_run(a: Path, b: Path) -> None:
    for name in ("last.safetensors", "best.safetensors"):
        x, y = load_file(str(a / name)), load_file(str(b / name))
        assert x.keys() == y.keys(), name
        differ = [k for k in x if not (x[k] == y[k]).all()]
        assert not differ, f"{name}: {len(differ)} of {len(x)} tensors differ, e.g. {differ[:3]}"
    strip = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h["history"]]  # noqa: E731
    ha, hb = (json.loads((d / "history.json").read_text()) for d in (a, b))
    assert strip(ha) == strip(hb) and ha["best_epoch"] == hb["best_epoch"]


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    run("data", "synth", "--images", IMAGES, "--out", root / "world", "--quiet", cwd=root)
    run("train", "updn", "--data", root / "world", "--epochs", 2, "--out", root / "pre", "--device", "cpu", cwd=root)
    return root


def test_killed_synth_reruns_to_the_same_world(work, tmp_path):
    out = tmp_path / "world"
    kill_when(["data", "synth", "--images", IMAGES, "--out", out, "--quiet"], tmp_path,
              lambda: any(out.glob(".raw.gbtmp-*")) if out.exists() else False, delay=0.3)
    run("data", "synth", "--images", IMAGES, "--out", out, "--quiet", cwd=tmp_path)
    assert files(out) == files(work / "world")
    assert not [p for p in out.rglob("*gbtmp*")]


def test_killed_conversion_reruns_to_the_same_store(work, tmp_path):
    out = tmp_path / "store"
    args = ["data", "vqa", "--root", work / "world" / "raw", "--out", out, "--split", "cp"]
    kill_when(args, tmp_path, lambda: (out / ".stamps" / "records.json").exists(), delay=0.05)
    assert not (out / "manifest.json").exists()
    run(*args, cwd=tmp_path)
    reference = tmp_path / "reference"
    run("data", "vqa", "--root", work / "world" / "raw", "--out", reference, "--split", "cp", cwd=tmp_path)
    assert files(out) == files(reference)


@pytest.mark.parametrize("method, kills", [("updn", [(1, 0.0)]), ("hint", [(1, 0.2)]),
                                           ("hint-random", [(1, 0.0), (2, 0.1)])])
def test_killed_training_resumes_bit_identically(work, tmp_path, method, kills):
    epochs = 10  # room for the kill points even when an epoch takes only a tenth of a second
    args = ["train", method, "--data", work / "world", "--epochs", epochs, "--device", "cpu"]
    if method != "updn":
        args += ["--init", work / "pre"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run(*args, "--out", straight, cwd=tmp_path)
    for number, (after_epoch, delay) in enumerate(kills):
        extra = ["--resume"] if number else []
        target = max(after_epoch, epoch_of(killed) + 1)  # a resumed run is killed after a new epoch of its own
        kill_when(args + ["--out", killed] + extra, tmp_path, lambda: epoch_of(killed) >= target, delay)
        assert epoch_of(killed) < epochs
    run(*args, "--out", killed, "--resume", cwd=tmp_path)
    assert_same_run(straight, killed)
    done = subprocess.run(GB + [str(a) for a in args + ["--out", killed, "--resume"]], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0 and f"already finished all {epochs} epochs" in done.stdout


def test_killed_eval_leaves_no_report_and_its_litter_is_removed(work, tmp_path):
    report = tmp_path / "rep.json"
    args = ["eval", "--checkpoint", work / "pre", "--split", "test", "--out", report, "--device", "cpu"]
    kill_when(args, tmp_path, lambda: True, delay=1.0)
    assert not report.exists()
    litter = tmp_path / f".rep.json.gbtmp-{dead_pid()}-abc.tmp"  # what a kill inside the final write leaves
    litter.write_text("")
    foreign = tmp_path / ".rep.json.mine.tmp"
    foreign.write_text("not groundbench's")
    run(*args, cwd=tmp_path)
    assert json.loads(report.read_text())["splits"]["test"]["accuracy"]["n"] > 0
    assert not litter.exists() and foreign.exists()


def test_two_trainings_into_one_run_directory_are_refused(work, tmp_path):
    out = tmp_path / "run"
    args = ["train", "updn", "--data", work / "world", "--epochs", 50, "--device", "cpu", "--out", out]
    first = subprocess.Popen(GB + [str(a) for a in args], cwd=tmp_path, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        while not (out / ".groundbench.lock").exists() or not (out / ".groundbench.lock").read_text():
            assert first.poll() is None
            time.sleep(0.01)
        second = subprocess.run(GB + [str(a) for a in args], cwd=tmp_path, capture_output=True, text=True)
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2
    assert "another groundbench process is writing here" in second.stderr and f"pid {first.pid}" in second.stderr
    # the kernel dropped the dead holder's lock: the run can be resumed or restarted at once
    run("train", "updn", "--data", work / "world", "--epochs", 1, "--device", "cpu", "--out", tmp_path / "run2",
        cwd=tmp_path)
    again = subprocess.run(GB + [str(a) for a in args[:-1] + [out]] + ["--epochs", "1"], cwd=tmp_path,
                           capture_output=True, text=True)
    assert "another groundbench process" not in again.stderr

"""Large worlds (issue 13): float16 features written straight into the store (no TSV), read lazily and cast
per batch; ``data synth --scale / --dtype`` end to end and its option errors; the scaling benchmark's --small run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from groundbench.data.dataset import collate
from groundbench.data.feature_npy import NpyFeatureWriter, link_feature_store
from groundbench.data.store import VQAStore
from groundbench.data.synthetic import WorldParams, build_world, default_world_dir, world_is_built
from groundbench.errors import GroundbenchError

from test_cli import fails_cleanly, invoke

ROOT = Path(__file__).resolve().parents[1]
PARAMS = WorldParams(n_images=40, feature_dim=24)


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> tuple[Path, Path]:
    """The same world twice: float32 through the TSV (the default path) and float16 through the npy writer."""
    root = tmp_path_factory.mktemp("scaling")
    return (build_world(root / "f32", PARAMS, progress=False),
            build_world(root / "f16", PARAMS, progress=False, feature_dtype="float16"))


def test_float16_store_holds_float16_of_the_float32_features(worlds):
    f32, f16 = (VQAStore.open(w) for w in worlds)
    assert not list((worlds[1] / "raw").rglob("*.tsv")) and (worlds[1] / "raw" / "features").is_dir()
    a, b = f32.features, f16.features
    assert b.array("features").dtype == np.float16 and a.array("features").dtype == np.float32
    rows = [b.row_of[int(i)] for i in a.image_ids]
    assert np.array_equal(b.array("features")[rows], a.array("features").astype(np.float16))
    assert np.array_equal(b.array("boxes")[rows], a.array("boxes"))
    assert np.array_equal(b.num_boxes[rows], a.num_boxes) and np.array_equal(b.image_size[rows], a.image_size)
    for split in f32.splits:  # everything else the store holds is the same world's
        assert f16.records(split) == f32.records(split)
        h32, h16 = f32.human(split), f16.human(split)
        assert np.array_equal(h16.importance, h32.importance) and np.array_equal(h16.hat_mask, h32.hat_mask)
    assert f16.manifest["feature_dim"] == 24 and f16.manifest["splits"] == f32.manifest["splits"]
    # the store's features are links to (or copies of) the raw npy arrays: one file on disk when linked
    assert (worlds[1] / "features" / "features.npy").read_bytes() == (worlds[1] / "raw/features/features.npy").read_bytes()


def test_float16_features_are_read_per_item_and_cast_per_batch(worlds):
    dataset = VQAStore.open(worlds[1]).dataset("train")
    items = [dataset[i] for i in range(4)]
    assert items[0]["v"].dtype == np.float16
    batch = collate(items)
    assert batch.v.dtype == torch.float32
    assert torch.equal(batch.v, torch.as_tensor(np.stack([item["v"] for item in items])).float())


def test_the_feature_layout_is_part_of_the_world_stamp(worlds, tmp_path):
    raw16 = worlds[1] / "raw"
    assert world_is_built(raw16, PARAMS, "float16") and not world_is_built(raw16, PARAMS)
    assert world_is_built(worlds[0] / "raw", PARAMS) and not world_is_built(worlds[0] / "raw", PARAMS, "float16")
    assert "features" not in json.loads((worlds[0] / "raw" / "world.json").read_text())
    assert default_world_dir(tmp_path, PARAMS, "float16").name == default_world_dir(tmp_path, PARAMS).name + "-npy-float16"
    assert default_world_dir(tmp_path) == default_world_dir(tmp_path, WorldParams())


def test_npy_writer_refuses_a_short_or_misshapen_write_and_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="1 of 2 images"):
        with NpyFeatureWriter(tmp_path / "f", 2, 4, 8) as writer:
            writer.add(7, 10, 10, np.zeros((3, 4), np.float32), np.ones((3, 8), np.float32))
    with pytest.raises(ValueError, match="do not fit"):
        with NpyFeatureWriter(tmp_path / "f", 2, 4, 8) as writer:
            writer.add(7, 10, 10, np.zeros((5, 4), np.float32), np.ones((5, 8), np.float32))
    assert not list((tmp_path / "f").iterdir())
    with pytest.raises(GroundbenchError, match="unknown feature dtype"):
        NpyFeatureWriter(tmp_path / "g", 1, 4, 8, "float64")


def test_linking_a_feature_store_that_lacks_an_image_is_an_error(worlds, tmp_path):
    with pytest.raises(GroundbenchError, match="image 999999 has no features"):
        link_feature_store(worlds[1] / "raw" / "features", tmp_path / "out", [999999])


def test_synth_scale_world_trains_one_epoch_through_the_cli(tmp_path):
    world = tmp_path / "world"
    result = invoke("data", "synth", "--scale", "vqacp", "--images", 30, "--feature-dim", 16, "--out", world, "--quiet")
    assert result.exit_code == 0, result.output
    assert "float16 features" in result.output
    stamp = json.loads((world / "raw" / "world.json").read_text())
    assert stamp["features"] == {"format": "npy", "dtype": "float16"} and stamp["params"]["n_images"] == 30
    assert np.load(world / "features" / "features.npy", mmap_mode="r").dtype == np.float16
    result = invoke("train", "updn", "--data", world, "--epochs", 1, "--out", tmp_path / "run", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "run" / "history.json").read_text())["history"][0]["epoch"] == 1


@pytest.mark.parametrize("args, needle", [
    (("--dtype", "float64"), "--dtype"),
    (("--scale", "huge"), "--scale"),
    (("--images", 0, "--dtype", "float16"), "n_images"),
    (("--images", 5, "--questions-per-image", -1), "questions-per-image"),
    (("--images", "many"), "--images"),
])
def test_bad_synth_options_fail_in_one_line(tmp_path, args, needle):
    fails_cleanly(invoke("data", "synth", *args, "--out", tmp_path / "w", "--quiet"), needle)
    assert not (tmp_path / "w").exists()


def test_scaling_benchmark_small_runs_and_memory_stays_flat():
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_scaling", "--small"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [r["name"] for r in records] == ["scaling_100", "scaling_200", "scaling_400", "scaling"]
    for record in records[:-1]:
        assert record["prepare_s"] > 0 and record["train_questions_per_s"] > 0 and record["eval_questions_per_s"] > 0
        assert record["feature_dtype"] == "float16" and record["timed_questions"] >= 256
    summary = records[-1]
    assert summary["train_memory_flat"] >= 0.8, summary  # peak RssAnon at 4x the images: within 25%
    assert summary["peak_rss_anon_mb"] < 4096

"""oracle-attention, the reference (ceiling) row: Eq. 1 on the exact masks of the relevant objects, by hand; the
model's attention is that importance normalised; train + eval end to end on a tiny synthetic world; a store
without the oracle is a one-line error; the leaderboard shows the row apart and never ranks it."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from groundbench.data.oracle_importance import union_importance
from groundbench.data.store import VQAStore
from groundbench.data.synthetic import WorldParams, build_world
from groundbench.data.synthetic.render import object_masks
from groundbench.data.synthetic.scenes import Scene
from groundbench.importance.gradient import gradient_importance
from groundbench.importance.occlusion import occlusion_importance, occlusion_importance_loop
from groundbench.leaderboard import aggregate, table_to_dict
from groundbench.leaderboard_render import blocks, render
from groundbench.models.oracle_attention import oracle_attention
from groundbench.results import make_record
from groundbench.tasks.vqa import VQATask

from fakes import make_batch, tiny_model
from test_cli import fails_cleanly, invoke


# --- Eq. 1 on the union mask, by hand -----------------------------------------------------------------------
def test_oracle_importance_of_a_hand_made_scene_is_eq1_by_hand():
    masks = np.zeros((2, 4, 4), dtype=bool)
    masks[0, 0, 0:2] = True  # object 0: row 0, columns 0-1 (2 pixels)
    masks[1, 3, 3] = True  # object 1: the bottom-right pixel
    boxes = np.array([[0, 0, 2, 1], [2, 2, 4, 4], [0, 0, 4, 4], [1, 1, 2, 2], [0, 0, 4, 4]], dtype=np.float32)
    got = union_importance(masks, [[0, 1], [0], []], boxes, num_boxes=4)
    # union {0, 1}, mass 3 on 16 pixels. Box 0 (area 2): E_in = 2/2, E_out = 1/14 -> 14/15. Box 1 (area 4):
    # E_in = 1/4, E_out = 2/12 -> 3/5. Box 2 is the whole image -> 1. Box 3 holds none -> 0. Box 4 is padding -> 0.
    assert got[0] == pytest.approx([14 / 15, 3 / 5, 1.0, 0.0, 0.0], abs=1e-6)
    # object 0 alone: box 0 holds all of it (E_out = 0) -> 1; box 1 none of it -> 0
    assert got[1] == pytest.approx([1.0, 0.0, 1.0, 0.0, 0.0], abs=1e-6)
    assert not got[2].any()  # no relevant object: an empty map, a zero row


def test_oracle_importance_of_a_rendered_scene_matches_a_pixel_loop():
    scene = Scene.from_dict({"image_id": 1, "width": 24, "height": 20, "objects": [
        {"index": 0, "shape": "square", "color": "red", "size": "large", "x": 6.0, "y": 6.0, "radius": 4.0},
        {"index": 1, "shape": "circle", "color": "blue", "size": "small", "x": 17.0, "y": 13.0, "radius": 3.0}]})
    masks = object_masks(scene)
    boxes = np.array([[2, 2, 11, 11], [13, 9, 22, 18], [0, 0, 12, 20], [5, 10, 20, 19]], dtype=np.float32)
    got = union_importance(masks, [[0, 1]], boxes, num_boxes=4)[0]
    union = masks[0] | masks[1]
    for k, (x1, y1, x2, y2) in enumerate(boxes.astype(int)):
        inside = np.zeros_like(union)
        inside[y1:y2, x1:x2] = True
        e_in = (union & inside).sum() / inside.sum()
        e_out = (union & ~inside).sum() / (~inside).sum()
        assert got[k] == pytest.approx(e_in / (e_in + e_out), abs=1e-6), k


# --- the model ----------------------------------------------------------------------------------------------
def _oracle_batch():
    batch = make_batch()
    oracle = torch.rand(batch.mask.shape, generator=torch.Generator().manual_seed(3))
    oracle[1] = 0.0  # no relevant region: uniform attention
    batch.oracle = oracle * batch.mask
    return batch


def test_model_attention_is_the_normalised_oracle_importance():
    model = tiny_model("updn-oracle").eval()
    assert not any("attention" in name for name, _ in model.named_parameters())  # nothing of it is learned
    batch = _oracle_batch()
    out = VQATask().forward(model, batch)
    mask = batch.mask.float()
    expected = batch.oracle / batch.oracle.sum(1, keepdim=True).clamp_min(1e-12)
    expected[1] = mask[1] / mask[1].sum()
    assert torch.allclose(out.attention, expected, atol=1e-6)
    assert torch.allclose(out.attention.sum(1), torch.ones(len(batch)))
    assert out.attention[0, -1] == 0  # a padded proposal
    other = VQATask().forward(model, replace(batch, oracle=batch.oracle.flip(1) * batch.mask))
    assert not torch.allclose(other.logits, out.logits)  # the oracle steers the answer
    assert torch.equal(oracle_attention(torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.bool)), torch.zeros(1, 3))


def test_gradient_and_occlusion_importance_are_defined_on_it():
    model = tiny_model("updn-oracle").eval()
    batch = _oracle_batch()
    alpha = gradient_importance(model, batch)
    assert alpha.shape == batch.mask.shape and alpha.abs().sum() > 0
    split = occlusion_importance(model, batch, chunk_size=5)
    assert torch.allclose(split, occlusion_importance_loop(model, batch), atol=1e-5)


def test_a_batch_without_the_oracle_is_a_clear_error():
    from groundbench.errors import GroundbenchError

    with pytest.raises(GroundbenchError, match="'oracle'"):
        VQATask().forward(tiny_model("updn-oracle"), replace(make_batch(), oracle=None))


# --- end to end on a tiny world -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("oracle") / "world", WorldParams(n_images=60), progress=False)


def test_train_and_eval_end_to_end_and_the_cached_arrays(store, tmp_path):
    run = tmp_path / "run"
    result = invoke("train", "oracle-attention", "--data", store, "--epochs", 2, "--out", run, "--device", "cpu")
    assert result.exit_code == 0, result.output
    meta = json.loads((run / "best.json").read_text())["metadata"]
    assert meta["method"]["name"] == "oracle-attention" and meta["model"]["name"] == "updn-oracle"
    report = tmp_path / "report.json"
    result = invoke("eval", "--checkpoint", run / "best.safetensors", "--out", report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    test = json.loads(report.read_text())["splits"]["test"]
    assert test["accuracy"]["n"] > 0 and test["spearman_attn"]["value"] is not None
    assert test["spearman_grad"]["n"] > 0  # gradient importance is defined
    # the cached arrays: one row per question of every split, stamped, equal to Eq. 1 on the union masks
    opened = VQAStore.open(store)
    stamp = json.loads((store / ".stamps" / "oracle.json").read_text())
    assert sorted(stamp["files"]) == ["oracle_test.npy", "oracle_train.npy", "oracle_val.npy"]
    scenes = {s["image_id"]: Scene.from_dict(s) for s in json.loads((store / "raw" / "scenes.json").read_text())}
    relevant = json.loads((store / "raw" / "relevant_objects.json").read_text())
    features = opened.features
    for split in opened.splits:
        array = np.load(store / f"oracle_{split}.npy")
        records = opened.records(split)
        assert array.shape == (len(records), features.k_max)
        for i in range(0, len(records), max(1, len(records) // 5)):
            r = records[i]
            row = features.row_of[r["image_id"]]
            want = union_importance(object_masks(scenes[r["image_id"]]), [relevant[str(r["question_id"])]],
                                    np.asarray(features.array("boxes")[row]), int(features.num_boxes[row]))[0]
            assert np.array_equal(array[i], want), (split, r["question_id"])
    # the attention metrics read that fixed attention: it ranks like the (noisy) human maps of the same objects
    assert test["spearman_attn"]["value"] > 0.3


def test_a_store_without_oracle_importance_fails_in_one_line(store, tmp_path):
    real = tmp_path / "store"  # a store prepared elsewhere than its raw files, as real data is
    shutil.copytree(store, real, ignore=lambda folder, names: ["raw"] if folder == str(store) else [])
    line = fails_cleanly(invoke("train", "oracle-attention", "--data", real, "--epochs", 1, "--out",
                                tmp_path / "run", "--device", "cpu"), "no oracle importance", str(real))
    assert "raw/scenes.json" in line


# --- the leaderboard ----------------------------------------------------------------------------------------
def test_leaderboard_shows_the_reference_row_apart_and_never_bold():
    date = "2025-01-01T00:00:00+00:00"
    records = [(f"{method}.json", make_record("synth-vqacp", method, "updn", 0, {"test/accuracy": acc},
                                              code_version="0", date=date))
               for method, acc in (("updn", 40.0), ("hint", 42.0), ("oracle-attention", 90.0))]
    table = aggregate(records)[0]
    assert [b.kind for b in blocks(table)] == ["measured", "reference"]
    best = table_to_dict(table)
    assert [r["best"] for r in best["rows"]] == [[], ["test/accuracy"], []]  # hint is best, not the ceiling
    assert best["rows"][2]["reference"] == "reference: attention = human importance"
    assert "reference" not in best["rows"][0]
    text = render([table], "markdown")
    assert "| oracle-attention (reference: attention = human importance) |" in text
    assert "**42.00**" in text and "**90.00**" not in text
    assert text.index("Reference rows") > text.index("| hint")
    page = render([table], "html")
    assert '<tbody class="reference">' in page and "tbody.reference tr.row{" in page
    assert "synth-vqacp,reference,synth-vqacp,oracle-attention," in render([table], "csv")

"""Real-format COCO captioning through the command line, as a user with the official files runs it:
``data captioning`` -> ``train updn`` -> ``train hint --init`` -> ``eval --checkpoint``, on a tiny root in the
official layouts (captions, instances with polygons / RLE / crowd regions, robust and Karpathy splits, TSV)."""
import json

import pytest

from caption_fixtures import write_coco_root
from test_captioning_cli import invoke, requires_java

SMALL = {"word_dim": 8, "num_hid": 16, "att_hid": 8}  # a CPU-second captioner; real data defaults to the reference sizes


def recipe(tmp_path, method, split):
    """A recipe (baselines/ format) with a small model and one epoch."""
    path = tmp_path / f"{method}-{split}.json"
    path.write_text(json.dumps({"method": method, "task": "captioning", "split": split, "model_config": SMALL,
                                "method_config": {"epochs": 1, "batch_size": 4}}))
    return path


@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    raw = write_coco_root(root / "raw")
    return root, raw


def _data(root, raw, split):
    out = root / f"store-{split}"
    result = invoke("data", "captioning", "--root", raw, "--out", out, "--split", split, "--min-count", 0,
                    "--mask-fraction", 1, "--quiet")
    assert result.exit_code == 0, result.output
    return out, result.output


@requires_java
def test_data_train_updn_train_hint_eval_on_the_official_files(coco, tmp_path):
    root, raw = coco
    store, output = _data(root, raw, "robust")
    assert "images: train 3, val 1, test 2" in output and "split file: split_robust_coco.json" in output
    updn, hint = tmp_path / "updn", tmp_path / "hint"
    result = invoke("train", "updn", "--task", "captioning", "--split", "robust", "--data", store,
                    "--config", recipe(tmp_path, "updn", "robust"), "--out", updn, "--device", "cpu")
    assert result.exit_code == 0, result.output
    result = invoke("train", "hint", "--task", "captioning", "--split", "robust", "--data", store, "--init", updn,
                    "--config", recipe(tmp_path, "hint", "robust"), "--out", hint, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "rank" in result.output  # the grounding term ran on the masked train images
    meta = json.loads((hint / "best.json").read_text())["metadata"]
    assert meta["model"]["config"]["num_hid"] == 16 and meta["data"]["path"] == str(store)
    report = tmp_path / "report.json"
    result = invoke("eval", "--checkpoint", hint, "--out", report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    splits = json.loads(report.read_text())["splits"]
    for split, images, rows in (("val", 1, 2), ("test", 2, 2)):  # val 13: dog, traffic light; test 22: dog, person
        metrics = splits[split]
        assert metrics["cider"]["n"] == images
        for name in ("bleu4", "meteor", "rouge_l", "chair_s"):
            assert name in metrics
        assert metrics["spearman_grad"]["n"] == rows, metrics["spearman_grad"]
        assert -1 <= metrics["spearman_grad"]["value"] <= 1
        assert 0 <= metrics["top_iou"]["value"] <= 1


def test_karpathy_split_trains_from_the_same_root(coco, tmp_path):
    root, raw = coco
    store, output = _data(root, raw, "karpathy")
    assert "images: train 3, val 1, test 2" in output  # 11 train + 12 restval + 15 train; 21 val; 13, 22 test
    result = invoke("train", "updn", "--task", "captioning", "--split", "karpathy", "--data", store,
                    "--config", recipe(tmp_path, "updn", "karpathy"), "--out", tmp_path / "run", "--device", "cpu")
    assert result.exit_code == 0, result.output
    result = invoke("train", "updn", "--task", "captioning", "--split", "robust", "--data", store,
                    "--out", tmp_path / "wrong", "--device", "cpu")
    assert result.exit_code == 2 and "split scheme 'karpathy'" in result.output

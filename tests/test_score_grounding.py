"""``groundbench score grounding``: Spearman / top-proposal IoU of an importance .npz against a store's human maps,
checked against scipy and a numpy rasterisation on tiny VQA and caption stores; bad archives are one line."""
import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from test_cli import fails_cleanly, invoke
from groundbench.data.caption_prepare import prepare_captioning
from groundbench.data.caption_store import CaptionStore
from groundbench.data.prepare import prepare_vqa
from groundbench.data.store import VQAStore

from caption_fixtures import write_coco_root
from vqa_fixtures import VAL_FRACTION, write_raw_root




@pytest.fixture(scope="module")
def vqa_store(tmp_path_factory):
    """VQA-CP layout: 8 test images, 3 questions each, a human map on the first; 2..6 proposals per image."""
    base = tmp_path_factory.mktemp("vqa")
    write_raw_root(base / "raw", "cp", n_train=3, n_test=8, k=6, adaptive=True)
    return VQAStore.open(prepare_vqa(base / "raw", base / "out", min_answer_count=1, val_fraction=VAL_FRACTION,
                                     progress=False))


def human_rows(store, split="test"):
    """(question ids [M], human importance [M, K], number of real proposals [M], hat masks, boxes, sizes)."""
    human = store.human(split)
    image_of = {r["question_id"]: r["image_id"] for r in store.records(split)}
    rows = [store.features.row_of[image_of[q]] for q in human.question_ids.tolist()]
    f = store.features
    return (human.question_ids, human.importance.astype(np.float64), f.num_boxes[rows], human.hat_mask,
            np.asarray(f.array("boxes"))[rows], f.image_size[rows])


def expected_spearman(importance, human, n_boxes):
    """scipy's Spearman per row over the real proposals; the mean and count of the defined ones."""
    rho = np.array([spearmanr(a[:n], b[:n]).statistic for a, b, n in zip(importance, human, n_boxes)])
    return float(np.nanmean(rho)), int(np.isfinite(rho).sum())


def expected_iou(importance, n_boxes, hat, boxes, sizes):
    """Mean IoU of the top real proposal's grid cells (cell centres inside the box) with the human grid mask."""
    values = []
    for scores, n, mask, box, (w, h) in zip(importance, n_boxes, hat, boxes, sizes):
        x1, y1, x2, y2 = box[int(np.argmax(scores[:n]))]
        centres = (np.arange(mask.shape[0]) + 0.5) / mask.shape[0]
        cells = ((centres >= y1 / h) & (centres < y2 / h))[:, None] & ((centres >= x1 / w) & (centres < x2 / w))[None]
        values.append((cells & mask).sum() / (cells | mask).sum())
    return float(np.mean(values))


def score(tmp_path, store, arrays, *extra):
    np.savez(tmp_path / "imp.npz", **arrays)
    out = tmp_path / "report.json"
    result = invoke("score", "grounding", "--data", store.root, "--importance", tmp_path / "imp.npz", "--out", out,
                    *extra)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


def test_the_human_importance_itself_and_its_negation(tmp_path, vqa_store):
    qids, human, n_boxes, *_ = human_rows(vqa_store)
    assert len(qids) == 8 and len(set(n_boxes.tolist())) > 1  # padded proposals are exercised
    report, output = score(tmp_path, vqa_store, {"question_id": qids, "importance": human})
    rho = report["splits"]["test"]["spearman"]
    _, defined = expected_spearman(human, human, n_boxes)
    assert rho["value"] == pytest.approx(1.0) and rho["n"] == defined and rho["direction"] == "higher"
    assert rho["undefined"] == 8 - defined and rho["ci95"] == pytest.approx([1.0, 1.0])
    # box 0 of every fixture image is the top-left quarter, exactly where every fixture map is bright
    assert report["splits"]["test"]["top_iou"]["value"] == pytest.approx(1.0)
    assert (report["rows"], report["rows_with_human_map"], report["human_maps_without_importance"]) == (8, 8, 0)
    assert report["task"] == "vqa" and "| spearman" in output and "| top_iou" in output
    report, _ = score(tmp_path, vqa_store, {"question_id": qids, "importance": -human})
    assert report["splits"]["test"]["spearman"]["value"] == pytest.approx(-1.0)


def test_random_importance_against_scipy_and_numpy(tmp_path, vqa_store):
    qids, human, n_boxes, hat, boxes, sizes = human_rows(vqa_store)
    importance = np.random.default_rng(3).normal(size=human.shape)
    no_map = [r["question_id"] for r in vqa_store.records("test") if r["question_id"] not in set(qids.tolist())]
    # two rows without a human map (counted, not scored); the last map question left out of the file
    ids = np.concatenate([qids[:-1], no_map[:2]]).astype(np.int64)
    extra = np.random.default_rng(4).normal(size=(2, human.shape[1]))
    report, _ = score(tmp_path, vqa_store, {"question_id": ids, "importance": np.concatenate([importance[:-1], extra])})
    value, n = expected_spearman(importance[:-1], human[:-1], n_boxes[:-1])
    rho = report["splits"]["test"]["spearman"]
    assert rho["value"] == pytest.approx(value, abs=1e-12) and rho["n"] == n
    iou = report["splits"]["test"]["top_iou"]
    assert iou["value"] == pytest.approx(expected_iou(importance[:-1], n_boxes[:-1], hat[:-1], boxes[:-1], sizes[:-1]))
    assert iou["ci95"][0] <= iou["value"] <= iou["ci95"][1]
    assert (report["rows"], report["rows_with_human_map"], report["rows_without_human_map"],
            report["human_maps_without_importance"]) == (9, 7, 2, 1)


def run(tmp_path, store, arrays=None, *extra, path=None):
    if arrays is not None:
        np.savez(tmp_path / "bad.npz", **arrays)
    out = tmp_path / "failed-report.json"
    result = invoke("score", "grounding", "--data", store.root, "--importance", path or tmp_path / "bad.npz",
                    "--out", out, *extra)
    assert not out.exists()
    return result


def test_bad_archives(tmp_path, vqa_store):
    qids, human, *_ = human_rows(vqa_store)
    k = human.shape[1]
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": qids}), "bad.npz", "missing array(s) importance")
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": qids, "importance": human[:, :-1]}), "bad.npz",
                  f"[8, {k - 1}]", f"[N, {k}]")
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": qids[:-1], "importance": human}), "bad.npz",
                  "'question_id' has shape [7]")
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": qids.astype(float), "importance": human}), "bad.npz",
                  "must hold integers")
    nan = human.copy()
    nan[[2, 5], 0] = np.nan
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": qids, "importance": nan}), "bad.npz", "NaN or infinite",
                  f"2: {qids[2]}, {qids[5]}")
    twice = qids.copy()
    twice[1] = twice[0]
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": twice, "importance": human}), "bad.npz",
                  "more than once", f"1: {qids[0]}")
    unknown = qids.copy()
    unknown[[0, 3]] = [999999, 888888]
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": unknown, "importance": human}), "bad.npz",
                  "not in split 'test'", "2: 888888, 999999")
    train = [r["question_id"] for r in vqa_store.records("train")][:3]
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": np.array(train), "importance": human[:3]}), "bad.npz",
                  "not in split 'test'", f"3: {min(train)}")
    no_map = [r["question_id"] for r in vqa_store.records("test") if r["question_id"] not in set(qids.tolist())]
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": np.array(no_map[:8]), "importance": human}), "bad.npz",
                  "none of the 8 rows has a human map", "8 have one")
    fails_cleanly(run(tmp_path, vqa_store, {"question_id": qids, "importance": human}, "--split", "dev"),
                  "no split 'dev'")


def test_unreadable_archives_are_never_unpickled(tmp_path, vqa_store):
    qids, human, *_ = human_rows(vqa_store)
    pickled = {"question_id": np.array(qids.tolist(), dtype=object), "importance": human}
    fails_cleanly(run(tmp_path, vqa_store, pickled), "bad.npz", "unreadable array")
    np.save(tmp_path / "single.npy", human)
    fails_cleanly(run(tmp_path, vqa_store, path=tmp_path / "single.npy"), "single.npy", "got a single array")
    (tmp_path / "text.npz").write_text("question_id,importance\n", encoding="utf-8")
    fails_cleanly(run(tmp_path, vqa_store, path=tmp_path / "text.npz"), "text.npz", "not a readable .npz")
    fails_cleanly(run(tmp_path, vqa_store, path=tmp_path / "absent.npz"), "absent.npz", "not found")


@pytest.fixture(scope="module")
def caption_store(tmp_path_factory):
    base = tmp_path_factory.mktemp("coco")
    return CaptionStore.open(prepare_captioning(write_coco_root(base / "raw"), base / "out", progress=False,
                                                min_count=0))


def test_caption_store_rows_by_image_and_category(tmp_path, caption_store):
    human = caption_store.human("test")
    assert len(human.image_ids) >= 2
    names = np.array([caption_store.categories[c] for c in human.category])
    for category in (human.category, names):  # indices into categories.json, or the names
        report, _ = score(tmp_path, caption_store, {"image_id": human.image_ids, "category": category,
                                                    "importance": human.importance})
        assert report["task"] == "captioning"
        assert report["splits"]["test"]["spearman"]["value"] == pytest.approx(1.0)
    importance = np.random.default_rng(0).normal(size=human.importance.shape)
    report, _ = score(tmp_path, caption_store, {"image_id": human.image_ids, "category": names,
                                                "importance": importance})
    f = caption_store.features
    n_boxes = f.num_boxes[[f.row_of[i] for i in human.image_ids.tolist()]]
    value, n = expected_spearman(importance, human.importance, n_boxes)
    assert report["splits"]["test"]["spearman"]["value"] == pytest.approx(value) and \
        report["splits"]["test"]["spearman"]["n"] == n
    unicorn = {"image_id": human.image_ids, "category": np.array(["unicorn"] * len(names)), "importance": importance}
    fails_cleanly(run(tmp_path, caption_store, unicorn), "bad.npz", "'unicorn'")
    twice = {"image_id": human.image_ids[[0, 0]], "category": human.category[[0, 0]], "importance": importance[:2]}
    fails_cleanly(run(tmp_path, caption_store, twice), "bad.npz", "more than once")

"""Pictures: the importance overlay against hand-computed sums, ``groundbench explain`` (VQA and captioning, one
and two checkpoints, its one-line errors) and ``groundbench plot`` (bars from records, the curve from its JSON)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from groundbench.data.synthetic import WorldParams
from groundbench.data.synthetic_captions import CaptionWorldParams
from groundbench.experiment import RunSpec, train_run
from groundbench.figures.draw import DPI, PANEL_INCHES
from groundbench.figures.images import coco_names, find_image_file, load_image, render_from_scenes, synthetic_raw_dir
from groundbench.figures.overlay import box_sum_map, grid_to_image, importance_map, shift_to_zero, top_box
from groundbench.loading import load_any_model
from groundbench.results import Metric, make_record, save_record
from groundbench.tasks import get_task

from test_cli import fails_cleanly, invoke


def _quiet(_line: str) -> None:
    pass


def _tiny_runs(root, task_name: str, split: str, params: dict, methods: tuple[str, ...]):
    """A tiny synthetic world of ``task_name`` and 1-epoch runs of ``methods`` (the first pretrains, the others
    fine-tune it): (store, cache, {method: run directory})."""
    cache = root / "cache"
    store, ref = get_task(task_name).synthetic(cache, _quiet, params, split)
    runs, init = {}, None
    for method in methods:
        best = train_run(RunSpec(method, task_name, split, root / method, init=init,
                                 method_overrides={"epochs": 1}), store, ref, _quiet)
        runs[method] = root / method
        init = init or best
    return store, cache, runs


@pytest.fixture(scope="module")
def vqa(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain-vqa")
    return _tiny_runs(root, "vqa", "cp", {**WorldParams().to_dict(), "n_images": 60}, ("updn", "hint"))


@pytest.fixture(scope="module")
def cap(tmp_path_factory):
    root = tmp_path_factory.mktemp("explain-cap")
    return _tiny_runs(root, "captioning", "robust", {**CaptionWorldParams().to_dict(), "n_images": 40}, ("updn",))


def _test_question(store) -> int:
    """A test question with a human map."""
    return int(store.human("test").question_ids[0])


# -- the overlay ---------------------------------------------------------------------------------------------
def test_box_sums_match_a_hand_computed_case():
    boxes = np.array([[0, 0, 4, 4], [2, 2, 6, 5], [1, 1, 3, 3]], dtype=np.float32)  # (x1, y1, x2, y2)
    heat = box_sum_map(boxes, np.array([1.0, 2.0, 9.0]), height=8, width=10, mask=np.array([True, True, False]))
    expected = np.zeros((8, 10))
    expected[0:4, 0:4] += 1.0  # rows y1..y2-1, columns x1..x2-1
    expected[2:5, 2:6] += 2.0  # the third box is padding (mask False): no heat
    np.testing.assert_allclose(heat, expected)
    assert heat.sum() == pytest.approx(1.0 * 16 + 2.0 * 12)
    assert heat[3, 3] == 3.0 and heat[4, 5] == 2.0 and heat[0, 0] == 1.0 and heat[7, 9] == 0.0
    norm = importance_map(boxes, np.array([1.0, 2.0, 9.0]), 8, 10, np.array([True, True, False]))
    np.testing.assert_allclose(norm, expected / 3.0)
    # negative sums are clipped to 0; signed scores can be shifted so the least important real box is 0
    assert importance_map(boxes[:2], np.array([-1.0, 2.0]), 8, 10)[0, 0] == 0.0
    np.testing.assert_allclose(shift_to_zero(np.array([-1.0, 2.0, -5.0]), np.array([True, True, False])), [0, 3, -4])
    assert not importance_map(boxes[:2], np.zeros(2), 8, 10).any()
    assert top_box(np.array([1.0, 2.0, 9.0]), np.array([True, True, False])) == 1


def test_grid_mask_is_stretched_over_the_image():
    grid = np.zeros((4, 4), bool)
    grid[0, 3] = True  # top right cell
    image = grid_to_image(grid, height=8, width=12)
    assert image.shape == (8, 12) and image[:2, 9:].all() and image.sum() == 2 * 3


# -- images ----------------------------------------------------------------------------------------------------
def test_images_are_found_by_their_coco_names(tmp_path):
    (tmp_path / "val2014").mkdir()
    Image.new("RGB", (5, 4), (10, 20, 30)).save(tmp_path / "val2014" / coco_names(42)[1])
    assert find_image_file(tmp_path, 42).name == "COCO_val2014_000000000042.jpg"
    Image.new("RGB", (3, 2)).save(tmp_path / "7.png")
    assert find_image_file(tmp_path, 7).name == "7.png"
    with pytest.raises(Exception, match="no file for image 8"):
        find_image_file(tmp_path, 8)


def test_synthetic_pictures_are_the_worlds_own_and_re_render_the_same(vqa):
    store, _, _ = vqa
    raw = synthetic_raw_dir(store)
    image_id = int(store.records("test")[0]["image_id"])
    image = load_image(store, image_id)
    assert image.shape == (96, 96, 3) and image.dtype == np.uint8
    np.testing.assert_array_equal(render_from_scenes(raw, image_id), image)


# -- explain ---------------------------------------------------------------------------------------------------
def _expected_size(rows: int) -> tuple[int, int]:
    return round((4 * PANEL_INCHES + 0.9) * DPI), round((rows * (PANEL_INCHES + 0.45) + 0.75) * DPI)


def test_explain_draws_one_and_two_checkpoints(vqa, tmp_path):
    store, cache, runs = vqa
    qid = _test_question(store)
    one, two = tmp_path / "one.png", tmp_path / "two.png"
    result = invoke("explain", "--checkpoint", runs["updn"], "--question-id", qid, "--out", one,
                    "--cache-dir", cache, "--device", "cpu")
    assert result.exit_code == 0, result.output
    result = invoke("explain", "--checkpoint", runs["updn"], "--checkpoint", runs["hint"], "--question-id", qid,
                    "--label", "before", "--label", "after", "--out", two, "--cache-dir", cache, "--device", "cpu")
    assert result.exit_code == 0, result.output
    for path, rows in ((one, 1), (two, 2)):
        with Image.open(path) as image:
            assert image.format == "PNG" and image.mode == "RGBA"
            assert image.size == _expected_size(rows)
    again = tmp_path / "again.png"
    invoke("explain", "--checkpoint", runs["updn"], "--question-id", qid, "--out", again, "--cache-dir", cache)
    assert again.read_bytes() == one.read_bytes()  # deterministic


def test_explain_reads_real_pictures_from_images_dir(vqa, tmp_path):
    store, cache, runs = vqa
    qid = _test_question(store)
    image_id = next(r["image_id"] for r in store.records("test") if r["question_id"] == qid)
    (tmp_path / "imgs" / "train2014").mkdir(parents=True)
    missing = invoke("explain", "--checkpoint", runs["updn"], "--question-id", qid, "--images", tmp_path / "imgs",
                     "--out", tmp_path / "x.png", "--cache-dir", cache)
    fails_cleanly(missing, f"no file for image {image_id}", "COCO_train2014_")
    Image.new("RGB", (192, 192), (200, 0, 0)).save(tmp_path / "imgs" / "train2014" / coco_names(image_id)[0])
    ok = invoke("explain", "--checkpoint", runs["updn"], "--question-id", qid, "--images", tmp_path / "imgs",
                "--out", tmp_path / "x.png", "--cache-dir", cache)
    assert ok.exit_code == 0, ok.output
    assert Image.open(tmp_path / "x.png").size == _expected_size(1)


def test_explain_errors_are_one_line(vqa, cap, tmp_path):
    store, cache, runs = vqa
    _, cap_cache, cap_runs = cap
    qid = _test_question(store)
    base = ("explain", "--cache-dir", cache, "--out", tmp_path / "e.png")
    fails_cleanly(invoke(*base, "--checkpoint", runs["updn"], "--question-id", 987654321), "no question 987654321")
    fails_cleanly(invoke(*base, "--checkpoint", runs["updn"], "--checkpoint", cap_runs["updn"], "--question-id",
                         qid), "checkpoints of different tasks")
    fails_cleanly(invoke(*base, "--checkpoint", runs["updn"], "--image-id", 1, "--word", "star"),
                  "explain it with --question-id")
    fails_cleanly(invoke(*base, "--checkpoint", runs["updn"], "--question-id", qid, "--image-id", 1),
                  "--question-id ID (VQA) or --image-id ID --word W")
    fails_cleanly(invoke(*base, "--checkpoint", runs["updn"], "--checkpoint", runs["hint"], "--label", "a",
                         "--question-id", qid), "one --label per --checkpoint")
    fails_cleanly(invoke("explain", "--checkpoint", runs["updn"], "--question-id", qid, "--out", tmp_path / "e.jpg"),
                  ".png")
    model, _ = load_any_model(runs["updn"], "cpu")
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    fails_cleanly(invoke(*base, "--checkpoint", tmp_path / "plain.pt", "--question-id", qid), "plain state dict")
    (tmp_path / "folder.png").mkdir()
    fails_cleanly(invoke("explain", "--checkpoint", runs["updn"], "--question-id", qid, "--out",
                         tmp_path / "folder.png"), "it is a folder")
    assert not (tmp_path / "e.png").exists()


def test_explain_captioning_word_and_its_errors(cap, tmp_path):
    store, cache, runs = cap
    human = store.human("test")
    image_id, category = int(human.image_ids[0]), store.categories[int(human.category[0])]
    out = tmp_path / "cap.png"
    result = invoke("explain", "--checkpoint", runs["updn"], "--image-id", image_id, "--word", category.upper(),
                    "--out", out, "--cache-dir", cache, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert Image.open(out).size == _expected_size(1)
    line = fails_cleanly(invoke("explain", "--checkpoint", runs["updn"], "--image-id", image_id, "--word", "zebra",
                                "--out", out, "--cache-dir", cache), "no reference caption", "'zebra'")
    assert category in line.split("grounded visual words:")[1]
    fails_cleanly(invoke("explain", "--checkpoint", runs["updn"], "--image-id", 10**9, "--word", category,
                         "--out", out, "--cache-dir", cache), f"no image {10**9}")
    fails_cleanly(invoke("explain", "--checkpoint", runs["updn"], "--image-id", image_id, "--out", out),
                  "both --image-id and --word")


# -- plot ------------------------------------------------------------------------------------------------------
def _records(folder):
    for method, base in (("updn", 40.0), ("hint", 45.0)):
        for seed in (0, 1):
            metrics = {f"test/accuracy{suffix}": Metric(base + shift + seed, n=100)
                       for suffix, shift in (("", 0), ("_yes_no", 20), ("_number", -10), ("_other", 5))}
            save_record(folder / f"{method}-s{seed}.json", make_record("synth-vqacp", method, "updn", seed, metrics,
                                                                      code_version="test", date="2026-01-01"))


def test_plot_bars_from_records_and_the_curve_from_its_json(tmp_path):
    _records(tmp_path / "records")
    out = tmp_path / "bars.png"
    result = invoke("plot", "bars", "--dir", tmp_path / "records", "--out", out)
    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] >= 600
    fails_cleanly(invoke("plot", "bars", "--dir", tmp_path / "records", "--benchmark", "vqacp-v2", "--out", out),
                  "no result records for benchmark 'vqacp-v2'", "synth-vqacp")
    fails_cleanly(invoke("plot", "bars", "--dir", tmp_path / "records", "--columns", "test/cider", "--out", out),
                  "no metric test/cider")
    point = {"fraction": 0.0, "test_accuracy": {"value": 40.0}, "test_spearman_grad": {"value": 0.1}}
    curve = {"schema": "groundbench.curve/1", "method": "hint", "seed": 0, "points": [point, {**point, "fraction": 1}]}
    (tmp_path / "curve.json").write_text(json.dumps(curve))
    result = invoke("plot", "curve", "--curve", tmp_path / "curve.json", "--out", tmp_path / "curve.png")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "curve.png").format == "PNG"
    (tmp_path / "other.json").write_text(json.dumps({"schema": "groundbench.result/1"}))
    fails_cleanly(invoke("plot", "curve", "--curve", tmp_path / "other.json", "--out", tmp_path / "c.png"),
                  "not a supervision curve")

"""VQA-HAT maps: discovery, resize + annotator average, Eq. 1 by hand, grid masks, exclusions, npz roundtrip."""
import numpy as np
import pytest
from PIL import Image

from groundbench.data.attention import (HumanArrays, MapCounts, average_map, find_maps, grid_mask,
                                        proposal_importance, read_human, read_map, write_human)


def _png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode="L").save(path)
    return path


def test_find_maps_both_folders_several_annotators(tmp_path):
    _png(tmp_path / "vqahat_train" / "5_1.png", np.ones((4, 4)))
    for n in (3, 1, 2):
        _png(tmp_path / "vqahat_val" / f"7_{n}.png", np.ones((4, 4)))
    (tmp_path / "vqahat_val" / "notes.txt").write_text("x")
    (tmp_path / "vqahat_val" / "8_1.png.bak").write_bytes(b"x")
    maps = find_maps(tmp_path)
    assert list(maps) == [5, 7]
    assert [p.name for p in maps[7]] == ["7_1.png", "7_2.png", "7_3.png"]
    assert find_maps(tmp_path / "nothing") == {}


def test_read_map_resizes_to_the_image_and_scales(tmp_path):
    path = _png(tmp_path / "m.png", np.full((10, 20), 255))
    array = read_map(path, width=7, height=3)
    assert array.shape == (3, 7) and np.allclose(array, 1.0)
    rgb = tmp_path / "rgb.png"
    Image.new("RGB", (5, 5), (255, 255, 255)).save(rgb)  # colour maps become grey-scale
    assert np.allclose(read_map(rgb, 5, 5), 1.0)


def test_average_of_annotators_and_exclusions(tmp_path):
    a = _png(tmp_path / "1_1.png", np.full((4, 4), 255))
    b = _png(tmp_path / "1_2.png", np.full((8, 8), 51))
    zero = _png(tmp_path / "1_3.png", np.zeros((4, 4)))
    broken = tmp_path / "1_4.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    counts = MapCounts()
    avg = average_map([a, b, zero, broken], 6, 6, counts)
    assert np.allclose(avg, (1.0 + 0.2) / 2)  # the zero and unreadable maps are left out, not averaged in
    assert (counts.used, counts.excluded_all_zero, counts.excluded_unreadable) == (2, 1, 1)
    assert average_map([zero, broken], 6, 6, counts) is None
    assert counts.to_dict()["excluded_unreadable"] == 2


def test_eq1_by_hand():
    # 4x4 map, mass 1 on the 2x2 top-left block; box A = that block, box B = the right half
    avg = np.zeros((4, 4))
    avg[:2, :2] = 1.0
    boxes = np.array([[0, 0, 2, 2], [2, 0, 4, 4], [0, 0, 4, 4], [0, 0, 1, 1]], dtype=np.float32)
    scores = proposal_importance(avg, boxes, num_boxes=3)
    # A: E_in = 4/4 = 1, E_out = 0 -> 1.  B: E_in = 0 -> 0.  whole image: E_out undefined -> 1. padded -> 0
    np.testing.assert_allclose(scores, [1.0, 0.0, 1.0, 0.0])
    boxes2 = np.array([[0, 0, 4, 2]], dtype=np.float32)  # top half: E_in = 4/8, E_out = 0/8
    assert proposal_importance(avg, boxes2, 1)[0] == pytest.approx(1.0)
    boxes3 = np.array([[1, 1, 3, 3]], dtype=np.float32)  # E_in = 1/4, E_out = 3/12 -> 0.5
    assert proposal_importance(avg, boxes3, 1)[0] == pytest.approx(0.5)


def test_grid_mask_threshold_half_of_max():
    avg = np.zeros((8, 8))
    avg[:4, :4] = 1.0
    avg[4:, 4:] = 0.4  # below half the peak: not in the mask
    avg[:4, 4:] = 0.5  # exactly half: in
    mask = grid_mask(avg, grid=4)
    expected = np.zeros((4, 4), bool)
    expected[:2, :] = True
    np.testing.assert_array_equal(mask, expected)
    assert not grid_mask(np.zeros((8, 8)), grid=4).any()


def test_human_npz_roundtrip_packs_masks(tmp_path):
    rng = np.random.default_rng(0)
    arrays = HumanArrays(np.array([3, 9], np.int64), rng.random((2, 5)).astype(np.float32),
                         rng.random((2, 12, 12)) > 0.5)
    path = write_human(tmp_path / "human_train.npz", arrays)
    with np.load(path) as raw:
        assert raw["hat_mask"].dtype == np.uint8 and raw["hat_mask"].shape == (2, 18)  # 144 bits packed
    back = read_human(path)
    np.testing.assert_array_equal(back.question_ids, arrays.question_ids)
    np.testing.assert_array_equal(back.importance, arrays.importance)
    np.testing.assert_array_equal(back.hat_mask, arrays.hat_mask)
    empty = read_human(write_human(tmp_path / "e.npz", HumanArrays(np.zeros(0, np.int64), np.zeros((0, 5), np.float32),
                                                                   np.zeros((0, 4, 4), bool))))
    assert empty.hat_mask.shape == (0, 4, 4)

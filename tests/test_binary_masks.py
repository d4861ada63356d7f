"""Eq. 1 of a 0/1 mask in integer arithmetic equals the general float64 map path bit for bit (random masks,
boxes partly outside the image, zero-area and whole-image boxes, padded proposals, empty masks); the grid
mask of a 0/1 map is the same from float32 as from float64."""
import numpy as np
import pytest

from groundbench.data.attention import grid_mask, proposal_importance
from groundbench.data.binary_masks import binary_importance


def _case(rng, trial):
    h, w = int(rng.integers(1, 300)), int(rng.integers(1, 300))
    mask = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(0, 4))):
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        mask[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = 1
    if trial % 3 == 0:
        mask = (rng.random((h, w)) < rng.random()).astype(np.uint8)
    k = int(rng.integers(1, 40))
    xy = rng.uniform(-20, [w + 5, h + 5], size=(k, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(-3, [w, h], size=(k, 2))], 1).astype(np.float32)
    if trial % 5 == 0:
        boxes[0] = [0, 0, w, h]
    return mask, boxes, int(rng.integers(0, k + 1))


@pytest.mark.parametrize("seed", range(4))
def test_integer_eq1_equals_the_general_path_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    for trial in range(60):
        mask, boxes, real = _case(rng, trial)
        expected = proposal_importance(mask.astype(np.float64), boxes, real)
        got = binary_importance(mask, boxes, real)
        assert got.dtype == np.float32 and np.array_equal(got, expected), (seed, trial)


def test_by_hand():
    mask = np.zeros((4, 6), np.uint8)
    mask[1:3, 1:4] = 1  # 6 ones
    boxes = np.array([[1, 1, 4, 3], [0, 0, 2, 2], [0, 0, 6, 4], [2, 2, 2, 3]], np.float32)
    # box 0 holds all 6 ones in 6 px: E_in 1, E_out 0 -> 1; box 1: 1 one in 4 px, 5 in 20 -> 0.25 / 0.5 = 0.5;
    # the whole image: 1 (E_out undefined, rest 0); a zero-width box: 0; the 5th proposal is padding
    got = binary_importance(mask, np.concatenate([boxes, [[0, 0, 6, 4]]]), 4)
    assert got.tolist() == [1.0, 0.5, 1.0, 0.0, 0.0]
    assert binary_importance(np.zeros((4, 6), np.uint8), boxes, 4).tolist() == [0.0] * 4


def test_grid_mask_of_a_binary_map_from_float32():
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = (rng.random((int(rng.integers(64, 200)), int(rng.integers(64, 200)))) < 0.3).astype(np.uint8)
        assert np.array_equal(grid_mask(mask.astype(np.float32)), grid_mask(mask.astype(np.float64)))

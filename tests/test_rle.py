"""Masks read from their COCO run lengths without decoding (data/rle.py, data/box_grid.py,
binary_masks.segment_importance): every count equals the one on the decoded mask, Eq. 1 equals the decoding path
bit for bit, and the grid mask equals PIL's (data/attention.grid_mask) over many image sizes."""
import warnings

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_api

from groundbench.data.attention import HAT_THRESHOLD, grid_mask
from groundbench.data.binary_masks import binary_importance, segment_importance
from groundbench.data.box_grid import cell_sums, cell_windows, exact_grid_mask
from groundbench.data.caption_masks import category_mask, category_segments
from groundbench.data.rle import box_counts, one_segments, rle_counts

warnings.filterwarnings("ignore", message="__array__ implementation", category=DeprecationWarning)


def segments_of(mask: np.ndarray):
    return one_segments(rle_counts(mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"]),
                        mask.shape[0])


def random_mask(rng, height, width):
    """Discs on an empty image, or salt and pepper (many short runs, negative deltas in the string)."""
    if rng.random() < 0.3:
        return rng.random((height, width)) < rng.random()
    mask = np.zeros((height, width), bool)
    yy, xx = np.ogrid[:height, :width]
    for _ in range(rng.integers(0, 4)):
        cy, cx, r = rng.integers(0, height), rng.integers(0, width), rng.integers(1, max(2, min(height, width)))
        mask |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    return mask


def test_run_lengths_decode_the_compressed_string():
    rng = np.random.default_rng(0)
    for _ in range(200):
        mask = random_mask(rng, int(rng.integers(1, 90)), int(rng.integers(1, 90)))
        runs = rle_counts(mask_api.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"])
        assert runs.sum() == mask.size
        assert np.array_equal(np.repeat(np.arange(runs.size) % 2, runs), mask.T.reshape(-1))  # column-major
    big = np.zeros((480, 640), np.uint8)
    big[100:400, 7:600] = 1  # runs longer than 2^15: values of four 5-bit groups
    runs = rle_counts(mask_api.encode(np.asfortranarray(big))["counts"])
    assert runs[0] == 7 * 480 + 100 and runs[1] == 300 and runs.sum() == big.size
    assert rle_counts(b"").size == 0


def test_segments_and_box_counts_equal_the_decoded_mask():
    rng = np.random.default_rng(1)
    for _ in range(200):
        h, w = int(rng.integers(1, 70)), int(rng.integers(1, 70))
        mask = random_mask(rng, h, w)
        x, y0, y1 = segments_of(mask)
        rebuilt = np.zeros_like(mask)
        for xi, a, b in zip(x, y0, y1):
            rebuilt[a:b, xi] = True
        assert np.array_equal(rebuilt, mask) and np.all(y1 > y0)
        c = np.sort(rng.integers(0, w + 1, (2, 9)), axis=0)
        r = np.sort(rng.integers(0, h + 1, (2, 9)), axis=0)
        expected = [mask[r[0, i]:r[1, i], c[0, i]:c[1, i]].sum() for i in range(9)]
        assert box_counts((x, y0, y1), c[0], r[0], c[1], r[1]).tolist() == expected


def test_eq1_from_runs_is_the_decoding_path_bit_for_bit():
    rng = np.random.default_rng(2)
    for _ in range(150):
        h, w = int(rng.integers(2, 120)), int(rng.integers(2, 120))
        mask = random_mask(rng, h, w)
        size = rng.uniform(1, [w, h], (12, 2))
        x0 = rng.uniform(-3, 1, (12, 2)) * ([w, h] - size)
        boxes = np.concatenate([x0, x0 + size], 1).astype(np.float32)
        ours = segment_importance(segments_of(mask), boxes, 10, h, w)
        assert ours.dtype == np.float32
        assert np.array_equal(ours.view(np.uint32), binary_importance(mask.astype(np.uint8), boxes, 10).view(np.uint32))


@pytest.mark.parametrize("size", [1, 2, 7, 15, 63, 64, 65, 96, 333, 375, 427, 480, 500, 612, 640])
@pytest.mark.parametrize("grid", [7, 14, 64])
def test_cell_windows_are_pillows(size, grid):
    """Pixel p belongs to cell j exactly when PIL's BOX resize gives it weight in cell j (one-hot columns)."""
    weights = np.asarray(Image.fromarray(np.eye(size, dtype=np.float32), mode="F").resize((grid, size), Image.BOX))
    first, count = cell_windows(size, grid)
    ours = np.zeros((size, grid), bool)
    for j in range(grid):
        ours[first[j]:first[j] + count[j], j] = True
    assert np.array_equal(weights > 0, ours)


def test_grid_mask_from_runs_is_pils_except_at_exact_ties():
    """Same cells as PIL; PIL's float32 means can land either side of threshold x peak when a cell's exact mean
    equals it (random salt-and-pepper masks have many such cells), where the exact grid counts the cell as on."""
    rng = np.random.default_rng(3)
    sizes = [(480, 640), (427, 640), (640, 480), (375, 500), (15, 14), (96, 96), (40, 30), (1, 1), (7, 300)]
    ties = 0
    for t in range(160):
        h, w = sizes[t] if t < len(sizes) else (int(rng.integers(1, 500)), int(rng.integers(1, 500)))
        mask = random_mask(rng, h, w)
        segments = segments_of(mask)
        fy, ny = cell_windows(h, 64)
        fx, nx = cell_windows(w, 64)
        ones, pixels = cell_sums(segments, h, w, 64)
        expected = [[mask[fy[a]:fy[a] + ny[a], fx[b]:fx[b] + nx[b]].sum() for b in range(64)] for a in range(64)]
        assert np.array_equal(ones, expected) and np.array_equal(pixels, np.outer(ny, nx))
        ours, pil = exact_grid_mask(segments, h, w, 64, HAT_THRESHOLD), grid_mask(mask.astype(np.float32), 64)
        if mask.any():
            peak = np.unravel_index(np.argmax(ones / pixels), ones.shape)
            tie = 2 * ones * pixels[peak] == ones[peak] * pixels  # mean == 0.5 x peak, exactly
            assert np.array_equal(ours[~tie], pil[~tie]), (h, w)
            assert ours[tie].all()
            ties += int((ours != pil).sum())
        else:
            assert not ours.any() and not pil.any()
    assert ties < 0.001 * 160 * 64 * 64  # rare even on these masks


def test_a_cell_exactly_at_the_threshold_is_on():
    mask = np.zeros((128, 128), bool)  # grid 64: cells of 2 x 2 pixels
    mask[0:2, 0:2] = True  # a full cell: the peak
    mask[80, 80:82] = True  # half a cell: exactly 0.5 x the peak
    mask[120, 120] = True  # a quarter
    grid = exact_grid_mask(segments_of(mask), 128, 128, 64, HAT_THRESHOLD)
    assert grid[0, 0] and grid[40, 40] and not grid[60, 60] and grid.sum() == 2
    assert np.array_equal(grid, grid_mask(mask.astype(np.float32), 64))


def test_category_segments_are_the_category_mask():
    polygon = [[10.0, 5.0, 40.0, 5.0, 40.0, 30.0, 10.0, 30.0]]
    crowd = {"size": [40, 50], "counts": [200, 10, 30, 10, 1750]}
    anns = [{"segmentation": polygon}, {"segmentation": crowd}]
    x, y0, y1 = category_segments(anns, 40, 50)
    rebuilt = np.zeros((40, 50), np.uint8)
    for xi, a, b in zip(x, y0, y1):
        rebuilt[a:b, xi] = 1
    assert np.array_equal(rebuilt, category_mask(anns, 40, 50))

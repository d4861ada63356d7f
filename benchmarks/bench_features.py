"""Bottom-up features and HAT maps: conversion throughput, store random access vs the TSV, HAT maps/s.

Three records, at the real data's shape (K = 36 boxes, D = 2048, batch 512):
* ``store_vs_tsv_random_batches``: one random batch of 512 images (features + boxes) read from the
  memory-mapped store vs from the TSV itself (a byte-offset index per row, seek, base64 decode).
  Target: the store >= 5x faster. The store file fits the page cache here, as the TSV does.
* ``feature_conversion``: TSV -> store (two passes: a size scan, then decode + write) vs one bare
  decode pass over the same TSV (the least any converter must do). Target: >= 0.25 (at most 4x the bare
  decode); images/s reported.
* ``hat_conversion``: one question's HAT pipeline at 448 x 448 with 36 boxes (PNG decode, resize to
  the 640 x 480 image, Eq. 1, grid mask) vs the same with Eq. 1 as a per-box loop. Target >= 5x; maps/s.
"""
from __future__ import annotations

import base64
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from groundbench.data.attention import MapCounts, average_map, grid_mask, proposal_importance
from groundbench.data.features import FeatureArrays, format_tsv_row, read_tsv, scan_features, write_feature_store

from .bench_human_importance import naive_human_importance
from .common import compare, emit, result

N_IMAGES, K, D, BATCH = 1024, 36, 2048, 512
IMAGE_W, IMAGE_H, MAP_SIZE = 640, 480, 448


def write_fake_tsv(path: Path, n: int, rng: np.random.Generator) -> None:
    """``n`` rows of K random boxes inside a 640 x 480 image and D random features."""
    with open(path, "w", encoding="ascii") as handle:
        for image_id in range(n):
            corners = rng.uniform(0, 1, (K, 2, 2)) * (IMAGE_W - 1, IMAGE_H - 1)
            boxes = np.concatenate([corners.min(1), corners.max(1)], 1).astype(np.float32)
            handle.write(format_tsv_row(image_id, IMAGE_W, IMAGE_H, boxes, rng.random((K, D), dtype=np.float32)))


def tsv_offsets(path: Path) -> list[int]:
    """Byte offset of every row (what a TSV-reading loader would keep to seek)."""
    offsets, position = [], 0
    with open(path, "rb") as handle:
        for line in handle:
            offsets.append(position)
            position += len(line)
    return offsets


def read_batch_tsv(path: Path, offsets: list[int], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Features [B, K, D] and boxes [B, K, 4] of ``rows``, read by seeking into the TSV."""
    feats = np.zeros((len(rows), K, D), np.float32)
    boxes = np.zeros((len(rows), K, 4), np.float32)
    with open(path, "rb") as handle:
        for i, row in enumerate(rows):
            handle.seek(offsets[row])
            fields = handle.readline().rstrip(b"\n").split(b"\t")
            n = int(fields[3])
            boxes[i, :n] = np.frombuffer(base64.b64decode(fields[4]), np.float32).reshape(n, 4)
            feats[i, :n] = np.frombuffer(base64.b64decode(fields[5]), np.float32).reshape(n, D)
    return feats, boxes


def read_batch_store(store: FeatureArrays, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same from the memory-mapped store (sorted fancy indexing: one pass over the file)."""
    order = np.sort(rows)
    return store.array("features")[order], store.array("boxes")[order]


def bench_features(tmp: Path) -> list[dict]:
    rng = np.random.default_rng(0)
    tsv = tmp / "trainval_36.tsv"
    write_fake_tsv(tsv, N_IMAGES, rng)
    start = time.perf_counter()
    for _ in read_tsv(tsv):
        pass
    bare_s = time.perf_counter() - start
    start = time.perf_counter()
    write_feature_store(scan_features([tsv]), tmp / "store", progress=False)
    convert_s = time.perf_counter() - start
    conversion = result("feature_conversion", bare_s, convert_s, 0.25, images=N_IMAGES, k=K, d=D,
                        images_per_s=N_IMAGES / convert_s, tsv_bytes=tsv.stat().st_size)

    store, offsets = FeatureArrays(tmp / "store"), tsv_offsets(tsv)
    batches = [rng.choice(N_IMAGES, BATCH, replace=False) for _ in range(4)]
    check_feats, _ = read_batch_tsv(tsv, offsets, np.sort(batches[0]))
    if not np.array_equal(check_feats, read_batch_store(store, batches[0])[0]):
        raise AssertionError("store and TSV disagree")
    turn = iter(range(10 ** 6))
    tsv_s, store_s = compare(lambda: read_batch_tsv(tsv, offsets, batches[next(turn) % 4]),
                             lambda: read_batch_store(store, batches[next(turn) % 4]), repeat=4)
    access = result("store_vs_tsv_random_batches", tsv_s, store_s, 5.0, batch=BATCH, k=K, d=D, images=N_IMAGES,
                    store_batches_per_s=1 / store_s, tsv_batches_per_s=1 / tsv_s)
    return [conversion, access]


def hat_pipeline(paths: list[Path], boxes: np.ndarray, naive: bool) -> np.ndarray:
    """One question: average its maps at the image size, Eq. 1 over 36 boxes, the grid mask."""
    avg = average_map(paths, IMAGE_W, IMAGE_H, MapCounts())
    grid_mask(avg)
    if naive:
        return naive_human_importance(torch.from_numpy(avg)[None], torch.from_numpy(boxes)[None])[0].numpy()
    return proposal_importance(avg, boxes, K)


def bench_hat(tmp: Path) -> dict:
    rng = np.random.default_rng(1)
    path = tmp / "1_1.png"
    Image.fromarray((rng.random((MAP_SIZE, MAP_SIZE)) ** 4 * 255).astype(np.uint8), mode="L").save(path)
    corners = rng.uniform(0, 1, (K, 2, 2)) * (IMAGE_W - 1, IMAGE_H - 1)
    boxes = np.concatenate([corners.min(1), corners.max(1)], 1).astype(np.float32)
    diff = float(np.abs(hat_pipeline([path], boxes, False) - hat_pipeline([path], boxes, True)).max())
    if diff > 1e-5:
        raise AssertionError(f"HAT pipelines disagree by {diff}")
    naive_s, ours_s = compare(lambda: hat_pipeline([path], boxes, True), lambda: hat_pipeline([path], boxes, False),
                              repeat=5, ours_per_round=5)
    return result("hat_conversion", naive_s, ours_s, 5.0, map_size=MAP_SIZE, boxes=K, image=[IMAGE_W, IMAGE_H],
                  maps_per_s=1 / ours_s, max_abs_diff=diff)


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        return bench_features(Path(tmp)) + [bench_hat(Path(tmp))]


def main() -> list[dict]:
    return [emit(record) for record in run()]


if __name__ == "__main__":
    main()

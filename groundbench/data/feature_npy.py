"""Features written straight into the store's ``.npy`` layout, image by image, with no TSV in between.

The bottom-up TSV (data/features.py) holds float32 as base64 text: 36 x 2048 features are ~393 KB of text per
image, ~16 GB at 40k images and ~47 GB at VQA-CP's ~120k, decoded once more by the conversion. A large world
(``groundbench data synth --dtype float16`` / ``--scale vqacp``) therefore writes its raw features as a
``features/`` folder in the store's own layout (data/feature_arrays.py), float16 if asked (147 KB per image at
K 36, D 2048), filled row by row through memory maps: nothing but one image's features is ever in RAM.
``prepare_vqa`` then links that folder into the store (``link_feature_store``; a hard link, a copy across file
systems) instead of converting a TSV. Boxes stay float32; training casts features to float32 per batch
(data/dataset.collate).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from ..errors import GroundbenchError
from ..io import atomic_path
from .feature_arrays import STORE_ARRAYS, FeatureArrays

DTYPES = {"float32": np.float32, "float16": np.float16}
FEATURES_DIR = "features"  # under a raw root: the prebuilt feature store prepare_vqa links


class NpyFeatureWriter:
    """Context manager: ``add(image_id, w, h, boxes [n, 4], features [n, D])`` for ``n_images`` images, in any
    order of ids, each once; on a clean exit every file of ``out_dir`` is renamed into place, on an error none."""

    def __init__(self, out_dir: str | Path, n_images: int, k: int, d: int, dtype: str = "float16"):
        if dtype not in DTYPES:
            raise GroundbenchError(f"unknown feature dtype '{dtype}' (expected one of {', '.join(DTYPES)})")
        self.out_dir, self.shape, self.dtype = Path(out_dir), (int(n_images), int(k), int(d)), DTYPES[dtype]
        self.count = 0

    def __enter__(self) -> "NpyFeatureWriter":
        n, k, d = self.shape
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._stack = contextlib.ExitStack().__enter__()
        try:
            self._tmp = {name: self._stack.enter_context(atomic_path(self.out_dir / f"{name}.npy"))
                         for name in STORE_ARRAYS}
            self.boxes = np.lib.format.open_memmap(self._tmp["boxes"], mode="w+", dtype=np.float32, shape=(n, k, 4))
            self.features = np.lib.format.open_memmap(self._tmp["features"], mode="w+", dtype=self.dtype,
                                                      shape=(n, k, d))
        except BaseException:
            self._stack.__exit__(None, None, None)
            raise
        self.small = {"image_ids": np.zeros(n, np.int64), "num_boxes": np.zeros(n, np.int32),
                      "image_size": np.zeros((n, 2), np.int32)}
        return self

    def add(self, image_id: int, width: int, height: int, boxes: np.ndarray, features: np.ndarray) -> None:
        n, k, d = self.shape
        rows = boxes.shape[0]
        if self.count >= n or not 1 <= rows <= k or features.shape != (rows, d):
            raise ValueError(f"image {image_id}: {rows} boxes / features {features.shape} do not fit [{n}, {k}, {d}] "
                             f"(row {self.count})")
        i = self.count
        self.boxes[i, :rows] = boxes
        self.features[i, :rows] = features  # float32 -> float16: round to nearest, as ndarray.astype
        self.small["image_ids"][i], self.small["num_boxes"][i] = image_id, rows
        self.small["image_size"][i] = (width, height)
        self.count += 1

    def __exit__(self, kind, value, traceback) -> bool:
        try:
            if kind is None:
                if self.count != self.shape[0]:
                    raise ValueError(f"{self.count} of {self.shape[0]} images written")
                self.boxes.flush()
                self.features.flush()
                for name, array in self.small.items():
                    with open(self._tmp[name], "wb") as handle:  # a handle: np.save would append ".npy"
                        np.save(handle, array)
        except BaseException:
            del self.boxes, self.features
            self._stack.__exit__(*sys.exc_info())
            raise
        del self.boxes, self.features
        return bool(self._stack.__exit__(kind, value, traceback))


def feature_store_files(directory: Path) -> list[Path]:
    return [Path(directory) / f"{name}.npy" for name in STORE_ARRAYS]


def has_feature_store(root: str | Path) -> bool:
    """True when ``root/features/`` holds a prebuilt feature store (all five arrays)."""
    return all(path.is_file() for path in feature_store_files(Path(root) / FEATURES_DIR))


def link_feature_store(source: str | Path, out_dir: str | Path, wanted: list[int]) -> list[Path]:
    """Place the prebuilt feature store ``source`` at ``out_dir`` (hard links, else copies; each under a
    temporary name, renamed when complete) after checking it (FeatureArrays) and that it holds every ``wanted``
    image. Extra images are kept: rows are found by image id (FeatureArrays.row_of)."""
    source, out_dir = Path(source), Path(out_dir)
    arrays = FeatureArrays(source, "`groundbench data synth`")
    arrays.array("boxes"), arrays.array("features")
    missing = [i for i in wanted if i not in arrays.row_of]
    if missing:
        raise GroundbenchError(f"image {missing[0]} has no features in the prebuilt feature store "
                               f"({len(missing)} image(s) missing)", path=source / "image_ids.npy")
    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        for name in STORE_ARRAYS:
            tmp = stack.enter_context(atomic_path(out_dir / f"{name}.npy"))
            tmp.unlink()  # atomic_path made an empty file; a link needs the name free
            try:
                os.link(source / f"{name}.npy", tmp)
            except OSError:
                shutil.copyfile(source / f"{name}.npy", tmp)
    return feature_store_files(out_dir)

"""The read side of a store's ``features/`` folder (written by data/features.write_feature_store).

``image_ids.npy`` [N] int64 (unique), ``num_boxes.npy`` [N] int32 (1..K), ``image_size.npy`` [N, 2] int32
(w, h, positive), ``boxes.npy`` [N, K, 4] and ``features.npy`` [N, K, D] float32 (memory-mapped). Every file
is loaded without pickle (data/npy.py) and checked against the others; a problem is a GroundbenchError
naming the file.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import GroundbenchError
from ..io import file_problem
from .npy import load_npy

STORE_ARRAYS = ("image_ids", "boxes", "features", "num_boxes", "image_size")
PREPARE = "`groundbench data`"


class FeatureArrays:
    """Small arrays in RAM, boxes / features memory-mapped on first use.

    Pickles without the memory maps (DataLoader workers reopen them), so no worker copies features.
    """

    def __init__(self, directory: str | Path, prepare: str = PREPARE):
        self.directory = Path(directory)
        self.prepare = prepare
        for name in STORE_ARRAYS:
            problem = file_problem(self.directory / f"{name}.npy")
            if problem == "not found":
                raise GroundbenchError(f"feature store incomplete: {name}.npy missing (re-run {prepare})",
                                       path=self.directory)
            if problem is not None:
                raise GroundbenchError(f"store file {problem} (re-run {prepare})", path=self.directory / f"{name}.npy")
        self.image_ids = load_npy(self.directory / "image_ids.npy", prepare, "iu", 1)
        self.num_boxes = load_npy(self.directory / "num_boxes.npy", prepare, "iu", 1)
        self.image_size = load_npy(self.directory / "image_size.npy", prepare, "iu", 2)
        n = self.image_ids.shape[0]
        self._agree("num_boxes", self.num_boxes.shape == (n,), f"[{n}]")
        self._agree("image_size", self.image_size.shape == (n, 2), f"[{n}, 2]")
        self._agree("num_boxes", n == 0 or int(self.num_boxes.min()) >= 1, "at least one box per image")
        self._agree("image_size", n == 0 or int(self.image_size.min()) >= 1, "positive sizes")
        self.row_of = {int(image_id): i for i, image_id in enumerate(self.image_ids.tolist())}
        self._agree("image_ids", len(self.row_of) == n, "unique image ids")
        self._maps: dict[str, np.ndarray] = {}

    def _agree(self, name: str, ok: bool, wanted: str) -> None:
        if not ok:
            raise GroundbenchError(f"does not hold what the rest of the feature store implies ({wanted}); "
                                   f"re-run {self.prepare}", path=self.directory / f"{name}.npy")

    def array(self, name: str) -> np.ndarray:
        """The memory-mapped ``boxes`` [N, K, 4] or ``features`` [N, K, D] array (read-only)."""
        if name not in self._maps:
            array = load_npy(self.directory / f"{name}.npy", self.prepare, "f", 3, mmap=True)
            n = self.image_ids.shape[0]
            self._agree(name, array.shape[0] == n, f"{n} rows, one per image of image_ids.npy")
            self._agree(name, name != "boxes" or array.shape[2] == 4, "4 coordinates per box")
            self._agree(name, n == 0 or int(self.num_boxes.max()) <= array.shape[1],
                        f"room for num_boxes.npy's {int(self.num_boxes.max()) if n else 0} boxes per image")
            for other, mapped in self._maps.items():
                self._agree(name, mapped.shape[1] == array.shape[1], f"K = {mapped.shape[1]} as {other}.npy")
            self._maps[name] = array
        return self._maps[name]

    @property
    def k_max(self) -> int:
        return int(self.array("boxes").shape[1])

    @property
    def dim(self) -> int:
        return int(self.array("features").shape[2])

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_maps"] = {}
        return state

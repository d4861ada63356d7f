"""Binary grid masks kept bit-packed in memory (G * G / 8 bytes each instead of G * G), unpacked on indexing.

The VQA-HAT grid masks of a split ([M, G, G] bool, 4 KB each at G = 64) are read for every val/test question;
held unpacked they made evaluation's memory grow with the number of questions (README, "Full size on bounded
memory"). ``masks[i]`` / ``masks[rows]`` / ``np.asarray(masks)`` give exactly the bool arrays they replace.
"""
from __future__ import annotations

import numpy as np


class PackedMasks:
    """packed: [M, ceil(G * G / 8)] uint8 (np.packbits of each flattened mask, big-endian bits) -> [M, G, G] bool."""

    dtype = np.dtype(bool)
    ndim = 3

    def __init__(self, packed: np.ndarray, grid: int):
        self.packed, self.grid = packed, int(grid)

    @classmethod
    def pack(cls, masks: np.ndarray) -> "PackedMasks":
        """masks: [M, G, G] bool."""
        m, grid = masks.shape[0], masks.shape[-1]
        return cls(np.packbits(np.asarray(masks, dtype=bool).reshape(m, grid * grid), axis=1), grid)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.packed.shape[0], self.grid, self.grid)

    def __len__(self) -> int:
        return self.packed.shape[0]

    def __getitem__(self, index) -> np.ndarray:  # noqa: ANN001 - whatever indexes the rows of a numpy array
        rows = self.packed[index]
        bits = np.unpackbits(rows, axis=-1, count=self.grid * self.grid)
        return bits.reshape(*rows.shape[:-1], self.grid, self.grid).astype(bool)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:  # noqa: ANN001 - numpy's protocol
        full = self[:]
        return full if dtype is None else full.astype(dtype)

"""Bottom-up attention features (Anderson et al. 2018) in their TSV layout.

One row per image, tab-separated, no header: image_id, image_w, image_h, num_boxes, boxes, features;
``boxes`` and ``features`` are base64-encoded float32 arrays of shape [num_boxes, 4] and
[num_boxes, D] (reference: peteanderson80/bottom-up-attention, tools/generate_tsv.py).
"""
from __future__ import annotations

import base64
import csv
import sys
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import numpy as np

TSV_FIELDS = ("image_id", "image_w", "image_h", "num_boxes", "boxes", "features")


def raise_field_size_limit() -> None:
    """Feature fields are megabytes long; csv's default field limit (128 KiB) is far too small."""
    limit = sys.maxsize
    while True:
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:
            limit //= 10


def encode_array(array: np.ndarray) -> str:
    """float32 array -> base64 text, as generate_tsv.py writes it."""
    return base64.b64encode(np.ascontiguousarray(array, dtype=np.float32).tobytes()).decode("ascii")


def format_tsv_row(image_id: int, width: int, height: int, boxes: np.ndarray, features: np.ndarray) -> str:
    """One TSV line (with newline) for an image; boxes: [N, 4], features: [N, D]."""
    if boxes.shape[0] != features.shape[0]:
        raise ValueError("boxes and features disagree on the number of boxes")
    fields = (str(int(image_id)), str(int(width)), str(int(height)), str(int(boxes.shape[0])),
              encode_array(boxes), encode_array(features))
    return "\t".join(fields) + "\n"


def write_tsv(handle: TextIO, rows: Iterable[tuple[int, int, int, np.ndarray, np.ndarray]]) -> int:
    """Write rows (image_id, w, h, boxes [N,4], features [N,D]) to an open text handle; returns count."""
    count = 0
    for image_id, width, height, boxes, features in rows:
        handle.write(format_tsv_row(image_id, width, height, boxes, features))
        count += 1
    return count

"""Bottom-up attention features (Anderson et al. 2018) in their TSV layout.

One row per image, tab-separated, no header: image_id, image_w, image_h, num_boxes, boxes, features;
``boxes`` and ``features`` are base64-encoded float32 arrays of shape [num_boxes, 4] and
[num_boxes, D] (reference: peteanderson80/bottom-up-attention, tools/generate_tsv.py).
The store converts them once into memory-mapped .npy arrays (as hengyuan-hu/bottom-up-attention-vqa
tools/detection_features_converter.py does into HDF5), never holding all features in RAM; the read side is
data/feature_arrays.py. Every field is ASCII (a non-ASCII byte is named as such), and integer fields are
parsed exactly (data/ids.py): an image id is never rounded through a float.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import csv
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import numpy as np
from tqdm import tqdm

from ..errors import GroundbenchError
from ..io import atomic_path, file_problem, os_problem
from .feature_arrays import STORE_ARRAYS, FeatureArrays  # noqa: F401  (re-exported: the store's read side)
from .ids import ID_LIMIT, parse_integer

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


# ----------------------------------------------------------------------------------------------
# Reading and validating TSV files (pass 1: scan lengths; pass 2: decode and check values)
# ----------------------------------------------------------------------------------------------
BOX_TOLERANCE = 1.0  # pixels a box may stick out of the image (detectors clip to [0, w-1] x [0, h-1])


@dataclass(frozen=True)
class RowInfo:
    """One TSV row as seen by the cheap first pass: no base64 decoded yet."""

    image_id: int
    width: int
    height: int
    num_boxes: int
    dim: int
    line: int


@dataclass
class FeatureIndex:
    """Which TSV row holds each wanted image, in store order; k_max and the feature dimension D."""

    rows: dict[int, tuple[Path, RowInfo]] = field(default_factory=dict)
    k_max: int = 0
    dim: int = 0

    def image_ids(self) -> list[int]:
        return list(self.rows)


def tsv_files(root: str | Path) -> list[Path]:
    """Every ``*.tsv`` (or split ``*.tsv.N``) file under ``root``, recursively, sorted by path. A folder so
    named is searched like any folder; anything else so named that is not a readable file (a symlink loop, a
    broken link, a pipe) is a GroundbenchError naming it."""
    root = Path(root)
    found = []
    for path in sorted(p for p in root.rglob("*") if p.suffix == ".tsv" or re.search(r"\.tsv\.\d+$", p.name)):
        problem = file_problem(path)
        if problem is None:
            found.append(path)
        elif problem != "is a folder, not a file":
            raise GroundbenchError(f"feature file {problem}", path=path)
    return found


def _tsv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of the non-empty rows. Bytes outside ASCII are kept as lone surrogates
    (surrogateescape) so parse_info can name them; a file that cannot be opened is a GroundbenchError."""
    raise_field_size_limit()
    try:
        handle = open(path, "r", encoding="ascii", errors="surrogateescape", newline="")
    except OSError as exc:
        raise GroundbenchError(f"feature file {os_problem(exc)}", path=path) from None
    with handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise GroundbenchError(f"not a TSV row ({exc})", path=path, record=f"line {reader.line_num}") from None
            except OSError as exc:
                raise GroundbenchError(f"feature file {os_problem(exc)}", path=path) from None
            if fields:
                yield reader.line_num, fields


def _ascii(text: str, name: str, path: Path, record: str) -> None:
    """Every TSV field is ASCII (digits, base64); name the first other byte."""
    if not text.isascii():
        j, char = next((j, c) for j, c in enumerate(text) if ord(c) > 127)
        byte = ord(char) - 0xDC00 if 0xDC80 <= ord(char) <= 0xDCFF else ord(char)
        raise GroundbenchError(f"non-ASCII bytes in field '{name}' (first: byte 0x{byte:02x}, at byte {j + 1} of "
                               "the field)", path=path, record=record)


def _integer(text: str, name: str, path: Path, record: str, low: int = -(2 ** 31), limit: int = 2 ** 31) -> int:
    """An integer field, parsed exactly (data/ids.parse_integer); sizes and counts fit the store's int32."""
    _ascii(text, name, path, record)
    return parse_integer(text, name, path, record, low, limit)


def _image_id(text: str, path: Path, line: int) -> int:
    """The image_id field: an exact integer in [0, 2**63) (never rounded through a float)."""
    return _integer(text, "image_id", path, f"line {line}", 0, ID_LIMIT)


def _b64_bytes(text: str, name: str, path: Path, record: str) -> int:
    """Decoded size of a base64 field, from its length alone; a length not a multiple of 4 is truncation."""
    if len(text) % 4:
        raise GroundbenchError(f"truncated base64 in '{name}' ({len(text)} characters, not a multiple of 4)",
                               path=path, record=record)
    return len(text) // 4 * 3 - len(text[-2:]) + len(text[-2:].rstrip("="))


def parse_info(fields: list[str], path: Path, line: int) -> RowInfo:
    """Validate a row's shape (6 fields, integers, num_boxes vs array sizes) without decoding it."""
    record = f"line {line}"
    if len(fields) != len(TSV_FIELDS):
        raise GroundbenchError(f"expected {len(TSV_FIELDS)} tab-separated fields ({', '.join(TSV_FIELDS)}), "
                               f"got {len(fields)}", path=path, record=record)
    image_id = _image_id(fields[0], path, line)
    record = f"image {image_id} (line {line})"
    for i in (4, 5):
        _ascii(fields[i], TSV_FIELDS[i], path, record)
    width, height, n = (_integer(fields[i], TSV_FIELDS[i], path, record) for i in (1, 2, 3))
    if width <= 0 or height <= 0:
        raise GroundbenchError(f"image size {width}x{height} is not positive", path=path, record=record)
    if n <= 0:
        raise GroundbenchError(f"num_boxes is {n}; every image needs at least one box", path=path, record=record)
    box_bytes = _b64_bytes(fields[4], "boxes", path, record)
    if box_bytes != n * 16:
        raise GroundbenchError(f"num_boxes is {n} but 'boxes' holds {box_bytes / 16:g} boxes "
                               f"({box_bytes} bytes)", path=path, record=record)
    feat_bytes = _b64_bytes(fields[5], "features", path, record)
    if feat_bytes == 0 or feat_bytes % (4 * n):
        raise GroundbenchError(f"num_boxes is {n} but 'features' holds {feat_bytes / 4:g} float32 values, "
                               f"not a multiple of {n}", path=path, record=record)
    return RowInfo(image_id, width, height, n, feat_bytes // (4 * n), line)


def _decode(text: str, shape: tuple[int, int], name: str, path: Path, record: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise GroundbenchError(f"'{name}' is not valid base64 ({exc})", path=path, record=record) from None
    array = np.frombuffer(raw, dtype=np.float32)
    if array.size != shape[0] * shape[1]:
        raise GroundbenchError(f"'{name}' holds {array.size} values, expected {shape[0]}x{shape[1]}", path=path, record=record)
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise GroundbenchError(f"'{name}' has {bad} NaN or infinite value(s)", path=path, record=record)
    return array.reshape(shape)


def decode_row(fields: list[str], info: RowInfo, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decode and check a row's arrays: boxes [N, 4] inside the image, features [N, D] finite."""
    record = f"image {info.image_id} (line {info.line})"
    boxes = _decode(fields[4], (info.num_boxes, 4), "boxes", path, record)
    feats = _decode(fields[5], (info.num_boxes, info.dim), "features", path, record)
    t = BOX_TOLERANCE
    bad = ((boxes[:, 0] < -t) | (boxes[:, 1] < -t) | (boxes[:, 2] > info.width + t) | (boxes[:, 3] > info.height + t)
           | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]))
    if bad.any():
        j = int(np.argmax(bad))
        raise GroundbenchError(f"box {j} {boxes[j].tolist()} lies outside the {info.width}x{info.height} image "
                               f"(or has x2 < x1 / y2 < y1)", path=path, record=record)
    return boxes, feats


def read_tsv(path: str | Path) -> Iterator[tuple[RowInfo, np.ndarray, np.ndarray]]:
    """Validated rows (info, boxes [N, 4], features [N, D]) of one TSV file; any N per image, any D."""
    path = Path(path)
    for line, fields in _tsv_rows(path):
        info = parse_info(fields, path, line)
        boxes, feats = decode_row(fields, info, path)
        yield info, boxes, feats


def scan_features(paths: list[Path], wanted: set[int] | None = None) -> FeatureIndex:
    """Pass 1 over the TSVs: locate each wanted image (all if None); one D across files; no duplicates."""
    index = FeatureIndex()
    for path in paths:
        for line, fields in _tsv_rows(path):
            info = parse_info(fields, path, line)
            if wanted is not None and info.image_id not in wanted:
                continue
            if info.image_id in index.rows:
                first, other = index.rows[info.image_id]
                raise GroundbenchError(f"duplicate features for this image (also {first}, line {other.line})",
                                       path=path, record=f"image {info.image_id} (line {line})")
            if index.dim and info.dim != index.dim:
                raise GroundbenchError(f"feature dimension {info.dim} differs from {index.dim} of earlier rows",
                                       path=path, record=f"image {info.image_id} (line {line})")
            index.dim = info.dim
            index.k_max = max(index.k_max, info.num_boxes)
            index.rows[info.image_id] = (path, info)
    return index


def write_feature_store(index: FeatureIndex, out_dir: str | Path, *, progress: bool = True) -> list[Path]:
    """Pass 2: decode the indexed rows into ``out_dir/{image_ids,boxes,features,num_boxes,image_size}.npy``.

    boxes [N, K, 4] and features [N, K, D] float32 are memory-mapped files filled row by row
    (np.lib.format.open_memmap), zero-padded to K = k_max; num_boxes [N] int32; image_size [N, 2]
    int32 (w, h). Every file is written under a temporary name and renamed only when all succeeded.
    """
    out_dir = Path(out_dir)
    n, k, d = len(index.rows), index.k_max, index.dim
    position = {image_id: i for i, image_id in enumerate(index.rows)}
    small = {"image_ids": np.array(list(index.rows), dtype=np.int64), "num_boxes": np.zeros(n, np.int32),
             "image_size": np.zeros((n, 2), np.int32)}
    with contextlib.ExitStack() as stack:
        tmp = {name: stack.enter_context(atomic_path(out_dir / f"{name}.npy")) for name in STORE_ARRAYS}
        boxes = np.lib.format.open_memmap(tmp["boxes"], mode="w+", dtype=np.float32, shape=(n, k, 4))
        feats = np.lib.format.open_memmap(tmp["features"], mode="w+", dtype=np.float32, shape=(n, k, d))
        bar = tqdm(total=n, desc="features", unit="img", file=sys.stderr, disable=not progress)
        for path in sorted({p for p, _ in index.rows.values()}):
            for line, fields in _tsv_rows(path):
                image_id = _image_id(fields[0], path, line)
                if image_id not in position or index.rows[image_id][0] != path:
                    continue
                info = index.rows[image_id][1]
                i = position[image_id]
                boxes[i, :info.num_boxes], feats[i, :info.num_boxes] = decode_row(fields, info, path)
                small["num_boxes"][i] = info.num_boxes
                small["image_size"][i] = (info.width, info.height)
                bar.update(1)
        bar.close()
        boxes.flush()
        feats.flush()
        del boxes, feats
        for name, array in small.items():
            with open(tmp[name], "wb") as handle:  # a handle: np.save would append ".npy" to a path
                np.save(handle, array)
    return [out_dir / f"{name}.npy" for name in STORE_ARRAYS]

"""Bottom-up TSV reading (any N, any D, every malformed row) and the memory-mapped feature store."""
import base64
import pickle

import numpy as np
import pytest

from groundbench.data.features import (FeatureArrays, encode_array, format_tsv_row, read_tsv, scan_features,
                                       tsv_files, write_feature_store)
from groundbench.errors import GroundbenchError
from vqa_fixtures import image_rows, write_tsv_file


def _row(image_id=1, n=3, d=5, w=40, h=30, seed=0):
    rng = np.random.default_rng(seed)
    boxes = np.array([[0, 0, 10, 10], [5, 5, 39, 29], [1, 2, 3, 4], [0, 0, 40, 30]][:n], dtype=np.float32)
    return image_id, w, h, boxes, rng.standard_normal((n, d)).astype(np.float32)


def _fields(row):
    return format_tsv_row(*row).rstrip("\n").split("\t")


def _write_lines(path, lines):
    path.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines), encoding="ascii")
    return path


def test_roundtrip_any_boxes_any_dim(tmp_path):
    rows = [_row(1, 3, 5), _row(2, 1, 5, seed=1), _row(3, 4, 5, seed=2)]
    path = write_tsv_file(tmp_path / "f.tsv", rows)
    read = list(read_tsv(path))
    assert [info.image_id for info, _, _ in read] == [1, 2, 3]
    for (info, boxes, feats), row in zip(read, rows):
        assert info.num_boxes == row[3].shape[0] and info.dim == 5 and (info.width, info.height) == (40, 30)
        np.testing.assert_array_equal(boxes, row[3])
        np.testing.assert_array_equal(feats, row[4])


def test_huge_fields_need_the_raised_field_size_limit(tmp_path):
    big = _row(9, 4, 20_000)  # 4 x 20000 float32 = 427 KB of base64, over csv's 128 KiB default
    path = write_tsv_file(tmp_path / "big.tsv", [big])
    (info, _, feats), = read_tsv(path)
    assert info.dim == 20_000 and feats.shape == (4, 20_000)


def _mutated(tmp_path, index, value):
    fields = _fields(_row())
    fields[index] = value(fields[index]) if callable(value) else value
    return _write_lines(tmp_path / "bad.tsv", ["\t".join(fields)])


@pytest.mark.parametrize("index, value, message", [
    (3, "4", "num_boxes is 4 but 'boxes' holds 3 boxes"),
    (3, "0", "num_boxes is 0"),
    (4, lambda s: s[:-3], "truncated base64 in 'boxes'"),
    (5, lambda s: s[:-5], "truncated base64 in 'features'"),
    (5, lambda s: s[:-4], "'features' holds"),
    (5, lambda s: "!" * len(s), "'features' is not valid base64"),
    (1, "abc", "field 'image_w' is not a number"),
    (2, "-3", "image size 40x-3 is not positive"),
])
def test_malformed_rows(tmp_path, index, value, message):
    path = _mutated(tmp_path, index, value)
    with pytest.raises(GroundbenchError, match=message) as err:
        list(read_tsv(path))
    assert str(err.value).startswith(f"{path}: record ")


def test_wrong_number_of_fields(tmp_path):
    path = _write_lines(tmp_path / "bad.tsv", ["\t".join(_fields(_row())[:5])])
    with pytest.raises(GroundbenchError, match="record line 1: expected 6 tab-separated fields"):
        list(read_tsv(path))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_infinite_features(tmp_path, bad):
    image_id, w, h, boxes, feats = _row(4)
    feats[1, 2] = bad
    path = write_tsv_file(tmp_path / "f.tsv", [(image_id, w, h, boxes, feats)])
    with pytest.raises(GroundbenchError, match=r"record image 4 \(line 1\): 'features' has 1 NaN or infinite"):
        list(read_tsv(path))


@pytest.mark.parametrize("box", [[-5, 0, 10, 10], [0, 0, 45, 10], [0, 0, 10, 31.5], [10, 0, 5, 10]])
def test_boxes_outside_the_image(tmp_path, box):
    image_id, w, h, boxes, feats = _row(5)
    boxes[2] = box
    path = write_tsv_file(tmp_path / "f.tsv", [(image_id, w, h, boxes, feats)])
    with pytest.raises(GroundbenchError, match="record image 5 .*box 2 .* outside the 40x30 image"):
        list(read_tsv(path))


def test_box_within_one_pixel_tolerance_is_accepted(tmp_path):
    image_id, w, h, boxes, feats = _row(5)
    boxes[1] = [-0.5, 0, 40.5, 30.9]
    (info, read_boxes, _), = read_tsv(write_tsv_file(tmp_path / "f.tsv", [(image_id, w, h, boxes, feats)]))
    np.testing.assert_array_equal(read_boxes, boxes)


def test_scan_rejects_mixed_dims_and_duplicates(tmp_path):
    a = write_tsv_file(tmp_path / "a.tsv", [_row(1, 3, 5)])
    b = write_tsv_file(tmp_path / "b.tsv", [_row(2, 3, 6)])
    with pytest.raises(GroundbenchError, match="feature dimension 6 differs from 5"):
        scan_features([a, b])
    c = write_tsv_file(tmp_path / "c.tsv", [_row(1, 2, 5)])
    with pytest.raises(GroundbenchError, match="duplicate features for this image"):
        scan_features([a, c])
    # an unwanted row is skipped (its dimension does not matter)
    assert list(scan_features([a, b], wanted={1}).rows) == [1]


def test_tsv_files_finds_nested_and_split_files(tmp_path):
    for rel in ("x/a.tsv", "x/y/b.tsv.0", "x/y/b.tsv.1", "c.txt", "d.tsv.bak"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert [p.relative_to(tmp_path).as_posix() for p in tsv_files(tmp_path)] == ["x/a.tsv", "x/y/b.tsv.0", "x/y/b.tsv.1"]


def test_store_is_padded_memory_mapped_and_exact(tmp_path):
    rng = np.random.default_rng(0)
    rows_a = image_rows([10, 11, 12], 5, 7, rng, adaptive=True)
    rows_b = image_rows([20, 21], 5, 7, rng, adaptive=True)
    paths = [write_tsv_file(tmp_path / "a.tsv", rows_a), write_tsv_file(tmp_path / "b.tsv", rows_b)]
    index = scan_features(paths, wanted={10, 12, 20, 21})
    write_feature_store(index, tmp_path / "store", progress=False)
    store = FeatureArrays(tmp_path / "store")
    assert store.image_ids.tolist() == [10, 12, 20, 21]
    k = max(r[3].shape[0] for r in rows_a + rows_b if r[0] != 11)
    assert store.k_max == k and store.dim == 7
    feats = store.array("features")
    assert isinstance(feats, np.memmap) and not feats.flags.writeable
    for image_id, w, h, boxes, fts in rows_a + rows_b:
        if image_id == 11:
            assert image_id not in store.row_of
            continue
        i = store.row_of[image_id]
        n = boxes.shape[0]
        assert store.num_boxes[i] == n and store.image_size[i].tolist() == [w, h]
        np.testing.assert_array_equal(store.array("boxes")[i, :n], boxes)
        np.testing.assert_array_equal(feats[i, :n], fts)
        assert not feats[i, n:].any()
    clone = pickle.loads(pickle.dumps(store))  # DataLoader workers: no memmap copied, reopened lazily
    assert clone._maps == {} and np.array_equal(clone.array("features"), feats)
    assert not list((tmp_path / "store").glob(".*tmp"))


def test_failed_conversion_leaves_nothing(tmp_path):
    image_id, w, h, boxes, feats = _row(2)
    feats[0, 0] = np.nan  # pass 1 only checks sizes; pass 2 decodes and fails
    path = write_tsv_file(tmp_path / "f.tsv", [_row(1), (image_id, w, h, boxes, feats)])
    with pytest.raises(GroundbenchError, match="NaN"):
        write_feature_store(scan_features([path]), tmp_path / "store", progress=False)
    assert list((tmp_path / "store").iterdir()) == []
    with pytest.raises(GroundbenchError, match="feature store incomplete"):
        FeatureArrays(tmp_path / "store")


def test_encode_array_is_float32_base64():
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    assert np.array_equal(np.frombuffer(base64.b64decode(encode_array(arr)), np.float32).reshape(2, 3), arr)

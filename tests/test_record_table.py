"""Records as arrays (data/record_table.py), bit-packed grid masks (data/packed_masks.py) and the id -> row
lookup (data/dataset.RowOf): each gives exactly what the dicts / arrays it replaces gave, in a fraction of the
memory, and a store rebuilds a missing, stale or damaged records table from its JSON."""
import json
import os
import shutil

import numpy as np
import pytest

from groundbench.data.attention import HumanArrays, read_human, write_human
from groundbench.data.dataset import RowOf
from groundbench.data.packed_masks import PackedMasks
from groundbench.data.prepare import prepare_vqa
from groundbench.data.record_table import RecordTable
from groundbench.data.store import VQAStore
from vqa_fixtures import VAL_FRACTION, write_raw_root


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    base = tmp_path_factory.mktemp("records")
    write_raw_root(base / "raw", "cp", adaptive=True)
    return prepare_vqa(base / "raw", base / "out", min_answer_count=1, val_fraction=VAL_FRACTION, progress=False)


def same(a, b) -> bool:
    """Equal values of equal types, recursively (1 == 1.0 is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def test_table_gives_back_every_json_record(store_root):
    for split in ("train", "val", "test"):
        records = json.loads((store_root / f"{split}.json").read_text())
        table = RecordTable.from_records(records)
        assert len(table) == len(records) > 0
        assert all(same(a, b) for a, b in zip(table, records))
        assert same(table[-1], records[-1]) and same(list(table[1:3]), records[1:3])
        assert np.array_equal(table.column("question_id"), [r["question_id"] for r in records])
        with pytest.raises(IndexError):
            table[len(records)]


def test_unicode_questions_and_odd_lengths_round_trip(tmp_path):
    records = [{"question_id": 7, "image_id": 2 ** 40, "question": "qu'est-ce que c'est, ça? 猫", "question_type": "what",
                "answer_type": "other", "answers": [], "labels": [], "scores": []},
               {"question_id": -3, "image_id": 0, "question": "", "question_type": "is", "answer_type": "yes/no",
                "answers": ["yes"] * 3 + ["no"], "labels": [0, 1], "scores": [1.0, 0.3]}]
    table = RecordTable.from_records(records)
    back = RecordTable.load(table.save(tmp_path / "t.npz", "k1"), "k1")
    assert all(same(a, b) for a, b in zip(back, records))
    assert same(list(back.take(np.array([1, 0]))), records[::-1])
    assert RecordTable.load(tmp_path / "t.npz", "other key") is None
    assert len(RecordTable.from_records([])) == 0


def test_table_is_a_tenth_of_the_dicts(store_root):
    records = json.loads((store_root / "train.json").read_text()) * 50
    table = RecordTable.from_records(records)
    per_record = sum(a.nbytes for a in table.columns.values()) / len(table)
    assert per_record < 160, per_record  # the dicts cost ~1,600 bytes each (README)


def test_store_reads_the_table_prepare_wrote(store_root, monkeypatch):
    for split in ("train", "val", "test"):
        assert (store_root / f"records_{split}.npz").is_file()
    monkeypatch.setattr("groundbench.data.store.read_json", _no_json(monkeypatch))
    store = VQAStore.open(store_root)
    assert len(store.records("train")) == store.manifest["splits"]["train"]


def _no_json(monkeypatch):
    from groundbench.data import store as module
    real = module.read_json

    def read(path, **kwargs):
        assert not str(path).endswith(("train.json", "val.json", "test.json")), f"parsed {path}"
        return real(path, **kwargs)
    return read


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "stale", "inconsistent"])
def test_store_rebuilds_a_bad_table(store_root, tmp_path, damage):
    root = shutil.copytree(store_root, tmp_path / "store")
    expected = json.loads((root / "val.json").read_text())
    path = root / "records_val.npz"
    if damage == "missing":
        path.unlink()
    elif damage == "garbage":
        path.write_bytes(b"not an npz")
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "stale":
        table = RecordTable.from_records(expected[:2])
        table.save(path, "0" * 64)
    else:
        table = RecordTable.load(path, VQAStore.open(root).manifest["files"]["val.json"]["sha256"])
        table.columns["label_offsets"][-1] += 5
        table.save(path, VQAStore.open(root).manifest["files"]["val.json"]["sha256"])
    records = VQAStore.open(root).records("val")
    assert all(same(a, b) for a, b in zip(records, expected)) and len(records) == len(expected)
    assert RecordTable.load(path, VQAStore.open(root).manifest["files"]["val.json"]["sha256"]) is not None


def test_read_only_store_still_opens(store_root, tmp_path):
    root = shutil.copytree(store_root, tmp_path / "store")
    (root / "records_test.npz").unlink()
    os.chmod(root, 0o555)
    try:
        if os.access(root, os.W_OK):
            pytest.skip("running as root: a read-only folder is still writable")
        assert len(VQAStore.open(root).records("test")) == VQAStore.open(root).manifest["splits"]["test"]
    finally:
        os.chmod(root, 0o755)


def test_packed_masks_index_like_the_array(tmp_path):
    rng = np.random.default_rng(0)
    masks = rng.random((9, 13, 13)) < 0.4  # 169 bits: the last byte is partly padding
    packed = PackedMasks.pack(masks)
    assert packed.shape == masks.shape and len(packed) == 9 and packed.packed.nbytes * 7 < masks.nbytes
    for index in (0, -1, 4, slice(2, 7), np.array([8, 0, 3]), np.array([], dtype=np.int64)):
        got = packed[index]
        assert got.dtype == bool and np.array_equal(got, masks[index])
    assert np.array_equal(np.asarray(packed), masks)
    arrays = HumanArrays(np.arange(9, dtype=np.int64), rng.random((9, 5)).astype(np.float32), masks)
    back = read_human(write_human(tmp_path / "h.npz", arrays))
    assert isinstance(back.hat_mask, PackedMasks) and np.array_equal(np.asarray(back.hat_mask), masks)
    again = read_human(write_human(tmp_path / "h2.npz", back))  # written straight from the packed form
    assert (tmp_path / "h.npz").read_bytes() == (tmp_path / "h2.npz").read_bytes()
    assert np.array_equal(np.asarray(again.hat_mask), masks)


def test_row_of_is_the_dict_it_replaces():
    ids = np.array([40, 7, 19, 7, 1000, -2], dtype=np.int64)
    expected = {int(q): i for i, q in enumerate(ids.tolist())}  # a repeated id keeps its last row
    lookup = RowOf(ids)
    for key in [*expected, 8, -5, 2000]:
        assert lookup.get(key) == expected.get(key)
    assert lookup[19] == 2 and RowOf([]).get(3) is None
    with pytest.raises(KeyError):
        lookup[8]


def test_tables_compare_by_records():
    records = [{"question_id": 1, "image_id": 2, "question": "q?", "question_type": "what", "answer_type": "other",
                "answers": ["a"], "labels": [0], "scores": [1.0]}]
    table = RecordTable.from_records(records)
    assert table == RecordTable.from_records(records) and table == records
    assert table != RecordTable.from_records([{**records[0], "answers": ["b"]}]) and table != records * 2

"""Issue 10, damaged stores: a same-size edit, garbage, pickled or misshapen arrays, missing manifest keys -
one line naming the file, before any use; the checksums behind it are cached by size and mtime."""
import pickle
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import groundbench.data.store_check as store_check
from caption_fixtures import write_coco_root
from groundbench.cli import main
from groundbench.data.caption_prepare import prepare_captioning
from groundbench.data.caption_store import CaptionStore
from groundbench.data.store import VQAStore
from groundbench.errors import GroundbenchError

TSV = Path("trainval_36") / "trainval_resnet101_faster_rcnn_genome_36.tsv"
TEST_TSV = Path("test2015_36") / "test2015_resnet101_faster_rcnn_genome_36.tsv"
QUESTIONS, ANNOTATIONS = "vqacp_v2_train_questions.json", "vqacp_v2_train_annotations.json"
TEST_QUESTIONS, TEST_ANNOTATIONS = "vqacp_v2_test_questions.json", "vqacp_v2_test_annotations.json"


from bad_inputs import (assert_clean_error, built, dump, load, raw, resum, store)  # noqa: F401  (fixtures)


# --------------------------------------------------------------------------------- 4. damaged stores
def test_same_size_edit_of_an_index_file_is_caught(store):
    path = store / "features" / "num_boxes.npy"
    size = path.stat().st_size
    num_boxes = np.load(path)
    num_boxes[0] -= 1
    np.save(path, num_boxes)
    assert path.stat().st_size == size
    with pytest.raises(GroundbenchError) as caught:
        VQAStore.open(store)
    assert str(caught.value) == (f"{store}: store file features/num_boxes.npy does not match its sha256 in the "
                                 "manifest (changed since the store was prepared); re-run `groundbench data vqa`")


def test_same_size_edit_through_the_cli(store, tmp_path):
    path = store / "train.json"
    text = path.read_text()
    path.write_text(text.replace('"yes"', '"yeS"', 1))
    assert path.stat().st_size == len(text.encode())
    result = CliRunner().invoke(main, ["train", "updn", "--task", "vqa", "--data", str(store), "--epochs", "1",
                                       "--device", "cpu", "--out", str(tmp_path / "run"),
                                       "--cache-dir", str(tmp_path / "cache")])
    assert_clean_error(result, "store file train.json does not match its sha256 in the manifest")
    assert not (tmp_path / "run" / "best.safetensors").exists()


@pytest.mark.parametrize("rel", ["human_val.npz", "features/image_ids.npy", "answers.json", "test.json"])
def test_garbage_or_truncated_of_the_right_size(store, rel):
    path = store / rel
    data = path.read_bytes()
    half = len(data) // 2
    path.write_bytes(data[:half] + b"\0" * (len(data) - half))  # an incomplete copy, zero-filled to size
    with pytest.raises(GroundbenchError, match=rf"store file {rel} does not match its sha256 .* re-run "):
        VQAStore.open(store)


def test_checksums_are_cached_by_size_and_mtime(store, monkeypatch):
    VQAStore.open(store)
    assert (store / ".stamps" / "verified.json").is_file()

    def no_hashing(path):
        raise AssertionError(f"hashed {path} again")

    monkeypatch.setattr(store_check, "sha256_file", no_hashing)
    monkeypatch.setattr(store_check, "_verified", set())  # a new process: only the cache file is left
    VQAStore.open(store)
    path = store / "vocab.json"
    path.write_text(path.read_text())  # same bytes, new mtime: hashed again
    with pytest.raises(AssertionError, match="hashed .*vocab.json again"):
        VQAStore.open(store)


def test_features_array_checked_only_when_asked(store):
    path = store / "features" / "features.npy"
    array = np.load(path)
    array[0, 0, 0] += 1.0
    np.save(path, array)  # same size, same header, other values
    VQAStore.open(store)  # documented: the big array's sum is not read by default
    with pytest.raises(GroundbenchError, match="store file features/features.npy does not match its sha256"):
        VQAStore.open(store, verify_features=True)
    result = CliRunner().invoke(main, ["data", "verify", str(store)])
    assert result.exit_code == 2 and "features/features.npy does not match its sha256" in result.stderr


def test_data_verify_passes_on_an_intact_store(store):
    result = CliRunner().invoke(main, ["data", "verify", str(store)])
    assert result.exit_code == 0, result.output
    assert "vqa store" in result.output and "files match their sha256" in result.output


def test_garbage_features_array_fails_on_first_use(store):
    path = store / "features" / "features.npy"
    path.write_bytes(b"\x93NUMPY garbage".ljust(path.stat().st_size, b"\xff"))
    opened = VQAStore.open(store)
    with pytest.raises(GroundbenchError) as caught:
        opened.dataset("train")
    assert str(caught.value).startswith(f"{path}: not a readable NumPy array (")
    assert str(caught.value).endswith("re-run `groundbench data vqa`")


def test_pickled_arrays_are_never_unpickled(store, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    (store / "features" / "num_boxes.npy").write_bytes(pickle.dumps(np.ones(3, np.int32)))
    with open(store / "human_val.npz", "wb") as handle:
        np.savez(handle, question_ids=np.array([{"a": 1}], dtype=object), importance=np.zeros((1, 4), np.float32),
                 hat_mask=np.zeros((1, 18), np.uint8), grid=np.int64(12))
    resum(store, "features/num_boxes.npy", "human_val.npz")  # the sums agree: only the loader stands guard
    opened = VQAStore.open(store)
    with pytest.raises(GroundbenchError, match=r"num_boxes.npy: not a readable NumPy array \(This file contains "
                                               r"pickled \(object\) data\); re-run `groundbench data vqa`"):
        opened.features
    with pytest.raises(GroundbenchError, match=r"human_val.npz: not a readable NumPy archive \(Object arrays "
                                               r"cannot be loaded when allow_pickle=False\)"):
        opened.human("val")


def test_no_code_allows_pickle():
    root = Path(__file__).parent.parent / "groundbench"
    assert not [p for p in root.rglob("*.py") if "allow_pickle=True" in p.read_text()]


def test_human_archive_missing_member_or_misshapen(store):
    with np.load(store / "human_val.npz") as data:
        arrays = dict(data)
    with open(store / "human_val.npz", "wb") as handle:
        np.savez(handle, **{k: v for k, v in arrays.items() if k != "hat_mask"})
    with open(store / "human_test.npz", "wb") as handle:
        np.savez(handle, **dict(arrays, grid=np.int64(5)))
    resum(store, "human_val.npz", "human_test.npz")
    opened = VQAStore.open(store)
    with pytest.raises(GroundbenchError, match=r"human_val.npz: archive lacks hat_mask \(re-run"):
        opened.human("val")
    with pytest.raises(GroundbenchError, match=r"human_test.npz: arrays disagree \(rows .*grid 5\); re-run"):
        opened.human("test")


def test_index_arrays_that_disagree(store):
    np.save(store / "features" / "image_size.npy", np.ones((2, 2), np.int32))
    resum(store, "features/image_size.npy")
    with pytest.raises(GroundbenchError, match=r"image_size.npy: does not hold what the rest of the feature store "
                                               r"implies \(\[9, 2\]\)"):
        VQAStore.open(store).features


def _drop_key(key):
    def change(manifest):
        del manifest[key]
    return change


def _set_key(key, value):
    def change(manifest):
        manifest[key] = value
    return change


def _files(change_files):
    def change(manifest):
        change_files(manifest["files"])
    return change


@pytest.mark.parametrize("change, fragment", [
    (_drop_key("splits"), "manifest lacks 'splits' (re-run `groundbench data vqa`)"),
    (_drop_key("files"), "manifest lacks 'files'"),
    (_drop_key("feature_dim"), "manifest lacks 'feature_dim'"),
    (_set_key("k_max", "4"), "manifest 'k_max' must be an integer, got '4'"),
    (_set_key("splits", {"train": "many"}), "manifest 'splits' must map split names to question counts"),
    (_files(lambda files: files.pop("human_val.npz")), "manifest does not list human_val.npz"),
    (_files(lambda files: files["vocab.json"].pop("sha256")), "manifest entry for vocab.json needs 'bytes' and a hex"),
    (_files(lambda files: files.update({"../../etc/passwd": files["vocab.json"]})),
     "manifest lists '../../etc/passwd', outside the store"),
])
def test_manifest_keys_missing(store, change, fragment):
    manifest = load(store / "manifest.json")
    change(manifest)
    dump(store / "manifest.json", manifest)
    with pytest.raises(GroundbenchError) as caught:
        VQAStore.open(store)
    assert str(caught.value).startswith(f"{store / 'manifest.json'}: ") and fragment in str(caught.value)


def test_manifest_key_missing_through_the_cli(store, tmp_path):
    manifest = load(store / "manifest.json")
    del manifest["splits"]
    dump(store / "manifest.json", manifest)
    result = CliRunner().invoke(main, ["train", "updn", "--task", "vqa", "--data", str(store), "--epochs", "1",
                                       "--device", "cpu", "--out", str(tmp_path / "run"),
                                       "--cache-dir", str(tmp_path / "cache")])
    assert_clean_error(result, "manifest.json: manifest lacks 'splits'")


def test_caption_store_same_size_edit(tmp_path):
    out = prepare_captioning(write_coco_root(tmp_path / "raw"), tmp_path / "out", min_count=0, progress=False)
    CaptionStore.open(out)
    path = out / "categories.json"
    text = path.read_text()
    path.write_text(text.replace('"dog"', '"cat"', 1) if '"dog"' in text else text.upper())
    with pytest.raises(GroundbenchError, match=r"store file categories.json does not match its sha256 in the "
                                               r"manifest .*re-run `groundbench data captioning`"):
        CaptionStore.open(out)



"""Issue 10, the data side: every bad input is one line naming the file and the record, exit 2 through the CLI,
nothing half-written; odd-but-valid inputs are handled and counted in the store manifest.

Inputs are tiny roots written in the official formats (vqa_fixtures, caption_fixtures), then damaged.
"""
import json
import logging
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import groundbench.data.store_check as store_check
import groundbench.io as gio
from caption_fixtures import rewrite as rewrite_coco
from caption_fixtures import write_coco_root
from groundbench.cli import main
from groundbench.data.caption_prepare import prepare_captioning
from groundbench.data.caption_store import CaptionStore
from groundbench.data.features import scan_features
from groundbench.data.prepare import prepare_vqa
from groundbench.data.store import VQAStore
from groundbench.data.vqa import read_questions, read_raw
from groundbench.errors import GroundbenchError
from groundbench.io import read_json
from vqa_fixtures import VAL_FRACTION, image_rows, quarter_map, write_raw_root, write_tsv_file

TSV = Path("trainval_36") / "trainval_resnet101_faster_rcnn_genome_36.tsv"
TEST_TSV = Path("test2015_36") / "test2015_resnet101_faster_rcnn_genome_36.tsv"
QUESTIONS, ANNOTATIONS = "vqacp_v2_train_questions.json", "vqacp_v2_train_annotations.json"
TEST_QUESTIONS, TEST_ANNOTATIONS = "vqacp_v2_test_questions.json", "vqacp_v2_test_annotations.json"


# ------------------------------------------------------------------------------------------------ helpers
def data_vqa(raw: Path, out: Path, *extra: str):
    return CliRunner().invoke(main, ["data", "vqa", "--root", str(raw), "--out", str(out), "--min-answer-count", "1",
                                     "--val-fraction", str(VAL_FRACTION), "--quiet", *extra])


def assert_clean_error(result, fragment: str, out: Path | None = None) -> str:
    """Exit 2, exactly one ``error:`` line holding ``fragment``, no traceback, no manifest or temporary left."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert fragment in errors[0], errors[0]
    assert "Traceback" not in result.output
    if out is not None:
        assert not (out / "manifest.json").exists()
        assert not [p for p in out.rglob("*") if "gbtmp" in p.name or p.suffix == ".tmp"]
    return errors[0]


def load(path: Path):
    return json.loads(path.read_text())


def dump(path: Path, data) -> None:
    path.write_text(json.dumps(data))


def resum(store: Path, *rels: str) -> None:
    """Re-write the manifest's bytes / sha256 of ``rels`` (a store someone rebuilt by hand: checksums agree)."""
    import hashlib

    manifest = load(store / "manifest.json")
    for rel in rels:
        data = (store / rel).read_bytes()
        manifest["files"][rel] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    dump(store / "manifest.json", manifest)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A raw cp root and the store prepared from it (copied by each test that damages it)."""
    base = tmp_path_factory.mktemp("built")
    info = write_raw_root(base / "raw", "cp")
    prepare_vqa(base / "raw", base / "store", min_answer_count=1, val_fraction=VAL_FRACTION, progress=False)
    return base, info


@pytest.fixture
def raw(tmp_path, built):
    shutil.copytree(built[0] / "raw", tmp_path / "raw", symlinks=True)
    return tmp_path / "raw", built[1]


@pytest.fixture
def store(tmp_path, built):
    shutil.copytree(built[0] / "store", tmp_path / "store")
    return tmp_path / "store"


# ------------------------------------------------------------ 1. unreadable, folder, symlink loop, pipe
def _make_folder(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _make_loop(path: Path) -> None:
    path.unlink()
    other = path.with_name(path.name + ".other")
    os.symlink(other, path)
    os.symlink(path, other)


def _make_broken_link(path: Path) -> None:
    path.unlink()
    os.symlink(path.with_name("gone.json"), path)


def _make_pipe(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize("damage, fragment", [
    (_make_folder, f"{QUESTIONS}: questions file is a folder, not a file (split scheme 'cp')"),
    (_make_loop, f"{QUESTIONS}: questions file is a symlink loop (too many levels of symbolic links)"),
    (_make_broken_link, f"{QUESTIONS}: questions file is a broken symlink (its target "),
    (_make_pipe, f"{QUESTIONS}: questions file is not a regular file"),
    (lambda path: path.unlink(), f"{QUESTIONS}: questions file not found (split scheme 'cp')"),
])
def test_questions_file_that_is_not_a_readable_file(raw, tmp_path, damage, fragment):
    damage(raw[0] / QUESTIONS)
    assert_clean_error(data_vqa(raw[0], tmp_path / "out"), fragment, tmp_path / "out")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file")
def test_permission_denied_for_real(raw, tmp_path):
    (raw[0] / ANNOTATIONS).chmod(0)
    try:
        assert_clean_error(data_vqa(raw[0], tmp_path / "out"),
                           f"{ANNOTATIONS}: annotations file cannot be read: permission denied", tmp_path / "out")
    finally:
        (raw[0] / ANNOTATIONS).chmod(0o644)


def test_permission_denied_code_path(tmp_path, monkeypatch):
    """The same path as above, simulated, so that it is exercised when the tests run as root."""
    path = tmp_path / "results.json"
    path.write_text("[]")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(gio, "open", denied, raising=False)
    with pytest.raises(GroundbenchError) as caught:
        read_json(path, what="results file")
    assert str(caught.value) == f"{path}: results file cannot be read: permission denied"


def test_feature_file_that_is_a_symlink_loop(raw, tmp_path):
    os.symlink(raw[0] / "loop_b.tsv", raw[0] / "loop_a.tsv")
    os.symlink(raw[0] / "loop_a.tsv", raw[0] / "loop_b.tsv")
    assert_clean_error(data_vqa(raw[0], tmp_path / "out"), "loop_a.tsv: feature file is a symlink loop",
                       tmp_path / "out")


def test_store_manifest_that_is_a_folder(store):
    (store / "manifest.json").unlink()
    (store / "manifest.json").mkdir()
    with pytest.raises(GroundbenchError, match=r"manifest.json: store manifest is a folder, not a file"):
        VQAStore.open(store)


def test_caption_file_that_is_a_folder(tmp_path):
    root = write_coco_root(tmp_path / "raw")
    _make_folder(root / "instances_val2014.json")
    result = CliRunner().invoke(main, ["data", "captioning", "--root", str(root), "--out", str(tmp_path / "out"),
                                       "--quiet"])
    assert_clean_error(result, "instances_val2014.json: file is a folder, not a file (see the README's COCO",
                       tmp_path / "out")


# ------------------------------------------------------------------------------- 2. deeply nested JSON
DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize("name", [QUESTIONS, TEST_ANNOTATIONS])
def test_deeply_nested_input_json(raw, tmp_path, name):
    (raw[0] / name).write_text(DEEP)
    line = assert_clean_error(data_vqa(raw[0], tmp_path / "out"), f"{name}: JSON nested too deeply",
                              tmp_path / "out")
    assert "RecursionError" not in line


def test_deeply_nested_results_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"a": ' + DEEP + "}")
    with pytest.raises(GroundbenchError, match=r"results.json: JSON nested too deeply"):
        read_json(path, what="results file")


def test_integer_with_too_many_digits(raw, tmp_path):
    path = raw[0] / QUESTIONS
    path.write_text(path.read_text().replace('"image_id": ', '"image_id": ' + "9" * 5000, 1))
    assert_clean_error(data_vqa(raw[0], tmp_path / "out"),
                       f"{QUESTIONS}: not a JSON file this tool reads: Exceeds the limit (4300 digits)",
                       tmp_path / "out")


# ---------------------------------------------------------------------------------- 3. ids out of range
@pytest.mark.parametrize("field, value, fragment", [
    ("image_id", 2 ** 63, "field 'image_id' is 9223372036854775808, outside the range [0, 2**63)"),
    ("image_id", -1, "field 'image_id' is -1, outside the range [0, 2**63)"),
    ("image_id", True, "field 'image_id' must be an integer, got True"),
    ("image_id", 7.0, "field 'image_id' must be an integer, got 7.0"),
    ("image_id", "7", "field 'image_id' must be an integer, got '7'"),
    ("question_id", 2 ** 64, "record 18446744073709551616: field 'question_id' is 18446744073709551616, outside"),
])
def test_ids_must_be_int64_integers(tmp_path, field, value, fragment):
    path = tmp_path / QUESTIONS
    dump(path, [{"question_id": 5, "image_id": 1, "question": "Why?"}, {"question_id": 6, "image_id": 1,
                                                                       "question": "How?", field: value}])
    with pytest.raises(GroundbenchError) as caught:
        read_questions(path)
    assert str(caught.value).startswith(f"{path}: record ") and fragment in str(caught.value)


def test_largest_id_is_accepted(tmp_path):
    path = tmp_path / QUESTIONS
    dump(path, [{"question_id": 2 ** 63 - 1, "image_id": 2 ** 63 - 1, "question": "Why?"}])
    assert read_questions(path)[2 ** 63 - 1]["image_id"] == 2 ** 63 - 1


def test_image_id_too_large_through_the_cli(raw, tmp_path):
    questions = load(raw[0] / QUESTIONS)
    questions[1]["image_id"] = 2 ** 63
    dump(raw[0] / QUESTIONS, questions)
    assert_clean_error(data_vqa(raw[0], tmp_path / "out"),
                       f"{QUESTIONS}: record {questions[1]['question_id']}: field 'image_id' is 9223372036854775808, "
                       "outside the range [0, 2**63)", tmp_path / "out")


def test_coco_annotation_id_too_large(tmp_path):
    root = write_coco_root(tmp_path / "raw")

    def change(data):
        data["annotations"][0]["id"] = 2 ** 63
    rewrite_coco(root / "captions_train2014.json", change)
    result = CliRunner().invoke(main, ["data", "captioning", "--root", str(root), "--out", str(tmp_path / "out"),
                                       "--quiet"])
    assert_clean_error(result, "captions_train2014.json: record annotation 9223372036854775808: field 'id' is "
                       "9223372036854775808, outside the range [0, 2**63)", tmp_path / "out")


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


# ------------------------------------------------------------------------------------------ 5. TSV rows
def _edit_row(raw: Path, image_id: int, edit) -> None:
    path = raw / TSV
    lines = path.read_bytes().split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(f"{image_id}\t".encode()):
            lines[i] = edit(line.split(b"\t"))
    path.write_bytes(b"\n".join(lines))


def test_non_ascii_bytes_in_a_feature_row(raw, tmp_path):
    image_id = raw[1]["images"]["train"][1]

    def accent(fields):
        fields[5] = fields[5][:10] + "é".encode() + fields[5][12:]
        return b"\t".join(fields)

    _edit_row(raw[0], image_id, accent)
    assert_clean_error(data_vqa(raw[0], tmp_path / "out"),
                       f"{TSV.name}: record image {image_id} (line 2): non-ASCII bytes in field 'features' "
                       "(first: byte 0xc3, at byte 11 of the field)", tmp_path / "out")


def test_image_id_above_2_53_keeps_its_features(raw, tmp_path):
    old, new = raw[1]["images"]["test"][0], 2 ** 53 + 1
    for name in (TEST_QUESTIONS, TEST_ANNOTATIONS):
        entries = load(raw[0] / name)
        for entry in entries:
            if entry["image_id"] == old:
                entry["image_id"] = new
        dump(raw[0] / name, entries)
    path = raw[0] / TEST_TSV
    path.write_text(path.read_text().replace(f"{old}\t", f"{new}\t", 1))
    result = data_vqa(raw[0], tmp_path / "out")
    assert result.exit_code == 0, result.output
    opened = VQAStore.open(tmp_path / "out")
    assert new in opened.features.row_of and 2 ** 53 not in opened.features.row_of
    item = next(opened.dataset("test")[i] for i, r in enumerate(opened.records("test")) if r["image_id"] == new)
    assert item["image_id"] == new and item["num_boxes"] == 4


@pytest.mark.parametrize("text, fragment", [
    ("9223372036854775808", "field 'image_id' is 9223372036854775808, outside the range [0, 2**63)"),
    ("12.5", "field 'image_id' is not an integer: '12.5'"),
    ("nan", "field 'image_id' is not an integer: 'nan'"),
])
def test_tsv_image_ids_are_exact_integers(tmp_path, text, fragment):
    path = write_tsv_file(tmp_path / "f.tsv", image_rows([12], 2, 3, np.random.default_rng(0)))
    path.write_text(text + path.read_text()[2:])
    with pytest.raises(GroundbenchError) as caught:
        scan_features([path])
    assert str(caught.value) == f"{path}: record line 1: {fragment}"


def test_tsv_exact_ids_in_scan(tmp_path):
    rows = image_rows([2 ** 53 + 1, 2 ** 53, 1000], 2, 3, np.random.default_rng(0))
    path = write_tsv_file(tmp_path / "f.tsv", rows)
    path.write_text(path.read_text().replace("1000\t", "1e3\t"))  # decimal notation is parsed exactly too
    assert list(scan_features([path], wanted={2 ** 53 + 1, 1000}).rows) == [2 ** 53 + 1, 1000]


# ------------------------------------------------------------------------------ 6. question ids across splits
def test_test_question_reusing_a_train_id(raw, tmp_path):
    reused = raw[1]["questions"]["train"][0]["question_id"]
    for name in (TEST_QUESTIONS, TEST_ANNOTATIONS):
        entries = load(raw[0] / name)
        entries[0]["question_id"] = reused
        dump(raw[0] / name, entries)
    assert_clean_error(data_vqa(raw[0], tmp_path / "out"),
                       f"{TEST_QUESTIONS}: record {reused}: question_id also used in the train split ({QUESTIONS}); "
                       "question ids must be unique across splits", tmp_path / "out")


def test_v2_val_question_reusing_a_train_id(tmp_path):
    info = write_raw_root(tmp_path / "raw", "v2")
    reused = info["questions"]["train"][2]["question_id"]
    for name, key in (("v2_OpenEnded_mscoco_val2014_questions.json", "questions"),
                      ("v2_mscoco_val2014_annotations.json", "annotations")):
        data = load(tmp_path / "raw" / name)
        data[key][1]["question_id"] = reused
        dump(tmp_path / "raw" / name, data)
    with pytest.raises(GroundbenchError, match=rf"val2014_questions.json: record {reused}: question_id also used in "
                                               r"the train split \(v2_OpenEnded_mscoco_train2014_questions.json\)"):
        read_raw(tmp_path / "raw", "v2")


# ------------------------------------------------------------------ 7. maps resized, entries not files
def test_resized_maps_and_folders_named_like_maps_are_counted(raw, tmp_path, caplog):
    root, info = raw
    with_map = [q["question_id"] for q in info["questions"]["train"] if q["question_id"] % 10 == 0]
    quarter_map((40, 30)).save(root / "vqahat_train" / f"{with_map[0]}_1.png")  # the image's own size: not resized
    (root / "vqahat_train" / f"{with_map[1]}_2.png").mkdir()  # beside a usable map
    (root / "vqahat_train" / f"{with_map[2]}_1.png").unlink()
    (root / "vqahat_train" / f"{with_map[2]}_1.png").mkdir()  # its only "map"
    os.symlink(root / "vqahat_val" / "9_1.png", root / "vqahat_val" / "9_1.png")  # a loop, no such question
    with caplog.at_level(logging.WARNING, logger="groundbench.data"):  # the CLI prints these on stderr
        result = data_vqa(root, tmp_path / "out")
    assert result.exit_code == 0, result.output
    maps = VQAStore.open(tmp_path / "out").manifest["maps"]
    n_maps = len(with_map) + 3 * len(info["images"]["test"])
    assert maps["excluded_not_a_file"] == 2 and maps["questions_excluded"] == 1
    assert maps["used"] == n_maps - 1 and maps["resized"] == n_maps - 2
    assert ".png: 2 HAT map(s) named like maps but not files (a folder, a broken link, a symlink loop), left out" \
        in caplog.text
    assert f".png (24x24, image 40x30): {n_maps - 2} HAT map(s) not at their image's size, resized" in caplog.text
    (root / "vqahat_train" / f"{with_map[1]}_2.png").rmdir()  # a re-run notices the folder went away
    assert data_vqa(root, tmp_path / "out").exit_code == 0
    assert VQAStore.open(tmp_path / "out").manifest["maps"]["excluded_not_a_file"] == 1

"""Issue 10, the data side: every bad input is one line naming the file and the record, exit 2 through the CLI,
nothing half-written; odd-but-valid inputs are handled and counted in the store manifest.

Inputs are tiny roots written in the official formats (vqa_fixtures, caption_fixtures), then damaged.
"""
import logging
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import groundbench.io as gio
from caption_fixtures import rewrite as rewrite_coco
from caption_fixtures import write_coco_root
from groundbench.cli import main
from groundbench.data.features import scan_features
from groundbench.data.store import VQAStore
from groundbench.data.vqa import read_questions, read_raw
from groundbench.errors import GroundbenchError
from groundbench.io import read_json
from vqa_fixtures import image_rows, quarter_map, write_raw_root, write_tsv_file

TSV = Path("trainval_36") / "trainval_resnet101_faster_rcnn_genome_36.tsv"
TEST_TSV = Path("test2015_36") / "test2015_resnet101_faster_rcnn_genome_36.tsv"
QUESTIONS, ANNOTATIONS = "vqacp_v2_train_questions.json", "vqacp_v2_train_annotations.json"
TEST_QUESTIONS, TEST_ANNOTATIONS = "vqacp_v2_test_questions.json", "vqacp_v2_test_annotations.json"


from bad_inputs import (TSV, TEST_TSV, QUESTIONS, ANNOTATIONS, TEST_QUESTIONS, TEST_ANNOTATIONS, assert_clean_error, built, data_vqa, dump, load, raw, store)  # noqa: F401  (fixtures)

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

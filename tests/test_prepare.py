"""Raw root -> store -> Batch, through prepare_vqa and the CLI: layouts, re-runs, interruptions, bad inputs."""
import base64
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

import torch
from click.testing import CliRunner

import groundbench.data.prepare as prepare
from groundbench.cli import main
from groundbench.data.batch import HAT_GRID
from groundbench.data.dataset import make_loader
from groundbench.data.features import encode_array, format_tsv_row
from groundbench.data.prepare import prepare_vqa
from groundbench.data.store import VQAStore, hint_subsample
from groundbench.errors import GroundbenchError
from groundbench.metrics.vqa import vqa_accuracy
from fakes import dead_pid
from vqa_fixtures import VAL_FRACTION, write_raw_root

TSV = Path("trainval_36") / "trainval_resnet101_faster_rcnn_genome_36.tsv"


def _prepare(raw, out, **kwargs):
    kwargs = {"min_answer_count": 1, "val_fraction": VAL_FRACTION, "progress": False, **kwargs}
    return prepare_vqa(raw, out, **kwargs)


@pytest.fixture(scope="module")
def cp_store(tmp_path_factory):
    base = tmp_path_factory.mktemp("cp")
    info = write_raw_root(base / "raw", "cp", adaptive=True)
    return VQAStore.open(_prepare(base / "raw", base / "out")), info


def test_cp_store_contents(cp_store):
    store, info = cp_store
    m = store.manifest
    assert m["format"] == "groundbench-vqa-store" and m["version"] == 1 and m["source"] == "vqa-cp-v2"
    assert store.splits == ["train", "val", "test"]
    assert m["splits"]["train"] + m["splits"]["val"] == len(info["questions"]["train"])
    assert m["splits"]["test"] == len(info["questions"]["test"]) and m["splits"]["val"] > 0
    assert m["num_images"] == len(info["images"]["train"]) + len(info["images"]["test"])
    assert m["feature_dim"] == 8 and m["k_max"] <= 4 and m["num_answers"] == len(store.answers)
    assert sorted(store.answers) == sorted({"yes", "no", "2", "3", "red", "blue"} & set(store.answers))
    for rel, entry in m["files"].items():
        data = (store.root / rel).read_bytes()
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
    # maps: 1 annotator per train question with a map, 3 per test question
    n_train_maps = len(info["images"]["train"])
    assert m["maps"]["used"] == n_train_maps + 3 * len(info["images"]["test"])
    assert m["maps"]["excluded_unreadable"] == m["maps"]["excluded_all_zero"] == 0
    record = store.records("test")[0]
    assert set(record) >= {"question_id", "image_id", "question", "question_type", "answer_type", "answers",
                           "labels", "scores"} and len(record["answers"]) == 10


def test_batches(cp_store):
    store, _ = cp_store
    dataset = store.dataset("train")
    batch = next(iter(make_loader(dataset, 5, shuffle=False)))
    k, d, a = store.manifest["k_max"], store.manifest["feature_dim"], len(store.answers)
    assert batch.v.shape == (5, k, d) and batch.boxes.shape == (5, k, 4) and batch.q.shape == (5, 14)
    assert batch.target.shape == (5, a) and batch.human.shape == (5, k) and batch.hat_mask.shape == (5, HAT_GRID, HAT_GRID)
    assert batch.mask.dtype == torch.bool and batch.image_size.tolist()[0] == [40.0, 30.0]
    features = store.features
    for i, qid in enumerate(batch.question_ids):
        record = next(r for r in store.records("train") if r["question_id"] == qid)
        row = features.row_of[record["image_id"]]
        n = int(features.num_boxes[row])
        assert batch.mask[i].tolist() == [True] * n + [False] * (k - n)
        np.testing.assert_array_equal(batch.v[i].numpy(), features.array("features")[row])
        expected = torch.zeros(a)
        expected[record["labels"]] = torch.tensor(record["scores"])
        assert torch.allclose(batch.target[i], expected)
        has_map = qid % 10 == 0  # the fixture draws a map for each image's first question
        assert bool(batch.has_human[i]) == has_map and bool(batch.hat_mask[i].any()) == has_map
        if has_map:  # the map is bright exactly on box 0 (the top-left quarter)
            assert batch.human[i, 0] > 0.95 and int(batch.human[i].argmax()) == 0
            assert batch.hat_mask[i, : HAT_GRID // 2, : HAT_GRID // 2].all()
            assert not batch.hat_mask[i, HAT_GRID // 2 + 1:, :].any()
        else:
            assert not batch.human[i].any()


def test_human_only_and_nested_hint_fraction(cp_store):
    store, _ = cp_store
    human = store.dataset("train", human_only=True)
    assert len(human) > 0 and all(r["question_id"] % 10 == 0 for r in human.records)
    ids = list(range(1000))
    small, large = hint_subsample(ids, 0.1, seed=3), hint_subsample(ids, 0.5, seed=3)
    assert len(small) == 100 and len(large) == 500 and small <= large
    assert hint_subsample(ids, 0.1, seed=4) != small and hint_subsample(ids, 0.1, seed=3) == small
    half = store.dataset("train", hint_fraction=0.5, seed=1)
    assert 0 < len(half) < len(human) and {r["question_id"] for r in half.records} <= {r["question_id"] for r in human.records}
    with pytest.raises(GroundbenchError, match="hint fraction"):
        store.dataset("train", hint_fraction=0.0)
    with pytest.raises(GroundbenchError, match="no split 'dev'"):
        store.records("dev")


def test_upper_bound_counts_out_of_vocabulary_answers(tmp_path):
    write_raw_root(tmp_path / "raw", "cp", n_train=9)
    store = VQAStore.open(_prepare(tmp_path / "raw", tmp_path / "out", min_answer_count=4))
    for split in store.splits:
        expected = np.mean([max([vqa_accuracy(a, r["answers"]) for a in store.answers])
                            for r in store.records(split)])
        assert store.upper_bound(split) == pytest.approx(expected)
    assert min(store.upper_bound(s) for s in store.splits) < 1.0


def test_v2_layout(tmp_path):
    info = write_raw_root(tmp_path / "raw", "v2")
    store = VQAStore.open(_prepare(tmp_path / "raw", tmp_path / "out", split_scheme="v2"))
    assert store.splits == ["train", "val"] and store.manifest["source"] == "vqa-v2"
    assert len(store.records("val")) == len(info["questions"]["val"])
    with pytest.raises(GroundbenchError, match=r"vqacp_v2_train_questions.json: questions file not found \(split scheme .cp.\)"):
        _prepare(tmp_path / "raw", tmp_path / "out2", split_scheme="cp")


def _forbid(monkeypatch, *names):
    for name in names:
        def fail(*args, _name=name, **kwargs):
            raise AssertionError(f"{_name} ran on an up-to-date store")
        monkeypatch.setattr(prepare, name, fail)


def test_rerun_is_incremental_and_notices_changes(tmp_path, monkeypatch):
    write_raw_root(tmp_path / "raw", "cp")
    _prepare(tmp_path / "raw", tmp_path / "out")
    before = (tmp_path / "out" / "manifest.json").read_text()
    with monkeypatch.context() as patch:
        _forbid(patch, "read_raw", "write_feature_store", "compute_human")
        _prepare(tmp_path / "raw", tmp_path / "out")
    assert (tmp_path / "out" / "manifest.json").read_text() == before
    # a corrupted output (same size, new bytes) is found by its checksum and rebuilt
    features = tmp_path / "out" / "features" / "features.npy"
    data = bytearray(features.read_bytes())
    data[-1] ^= 0xFF
    features.write_bytes(bytes(data))
    with monkeypatch.context() as patch:
        _forbid(patch, "read_raw")
        _prepare(tmp_path / "raw", tmp_path / "out")
    assert (tmp_path / "out" / "manifest.json").read_text() == before
    # a changed parameter redoes the records (and what depends on them)
    _prepare(tmp_path / "raw", tmp_path / "out", min_answer_count=2)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["params"]["min_answer_count"] == 2


def test_killed_half_way_leaves_nothing_taken_as_complete(tmp_path, monkeypatch):
    write_raw_root(tmp_path / "raw", "cp")
    out = tmp_path / "out"
    _prepare(tmp_path / "raw", out)
    os.utime(tmp_path / "raw" / TSV, ns=(1, 1))  # inputs changed: features must be redone

    def killed(index, out_dir, progress=True):
        (Path(out_dir) / f".features.npy.gbtmp-{dead_pid()}-x.tmp").write_bytes(b"half")  # a kill -9's litter
        (Path(out_dir) / ".notes.tmp").write_bytes(b"the user's")  # not ours: never removed
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(prepare, "write_feature_store", killed)
        with pytest.raises(KeyboardInterrupt):
            _prepare(tmp_path / "raw", out)
    assert not (out / "manifest.json").exists() and not (out / ".stamps" / "features.json").exists()
    with pytest.raises(GroundbenchError, match="no manifest.json"):
        VQAStore.open(out)
    with monkeypatch.context() as patch:
        _forbid(patch, "read_raw")  # the finished records step is kept
        _prepare(tmp_path / "raw", out)
    assert VQAStore.open(out).manifest["num_images"] > 0
    assert [p.name for p in out.rglob("*.tmp")] == [".notes.tmp"]  # only our litter is swept


def test_bad_maps_are_excluded_and_counted(tmp_path):
    info = write_raw_root(tmp_path / "raw", "cp")
    unreadable = info["questions"]["train"][0]["question_id"]
    zero = info["questions"]["train"][3]["question_id"]
    (tmp_path / "raw" / "vqahat_train" / f"{unreadable}_1.png").write_bytes(b"not an image")
    from PIL import Image
    Image.new("L", (10, 10), 0).save(tmp_path / "raw" / "vqahat_train" / f"{zero}_1.png")
    result = CliRunner().invoke(main, ["data", "vqa", "--root", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
                                       "--min-answer-count", "1", "--val-fraction", str(VAL_FRACTION), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "1 unreadable, 1 all zero" in result.stdout and "upper bound" in result.stdout
    store = VQAStore.open(tmp_path / "out")
    assert store.manifest["maps"]["questions_excluded"] == 2
    with_maps = {int(q) for s in store.splits for q in store.human(s).question_ids}
    assert unreadable not in with_maps and zero not in with_maps


def _drop_tsv_row(raw, image_id):
    path = raw / TSV
    lines = [l for l in path.read_text().splitlines(keepends=True) if not l.startswith(f"{image_id}\t")]
    path.write_text("".join(lines))


def _edit_tsv_row(raw, image_id, edit):
    path = raw / TSV
    lines = path.read_text().splitlines()
    for i, line in enumerate(lines):
        fields = line.split("\t")
        if fields[0] == str(image_id):
            lines[i] = edit(fields)
    path.write_text("\n".join(lines) + "\n")


def _nan_row(fields):
    feats = np.frombuffer(base64.b64decode(fields[5]), np.float32).reshape(int(fields[3]), -1).copy()
    boxes = np.frombuffer(base64.b64decode(fields[4]), np.float32).reshape(-1, 4)
    feats[0, 0] = np.nan
    return format_tsv_row(int(fields[0]), int(fields[1]), int(fields[2]), boxes, feats).rstrip("\n")


BAD_INPUTS = {
    "ids disagree": (lambda raw, info: _rewrite(raw / "vqacp_v2_train_annotations.json", lambda a: a[1:]),
                     "vqacp_v2_train_annotations.json: record {q0}: question has no annotation"),
    "no answers": (lambda raw, info: _rewrite(raw / "vqacp_v2_test_annotations.json",
                                              lambda a: [dict(a[0], answers=[])] + a[1:]),
                   "vqacp_v2_test_annotations.json: record {t0}: annotation has no answers"),
    "num_boxes": (lambda raw, info: _edit_tsv_row(raw, info["images"]["train"][1], lambda f: "\t".join(f[:3] + ["3"] + f[4:])),
                  "num_boxes is 3 but 'boxes' holds 4 boxes"),
    "truncated": (lambda raw, info: _edit_tsv_row(raw, info["images"]["train"][1], lambda f: "\t".join(f[:5] + [f[5][:-7]])),
                  "truncated base64 in 'features'"),
    "nan": (lambda raw, info: _edit_tsv_row(raw, info["images"]["train"][1], _nan_row), "NaN or infinite"),
    "no features": (lambda raw, info: _drop_tsv_row(raw, info["images"]["train"][1]),
                    "vqacp_v2_train_questions.json: record {i1}0: image {i1} has no features"),
    "box outside": (lambda raw, info: _edit_tsv_row(raw, info["images"]["train"][1], lambda f: "\t".join(
        f[:4] + [encode_array(np.array([[0, 0, 99, 9]] * 4))] + f[5:])),
        "lies outside the 40x30 image"),
}


def _rewrite(path, change):
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_one_line_error_exit_2_no_store(tmp_path, case):
    info = write_raw_root(tmp_path / "raw", "cp")
    mutate, message = BAD_INPUTS[case]
    mutate(tmp_path / "raw", info)
    message = message.format(q0=info["questions"]["train"][0]["question_id"],
                             t0=info["questions"]["test"][0]["question_id"], i1=info["images"]["train"][1])
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["data", "vqa", "--root", str(tmp_path / "raw"), "--out", str(out),
                                       "--min-answer-count", "1", "--quiet"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.output
    assert not (out / "manifest.json").exists() and not list(out.rglob("*.tmp"))


def test_missing_inputs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["data", "vqa", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "data root is not a directory" in result.stderr
    write_raw_root(tmp_path / "raw", "cp")
    for tsv in (tmp_path / "raw").rglob("*.tsv"):
        tsv.unlink()
    result = runner.invoke(main, ["data", "vqa", "--root", str(tmp_path / "raw"), "--out", str(tmp_path / "o"),
                                  "--min-answer-count", "1"])
    assert result.exit_code == 2 and "no bottom-up feature files" in result.stderr
    with pytest.raises(GroundbenchError, match="no manifest.json"):
        VQAStore.open(tmp_path / "o")


def test_full_path_data_train_eval_through_the_cli(tmp_path):
    write_raw_root(tmp_path / "raw", "cp")
    runner = CliRunner()
    data, cache = str(tmp_path / "data"), str(tmp_path / "cache")

    def run(*args):
        result = runner.invoke(main, list(args))
        assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    run("data", "vqa", "--root", str(tmp_path / "raw"), "--out", data, "--min-answer-count", "1",
        "--val-fraction", str(VAL_FRACTION), "--quiet")
    common = ("--task", "vqa", "--split", "cp", "--data", data, "--epochs", "1", "--device", "cpu", "--cache-dir", cache)
    run("train", "updn", *common, "--batch-size", "8", "--out", str(tmp_path / "updn"))
    init = tmp_path / "updn" / "best.safetensors"
    run("train", "hint", *common, "--batch-size", "4", "--init", str(init), "--hint-fraction", "0.5",
        "--out", str(tmp_path / "hint"))
    report = tmp_path / "report.json"
    run("eval", "--checkpoint", str(tmp_path / "hint" / "best.safetensors"), "--data", data, "--device", "cpu",
        "--cache-dir", cache, "--out", str(report))
    scores = json.loads(report.read_text())
    assert set(scores["splits"]) == {"val", "test"} and 0.0 <= scores["upper_bound"]["test"] <= 100.0


def test_store_open_checks_manifest_and_sizes(tmp_path):
    write_raw_root(tmp_path / "raw", "cp")
    out = _prepare(tmp_path / "raw", tmp_path / "out")
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps(dict(manifest, version=99)))
    with pytest.raises(GroundbenchError, match="store version 99 is not 1"):
        VQAStore.open(out)
    (out / "manifest.json").write_text(json.dumps(manifest))
    with open(out / "human_val.npz", "ab") as handle:
        handle.write(b"x")
    with pytest.raises(GroundbenchError, match="store file human_val.npz has"):
        VQAStore.open(out)

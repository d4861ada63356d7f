"""Shared helpers and fixtures of tests/test_bad_data.py and tests/test_bad_store.py: tiny official-format
roots and stores, damaged by the tests."""
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from groundbench.cli import main
from groundbench.data.prepare import prepare_vqa
from vqa_fixtures import VAL_FRACTION, write_raw_root

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



"""COCO captions from Karpathy's ``dataset_coco.json`` sentences (``images[].sentences[] {"sentid", "raw",
"tokens"}``) when the root has no ``captions_{train,val}2014.json``: the CLI path, the same store as from the
captions files, the re-run check, and each bad input (one line naming file and record, exit 2, no manifest)."""
import json

import pytest

from caption_fixtures import rewrite, without_captions_files, write_coco_root
from groundbench.data import caption_prepare
from groundbench.data.caption_prepare import prepare_captioning
from groundbench.data.caption_text import tokenize_caption
from test_caption_data import _forbid
from test_cli import fails_cleanly
from test_captioning_cli import invoke
from test_coco_cli import recipe

K = "dataset_coco.json"
# the five sentences of COCO image 391895 as published in Karpathy's dataset_coco.json (raw, tokens)
PUBLISHED = [
    ("A man with a red helmet on a small moped on a dirt road. ",
     "a man with a red helmet on a small moped on a dirt road"),
    ("Man riding a motor bike on a dirt road on the countryside.",
     "man riding a motor bike on a dirt road on the countryside"),
    ("A man riding on the back of a motorcycle.", "a man riding on the back of a motorcycle"),
    ("A dirt path with a young person on a motor bike rests to the foreground of a verdant area with a bridge and a "
     "background of cloud-wreathed mountains. ", "a dirt path with a young person on a motor bike rests to the "
     "foreground of a verdant area with a bridge and a background of cloud wreathed mountains"),
    ("A man in a red shirt and a red hat is on a motorcycle on a hill side.",
     "a man in a red shirt and a red hat is on a motorcycle on a hill side"),
]


def _prepare(raw, out, scheme="karpathy"):
    return prepare_captioning(raw, out, split_scheme=scheme, min_count=0, mask_fraction=1.0, progress=False)


def _manifest(out):
    return json.loads((out / "manifest.json").read_text())


def test_karpathy_tokens_agree_with_our_tokeniser_on_published_sentences():
    for raw, tokens in PUBLISHED:
        assert tokenize_caption(raw) == tokens.split()


@pytest.mark.parametrize("scheme", ["karpathy", "robust"])
def test_sentences_give_the_same_store_as_the_captions_files(tmp_path, scheme):
    both = write_coco_root(tmp_path / "both")
    only = without_captions_files(write_coco_root(tmp_path / "only"))
    a, b = _prepare(both, tmp_path / "a", scheme), _prepare(only, tmp_path / "b", scheme)
    ma, mb = _manifest(a), _manifest(b)
    assert (ma["caption_source"], mb["caption_source"]) == ("captions_*2014.json", "dataset_coco.json sentences")
    assert ma["files"] == mb["files"]  # vocab.json, {split}.json (raw captions, tokens), features, masks: byte-equal
    assert (a / "vocab.json").read_bytes() == (b / "vocab.json").read_bytes()
    for key in ("splits", "captions", "vocab_size", "masks", "mask_rows"):
        assert ma[key] == mb[key]
    # image 14 is in the captions files but not in dataset_coco.json: only the captions files have it to ignore
    assert (ma["ignored_images"], mb["ignored_images"]) == (1, 0)


def test_sentences_are_ordered_by_sentid_like_annotation_ids(tmp_path):
    raw = without_captions_files(write_coco_root(tmp_path / "raw"))
    rewrite(raw / K, lambda d: d["images"][0]["sentences"].reverse())
    store = _prepare(raw, tmp_path / "out")
    record = next(r for r in json.loads((store / "train.json").read_text()) if r["image_id"] == 11)
    assert record["captions"][0] == "A dog runs on the grass."


def test_rerun_notices_that_the_caption_source_changed(tmp_path, monkeypatch):
    raw = write_coco_root(tmp_path / "raw")
    out = _prepare(raw, tmp_path / "out")
    without_captions_files(raw)
    with monkeypatch.context() as patch:  # the records are redone from the sentences; the features are kept
        _forbid(patch, "read_captions", "write_feature_store")
        _prepare(raw, out)
    assert _manifest(out)["caption_source"] == "dataset_coco.json sentences"
    with monkeypatch.context() as patch:
        _forbid(patch, "read_sentences", "read_captions", "write_feature_store", "compute_caption_human")
        _prepare(raw, out)
    write_coco_root(raw)  # the captions files are back: read again
    called = []
    monkeypatch.setattr(caption_prepare, "read_captions",
                        lambda paths, _f=caption_prepare.read_captions: called.append(1) or _f(paths))
    _prepare(raw, out)
    assert called and _manifest(out)["caption_source"] == "captions_*2014.json"


def test_data_train_updn_eval_with_only_the_karpathy_file(tmp_path):
    raw = without_captions_files(write_coco_root(tmp_path / "raw"))
    (raw / "split_robust_coco.json").unlink()
    assert sorted(p.name for p in raw.glob("*.json")) == [K, "instances_train2014.json", "instances_val2014.json"]
    store = tmp_path / "store"
    result = invoke("data", "captioning", "--root", raw, "--out", store, "--split", "karpathy", "--min-count", 0,
                    "--mask-fraction", 1, "--quiet")
    assert result.exit_code == 0, result.output
    assert "images: train 3, val 1, test 2" in result.output
    assert "captions from: dataset_coco.json sentences" in result.output
    run = tmp_path / "run"
    result = invoke("train", "updn", "--task", "captioning", "--split", "karpathy", "--data", store,
                    "--config", recipe(tmp_path, "updn", "karpathy"), "--out", run, "--device", "cpu")
    assert result.exit_code == 0, result.output
    report = tmp_path / "report.json"
    result = invoke("eval", "--checkpoint", run, "--out", report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    splits = json.loads(report.read_text())["splits"]
    assert splits["val"]["cider"]["n"] == 1 and splits["test"]["cider"]["n"] == 2


def _sentence(image, index, change):
    """A ``rewrite`` change of dataset_coco.json: ``change(sentence)`` on images[image].sentences[index]."""
    return lambda data: change(data["images"][image]["sentences"][index])


BAD = {  # name: (mutate(raw) after the captions files are removed, message, scheme)
    "image without sentences": (lambda raw: rewrite(raw / K, lambda d: d["images"][1].pop("sentences")),
                                "dataset_coco.json: record cocoid 12: image has no 'sentences' list (the data root "
                                "has no captions_train2014.json / captions_val2014.json", "karpathy"),
    "empty sentences": (lambda raw: rewrite(raw / K, lambda d: d["images"][2]["sentences"].clear()),
                        "dataset_coco.json: record cocoid 15: image has an empty 'sentences'", "karpathy"),
    "sentence without raw": (lambda raw: rewrite(raw / K, _sentence(0, 1, lambda s: s.pop("raw"))),
                             "dataset_coco.json: record cocoid 11 sentid 1002: missing field 'raw'", "karpathy"),
    "sentence without raw or tokens": (lambda raw: rewrite(raw / K, _sentence(0, 0, lambda s: s.clear())),
                                       "dataset_coco.json: record cocoid 11 sentences[0]: missing field 'sentid'",
                                       "karpathy"),
    "empty raw": (lambda raw: rewrite(raw / K, _sentence(3, 0, lambda s: s.update(raw=" \n"))),
                  "record cocoid 21 sentid 1010: sentence 'raw' is empty or whitespace", "karpathy"),
    "wordless raw": (lambda raw: rewrite(raw / K, _sentence(3, 1, lambda s: s.update(raw="?!"))),
                     "record cocoid 21 sentid 1011: sentence 'raw' has no words", "karpathy"),
    "duplicate sentid": (lambda raw: rewrite(raw / K, _sentence(5, 1, lambda s: s.update(sentid=1001))),
                         "dataset_coco.json: record cocoid 22 sentid 1001: duplicate sentid", "robust"),
    "duplicate cocoid": (lambda raw: rewrite(raw / K, lambda d: d["images"].append(d["images"][0])),
                         "dataset_coco.json: record cocoid 11: image listed twice", "robust"),
    "robust image without sentences": (lambda raw: rewrite(raw / K, lambda d: d["images"].pop(4)),
                                       "split_robust_coco.json: record image 13: val image 13 has no sentences in "
                                       "dataset_coco.json", "robust"),
    "no captions at all": (lambda raw: (raw / K).unlink(), "no captions: looked for captions_train2014.json, "
                           "captions_val2014.json and dataset_coco.json", "robust"),
    "one captions file": (lambda raw: write_coco_root(raw) and (raw / "captions_val2014.json").unlink(),
                          "captions_val2014.json: file not found (both captions files, or neither", "karpathy"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sentences_fail_in_one_line_and_leave_no_manifest(tmp_path, case):
    mutate, message, scheme = BAD[case]
    raw = without_captions_files(write_coco_root(tmp_path / "raw"))
    mutate(raw)
    out = tmp_path / "out"
    fails_cleanly(invoke("data", "captioning", "--root", raw, "--out", out, "--split", scheme, "--quiet"), message)
    assert not (out / "manifest.json").exists() and not list(out.rglob("*.tmp"))

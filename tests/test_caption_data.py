"""The captioning data layer on a tiny COCO-format root: official files -> prepare_captioning -> CaptionStore ->
datasets -> CaptionBatch; Eq. 1 of an instance mask against hand-computed values; clean errors for bad input."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

import torch
from click.testing import CliRunner

from groundbench.cli import main
from groundbench.data import caption_prepare
from groundbench.data.caption_dataset import caption_loader, collate_captions
from groundbench.data.caption_masks import category_mask
from groundbench.data.caption_prepare import prepare_captioning
from groundbench.data.caption_store import CaptionStore
from groundbench.data.caption_text import (BOS, EOS, PAD, UNK, build_caption_vocab, decode_caption, encode_caption,
                                           tokenize_caption, word_ids)
from groundbench.data.coco import rle_string_counts
from groundbench.errors import GroundbenchError

from caption_fixtures import (CAPTIONS, TSV, block, compressed, cross_file_id, drop_captions, drop_split, edit_tsv,
                              rewrite, same_id, segments, set_field, truncate_rle, uncompressed, write_coco_root)
from fakes import dead_pid


def _prepare(raw, out, **kwargs):
    kwargs.setdefault("min_count", 0)
    return prepare_captioning(raw, out, progress=False, **kwargs)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    return CaptionStore.open(_prepare(write_coco_root(root / "raw"), root / "out"))


def test_tokens_vocabulary_threshold_encode_decode():
    assert tokenize_caption("A Dog's  ball, (red)!") == ["a", "dog", "s", "ball", "red"]
    # "more than min_count times": a word seen exactly min_count times is out, one more time is in
    lists = [["cat"]] * 6 + [["dog"]] * 5 + [["emu"]]
    assert build_caption_vocab(lists, 5) == ["<pad>", "<bos>", "<eos>", "<unk>", "cat"]
    assert build_caption_vocab(lists, 4) == ["<pad>", "<bos>", "<eos>", "<unk>", "cat", "dog"]
    assert build_caption_vocab(lists, 0)[4:] == ["cat", "dog", "emu"]
    vocab = build_caption_vocab(lists, 4)
    ids = encode_caption(["a", "cat"] + ["dog"] * 20, word_ids(vocab))
    assert len(ids) == 18 and ids[:4] == [BOS, UNK, 4, 5] and ids[16:] == [5, EOS]
    assert encode_caption(["cat"], word_ids(vocab)) == [BOS, 4, EOS] + [PAD] * 15
    assert decode_caption([BOS, 4, UNK, PAD, 5, EOS, 4], vocab) == "cat <unk> dog"


def test_store_contents_and_the_robust_pitfall(store):
    m = store.manifest
    assert (m["format"], m["task"], m["source"], m["split_scheme"]) == ("groundbench-caption-store", "captioning",
                                                                         "coco", "robust")
    # val 13 and test 15 are in captions_train2014 only: they are kept (the reference code drops such images)
    assert {s: [r["image_id"] for r in store.records(s)] for s in store.splits} == \
        {"train": [11, 12, 21], "val": [13], "test": [15, 22]}
    assert m["captions"] == {"train": 6, "val": 2, "test": 4} and m["ignored_images"] == 1  # image 14
    assert m["masks"] == {"train": 1, "val": 1, "test": 2}  # every val / test image, >= 1 train image at 6%
    assert m["visual_words"]["list"] == "coco_class_name.txt" and m["visual_words"]["categories"] == 80
    assert (m["k_max"], m["feature_dim"], m["num_images"], m["vocab_size"]) == (4, 6, 6, len(store.vocab))
    assert store.vocab[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] and store.vocab[4:] == sorted(store.vocab[4:])
    assert "cat" not in store.vocab and "street" not in store.vocab  # val / test / ignored words only
    assert store.visual_words["dogs"] == "dog" and store.visual_words["traffic light"] == "traffic light"
    record = store.records("val")[0]
    assert record["tokens"][0] == ["a", "dog", "by", "the", "traffic", "light"]
    assert record["objects"] == ["dog", "person", "traffic light"] and record["has_masks"]
    assert store.objects("test") == {15: {"car"}, 22: {"dog", "person"}}
    assert store.references("test")[22] == CAPTIONS[22]


def test_vocabulary_counts_train_captions_only(tmp_path):
    raw = write_coco_root(tmp_path / "raw")
    # train words by hand: a x9, dog x4, the x4; and / car / man / on / road x2; the rest once
    assert CaptionStore.open(_prepare(raw, tmp_path / "a", min_count=3)).vocab[4:] == ["a", "dog", "the"]
    assert CaptionStore.open(_prepare(raw, tmp_path / "b", min_count=1)).vocab[4:] == \
        ["a", "and", "car", "dog", "man", "on", "road", "the"]
    assert CaptionStore.open(_prepare(raw, tmp_path / "c", min_count=5)).vocab[4:] == ["a"]


def test_eq1_of_a_rectangle_polygon_by_hand(store):
    human = store.human("val")
    row = [i for i, (image, c) in enumerate(zip(human.image_ids, human.category))
           if image == 13 and store.categories[c] == "dog"]
    assert len(row) == 1
    # mask: the polygon (10,5)-(20,15) fills pixels x 10..19, y 5..14 (100 px) of the 40 x 30 image (1200 px)
    # box 0 (5,5,15,20): pixels x 5..14, y 5..19 (150 px), 50 of them in the mask:
    e_in, e_out = 50 / 150, (100 - 50) / (1200 - 150)
    assert e_in / (e_in + e_out) == pytest.approx(7 / 8)
    # box 1 is the rectangle itself (E_out = 0 -> 1), box 2 misses it (E_in = 0 -> 0), box 3 is the whole image
    np.testing.assert_allclose(human.importance[row[0]], [e_in / (e_in + e_out), 1.0, 0.0, 1.0], rtol=1e-6)
    hat = human.hat_mask[row[0]]  # 64 x 64 over the image: x 10..20 -> columns 16..32, y 5..15 -> rows 10.7..32
    ys, xs = np.nonzero(hat)
    assert hat[20, 24] and not hat[0, 0] and not hat[50, 50]
    assert 10 <= ys.min() and ys.max() <= 32 and 16 <= xs.min() and xs.max() <= 32


def test_masks_union_polygons_crowd_and_compressed_rle():
    by_image = segments()
    dogs = [{"segmentation": s} for name, s, _ in by_image[22] if name == "dog"]
    # two squares, x 10..19 / y 10..19 and x 15..29 / y 15..29: 100 + 225 - 25 shared pixels
    union = category_mask(dogs, 40, 50)
    assert union.shape == (40, 50) and union.sum() == 300 and union[12, 12] and union[25, 25] and not union[12, 25]
    crowd = [{"segmentation": s} for name, s, c in by_image[22] if c == 1]
    np.testing.assert_array_equal(category_mask(crowd, 40, 50), block(40, 50, 20, 40, 0, 10))
    rle = [{"segmentation": compressed(block(30, 40, 10, 20, 5, 30))}]
    np.testing.assert_array_equal(category_mask(rle, 30, 40), block(30, 40, 10, 20, 5, 30))
    for mask in (block(30, 40, 10, 20, 5, 30), np.ones((7, 3), np.uint8), np.eye(33, dtype=np.uint8)):
        assert rle_string_counts(compressed(mask)["counts"]) == uncompressed(mask)["counts"]


def test_rows_land_on_their_target_steps(store):
    batch = next(iter(caption_loader(store.dataset("val"), 8, shuffle=False)))
    assert [store.decode(t.tolist()) for t in batch.tokens] == ["a dog by the traffic light",
                                                                "a dog next to a <unk> and a person"]
    targets = batch.tokens[:, 1:]
    assert torch.equal(targets[batch.row_batch, batch.row_step], batch.row_word)
    found = [(b, s, store.vocab[w], store.categories[c]) for b, s, w, c in
             zip(batch.row_batch.tolist(), batch.row_step.tolist(), batch.row_word.tolist(), batch.row_category.tolist())]
    # "traffic light" sits on its last token; "cat" is not annotated in image 13 (and is <unk>): no row
    assert found == [(0, 1, "dog", "dog"), (0, 5, "light", "traffic light"), (1, 1, "dog", "dog"),
                     (1, 8, "person", "person")]
    human = store.human("val")
    lookup = {(int(i), int(c)): r for r, (i, c) in enumerate(zip(human.image_ids, human.category))}
    for r, c in enumerate(batch.row_category.tolist()):
        np.testing.assert_array_equal(batch.human[r].numpy(), human.importance[lookup[(13, c)]])
        np.testing.assert_array_equal(batch.hat_mask[r].numpy(), human.hat_mask[lookup[(13, c)]])


def test_unknown_words_and_images_without_masks_give_no_rows(tmp_path):
    store = CaptionStore.open(_prepare(write_coco_root(tmp_path / "raw"), tmp_path / "out", min_count=1))
    batch = collate_captions([store.dataset("val")[0]])
    assert store.decode(batch.tokens[0].tolist()) == "a dog <unk> the <unk> <unk>"  # by / traffic / light: once in train
    assert batch.row_step.tolist() == [1]  # "light" is <unk>: no traffic-light row
    train = store.dataset("train")
    masked = {int(i) for i in store.human("train").image_ids}
    for item in train:
        assert item["image_id"] in masked or len(item["row_step"]) == 0


def test_batch_shapes_select_and_to(store):
    loader = caption_loader(store.dataset("test"), 3, shuffle=True, seed=1)
    batch = next(iter(loader))
    assert [b.image_ids for b in caption_loader(store.dataset("test"), 3, shuffle=True, seed=1)][0] == batch.image_ids
    b, r = len(batch), batch.row_batch.numel()
    assert batch.v.shape == (b, 4, 6) and batch.tokens.shape == (b, 18) and batch.mask.dtype == torch.bool
    assert batch.human.shape == (r, 4) and batch.hat_mask.shape == (r, 64, 64) and batch.image_size.shape == (b, 2)
    picked = batch.select(torch.tensor([2, 0]))
    assert picked.image_ids == [batch.image_ids[2], batch.image_ids[0]]
    for new, old in ((0, 2), (1, 0)):
        mine, theirs = picked.row_batch == new, batch.row_batch == old
        assert torch.equal(picked.row_word[mine], batch.row_word[theirs])
        assert torch.equal(picked.human[mine], batch.human[theirs])
    assert picked.row_batch.tolist() == sorted(picked.row_batch.tolist())
    assert len(batch.select(torch.tensor([False, False, False]))) == 0
    moved = batch.to("cpu")
    assert torch.equal(moved.tokens, batch.tokens) and moved.references == batch.references


def test_image_dataset_human_only_and_hint_fraction(store):
    images = store.image_dataset("test")
    assert len(images) == 2 and len(store.dataset("test")) == 4
    item = images[1]
    assert item["caption_index"] == -1 and item["references"] == CAPTIONS[22]
    assert store.decode(item["tokens"]) == "<unk> and dogs <unk> a <unk>"
    with_masks = {int(i) for i in store.human("train").image_ids}
    only = store.dataset("train", human_only=True)
    assert {only[i]["image_id"] for i in range(len(only))} == with_masks and len(with_masks) == 1
    assert len(store.dataset("train", hint_fraction=1.0)) == len(only)


def test_karpathy_split_and_mask_fraction(tmp_path):
    raw = write_coco_root(tmp_path / "raw")
    store = CaptionStore.open(_prepare(raw, tmp_path / "k", split_scheme="karpathy", mask_fraction=0.0))
    assert {s: [r["image_id"] for r in store.records(s)] for s in store.splits} == \
        {"train": [11, 12, 15], "val": [21], "test": [13, 22]}  # 12 is restval
    assert store.manifest["masks"]["train"] == 0 and len(store.human("train").image_ids) == 0
    assert len(store.dataset("train", human_only=True)) == 0
    full = CaptionStore.open(_prepare(raw, tmp_path / "f", mask_fraction=1.0))
    assert full.manifest["masks"]["train"] == 3 and sorted(set(full.human("train").image_ids.tolist())) == [11, 12, 21]


def test_root_word_list_is_the_default(tmp_path):
    raw = write_coco_root(tmp_path / "raw", words="dog, puppy\ncar, sedan\n")
    store = CaptionStore.open(_prepare(raw, tmp_path / "out"))
    assert store.categories == ["dog", "car"] and store.manifest["visual_words"]["list"] == "visual_words.txt"
    assert store.objects("test") == {15: {"car"}, 22: {"dog"}}
    assert set(store.human("test").category.tolist()) == {0, 1}


def _forbid(patch, *names):
    for name in names:
        def fail(*args, _name=name, **kwargs):
            raise AssertionError(f"{_name} ran on an up-to-date store")
        patch.setattr(caption_prepare, name, fail)


def test_rerun_is_incremental(tmp_path, monkeypatch):
    raw = write_coco_root(tmp_path / "raw")
    out = _prepare(raw, tmp_path / "out")
    before = (out / "manifest.json").read_text()
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and ".stamps" not in p.parts
              and p.name != ".groundbench.lock"}  # the lock notes who last wrote
    with monkeypatch.context() as patch:
        _forbid(patch, "read_captions", "read_instances", "write_feature_store", "compute_caption_human")
        _prepare(raw, out)
    assert (out / "manifest.json").read_text() == before
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p.name != "manifest.json")
    with monkeypatch.context() as patch:  # a new parameter redoes the records, not the features
        _forbid(patch, "write_feature_store")
        _prepare(raw, out, min_count=3)
    assert CaptionStore.open(out).vocab[4:] == ["a", "dog", "the"]


def test_killed_half_way_leaves_nothing_taken_as_complete(tmp_path, monkeypatch):
    raw = write_coco_root(tmp_path / "raw")
    out = _prepare(raw, tmp_path / "out")
    os.utime(raw / TSV, ns=(1, 1))

    def killed(index, out_dir, progress=True):
        (Path(out_dir) / f".features.npy.gbtmp-{dead_pid()}-x.tmp").write_bytes(b"half")  # a kill -9's litter
        (Path(out_dir) / ".notes.tmp").write_bytes(b"the user's")  # not ours: never removed
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(caption_prepare, "write_feature_store", killed)
        with pytest.raises(KeyboardInterrupt):
            _prepare(raw, out)
    assert not (out / "manifest.json").exists()
    with pytest.raises(GroundbenchError, match="no manifest.json"):
        CaptionStore.open(out)
    with monkeypatch.context() as patch:
        _forbid(patch, "read_captions")  # the finished records step is kept
        _prepare(raw, out)
    assert CaptionStore.open(out).manifest["num_images"] == 6
    assert [p.name for p in out.rglob("*.tmp")] == [".notes.tmp"]  # only our litter is swept


T, V = "captions_train2014.json", "captions_val2014.json"
IT, IV = "instances_train2014.json", "instances_val2014.json"
BAD_INPUTS = {  # name: (mutate(raw), message, split scheme)
    "no features": (lambda raw: edit_tsv(raw, 13, lambda f: None),
                    "split_robust_coco.json: record image 13: val image 13 has no features", "robust"),
    "no captions": (lambda raw: rewrite(raw / T, drop_captions(12)),
                    "captions_train2014.json: record image 12: image has no captions", "robust"),
    "empty caption": (lambda raw: rewrite(raw / T, set_field("annotations", 0, "caption", " \t ")),
                      "captions_train2014.json: record annotation 1001: caption is empty or whitespace", "robust"),
    "no words": (lambda raw: rewrite(raw / V, set_field("annotations", 0, "caption", "...")),
                 "captions_val2014.json: record annotation 1010: caption has no words", "robust"),
    "duplicate id": (lambda raw: rewrite(raw / V, same_id),
                     "captions_val2014.json: record annotation 1010: duplicate annotation id", "robust"),
    "duplicate across files": (cross_file_id, "captions_val2014.json: record annotation 1001: duplicate annotation "
                               "id (also in captions_train2014.json)", "robust"),
    "unknown image": (lambda raw: rewrite(raw / T, set_field("annotations", 2, "image_id", 999)),
                      "captions_train2014.json: record annotation 1003: image_id 999 is not among", "robust"),
    "unknown category": (lambda raw: rewrite(raw / IV, set_field("annotations", 0, "category_id", 999)),
                         "instances_val2014.json: record annotation 5011: unknown category id 999", "robust"),
    "odd polygon": (lambda raw: rewrite(raw / IT, set_field("annotations", 0, "segmentation", [[1, 1, 5, 5, 9]])),
                    "instances_train2014.json: record annotation 5001: polygon 0 has an odd number of coordinates",
                    "robust"),
    "polygon outside": (lambda raw: rewrite(raw / IT, set_field("annotations", 0, "segmentation",
                                                                [[2, 2, 12, 2, 12, 12], [41, 1, 50, 1, 50, 9]])),
                        "instances_train2014.json: record annotation 5001: polygon 1 lies outside the 40x30 image "
                        "(x 41..50, y 1..9)", "robust"),
    "polygon far away": (lambda raw: rewrite(raw / IT, set_field("annotations", 0, "segmentation",
                                                                 [[2, 2, 1e9, 2, 12, 12]])),
                         "record annotation 5001: polygon 0 lies outside the 40x30 image", "robust"),
    "rle size": (lambda raw: rewrite(raw / IV, set_field("annotations", 0, "segmentation", {"size": [10, 10], "counts": [100]})),
                 "instances_val2014.json: record annotation 5011: RLE size [10, 10] disagrees", "robust"),
    "bad rle": (lambda raw: rewrite(raw / IT, truncate_rle), "instances_train2014.json: record annotation 5007: "
                "RLE counts cover", "robust"),
    "robust unknown image": (lambda raw: rewrite(raw / "split_robust_coco.json", lambda d: d["test_id"].append({"img_id": 999})),
                             "split_robust_coco.json: record image 999: test image 999 is in neither captions file",
                             "robust"),
    "karpathy without split": (lambda raw: rewrite(raw / "dataset_coco.json", drop_split),
                               "dataset_coco.json: record cocoid 12: missing field 'split'", "karpathy"),
    "tsv size": (lambda raw: edit_tsv(raw, 13, lambda f: "\t".join(f[:1] + ["41"] + f[2:])),
                 "instances_train2014.json: record image 13: the feature TSV gives this image as 41x30", "robust"),
    "word list": (lambda raw: (raw / "visual_words.txt").write_text("dog, puppy\n\nunicorn, unicorns\n"),
                  "visual_words.txt: line 3: category 'unicorn' is not a category of the instances files", "robust"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_inputs_name_file_and_record_and_leave_no_manifest(tmp_path, case):
    mutate, message, scheme = BAD_INPUTS[case]
    raw = write_coco_root(tmp_path / "raw")
    mutate(raw)
    with pytest.raises(GroundbenchError) as error:
        _prepare(raw, tmp_path / "out", split_scheme=scheme)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "out" / "manifest.json").exists() and not list((tmp_path / "out").rglob("*.tmp"))


def test_a_failing_rerun_removes_the_manifest_and_the_cli_exits_2(tmp_path):
    raw = write_coco_root(tmp_path / "raw")
    out = _prepare(raw, tmp_path / "out")
    rewrite(raw / T, set_field("annotations", 0, "caption", ""))
    result = CliRunner().invoke(main, ["data", "captioning", "--root", str(raw), "--out", str(out), "--quiet"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "record annotation 1001: caption is empty" in errors[0]
    assert not (out / "manifest.json").exists()
    with pytest.raises(GroundbenchError, match="no manifest.json"):
        CaptionStore.open(out)


def test_store_open_checks_format_and_sizes(tmp_path):
    out = _prepare(write_coco_root(tmp_path / "raw"), tmp_path / "out")
    with (out / "test.json").open("a") as handle:
        handle.write(" ")
    with pytest.raises(GroundbenchError, match="test.json has"):
        CaptionStore.open(out)
    manifest = json.loads((out / "manifest.json").read_text())
    (out / "manifest.json").write_text(json.dumps(dict(manifest, format="groundbench-vqa-store")))
    with pytest.raises(GroundbenchError, match="not a groundbench-caption-store manifest"):
        CaptionStore.open(out)
    with pytest.raises(GroundbenchError, match="unknown split scheme"):
        _prepare(tmp_path / "raw", tmp_path / "o2", split_scheme="nope")


def test_published_quirks_are_counted_skips(tmp_path, store):
    """COCO holds polygons of fewer than 3 points (lines): dropped and counted; an annotation left with none is
    skipped (its category is then not annotated in that image); the manifest and the CLI report both."""
    raw = write_coco_root(tmp_path / "raw")
    dog = [[2, 2, 12, 2, 12, 12, 2, 12], [1, 1, 5, 5]]  # image 11's dog plus a 2-point line
    rewrite(raw / IT, set_field("annotations", 0, "segmentation", dog))
    rewrite(raw / IT, set_field("annotations", 1, "segmentation", [[20, 5, 30, 5]]))  # image 11's only person
    result = CliRunner().invoke(main, ["data", "captioning", "--root", str(raw), "--out", str(tmp_path / "out"),
                                       "--min-count", "0", "--mask-fraction", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    assert ("skipped, as published: 1 annotations left without a polygon skipped (instances_train2014.json: "
            "annotation 5002); 2 polygons of fewer than 3 points dropped (instances_train2014.json: annotation 5001 "
            "polygon 1, instances_train2014.json: annotation 5002 polygon 0)") in result.output
    ours = CaptionStore.open(tmp_path / "out")
    assert ours.manifest["skipped"]["counts"] == {"annotations_without_polygon": 1, "short_polygons": 2}
    assert ours.manifest["split_file"] == "split_robust_coco.json"
    record = next(r for r in ours.records("train") if r["image_id"] == 11)
    assert "person" not in record["objects"] and "dog" in record["objects"]
    dog_index = ours.categories.index("dog")

    def dog_row(s):
        human = s.human("train")
        rows = [r for r, (i, c) in enumerate(zip(human.image_ids, human.category)) if i == 11 and c == dog_index]
        return human.importance[rows[0]]
    assert np.array_equal(dog_row(ours), dog_row(store))  # the line changes nothing


def test_robust_split_is_shipped(tmp_path):
    """A root without split_robust_coco.json uses the published file shipped with the package (all 123,287
    COCO 2014 images): this tiny root lacks them, and the error says which split file was used and why."""
    from groundbench.data.coco import SHIPPED_ROBUST, read_split
    path, assignment = read_split(tmp_path, "robust")
    assert path == SHIPPED_ROBUST
    assert [sum(s == split for s in assignment.values()) for split in ("train", "val", "test")] == [110234, 3915, 9138]
    raw = write_coco_root(tmp_path / "raw")
    (raw / "split_robust_coco.json").unlink()
    with pytest.raises(GroundbenchError, match="this is the shipped published split") as error:
        _prepare(raw, tmp_path / "out")
    assert str(SHIPPED_ROBUST) in str(error.value)
    (raw / "dataset_coco.json").unlink()
    with pytest.raises(GroundbenchError, match="dataset_coco.json: split file not found"):
        _prepare(raw, tmp_path / "out2", split_scheme="karpathy")

"""The synthetic captioning world: COCO formats (read by pycocotools), true captions, robust / standard splits,
determinism and the world.json stamp. Raw files only (prepare=False): no dependence on the converter."""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from groundbench.data.caption_text import MAX_CAPTION_TOKENS, tokenize_caption
from groundbench.data.features import read_tsv
from groundbench.data.synthetic.params import COLOURS, SHAPES, SIZES, plural
from groundbench.data.synthetic.render import RGB, mask_boxes, object_masks
from groundbench.data.synthetic.scenes import Scene, SceneObject
from groundbench.data.synthetic_captions import (CAPTION_WORLD_VERSION, PARTNER, CaptionWorldParams,
                                                 build_caption_world, caption_world_is_built,
                                                 default_caption_world_dir, plan_caption_world)
from groundbench.data.synthetic_captions.captions import NUMBERS, relations
from groundbench.data.synthetic_captions.params import vqa_world_params
from groundbench.data.synthetic_captions.scenes import generate_scene
from groundbench.data.synthetic_captions.split import image_pairs, partner_rates
from groundbench.errors import GroundbenchError

TINY = CaptionWorldParams(n_images=120)
NOUN = {**{s: s for s in SHAPES}, **{plural(s): s for s in SHAPES}}
ADJECTIVES = set(COLOURS) | set(SIZES)
RELATIONS = {"left": ("to", "the", "left", "of"), "right": ("to", "the", "right", "of"), "above": ("above",),
             "below": ("below",)}


def _build(root: Path, params: CaptionWorldParams) -> Path:
    build_caption_world(root, params, progress=False, prepare=False)
    return root / "raw"


def _load(raw: Path, name: str):
    return json.loads((raw / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    return _build(tmp_path_factory.mktemp("captions"), TINY)


@pytest.fixture(scope="module")
def scenes(world) -> dict[int, Scene]:
    return {d["image_id"]: Scene.from_dict(d) for d in _load(world, "scenes.json")}


@pytest.fixture(scope="module")
def captions(world) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for coco_set in ("train2014", "val2014"):
        for a in sorted(_load(world, f"captions_{coco_set}.json")["annotations"], key=lambda a: a["id"]):
            out.setdefault(a["image_id"], []).append(a["caption"])
    return out


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_params_give_byte_identical_files(world, tmp_path):
    again = _build(tmp_path / "again", TINY)
    assert _tree(again) == _tree(world)
    other = _build(tmp_path / "other", replace(TINY, seed=1))
    assert _load(other, "scenes.json") != _load(world, "scenes.json")


def test_scenes_follow_the_partner_prior():
    params = replace(TINY, partner_prob=1.0)
    for image_id in range(1, 61):
        objs = generate_scene(image_id, params).objects
        assert 2 <= len(objs) <= 4 and max(Counter(o.shape for o in objs).values()) <= 2
        assert objs[1].shape == PARTNER[objs[0].shape]
        for i, a in enumerate(objs):
            for b in objs[i + 1:]:
                assert (a.x - b.x) ** 2 + (a.y - b.y) ** 2 >= (a.radius + b.radius + 1.9) ** 2
    assert all(PARTNER[PARTNER[s]] == s != PARTNER[s] for s in SHAPES)


def test_instances_load_in_pycocotools_and_match_the_rendered_masks(world, scenes):
    n_rle = n_poly = 0
    for coco_set in ("train2014", "val2014"):
        coco = COCO(str(world / f"instances_{coco_set}.json"))
        assert [(c["id"], c["name"], c["supercategory"]) for c in coco.loadCats(coco.getCatIds())] == \
            [(i + 1, s, "shape") for i, s in enumerate(SHAPES)]
        assert all((i % 3 == 0) == (coco_set == "val2014") for i in coco.getImgIds())
        for image_id in coco.getImgIds():
            scene = scenes[image_id]
            masks = object_masks(scene)
            anns = sorted(coco.loadAnns(coco.getAnnIds(imgIds=image_id)), key=lambda a: a["id"])
            assert [a["category_id"] for a in anns] == [SHAPES.index(o.shape) + 1 for o in scene.objects]
            for ann, mask, box in zip(anns, masks, mask_boxes(masks)):
                decoded = coco.annToMask(ann).astype(bool)
                assert ann["iscrowd"] == 0
                if isinstance(ann["segmentation"], dict):
                    n_rle += 1
                    assert isinstance(ann["segmentation"]["counts"], str)
                    assert np.array_equal(decoded, mask) and ann["area"] == mask.sum()
                    assert ann["bbox"] == [box[0], box[1], box[2] - box[0], box[3] - box[1]]
                else:
                    n_poly += 1
                    assert (decoded & mask).sum() >= 0.6 * mask.sum() and (decoded & ~mask).sum() <= 0.1 * mask.sum()
    assert n_poly >= 10 and n_rle >= 5 * n_poly  # about 10% polygons


def test_images_and_features(world, scenes):
    for image_id in (1, 2, 3):
        pixels = np.asarray(Image.open(world / "images" / f"{image_id}.png"))
        assert pixels.shape == (96, 96, 3)
        for obj, mask in zip(scenes[image_id].objects, object_masks(scenes[image_id])):
            assert (pixels[mask] == RGB[obj.color]).all()
    rows = list(read_tsv(world / "trainval_36" / "synth_captions_36.tsv"))
    assert [info.image_id for info, _, _ in rows] == sorted(scenes)
    for info, boxes, feats in rows:
        assert boxes.shape == (36, 4) and feats.shape == (36, 64) and (feats >= 0).all()


def _phrase_objects(tokens: list[str], j: int, scene: Scene) -> list[SceneObject]:
    """Objects the noun phrase ending at shape noun tokens[j] can denote; asserts its count is true."""
    shape, k = NOUN[tokens[j]], j - 1
    while tokens[k] in ADJECTIVES:
        k -= 1
    adjectives, determiner = tokens[k + 1:j], tokens[k]
    every = scene.with_shape(shape)
    fits = [o for o in every if all(a in (o.color, o.size) for a in adjectives)]
    if tokens[j] == shape:
        assert determiner in ("a", "an") and fits, (tokens, scene)
    else:
        assert NUMBERS.index(determiner) == len(every) == len(fits), (tokens, scene)
    return fits


def _check_caption(tokens: list[str], scene: Scene, margin: float) -> None:
    nouns = [j for j, t in enumerate(tokens) if t in NOUN]
    assert 1 <= len(nouns) <= 3 and all(NOUN[tokens[j]] in {o.shape for o in scene.objects} for j in nouns)
    phrases = {j: _phrase_objects(tokens, j, scene) for j in nouns}
    if "shapes" in tokens and tokens[tokens.index("shapes") - 1] in NUMBERS:
        assert NUMBERS.index(tokens[tokens.index("shapes") - 1]) == len(scene.objects)
    for name, words in RELATIONS.items():
        starts = [i for i in range(len(tokens)) if tuple(tokens[i:i + len(words)]) == words]
        for i in starts:
            left = phrases[max(j for j in nouns if j < i)]
            right = phrases[min(j for j in nouns if j > i)]
            assert any(a is not b and name in _holds(a, b, margin) for a in left for b in right), (tokens, scene)


def _holds(a: SceneObject, b: SceneObject, margin: float) -> set[str]:
    return {n for n, ok in (("left", b.x - a.x >= margin), ("right", a.x - b.x >= margin),
                            ("above", b.y - a.y >= margin), ("below", a.y - b.y >= margin)) if ok}


def test_captions_are_true_short_and_name_present_shapes(scenes, captions):
    assert sorted(captions) == sorted(scenes)
    margin = TINY.relation_margin * TINY.image_size
    templates = Counter()
    for image_id, texts in captions.items():
        assert len(texts) == TINY.captions_per_image == len(set(texts))
        for text in texts:
            tokens = tokenize_caption(text)
            assert 2 <= len(tokens) <= MAX_CAPTION_TOKENS
            _check_caption(tokens, scenes[image_id], margin)
            templates.update(name for name, words in RELATIONS.items() if words[-1] in tokens)
            templates.update(w for w in ("two", "shapes", "there", "picture") if w in tokens)
    assert min(templates.values()) >= 5 and len(templates) == 8  # every kind of caption is used


def test_relations_need_the_margin():
    a = SceneObject(0, "circle", "red", "small", 20.0, 50.0, 7.2)
    b = SceneObject(1, "square", "blue", "small", 40.0, 45.0, 7.2)
    assert relations(a, b, 9.6) == ["to the left of"]
    assert relations(b, a, 9.6) == ["to the right of"]
    assert relations(b, a, 4.0) == ["to the right of", "above"]


def test_visual_words_file(world):
    lines = (world / "visual_words.txt").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "circle, circle, circles" and "cross, cross, crosses" in lines and len(lines) == 8


def test_robust_split_holds_out_rare_pairs(world, scenes):
    split = _load(world, "split_robust_coco.json")
    ids = {s: [e["img_id"] for e in split[f"{s}_id"]] for s in ("train", "val", "test")}
    assert sorted(i for v in ids.values() for i in v) == sorted(scenes)
    stamp = _load(world, "world.json")
    held = {tuple(p) for p in stamp["heldout_pairs"]}
    assert held and not held & {tuple(sorted(p, key=SHAPES.index)) for p in PARTNER.items()}
    assert all(not image_pairs(scenes[i]) & held for i in ids["train"])
    assert all(image_pairs(scenes[i]) & held for i in ids["val"] + ids["test"])
    n_out = len(ids["val"]) + len(ids["test"])
    assert n_out >= TINY.heldout_fraction * len(scenes) and len(ids["val"]) == round(0.3 * n_out)
    per_category = Counter(s for sc in scenes.values() for s in {o.shape for o in sc.objects})
    lost = Counter(s for i in ids["val"] + ids["test"] for s in {o.shape for o in scenes[i].objects})
    assert all(lost[c] <= 0.5 * per_category[c] for c in lost)
    rates = partner_rates(scenes, ids["train"])
    assert rates["all"] >= 0.7
    for shape in SHAPES:  # in train a shape's partner is far likelier beside it than any other shape
        with_shape = [i for i in ids["train"] if scenes[i].with_shape(shape)]
        others = [sum(bool(scenes[i].with_shape(t)) for i in with_shape) / len(with_shape)
                  for t in SHAPES if t not in (shape, PARTNER[shape])]
        assert rates[shape] >= max(others) + 0.15
    assert stamp["splits"]["robust"] == {s: len(v) for s, v in ids.items()}


def _lacks_partner(scene: Scene) -> bool:
    present = {o.shape for o in scene.objects}
    return any(PARTNER[s] not in present for s in present)


def test_default_world_robust_test_breaks_the_prior():
    """Planning only (no pixels): in the default world the partner prior is strong in train and misleads
    far more often on robust test, where a captioner relying on it would name absent partners."""
    plan = plan_caption_world(CaptionWorldParams())
    ids = {s: [i for i, v in plan.robust.items() if v == s] for s in ("train", "val", "test")}
    assert len(ids["val"]) + len(ids["test"]) >= 0.25 * len(plan.scenes)
    train, test = partner_rates(plan.scenes, ids["train"]), partner_rates(plan.scenes, ids["test"])
    assert train["all"] >= 0.8 and test["all"] <= train["all"] - 0.03
    lacking = {s: np.mean([_lacks_partner(plan.scenes[i]) for i in v]) for s, v in ids.items()}
    assert lacking["test"] >= lacking["train"] + 0.15


def test_karpathy_file(world, scenes, captions):
    data = _load(world, "dataset_coco.json")
    entries = data["images"]
    assert [e["cocoid"] for e in entries] == sorted(scenes)
    labels = Counter(e["split"] for e in entries)
    assert set(labels) == {"train", "restval", "val", "test"}
    assert 0.04 <= labels["val"] / len(entries) <= 0.2 and 0.1 <= labels["test"] / len(entries) <= 0.3
    assert labels["restval"] < labels["train"]
    assert _load(world, "world.json")["splits"]["standard"] == dict(labels)
    for e in entries:
        assert e["filepath"] == ("val2014" if e["cocoid"] % 3 == 0 else "train2014")
        assert e["filename"] == f"{e['cocoid']}.png"
        assert [s["raw"] for s in e["sentences"]] == captions[e["cocoid"]]
        assert all(s["tokens"] == tokenize_caption(s["raw"]) for s in e["sentences"])


def test_world_stamp_skips_a_rebuild(tmp_path):
    params = CaptionWorldParams(n_images=12)
    raw = _build(tmp_path, params)
    assert caption_world_is_built(raw, params) and not caption_world_is_built(raw, replace(params, seed=3))
    (raw / "marker").write_text("kept")
    _build(tmp_path, params)
    assert (raw / "marker").exists()
    _build(tmp_path, replace(params, seed=3))
    assert not (raw / "marker").exists() and _load(raw, "world.json")["params"]["seed"] == 3
    (raw / "world.json").unlink()
    with pytest.raises(GroundbenchError, match="not a synthetic captioning world"):
        _build(tmp_path, params)


def test_prepare_calls_the_converter(tmp_path, monkeypatch):
    import groundbench.data.caption_prepare as caption_prepare

    calls = []
    monkeypatch.setattr(caption_prepare, "prepare_captioning", lambda *a, **k: calls.append((a, k)))
    out = build_caption_world(tmp_path, CaptionWorldParams(n_images=6), split_scheme="standard", progress=False)
    assert calls == [((out / "raw", out / "standard"), {"split_scheme": "standard", "source": "synthetic-captions",
                                                         "min_count": 1, "progress": False})]
    with pytest.raises(GroundbenchError, match="split schemes"):
        build_caption_world(tmp_path, CaptionWorldParams(n_images=6), split_scheme="karpathy", prepare=False)


def test_params_round_trip_and_validation(tmp_path):
    params = replace(TINY, partner_prob=0.7)
    assert CaptionWorldParams.from_dict(json.loads(json.dumps(params.to_dict()))) == params
    with pytest.raises(GroundbenchError, match="unknown"):
        CaptionWorldParams.from_dict({"colours": 3})
    for bad in ({"partner_prob": 1.5}, {"max_objects": 1, "min_objects": 2}, {"heldout_fraction": 0.0},
                {"n_proposals": 10}):
        with pytest.raises(GroundbenchError):
            replace(TINY, **bad)
    vqa = vqa_world_params(params)
    assert (vqa.seed, vqa.n_proposals, vqa.feature_dim, vqa.object_noise) == (0, 36, 64, 1.5)
    assert default_caption_world_dir(tmp_path) == tmp_path / "synthetic" / CAPTION_WORLD_VERSION
    assert default_caption_world_dir(tmp_path, params).name.startswith(CAPTION_WORLD_VERSION + "-")

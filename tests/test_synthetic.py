"""The synthetic changing-priors VQA world: raw formats, splits, prior shift, determinism, maps, features."""
from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from groundbench.data.features import read_tsv
from groundbench.data.splits import in_val_holdout
from groundbench.data.synthetic import WORLD_VERSION, WorldParams, build_world, default_world_dir
from groundbench.data.synthetic.hat import gets_train_map, hat_map
from groundbench.data.synthetic.oracle import load_scenes, oracle_accuracy, oracle_answer
from groundbench.data.synthetic.params import COLOURS, SHAPES, stream
from groundbench.data.synthetic.proposals import box_features, box_overlaps
from groundbench.data.synthetic.questions import candidate_questions, human_answers
from groundbench.data.synthetic.render import mask_boxes, object_masks
from groundbench.data.synthetic.scenes import Scene, SceneObject, generate_scene
from groundbench.data.synthetic.writer import plan_world
from groundbench.errors import GroundbenchError

SMALL = WorldParams(n_images=300)
TINY = WorldParams(n_images=40)


def _build(root: Path, params: WorldParams) -> Path:
    build_world(root, params, progress=False, prepare=False)
    return root / "raw"


@pytest.fixture(scope="module")
def small_world(tmp_path_factory) -> tuple[Path, float]:
    start = time.perf_counter()
    raw = _build(tmp_path_factory.mktemp("small"), SMALL)
    return raw, time.perf_counter() - start


def _load(raw: Path, split: str) -> tuple[list[dict], list[dict]]:
    return (json.loads((raw / f"vqacp_v2_{split}_questions.json").read_text()),
            json.loads((raw / f"vqacp_v2_{split}_annotations.json").read_text()))


def _digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _tv(a: Counter, b: Counter) -> float:
    na, nb = sum(a.values()), sum(b.values())
    return 0.5 * sum(abs(a[k] / na - b[k] / nb) for k in set(a) | set(b))


# ---------------------------------------------------------------- raw formats

def test_raw_files_follow_the_vqacp_layout(small_world):
    raw, _ = small_world
    for split in ("train", "test"):
        questions, annotations = _load(raw, split)
        assert [q["question_id"] for q in questions] == [a["question_id"] for a in annotations]
        for q in questions:
            assert set(q) == {"question_id", "image_id", "question", "coco_split"}
            assert q["coco_split"] in ("train2014", "val2014") and q["question"].endswith("?")
        for a in annotations:
            assert {"question_id", "image_id", "question_type", "answer_type", "multiple_choice_answer",
                    "answers"} <= set(a)
            assert a["answer_type"] in ("yes/no", "number", "other")
            assert [x["answer_id"] for x in a["answers"]] == list(range(1, 11))
            assert {x["answer_confidence"] for x in a["answers"]} <= {"yes", "maybe"}
            votes = Counter(x["answer"] for x in a["answers"])
            assert votes.most_common(1)[0][0] == a["multiple_choice_answer"]
            assert votes[a["multiple_choice_answer"]] >= 6  # >= 4 keeps every leave-one-out subset at 1.0
    world = json.loads((raw / "world.json").read_text())
    assert world["world_version"] == WORLD_VERSION and WorldParams.from_dict(world["params"]) == SMALL
    rows = list(read_tsv(raw / "trainval_36" / "synth_trainval_36.tsv"))
    assert len(rows) == SMALL.n_images
    info, boxes, feats = rows[0]
    assert (info.width, info.height) == (96, 96) and boxes.shape == (36, 4) and feats.shape == (36, 64)
    image = Image.open(raw / "images" / f"{info.image_id}.png")
    assert image.mode == "RGB" and image.size == (96, 96)


def test_world_has_the_documented_size_and_variety(small_world):
    raw, seconds = small_world
    train_q, _ = _load(raw, "train")
    test_q, _ = _load(raw, "test")
    total = len(train_q) + len(test_q)
    assert 0.75 * SMALL.n_images * SMALL.questions_per_image <= total <= SMALL.n_images * SMALL.questions_per_image
    assert 0.25 <= len(test_q) / total <= 0.4
    scenes = load_scenes(raw)
    objects = [o for s in scenes.values() for o in s.objects]
    assert {o.shape for o in objects} == set(SHAPES) and {o.color for o in objects} == set(COLOURS)
    assert {o.size for o in objects} == {"small", "large"}
    assert all(2 <= len(s.objects) <= 6 for s in scenes.values())
    _, annotations = _load(raw, "train")
    assert {a["answer_type"] for a in annotations} == {"yes/no", "number", "other"}
    assert seconds < 20.0, f"{SMALL.n_images} images took {seconds:.1f} s (default size must stay < 1 min)"


def test_some_annotators_disagree_but_the_truth_keeps_its_majority():
    scene = generate_scene(7, WorldParams())
    questions = [q for i in range(1, 200) for q in candidate_questions(generate_scene(i, WorldParams()), WorldParams())]
    contested = 0
    for q in questions:
        answers = [a["answer"] for a in human_answers(q, WorldParams())]
        assert answers.count(q.answer) >= 6
        contested += answers.count(q.answer) < 10
    assert 0.1 < contested / len(questions) < 0.4
    assert scene.objects  # scenes are never empty


# ---------------------------------------------------------------- splits and the prior shift

def test_splits_are_disjoint_and_val_is_carved_by_image(small_world):
    raw, _ = small_world
    train_q, _ = _load(raw, "train")
    test_q, _ = _load(raw, "test")
    train_ids, test_ids = {q["question_id"] for q in train_q}, {q["question_id"] for q in test_q}
    assert not train_ids & test_ids and len(train_ids) == len(train_q)
    val = [q for q in train_q if in_val_holdout(q["image_id"])]
    assert 0.04 < len(val) / len(train_q) < 0.2


def test_every_question_type_has_a_shifted_answer_distribution():
    _, kept = plan_world(WorldParams())
    by_type = defaultdict(lambda: (Counter(), Counter()))
    for q, split in kept:
        by_type[q.question_type][split == "test"][q.answer] += 1
    assert len(by_type) == 6
    for qtype, (train, test) in by_type.items():
        assert _tv(train, test) > 0.2, qtype  # total variation; 0.25-0.6 at prior_strength 0.8
        assert set(test) <= set(train), f"{qtype}: a test answer never occurs in train"


def test_the_train_prior_is_right_on_val_and_wrong_on_test():
    """A blind predictor (each question text's most common train answer) does well on val only."""
    _, kept = plan_world(WorldParams())
    prior: dict[str, Counter] = defaultdict(Counter)
    for q, split in kept:
        if split == "train" and not in_val_holdout(q.image_id):
            prior[q.text][q.answer] += 1
    def accuracy(select) -> float:
        hits = [prior[q.text].most_common(1)[0][0] == q.answer for q, split in kept if select(q, split)]
        return sum(hits) / len(hits)
    val = accuracy(lambda q, s: s == "train" and in_val_holdout(q.image_id))
    test = accuracy(lambda q, s: s == "test")
    assert val > 0.6 and test < 0.2, (val, test)


def test_oracle_reading_the_scene_is_right_on_every_question(small_world):
    raw, _ = small_world
    assert oracle_accuracy(raw, "test") == 1.0
    assert oracle_accuracy(raw, "train") == 1.0


def test_oracle_answers_hand_built_scene():
    objs = (SceneObject(0, "circle", "red", "small", 20, 20, 7), SceneObject(1, "star", "blue", "large", 60, 60, 12),
            SceneObject(2, "star", "white", "small", 20, 70, 7))
    scene = Scene(1, 96, 96, objs)
    assert oracle_answer("what color is the circle?", scene) == "red"
    assert oracle_answer("what shape is the blue object?", scene) == "star"
    assert oracle_answer("how many stars are there?", scene) == "2"
    assert oracle_answer("is there a white star?", scene) == "yes"
    assert oracle_answer("is there a red star?", scene) == "no"
    assert oracle_answer("is the circle red?", scene) == "yes"
    assert oracle_answer("is the circle blue?", scene) == "no"
    with pytest.raises(ValueError):
        oracle_answer("what color is the star?", scene)  # two stars: ambiguous


def test_yes_no_questions_depend_on_one_object_and_their_types_flip_priors():
    """Both answers of each yes/no type occur in train and test; the type favoured "yes" in train is the
    one favoured "no" in test (VQA-CP's per-question-type flip), and the answer is read off one object."""
    _, kept = plan_world(WorldParams())
    share_yes = defaultdict(dict)
    for family in ("is_color", "exists"):
        for split in ("train", "test"):
            answers = [q.answer for q, s in kept if q.family == family and s == split]
            assert set(answers) == {"yes", "no"}, (family, split)
            share_yes[family][split] = answers.count("yes") / len(answers)
    assert share_yes["is_color"]["train"] > 0.7 and share_yes["is_color"]["test"] < 0.3
    assert share_yes["exists"]["train"] < 0.3 and share_yes["exists"]["test"] > 0.7
    for q, _ in kept:
        if q.answer_type == "yes/no":
            assert len(q.relevant) == 1


# ---------------------------------------------------------------- determinism and maps

def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tmp_path):
    first = _digests(_build(tmp_path / "a", TINY))
    assert first == _digests(_build(tmp_path / "b", TINY))
    other = _digests(_build(tmp_path / "c", replace(TINY, seed=1)))
    assert other["trainval_36/synth_trainval_36.tsv"] != first["trainval_36/synth_trainval_36.tsv"]


def test_hat_fraction_only_adds_train_maps_nested(tmp_path):
    few = _digests(_build(tmp_path / "few", TINY))
    every = _digests(_build(tmp_path / "all", replace(TINY, hat_fraction=1.0)))
    changed = {k for k in few if k in every and few[k] != every[k]}
    assert changed == {"world.json"}
    assert set(few) - set(every) == set()
    added = set(every) - set(few)
    assert added and all(k.startswith("vqahat_train/") for k in added)


def test_maps_go_to_val_test_and_drawn_train_questions(small_world):
    raw, _ = small_world
    for split in ("train", "test"):
        for q in _load(raw, split)[0]:
            qid = q["question_id"]
            if split == "test" or in_val_holdout(q["image_id"]):
                assert all((raw / "vqahat_val" / f"{qid}_{a}.png").is_file() for a in (1, 2, 3))
            else:
                assert (raw / "vqahat_train" / f"{qid}_1.png").is_file() == gets_train_map(qid, SMALL)
    train_maps = len(list((raw / "vqahat_train").glob("*.png")))
    train_rest = [q for q in _load(raw, "train")[0] if not in_val_holdout(q["image_id"])]
    assert 0.02 < train_maps / len(train_rest) < 0.11
    grey = Image.open(next((raw / "vqahat_val").glob("*.png")))
    assert grey.mode == "L" and grey.size == (96, 96)


def test_maps_concentrate_on_the_relevant_objects(small_world):
    raw, _ = small_world
    scenes = load_scenes(raw)
    relevant = json.loads((raw / "relevant_objects.json").read_text())
    inside_share, ratios = [], []
    for q in _load(raw, "test")[0][:150]:
        scene, rel = scenes[q["image_id"]], relevant[str(q["question_id"])]
        masks = object_masks(scene)
        amap = np.asarray(Image.open(raw / "vqahat_val" / f"{q['question_id']}_1.png"), dtype=np.float64)
        near = np.zeros(amap.shape, dtype=bool)
        for x1, y1, x2, y2 in mask_boxes(masks[rel]).astype(int):
            near[max(y1 - 4, 0):y2 + 4, max(x1 - 4, 0):x2 + 4] = True
        inside_share.append(amap[near].sum() / amap.sum())
        ratios.append(inside_share[-1] / near.mean())
    assert np.mean(inside_share) > 0.6 and np.median(ratios) > 3.0


def test_annotators_differ_and_maps_are_imperfect():
    scene = generate_scene(3, WorldParams())
    masks = object_masks(scene)
    a, b = (hat_map(masks, (0,), WorldParams(), 3000, k) for k in (1, 2))
    assert a.dtype == np.uint8 and a.max() == 255 and not np.array_equal(a, b)
    outside = ~masks[0]
    assert a[outside].sum() > 0  # blur and stray mass leave the object


# ---------------------------------------------------------------- proposals and features

def test_features_depend_only_on_what_the_box_covers():
    params = WorldParams()
    scene = generate_scene(11, params)
    masks = object_masks(scene)
    rng = np.random.default_rng(0)
    emb = rng.standard_normal((len(scene.objects), 64))
    background, noise = rng.standard_normal(64), rng.standard_normal((36, 64))
    boxes = np.stack([[0, 0, 96, 96]] * 36).astype(np.float32)
    boxes[0] = mask_boxes(masks[:1])[0]
    base = box_features(boxes, masks, emb, background, noise)
    assert (base >= 0).all()
    moved = masks.copy()  # change every object the first box does not touch
    coverage, _ = box_overlaps(boxes[:1], masks)
    for o in np.nonzero(coverage[0] == 0)[0]:
        moved[o] = np.roll(masks[o], 3, axis=1)
        emb[o] += 5.0
    after = box_features(boxes, moved, emb, background, noise)
    assert np.array_equal(base[0], after[0])
    empty = box_features(np.array([[0, 0, 2, 2]], np.float32), np.zeros((1, 96, 96), bool), emb[:1], background,
                         noise[:1])
    assert np.allclose(empty[0], np.maximum(background + noise[0], 0), atol=1e-6)


def test_features_never_see_questions_or_answers(tmp_path):
    base = _digests(_build(tmp_path / "a", TINY))
    other = _digests(_build(tmp_path / "b", replace(TINY, prior_strength=0.5, questions_per_image=2.0,
                                                    disagreement=0.3)))
    tsv = "trainval_36/synth_trainval_36.tsv"
    assert base[tsv] == other[tsv]
    assert base["vqacp_v2_test_annotations.json"] != other["vqacp_v2_test_annotations.json"]


def test_proposals_cover_every_object(small_world):
    raw, _ = small_world
    scenes = load_scenes(raw)
    for info, boxes, _ in list(read_tsv(raw / "trainval_36" / "synth_trainval_36.tsv"))[:50]:
        assert (boxes[:, :2] >= 0).all() and (boxes[:, 2:] <= 96).all() and (boxes[:, 2:] > boxes[:, :2]).all()
        coverage, purity = box_overlaps(boxes, object_masks(scenes[info.image_id]))
        assert ((coverage > 0.8) & (purity > 0.3)).any(0).all()  # a good box on every object (stars fill ~1/3)
        assert ((coverage == 0).all(1)).any() or len(scenes[info.image_id].objects) >= 5  # background boxes


# ---------------------------------------------------------------- parameters, CLI, bad input

def test_params_round_trip_and_reject_bad_values():
    params = WorldParams(seed=3, hat_fraction=0.5)
    assert WorldParams.from_dict(json.loads(json.dumps(params.to_dict()))) == params
    with pytest.raises(GroundbenchError, match="unknown world parameter"):
        WorldParams.from_dict({"sed": 1})
    with pytest.raises(GroundbenchError, match="hat_fraction"):
        WorldParams(hat_fraction=1.5)
    assert default_world_dir("/c") == Path("/c/synthetic") / WORLD_VERSION
    assert default_world_dir("/c", params) != default_world_dir("/c")
    assert stream(params, "hat", 1).random() == stream(params, "hat", 1).random()


def test_build_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "mine.txt").write_text("user data")
    with pytest.raises(GroundbenchError, match="not a synthetic world"):
        build_world(tmp_path, TINY, progress=False, prepare=False)
    assert (tmp_path / "raw" / "mine.txt").exists()


def test_cli_synth_writes_a_world_and_reports_bad_options(tmp_path):
    from click.testing import CliRunner

    from groundbench.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["data", "synth", "--out", str(tmp_path / "w"), "--images", "20", "--seed", "2",
                                  "--raw-only", "--quiet"])
    assert result.exit_code == 0, result.output
    world = json.loads((tmp_path / "w" / "raw" / "world.json").read_text())
    assert world["params"]["seed"] == 2 and world["params"]["n_images"] == 20
    bad = runner.invoke(main, ["data", "synth", "--out", str(tmp_path / "x"), "--hat-fraction", "2", "--quiet"])
    assert bad.exit_code == 2 and "hat_fraction" in bad.output and "Traceback" not in bad.output


def test_build_world_prepares_a_store(tmp_path):
    pytest.importorskip("groundbench.data.prepare")
    out = build_world(tmp_path / "w", TINY, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    train_q, _ = _load(out / "raw", "train")
    test_q, _ = _load(out / "raw", "test")
    assert manifest["splits"]["test"] == len(test_q)
    assert manifest["splits"]["train"] + manifest["splits"]["val"] == len(train_q)

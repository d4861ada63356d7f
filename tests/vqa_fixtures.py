"""Writers of tiny raw VQA roots in the official layouts (VQA-CP v2 lists, VQA v2 wrapped JSON,
bottom-up TSV with base64 arrays, VQA-HAT PNG maps with several annotators per question)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from groundbench.data.features import format_tsv_row
from groundbench.data.splits import in_val_holdout

VAL_FRACTION = 0.3
WIDTH, HEIGHT = 40, 30
QUESTIONS = (("Is there a dog?", "yes/no", "is there a", ("yes", "no")),
             ("How many balls are there?", "number", "how many", ("2", "3")),
             ("What color is the ball?", "other", "what color is the", ("red", "blue")))


def answer_dicts(answers: list[str]) -> list[dict]:
    """The official per-annotator answer objects."""
    return [{"answer": a, "answer_confidence": "yes", "answer_id": i + 1} for i, a in enumerate(answers)]


def pick_images(n_train: int, n_test: int, val_fraction: float = VAL_FRACTION) -> tuple[list[int], list[int]]:
    """Train image ids with both held-out and kept images, then test image ids."""
    held, kept, image_id = [], [], 100
    while len(held) < max(1, n_train // 3) or len(kept) < n_train - max(1, n_train // 3):
        image_id += 1
        (held if in_val_holdout(image_id, val_fraction) else kept).append(image_id)
    train = held[:max(1, n_train // 3)] + kept[:n_train - max(1, n_train // 3)]
    return sorted(train), list(range(image_id + 1, image_id + 1 + n_test))


def make_qa(image_ids: list[int], split_tag: str, rng: np.random.Generator) -> tuple[list[dict], list[dict]]:
    """Three questions per image; 10 answers each, 7-9 agreeing with the multiple-choice answer."""
    questions, annotations = [], []
    for image_id in image_ids:
        for j, (text, atype, qtype, options) in enumerate(QUESTIONS):
            qid = image_id * 10 + j
            mc = options[int(rng.integers(len(options)))]
            other = options[1 - options.index(mc)]
            agree = int(rng.integers(7, 10))
            answers = [mc] * agree + [other] * (10 - agree)
            questions.append({"question_id": qid, "image_id": image_id, "question": text, "coco_split": split_tag})
            annotations.append({"question_id": qid, "image_id": image_id, "question_type": qtype,
                                "answer_type": atype, "multiple_choice_answer": mc,
                                "answers": answer_dicts(answers), "coco_split": split_tag})
    return questions, annotations


def image_rows(image_ids: list[int], k: int, d: int, rng: np.random.Generator, adaptive: bool = False) -> list[tuple]:
    """TSV rows (image_id, w, h, boxes [N, 4], features [N, D]); box 0 covers the top-left quarter."""
    rows = []
    for image_id in image_ids:
        n = int(rng.integers(2, k + 1)) if adaptive else k
        x1 = rng.uniform(0, WIDTH / 2, n)
        y1 = rng.uniform(0, HEIGHT / 2, n)
        boxes = np.stack([x1, y1, x1 + rng.uniform(2, WIDTH / 2, n), y1 + rng.uniform(2, HEIGHT / 2, n)], 1)
        boxes[0] = (0, 0, WIDTH / 2, HEIGHT / 2)
        rows.append((image_id, WIDTH, HEIGHT, boxes.astype(np.float32), rng.standard_normal((n, d)).astype(np.float32)))
    return rows


def write_tsv_file(path: Path, rows: list[tuple]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="ascii", newline="") as handle:
        for row in rows:
            handle.write(format_tsv_row(*row))
    return path


def quarter_map(size: tuple[int, int] = (20, 20), value: int = 255) -> Image.Image:
    """A grey-scale map (w, h) bright on the top-left quarter, where every fixture's box 0 lies."""
    array = np.zeros((size[1], size[0]), dtype=np.uint8)
    array[: size[1] // 2, : size[0] // 2] = value
    return Image.fromarray(array, mode="L")


def write_maps(root: Path, train_qids: list[int], val_qids: list[int]) -> None:
    """vqahat_train/{qid}_1.png for ``train_qids``; vqahat_val/{qid}_{1,2,3}.png (three annotators)."""
    (root / "vqahat_train").mkdir(parents=True, exist_ok=True)
    (root / "vqahat_val").mkdir(parents=True, exist_ok=True)
    for qid in train_qids:
        quarter_map((24, 24)).save(root / "vqahat_train" / f"{qid}_1.png")
    for qid in val_qids:
        for n, value in ((1, 255), (2, 128), (3, 64)):
            quarter_map((32, 16), value).save(root / "vqahat_val" / f"{qid}_{n}.png")


def write_json(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def write_raw_root(root: Path, scheme: str = "cp", *, n_train: int = 6, n_test: int = 3, k: int = 4, d: int = 8,
                   adaptive: bool = False, seed: int = 0) -> dict:
    """A complete raw root; returns {"questions": {raw split: [...]}, "annotations": ..., "images": ...}."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    train_images, test_images = pick_images(n_train, n_test)
    second = "test" if scheme == "cp" else "val"
    q_train, a_train = make_qa(train_images, "train2014", rng)
    q_second, a_second = make_qa(test_images, "val2014", rng)
    if scheme == "cp":
        for split, qs, anns in (("train", q_train, a_train), ("test", q_second, a_second)):
            write_json(root / f"vqacp_v2_{split}_questions.json", qs)
            write_json(root / f"vqacp_v2_{split}_annotations.json", anns)
    else:
        for split, qs, anns in (("train", q_train, a_train), ("val", q_second, a_second)):
            write_json(root / f"v2_OpenEnded_mscoco_{split}2014_questions.json",
                       {"info": {}, "task_type": "Open-Ended", "data_subtype": f"{split}2014", "questions": qs})
            write_json(root / f"v2_mscoco_{split}2014_annotations.json",
                       {"info": {}, "data_subtype": f"{split}2014", "annotations": anns})
    write_tsv_file(root / "trainval_36" / "trainval_resnet101_faster_rcnn_genome_36.tsv",
                   image_rows(train_images, k, d, rng, adaptive))
    write_tsv_file(root / "test2015_36" / "test2015_resnet101_faster_rcnn_genome_36.tsv",
                   image_rows(test_images, k, d, rng, adaptive))
    # maps: first question of every train image (one annotator), first of each second-split image (three)
    write_maps(root, [q["question_id"] for q in q_train if q["question_id"] % 10 == 0],
               [q["question_id"] for q in q_second if q["question_id"] % 10 == 0])
    (root / "images").mkdir(exist_ok=True)  # synthetic roots carry images/ and scenes.json: ignored
    write_json(root / "scenes.json", {})
    return {"questions": {"train": q_train, second: q_second}, "annotations": {"train": a_train, second: a_second},
            "images": {"train": train_images, second: test_images}}

"""Writer of a tiny COCO captioning root in the official layouts: captions_{train,val}2014.json,
instances_{train,val}2014.json (polygons, uncompressed and compressed RLE, a crowd region, two instances of one
category), Karpathy's dataset_coco.json, the robust split (Lu et al. 2018) and a bottom-up feature TSV."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_api

from groundbench.data.features import format_tsv_row

K, D = 4, 6
W, H = 40, 30
LIST = Path(__file__).parent.parent / "groundbench" / "data" / "lists" / "coco_class_name.txt"
NAMES = [line.split(",")[0].strip() for line in LIST.read_text().splitlines() if line.strip()]
CATEGORY_ID = {name: 2 * i + 1 for i, name in enumerate(NAMES)}  # odd ids: not the list index

# image id -> (COCO set, width, height); 13 and 15 are robust val / test images from captions_train2014
IMAGES = {11: ("train2014", W, H), 12: ("train2014", W, H), 13: ("train2014", W, H), 14: ("train2014", W, H),
          15: ("train2014", W, H), 21: ("val2014", W, H), 22: ("val2014", 50, 40)}
ROBUST = {"train_id": [11, 12, 21], "val_id": [13], "test_id": [15, 22]}  # 14: in no split (ignored)
KARPATHY = {11: "train", 12: "restval", 15: "train", 21: "val", 13: "test", 22: "test"}
CAPTIONS = {
    11: ["A dog runs on the grass.", "Two dogs and a person near a traffic light"],
    12: ["A man walks a dog.", "The dog sits next to a man"],
    21: ["A red car parked by the road", "A car and a dog on the road"],
    13: ["A dog by the traffic light!", "A dog next to a cat and a person"],
    15: ["A car on the street", "A red car"],
    22: ["People and dogs in a park", "Two dogs play with a person"],
    14: ["An ignored image of a cat"],
}
RECT = [10, 5, 20, 5, 20, 15, 10, 15]  # the dog of image 13: pixels x 10..19, y 5..14 (pycocotools' rasteriser)
TSV = "features/trainval.tsv"
BOXES_13 = [[5, 5, 15, 20], [10, 5, 20, 15], [25, 18, 35, 28], [0, 0, 40, 30]]


def column_runs(mask: np.ndarray) -> list[int]:
    """Uncompressed COCO RLE counts of a [h, w] 0/1 mask (column-major, starting with a run of 0s)."""
    flat, runs, value, n = mask.T.reshape(-1), [], 0, 0
    for x in flat:
        if x != value:
            runs.append(n)
            n, value = 0, x
        n += 1
    return runs + [n]


def block(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    mask[y0:y1, x0:x1] = 1
    return mask


def uncompressed(mask: np.ndarray) -> dict:
    return {"size": list(mask.shape), "counts": column_runs(mask)}


def compressed(mask: np.ndarray) -> dict:
    rle = mask_api.encode(np.asfortranarray(mask))
    return {"size": list(mask.shape), "counts": rle["counts"].decode("ascii")}


def segments() -> dict[int, list[tuple[str, object, int]]]:
    """image -> [(category, segmentation, iscrowd)]."""
    return {
        11: [("dog", [[2, 2, 12, 2, 12, 12, 2, 12]], 0), ("person", [[20, 5, 30, 5, 25, 25]], 0),
             ("traffic light", [[32, 1, 38, 1, 38, 12, 32, 12]], 0)],
        12: [("person", [[5, 5, 15, 5, 15, 25, 5, 25]], 0), ("dog", [[20, 15, 35, 15, 35, 28, 20, 28]], 0)],
        13: [("dog", [RECT], 0), ("person", compressed(block(H, W, 16, 29, 24, 36)), 0),
             ("traffic light", [[30, 0, 36, 0, 36, 10, 30, 10]], 0)],
        14: [("cat", [[1, 1, 10, 1, 10, 10]], 0)],
        15: [("car", compressed(block(H, W, 10, 20, 5, 30)), 0)],
        21: [("car", uncompressed(block(H, W, 0, 12, 0, 40)), 1), ("dog", [[5, 15, 15, 15, 15, 25, 5, 25]], 0)],
        22: [("person", uncompressed(block(40, 50, 20, 40, 0, 10)), 1),
             ("dog", [[10, 10, 20, 10, 20, 20, 10, 20]], 0), ("dog", [[15, 15, 30, 15, 30, 30, 15, 30]], 0)],
    }


def image_entry(image_id: int) -> dict:
    _, width, height = IMAGES[image_id]
    return {"id": image_id, "width": width, "height": height, "file_name": f"COCO_{image_id:012d}.jpg"}


def write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data))


def rewrite(path: Path, change) -> None:
    """Apply ``change`` (edits the parsed JSON in place) to a fixture file."""
    data = json.loads(path.read_text())
    change(data)
    write_json(path, data)


def tsv_rows(rng: np.random.Generator) -> list[tuple]:
    rows = []
    for image_id, (_, width, height) in sorted(IMAGES.items()):
        if image_id == 13:
            boxes = np.array(BOXES_13, np.float32)
        else:
            xy = rng.uniform(0, [width / 2, height / 2], size=(K, 2))
            boxes = np.concatenate([xy, xy + rng.uniform(2, [width / 2, height / 2], size=(K, 2))], 1)
        rows.append((image_id, width, height, boxes, rng.normal(size=(K, D))))
    return rows


def karpathy_sentence(raw: str, sentid: int) -> dict:
    """A dataset_coco.json sentence: ``sentid`` is the COCO caption annotation id, ``tokens`` lower-cased words
    with punctuation dropped (as Karpathy's file has them; the reader uses ``raw``)."""
    return {"tokens": "".join(c if c.isalnum() or c.isspace() else " " for c in raw.lower()).split(), "raw": raw,
            "sentid": sentid}


def write_coco_root(root: Path, *, words: str | None = None, seed: int = 0) -> Path:
    """Write the fixture under ``root``; ``words``: the text of a ROOT/visual_words.txt (else none is written,
    and the shipped coco_class_name.txt is the list: every COCO category exists here)."""
    root.mkdir(parents=True, exist_ok=True)
    categories = [{"id": CATEGORY_ID[n], "name": n, "supercategory": "thing"} for n in NAMES]
    caption_id, ann_id, sentences = 1000, 5000, {}
    for coco_set in ("train2014", "val2014"):
        ids = [i for i, (s, _, _) in sorted(IMAGES.items()) if s == coco_set]
        annotations, instances = [], []
        for image_id in ids:
            for text in CAPTIONS[image_id]:
                caption_id += 1
                annotations.append({"id": caption_id, "image_id": image_id, "caption": text})
                sentences.setdefault(image_id, []).append(karpathy_sentence(text, caption_id))
            for name, seg, crowd in segments()[image_id]:
                ann_id += 1
                instances.append({"id": ann_id, "image_id": image_id, "category_id": CATEGORY_ID[name],
                                  "segmentation": seg, "area": 0.0, "bbox": [0, 0, 1, 1], "iscrowd": crowd})
        images = [image_entry(i) for i in ids]
        write_json(root / f"captions_{coco_set}.json", {"images": images, "annotations": annotations})
        write_json(root / f"instances_{coco_set}.json",
                   {"images": images, "categories": categories, "annotations": instances})
    write_json(root / "split_robust_coco.json", {k: [{"img_id": i} for i in v] for k, v in ROBUST.items()})
    write_json(root / "dataset_coco.json", {"images": [
        {"cocoid": i, "filepath": IMAGES[i][0], "filename": f"COCO_{i:012d}.jpg", "split": s, "imgid": n,
         "sentids": [x["sentid"] for x in sentences[i]], "sentences": [{**x, "imgid": n} for x in sentences[i]]}
        for n, (i, s) in enumerate(KARPATHY.items())], "dataset": "coco"})
    (root / "features").mkdir(exist_ok=True)
    with open(root / TSV, "w") as handle:
        for row in tsv_rows(np.random.default_rng(seed)):
            handle.write(format_tsv_row(*row))
    if words is not None:
        (root / "visual_words.txt").write_text(words)
    return root


def edit_tsv(root: Path, image_id: int, edit) -> None:
    """Replace (``edit(fields) -> str``) or drop (``edit`` returns None) the TSV row of ``image_id``."""
    path = root / TSV
    lines = []
    for line in path.read_text().splitlines():
        fields = line.split("\t")
        new = edit(fields) if fields[0] == str(image_id) else line
        if new is not None:
            lines.append(new)
    path.write_text("\n".join(lines) + "\n")


# -- mutations for the bad-input tests ----------------------------------------------------------------------
def set_field(key, index, field, value):
    """A ``rewrite`` change: data[key][index][field] = value."""
    def change(data):
        data[key][index][field] = value
    return change


def drop_captions(image_id):
    """A ``rewrite`` change: the image keeps its images entry but loses every caption."""
    def change(data):
        data["annotations"] = [a for a in data["annotations"] if a["image_id"] != image_id]
    return change


def same_id(data):
    data["annotations"][1]["id"] = data["annotations"][0]["id"]


def cross_file_id(raw):
    """captions_val2014's first annotation takes the id of captions_train2014's first."""
    first = json.loads((raw / "captions_train2014.json").read_text())["annotations"][0]["id"]
    rewrite(raw / "captions_val2014.json", set_field("annotations", 0, "id", first))


def truncate_rle(data):
    ann = next(a for a in data["annotations"] if isinstance(a["segmentation"], dict))
    ann["segmentation"]["counts"] = ann["segmentation"]["counts"][:-2]


def drop_split(data):
    del data["images"][1]["split"]


def without_captions_files(raw: Path) -> Path:
    """Remove both captions files: the captions then come from dataset_coco.json's sentences."""
    for coco_set in ("train2014", "val2014"):
        (raw / f"captions_{coco_set}.json").unlink()
    return raw

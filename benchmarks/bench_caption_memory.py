"""Peak memory of `groundbench data captioning` and of a captioning training epoch, at two numbers of images.

A COCO captioning root of N = 256 and N = 1,024 images is written in the official layouts
(``captions_{train,val}2014.json``; ``instances_{train,val}2014.json`` with 640 x 480 images and 1-3
categories of the shipped ``coco_class_name.txt`` per image, 1-2 polygon instances each; the robust split
``split_robust_coco.json``, 70 / 10 / 20 %; a bottom-up TSV with K = 36, D = 2048: 72 and 288 MiB of
features), 5 captions per image naming its categories. Each pass runs in a fresh process:

* ``prepare``: ``prepare_captioning(root, out, split_scheme="robust", mask_fraction=1.0)`` (records,
  features, Eq. 1 human importance of every (image, category) from the masks: HINT paper Eq. 1).
  RssAnon is sampled every 2 ms by a thread (its peak may miss a spike shorter than that; VmHWM does not).
* ``train``: the prepared store opened with ``CaptionStore.open``, the train set and loader built as
  ``tasks/captioning.py`` does (``train_dataset``, ``loader``: shuffled, batch 64, one item per
  (image, caption)), one full epoch of forward / backward / SGD step of the UpDn captioner (the synthetic
  world's sizes: 64-d words, 128 hidden units; v_dim 2048) on the teacher-forced token cross-entropy.
  RssAnon is sampled after every batch.

Memory is the peak anonymous resident memory (RssAnon): the memory-mapped feature pages are file-backed,
reclaimable page cache and show in VmHWM instead, which is reported too. Flat means the 4x store changes the
peak by little: target ratio (peak at 256 images / peak at 1,024 images) >= 0.8, as bench_data_memory.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

from .bench_caption_masks import star_polygon
from .bench_data_memory import _memory
from .bench_features import D, IMAGE_H, IMAGE_W, K, write_fake_tsv
from .common import emit

SIZES, CAPTIONS_PER_IMAGE, BATCH, TARGET = (256, 1024), 5, 64, 0.8
LIST = Path(__file__).resolve().parent.parent / "groundbench" / "data" / "lists" / "coco_class_name.txt"
TEMPLATES = ("a {a} next to a {b}", "there is a {a} in the picture", "a photo of a {a} and a {b} on the street",
             "the {b} is near the {a}", "two people look at a {a}", "a {a} sitting by a {b} in a room")


def category_names() -> list[str]:
    return [line.split(",")[0].strip() for line in LIST.read_text().splitlines() if line.strip()]


def write_raw(root: Path, n_images: int) -> None:
    """The COCO layout under ``root`` for image ids 0 .. n - 1 (every fifth in val2014) and one TSV."""
    rng = np.random.default_rng(0)
    names = category_names()
    categories = [{"id": i + 1, "name": name, "supercategory": "thing"} for i, name in enumerate(names)]
    files = {s: {"images": [], "captions": [], "instances": []} for s in ("train2014", "val2014")}
    caption_id = ann_id = 0
    for image_id in range(n_images):
        coco = files["val2014" if image_id % 5 == 4 else "train2014"]
        coco["images"].append({"id": image_id, "width": IMAGE_W, "height": IMAGE_H,
                               "file_name": f"COCO_{image_id:012d}.jpg"})
        present = rng.choice(len(names), int(rng.integers(1, 4)), replace=False)
        for c in present:
            for _ in range(int(rng.integers(1, 3))):
                ann_id += 1
                coco["instances"].append({"id": ann_id, "image_id": image_id, "category_id": int(c) + 1,
                                          "segmentation": [star_polygon(rng)], "area": 0.0, "bbox": [0, 0, 1, 1],
                                          "iscrowd": 0})
        for j in range(CAPTIONS_PER_IMAGE):
            caption_id += 1
            a, b = names[present[j % len(present)]], names[present[(j + 1) % len(present)]]
            coco["captions"].append({"id": caption_id, "image_id": image_id,
                                     "caption": TEMPLATES[int(rng.integers(len(TEMPLATES)))].format(a=a, b=b)})
    root.mkdir(parents=True)
    for name, coco in files.items():
        (root / f"captions_{name}.json").write_text(json.dumps({"images": coco["images"],
                                                                "annotations": coco["captions"]}))
        (root / f"instances_{name}.json").write_text(json.dumps({"images": coco["images"], "categories": categories,
                                                                 "annotations": coco["instances"]}))
    order = rng.permutation(n_images).tolist()
    cut = [int(0.7 * n_images), int(0.8 * n_images)]
    split = {"train_id": order[:cut[0]], "val_id": order[cut[0]:cut[1]], "test_id": order[cut[1]:]}
    (root / "split_robust_coco.json").write_text(json.dumps({k: [{"img_id": i} for i in sorted(v)]
                                                             for k, v in split.items()}))
    (root / "features").mkdir()
    write_fake_tsv(root / "features" / "trainval_36.tsv", n_images, rng)


class Sampler(threading.Thread):
    """Peak RssAnon of this process, sampled every ``interval`` seconds until stopped."""

    def __init__(self, interval: float = 0.002):
        super().__init__(daemon=True)
        self.interval, self.peak, self.stop = interval, _memory()["RssAnon"], threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            self.peak = max(self.peak, _memory()["RssAnon"])


def child_prepare(root: str, out: str) -> dict:
    from groundbench.data.caption_prepare import prepare_captioning

    sampler = Sampler()
    sampler.start()
    start = time.perf_counter()
    prepare_captioning(root, out, split_scheme="robust", mask_fraction=1.0, progress=False)
    seconds = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    memory = _memory()
    return {"peak_rss_anon": max(sampler.peak, memory["RssAnon"]), "vm_hwm": memory["VmHWM"], "seconds": seconds}


def child_train(store_dir: str) -> dict:
    from groundbench.data.caption_store import CaptionStore
    from groundbench.models import build_model
    from groundbench.tasks.captioning import MODELS, SYNTHETIC_MODEL, CaptioningTask

    torch.manual_seed(0)
    start = time.perf_counter()
    task = CaptioningTask()
    store = CaptionStore.open(store_dir)
    dataset = task.train_dataset(store, human_only=False, hint_fraction=None, seed=0)
    loader = task.loader(dataset, BATCH, shuffle=True, seed=0)
    model = build_model(MODELS["updn"], task.model_config(store, MODELS["updn"], SYNTHETIC_MODEL))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    peak, batches = _memory()["RssAnon"], 0
    for batch in loader:
        loss = task.task_loss(task.forward(model, batch), batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        batches += 1
        peak = max(peak, _memory()["RssAnon"])
    return {"peak_rss_anon": peak, "vm_hwm": _memory()["VmHWM"], "seconds": time.perf_counter() - start,
            "batches": batches, "items": len(dataset), "v_dim": model.config.v_dim}


def in_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_caption_memory", "--child", *args],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run() -> list[dict]:
    peaks: dict[str, dict[int, dict]] = {"prepare": {}, "train": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for n in SIZES:
            raw, store = Path(tmp) / f"raw{n}", Path(tmp) / f"store{n}"
            write_raw(raw, n)
            peaks["prepare"][n] = in_child("prepare", str(raw), str(store))
            peaks["train"][n] = in_child("train", str(store))
    small, large = SIZES
    records = []
    for mode, by_size in peaks.items():
        ratio = by_size[small]["peak_rss_anon"] / by_size[large]["peak_rss_anon"]
        name = "data_captioning_peak_memory_flat" if mode == "prepare" else "caption_train_peak_memory_flat"
        by_images = {}
        for n, v in by_size.items():
            by_images[str(n)] = {"peak_rss_anon_mb": v["peak_rss_anon"] / 2 ** 20, "vm_hwm_mb": v["vm_hwm"] / 2 ** 20,
                                 "features_mb": n * K * D * 4 / 2 ** 20, "seconds": v["seconds"],
                                 **{key: v[key] for key in ("batches", "items") if key in v}}
        records.append({"name": name, "ratio": ratio, "target": TARGET, "ok": ratio >= TARGET, "k": K, "d": D,
                        "captions_per_image": CAPTIONS_PER_IMAGE, **({"batch": BATCH} if mode == "train" else {}),
                        "by_images": by_images})
    return records


def main() -> list[dict]:
    return [emit(record) for record in run()]


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        child = child_prepare if sys.argv[2] == "prepare" else child_train
        print(json.dumps(child(*sys.argv[3:])))
    else:
        main()

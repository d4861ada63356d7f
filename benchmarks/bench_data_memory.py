"""Peak memory of a training and an evaluation pass over the store, at two numbers of images.

Stores of 256 and 1024 images (K = 36, D = 2048, two questions per image; 75 MB and 302 MB of
features) are prepared with ``prepare_vqa``; each pass runs in a fresh process: one epoch of batches
of 128 through a linear answer classifier (training: forward, backward, SGD step; evaluation: forward
under no_grad). Memory is the peak anonymous resident memory (RssAnon, sampled after every batch):
the memory-mapped feature pages are file-backed, reclaimable page cache and show in VmHWM instead,
which is reported too. Flat means the 4x store changes the peak by little: target ratio
(peak at 256 images / peak at 1024 images) >= 0.8.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from groundbench.data.dataset import make_loader
from groundbench.data.prepare import prepare_vqa
from groundbench.data.store import VQAStore

from .bench_features import K, D, write_fake_tsv
from .common import emit, memory_status

SIZES, QUESTIONS_PER_IMAGE, BATCH = (256, 1024), 2, 128


def write_raw(root: Path, n_images: int) -> None:
    """A VQA-CP layout root: n_images x 2 questions (all in train / test halves), one TSV, no maps."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for split, images in (("train", range(0, n_images, 2)), ("test", range(1, n_images, 2))):
        qs, anns = [], []
        for image_id in images:
            for j in range(QUESTIONS_PER_IMAGE):
                qid = image_id * 10 + j
                answer = ["yes", "no", "red", "2"][int(rng.integers(4))]
                qs.append({"question_id": qid, "image_id": image_id, "question": "What is it?", "coco_split": "train2014"})
                anns.append({"question_id": qid, "image_id": image_id, "question_type": "what", "answer_type": "other",
                             "multiple_choice_answer": answer,
                             "answers": [{"answer": answer, "answer_confidence": "yes", "answer_id": i + 1} for i in range(10)]})
        (root / f"vqacp_v2_{split}_questions.json").write_text(json.dumps(qs))
        (root / f"vqacp_v2_{split}_annotations.json").write_text(json.dumps(anns))
    write_fake_tsv(root / "features.tsv", n_images, rng)


def child(store_dir: str, mode: str) -> dict:
    """One pass in this process; returns peak RssAnon and VmHWM in bytes."""
    torch.manual_seed(0)
    store = VQAStore.open(store_dir)
    split = "train" if mode == "train" else "test"
    loader = make_loader(store.dataset(split), BATCH, shuffle=mode == "train")
    model = torch.nn.Linear(D, len(store.answers))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    peak = memory_status()["RssAnon"]
    for batch in loader:
        if mode == "train":
            logits = model((batch.v * batch.mask[..., None]).mean(1))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, batch.target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        else:
            with torch.no_grad():
                model((batch.v * batch.mask[..., None]).mean(1)).argmax(1)
        peak = max(peak, memory_status()["RssAnon"])
    return {"peak_rss_anon": peak, "vm_hwm": memory_status()["VmHWM"]}


def run() -> list[dict]:
    records = []
    with tempfile.TemporaryDirectory() as tmp:
        peaks: dict[str, dict[int, dict]] = {"train": {}, "eval": {}}
        for n in SIZES:
            write_raw(Path(tmp) / f"raw{n}", n)
            prepare_vqa(Path(tmp) / f"raw{n}", Path(tmp) / f"store{n}", min_answer_count=1, progress=False)
            for mode in peaks:
                out = subprocess.run([sys.executable, "-m", "benchmarks.bench_data_memory", "--child",
                                      str(Path(tmp) / f"store{n}"), mode], capture_output=True, text=True, check=True,
                                     cwd=Path(__file__).resolve().parent.parent)
                peaks[mode][n] = json.loads(out.stdout.strip().splitlines()[-1])
        small, large = SIZES
        for mode, by_size in peaks.items():
            ratio = by_size[small]["peak_rss_anon"] / by_size[large]["peak_rss_anon"]
            records.append({"name": f"{mode}_peak_memory_flat", "ratio": ratio, "target": 0.8, "ok": ratio >= 0.8,
                            "k": K, "d": D, "batch": BATCH,
                            "by_images": {str(n): {"peak_rss_anon_mb": v["peak_rss_anon"] / 2 ** 20,
                                                   "vm_hwm_mb": v["vm_hwm"] / 2 ** 20,
                                                   "features_mb": n * K * D * 4 / 2 ** 20}
                                          for n, v in by_size.items()}})
    return records


def main() -> list[dict]:
    return [emit(record) for record in run()]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
    else:
        main()

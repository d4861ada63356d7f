"""How the examples of the committed ``explain`` figures were chosen: every test grounding row of a before
(UpDn) and an after (HINT) checkpoint, with both models' Spearman (gradient importance vs human importance) and,
for VQA, both answers; prints the rows whose Spearman rose most, per kind. A selection for pictures, not a
measurement: the averages are in the leaderboard.

    python leaderboards/figures/pick.py vqa runs/figures/updn-s0 runs/figures/hint-s0
    python leaderboards/figures/pick.py captioning runs/figures/cap-robust/updn-s0 runs/figures/cap-robust/hint-s0

(with GROUNDBENCH_CACHE set to the cache holding the checkpoints' synthetic world).
"""
from __future__ import annotations

import sys
from pathlib import Path

from groundbench.data.caption_dataset import caption_loader
from groundbench.data.dataset import make_loader
from groundbench.experiment import data_from_metadata, default_cache_root
from groundbench.importance.caption_rows import caption_gradient_rows
from groundbench.importance.gradient import gradient_importance_and_output
from groundbench.loading import load_any_model
from groundbench.metrics.grounding import spearman
from groundbench.metrics.vqa import vqa_accuracy

SHOW = 6


def vqa_rows(model, store) -> dict:
    """{question_id: (answer, VQA accuracy, Spearman)} over the test questions with human maps."""
    out = {}
    for batch in make_loader(store.dataset("test", human_only=True), 512, shuffle=False):
        alpha, output = gradient_importance_and_output(model, batch)
        rho, _ = spearman(alpha, batch.human, batch.mask)
        for i, (qid, answers) in enumerate(zip(batch.question_ids, batch.answers)):
            answer = store.answers[int(output.logits[i].argmax())]
            out[qid] = (answer, vqa_accuracy(answer, answers), float(rho[i]))
    return out


def caption_rows(model, store) -> dict:
    """{(image_id, category, word position from 1): Spearman} over the grounding rows of the test images' first
    captions."""
    out = {}
    for batch in caption_loader(store.image_dataset("test"), 64, shuffle=False):
        rho, _ = spearman(caption_gradient_rows(model, batch), batch.human, batch.mask[batch.row_batch])
        for r, value in enumerate(rho.tolist()):
            key = (batch.image_ids[int(batch.row_batch[r])], store.categories[int(batch.row_category[r])],
                   int(batch.row_step[r]) + 1)
            out[key] = value
    return out


def main(task: str, before: str, after: str) -> None:
    loaded = [load_any_model(Path(p), "cpu") for p in (before, after)]
    store = data_from_metadata(loaded[0][1], None, default_cache_root(), print)
    if task == "captioning":
        first, second = (caption_rows(m, store) for m, _ in loaded)
        gains = sorted(((second[k] - first[k], k) for k in first), reverse=True)
        for gain, key in gains[:SHOW]:
            print(f"rho {first[key]:+.2f} -> {second[key]:+.2f} ({gain:+.2f})  image, word, position {key}")
        return
    first, second = (vqa_rows(m, store) for m, _ in loaded)
    records = {r["question_id"]: r for r in store.records("test")}
    kinds = {
        "answer changed, wrong -> right": lambda q: first[q][1] == 0 < second[q][1],
        "answer changed, right -> wrong": lambda q: first[q][1] > 0 == second[q][1],
        "yes/no": lambda q: records[q]["answer_type"] == "yes/no",
        "number": lambda q: records[q]["answer_type"] == "number",
        "other": lambda q: records[q]["answer_type"] == "other",
    }
    for kind, keep in kinds.items():
        chosen = sorted(((second[q][2] - first[q][2], q) for q in first if keep(q)), reverse=True)
        print(f"== {kind}: {len(chosen)} questions")
        for gain, q in chosen[:SHOW]:
            print(f"  {q} {records[q]['question']!r}: {first[q][0]} -> {second[q][0]}, "
                  f"rho {first[q][2]:+.2f} -> {second[q][2]:+.2f} ({gain:+.2f})")


if __name__ == "__main__":
    main(*sys.argv[1:4])

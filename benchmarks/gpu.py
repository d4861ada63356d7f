"""GPU throughput at the real model size: an UpDn epoch, a HINT fine-tuning epoch, eval importance, peak memory.

``python -m benchmarks.gpu [--small | --tiny] [--device cuda] [--precision auto] [--epochs 1] [--compile]``
(``make bench-gpu``, ``make bench-gpu ARGS=--small``). One JSON line per figure, each naming the device:

* ``updn_epoch``: one epoch of UpDn training (the trainer's step: autocast forward + loss, backward, clip,
  Adamax) over the whole synthetic train split, batch 256 (the method's default); target on one H100 at the
  full size: <= 30 s (~15k questions/s).
* ``hint_epoch``: one HINT fine-tuning epoch (second-order gradients) over 6% of train, batch 64; target <= 15 s.
* ``gradient_importance`` / ``occlusion``: eval throughput (questions/s) of Eq. 2 and of occlusion (K forward
  rows per question), batch 512 / 64.
* ``precision_agreement`` (reduced precision only): precision.agreement on the first batch at this size.
* ``peak_memory``: the largest torch.cuda.max_memory_allocated of the figures on CUDA (each figure carries its
  own, ``peak_mib``), the process's peak RSS on CPU.

Sizes: full = D 2048, 1024 hidden, 300-d words, 3129 answers, 19901 tokens, K 36, 14-token questions and VQA-CP
v2's 438,183 train questions over 8192 distinct synthetic images (2.4 GB of float32 features held in RAM -
pinned on CUDA - rather than a memory-mapped store, so this times the model and the copies, not the disk);
``--small`` = 512 questions, D 64, 256 hidden (the synthetic world's model; < 2 min on CPU); ``--tiny`` = 128
questions, D 32 (the CI test). Batches are gathered from the arrays by tensor indexing (no per-question Python)
and moved with Batch.to (non-blocking from pinned memory on CUDA).
"""
from __future__ import annotations

import argparse
import resource
import time
from dataclasses import dataclass

import torch

from groundbench import precision as P
from groundbench.data.batch import HAT_GRID, Batch
from groundbench.importance.gradient import gradient_importance
from groundbench.importance.occlusion import occlusion_importance
from groundbench.methods import build_method
from groundbench.models.updn_vqa import UpDnConfig, UpDnVQA
from groundbench.tasks.vqa import VQATask

from .common import emit

HINT_SHARE, EVAL_BATCH, OCCLUSION_BATCH = 0.06, 512, 64


@dataclass(frozen=True)
class Size:
    questions: int
    images: int
    d: int
    hid: int
    word: int
    answers: int
    tokens: int
    k: int = 36
    t: int = 14
    targets: tuple = ()  # (updn_epoch_s, hint_epoch_s) on one H100, full size only


SIZES = {"full": Size(438_183, 8192, 2048, 1024, 300, 3129, 19_901, targets=(30.0, 15.0)),
         "small": Size(512, 128, 64, 256, 100, 100, 200),
         "tiny": Size(128, 32, 32, 64, 16, 20, 50)}


class SyntheticData:
    """Arrays of a synthetic store in memory; ``batch(index)`` gathers questions ``index`` into a Batch."""

    def __init__(self, size: Size, pin: bool, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        s = size
        self.v = torch.relu(torch.randn(s.images, s.k, s.d, generator=g))
        self.boxes = torch.rand(s.images, s.k, 4, generator=g) * 480
        self.num_boxes = torch.randint(s.k // 2, s.k + 1, (s.images,), generator=g)
        self.image = torch.randint(0, s.images, (s.questions,), generator=g)
        self.q = torch.randint(1, s.tokens - 1, (s.questions, s.t), generator=g)
        self.q[:, 8:] = 0
        self.answer = torch.randint(0, s.answers, (s.questions,), generator=g)
        self.human = torch.rand(s.questions, s.k, generator=g)
        if pin:
            for name in ("v", "boxes", "num_boxes", "image", "q", "answer", "human"):
                setattr(self, name, getattr(self, name).pin_memory())
        self.size, self.pin = size, pin

    def batch(self, index: torch.Tensor) -> Batch:
        s, img = self.size, self.image[index]
        mask = torch.arange(s.k)[None, :] < self.num_boxes[img][:, None]
        target = torch.zeros(len(index), s.answers)
        target[torch.arange(len(index)), self.answer[index]] = 1.0
        batch = Batch(v=self.v[img], boxes=self.boxes[img], mask=mask, q=self.q[index], target=target,
                      human=self.human[index] * mask, has_human=torch.ones(len(index), dtype=torch.bool),
                      image_size=torch.full((len(index), 2), 480.0),
                      hat_mask=torch.zeros(len(index), HAT_GRID, HAT_GRID, dtype=torch.bool))
        return batch.pin_memory() if self.pin else batch

    def batches(self, questions: torch.Tensor, batch_size: int, g: torch.Generator):
        order = questions[torch.randperm(len(questions), generator=g)]
        for start in range(0, len(order), batch_size):
            yield self.batch(order[start:start + batch_size])


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def peak_mib(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)


def train_epoch(model, method_name: str, data: SyntheticData, questions: torch.Tensor, amp: P.Amp, device: str,
                train_model=None) -> tuple[float, int]:
    """(seconds, steps) of one epoch of the trainer's step over ``questions`` (after 2 untimed warm-up steps)."""
    method, task = build_method(method_name), VQATask()
    optimizer = torch.optim.Adamax(model.parameters(), lr=method.lr)
    train_model = train_model or model
    train_model.train()

    def step(batch: Batch) -> None:
        batch = batch.to(device)
        with amp.autocast():
            loss, _ = method.loss(train_model, batch, task)
        optimizer.zero_grad(set_to_none=True)
        amp.backward(loss)
        amp.step(optimizer, model.parameters(), 0.25)

    g = torch.Generator().manual_seed(0)
    for batch, _ in zip(data.batches(questions, method.batch_size, g), range(2)):
        step(batch)
    sync(device)
    start, steps = time.perf_counter(), 0
    for batch in data.batches(questions, method.batch_size, g):
        step(batch)
        steps += 1
    sync(device)
    return time.perf_counter() - start, steps


def eval_throughput(model, data: SyntheticData, questions: torch.Tensor, batch_size: int, fn, amp: P.Amp,
                    device: str) -> float:
    """Questions/s of ``fn(model, batch)`` in eval mode over ``questions`` (one untimed warm-up batch)."""
    model.eval()
    g = torch.Generator().manual_seed(1)
    with amp.autocast():
        fn(model, data.batch(questions[:batch_size]).to(device))
        sync(device)
        start = time.perf_counter()
        for batch in data.batches(questions, batch_size, g):
            fn(model, batch.to(device))
        sync(device)
    return len(questions) / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--small", action="store_const", dest="size", const="small", help="CPU-sized (CI)")
    group.add_argument("--tiny", action="store_const", dest="size", const="tiny", help="the smallest (tests)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="auto", choices=P.CHOICES)
    parser.add_argument("--epochs", type=int, default=1, help="UpDn epochs timed (the figure is the last one)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model for the UpDn epochs")
    parser.add_argument("--eval-questions", type=int, default=16384, help="questions scored per eval figure")
    args = parser.parse_args(argv)
    name, device = args.size or "full", args.device
    size, amp_precision = SIZES[args.size or "full"], P.resolve(args.precision, device)
    amp = P.Amp(amp_precision, device)
    torch.manual_seed(0)
    data = SyntheticData(size, pin=device.startswith("cuda"))
    model = UpDnVQA(UpDnConfig(num_tokens=size.tokens, num_answers=size.answers, v_dim=size.d,
                               word_dim=size.word, num_hid=size.hid)).to(device)
    common = {"device": torch.cuda.get_device_name(device) if device.startswith("cuda") else "cpu",
              "size": name, "precision": amp_precision.name, "train_questions": size.questions}
    records = []

    def figure(record: dict) -> None:
        records.append(emit({**record, **common}))

    if amp_precision.dtype is not None:
        first = data.batch(torch.arange(min(64, size.questions))).to(device)
        result = P.agreement(model, first, VQATask(), build_method("hint"), amp_precision, device)
        figure({"name": "precision_agreement", **result.to_dict(), "ok": not result.failures()})
    everything = torch.arange(size.questions)
    target_updn, target_hint = size.targets or (None, None)
    train_model = P.compiled(model) if args.compile else model
    for epoch in range(args.epochs):
        reset_peak(device)
        seconds, steps = train_epoch(model, "updn", data, everything, amp, device, train_model)
    figure({"name": "updn_epoch", "seconds": seconds, "steps": steps, "questions_per_s": size.questions / seconds,
            "compiled": args.compile, "target_s": target_updn,
            "ok": None if target_updn is None else seconds <= target_updn, "peak_mib": peak_mib(device)})
    subset = torch.randperm(size.questions, generator=torch.Generator().manual_seed(2))[
        :max(1, round(HINT_SHARE * size.questions))]
    reset_peak(device)
    seconds, steps = train_epoch(model, "hint", data, subset, amp, device)
    figure({"name": "hint_epoch", "seconds": seconds, "steps": steps, "questions": len(subset),
            "questions_per_s": len(subset) / seconds, "target_s": target_hint,
            "ok": None if target_hint is None else seconds <= target_hint, "peak_mib": peak_mib(device)})
    scored = everything[:min(args.eval_questions, size.questions)]
    reset_peak(device)
    rate = eval_throughput(model, data, scored, EVAL_BATCH, lambda m, b: gradient_importance(m, b), amp, device)
    figure({"name": "gradient_importance", "questions_per_s": rate, "questions": len(scored),
            "peak_mib": peak_mib(device)})
    reset_peak(device)
    occluded = scored[:max(1, len(scored) // 4)]
    rate = eval_throughput(model, data, occluded, OCCLUSION_BATCH,
                           lambda m, b: occlusion_importance(m, b, chunk_size=OCCLUSION_BATCH * size.k), amp, device)
    figure({"name": "occlusion", "questions_per_s": rate, "questions": len(occluded), "peak_mib": peak_mib(device)})
    figure({"name": "peak_memory", "mib": max(r.get("peak_mib", 0.0) for r in records),
            "kind": "torch.cuda.max_memory_allocated" if device.startswith("cuda") else "peak RSS of the process"})
    return records


if __name__ == "__main__":
    main()

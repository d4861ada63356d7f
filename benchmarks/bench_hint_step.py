"""A HINT training step vs an UpDn training step on the same batch (target: at most 2.5x the time).

Model: UpDn at the synthetic world's size (K = 36, D = 64, 256 hidden units, 100-d word vectors,
14-token questions, 23 answers), batch 64 (the fine-tuning batch), train mode, Adamax, CPU. A step is
forward + loss + backward + optimizer update; HINT's loss needs the gradient importance (one backward
with create_graph) and then backpropagates through it (second-order gradients).
"""
from __future__ import annotations

import torch

from groundbench.data.batch import HAT_GRID, Batch
from groundbench.tasks.vqa import VQATask
from groundbench.methods import build_method
from groundbench.models.updn_vqa import UpDnConfig, UpDnVQA

from .common import compare, emit

B, K, D, T, ANSWERS, TARGET = 64, 36, 64, 14, 23, 2.5

VQA = VQATask()


def make_batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    target = torch.zeros(B, ANSWERS)
    target[torch.arange(B), torch.randint(0, ANSWERS, (B,), generator=g)] = 1.0
    q = torch.randint(1, 38, (B, T), generator=g)
    q[:, 8:] = 0
    return Batch(v=torch.relu(torch.randn(B, K, D, generator=g)), boxes=torch.rand(B, K, 4, generator=g) * 96,
                 mask=torch.ones(B, K, dtype=torch.bool), q=q, target=target, human=torch.rand(B, K, generator=g),
                 has_human=torch.ones(B, dtype=torch.bool), image_size=torch.full((B, 2), 96.0),
                 hat_mask=torch.zeros(B, HAT_GRID, HAT_GRID, dtype=torch.bool))


def stepper(method_name: str, batch: Batch):
    torch.manual_seed(0)
    model = UpDnVQA(UpDnConfig(num_tokens=40, num_answers=ANSWERS, v_dim=D, word_dim=100, num_hid=256)).train()
    method = build_method(method_name)
    optimizer = torch.optim.Adamax(model.parameters(), lr=2e-3)

    def step() -> None:
        loss, _ = method.loss(model, batch, VQA)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def run() -> dict:
    batch = make_batch()
    updn_s, hint_s = compare(stepper("updn", batch), stepper("hint", batch), repeat=10)
    slowdown = hint_s / updn_s
    return {"name": "hint_step_vs_updn_step", "updn_step_s": updn_s, "hint_step_s": hint_s, "slowdown": slowdown,
            "target_max": TARGET, "ok": bool(slowdown <= TARGET), "batch": B, "proposals": K}


def main() -> dict:
    return emit(run())


if __name__ == "__main__":
    main()

"""Occlusion importance: all K removals in batched forward passes vs a loop over proposals.

Model: UpDn at the synthetic world's default size (K = 36 proposals, D = 64, 256 hidden units,
100-d word vectors, 8-token questions), in eval mode on the default device (CPU). The reference is
``occlusion_importance_loop``: one forward pass per proposal index k, each over the whole batch
(the way a per-feature ablation loop usually runs). Both do the same arithmetic, so batching can only
save per-call overhead: the ratio is largest for few questions and falls towards 1 on a CPU as the
batch grows. The headline record is the single-question case (B = 1: the loop is then one forward
pass per proposal); ``by_batch_size`` reports the ratio at larger batches too. Target: >= 10x.
"""
from __future__ import annotations

import torch

from groundbench.data.batch import Batch
from groundbench.importance.occlusion import occlusion_importance, occlusion_importance_loop
from groundbench.models.updn_vqa import UpDnConfig, UpDnVQA

from .common import compare, emit, result

K, D, T, ANSWERS, TARGET = 36, 64, 8, 60, 10.0
HEADLINE_BATCH, OTHER_BATCHES = 1, (8, 64)


def make_batch(b: int, seed: int = 0) -> Batch:
    """A random batch of ``b`` questions over K proposals (only v, boxes, mask and q matter here)."""
    g = torch.Generator().manual_seed(seed)
    return Batch(
        v=torch.relu(torch.randn(b, K, D, generator=g)), boxes=torch.rand(b, K, 4, generator=g) * 96,
        mask=torch.ones(b, K, dtype=torch.bool), q=torch.randint(1, 100, (b, T), generator=g),
        target=torch.zeros(b, ANSWERS), human=torch.zeros(b, K), has_human=torch.ones(b, dtype=torch.bool),
        image_size=torch.full((b, 2), 96.0), hat_mask=torch.zeros(b, 1, 1, dtype=torch.bool),
    )


def time_pair(model, b: int, repeat: int) -> tuple[float, float, float]:
    """(loop seconds, batched seconds, max |difference|) for a batch of ``b`` questions."""
    batch = make_batch(b)
    ours = occlusion_importance(model, batch)
    diff = float((ours - occlusion_importance_loop(model, batch)).abs().max())
    if diff > 1e-4:
        raise AssertionError(f"batched and looped occlusion differ by {diff}")
    reference_s, ours_s = compare(lambda: occlusion_importance_loop(model, batch),
                                  lambda: occlusion_importance(model, batch), repeat=repeat)
    return reference_s, ours_s, diff


def run() -> dict:
    """Time batched vs looped occlusion at B = 1 (headline) and at larger batches."""
    torch.manual_seed(0)
    model = UpDnVQA(UpDnConfig(num_tokens=100, num_answers=ANSWERS, v_dim=D, word_dim=100, num_hid=256)).eval()
    reference_s, ours_s, diff = time_pair(model, HEADLINE_BATCH, repeat=10)
    by_batch = {}
    for b in OTHER_BATCHES:
        ref_b, ours_b, _ = time_pair(model, b, repeat=3)
        by_batch[str(b)] = {"reference_s": ref_b, "ours_s": ours_b, "ratio": ref_b / ours_b}
    return result("occlusion_batched_vs_loop", reference_s, ours_s, TARGET, batch_size=HEADLINE_BATCH,
                  proposals=K, device="cpu", max_abs_diff=diff, by_batch_size=by_batch)


def main() -> dict:
    return emit(run())


if __name__ == "__main__":
    main()

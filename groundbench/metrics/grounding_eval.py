"""The grounding part of an evaluation report: process batches, then summarise every grounding metric."""
from __future__ import annotations

import numpy as np

from ..data.batch import Batch
from ..importance.attention import attention_importance
from ..importance.gradient import gradient_importance_and_output
from ..importance.occlusion import occlusion_importance
from .grounding import GROUNDING_METRICS, collapsed, cpig, spearman, top_proposal_iou
from .stats import summarise

_ATTENTION_METRICS = ("spearman_attn", "occl_attn", "top_iou")


class GroundingAccumulator:
    """Collects per-question grounding values over batches (reset on construction); ``result`` summarises.

    Only questions with a human map (``batch.has_human``) are scored. Per question: gradient
    importance for the ground-truth answer (Eq. 2), attention weights, occlusion importance for the
    predicted answer, the IoU of the most attended proposal with the binarised human map, and CPIG on
    correctly answered questions, where "correct" means the predicted answer has a target score > 0
    (at least one annotator gave it, i.e. a non-zero VQA accuracy). Models without attention get
    None for the attention-based metrics. Putting the model in eval mode is the caller's job.
    """

    def __init__(self, model, *, occlusion_chunk_size: int = 256, n_boot: int = 1000, seed: int = 0):
        self.model = model
        self.occlusion_chunk_size = occlusion_chunk_size
        self.n_boot = n_boot
        self.seed = seed
        self.values: dict[str, list[np.ndarray]] = {name: [] for name in GROUNDING_METRICS}
        self.has_attention: bool | None = None

    def process(self, batch: Batch) -> None:
        """Score the VQA rows of ``batch`` that have human maps and keep their per-question values."""
        if not bool(batch.has_human.any()):
            return
        sub = batch.select(batch.has_human)
        mask = sub.mask.bool()
        alpha, output = gradient_importance_and_output(self.model, sub)
        logits = output.logits.detach()
        predicted = logits.argmax(1)
        correct = sub.target.gather(1, predicted.view(-1, 1)).squeeze(1) > 0
        occlusion = occlusion_importance(self.model, sub, predicted, chunk_size=self.occlusion_chunk_size)
        attention = attention_importance(output, mask)
        self.add_rows(alpha=alpha, attention=attention, occlusion=occlusion, human=sub.human, mask=mask,
                      boxes=sub.boxes, image_size=sub.image_size, hat_mask=sub.hat_mask, correct=correct)

    def add_rows(self, *, alpha, attention, occlusion, human, mask, boxes, image_size, hat_mask, correct) -> None:
        """Keep the per-row values of R grounding rows of any task: alpha, occlusion, human: [R, K];
        attention: [R, K] or None; mask: [R, K] bool; boxes: [R, K, 4]; image_size: [R, 2];
        hat_mask: [R, G, G] bool; correct: [R] bool (the row's decision was right)."""
        self.has_attention = attention is not None if self.has_attention is None else self.has_attention
        if (attention is not None) != self.has_attention:
            raise ValueError("the model returned attention for some batches and not for others")

        rows = {
            "spearman_grad": spearman(alpha, human, mask)[0],
            "occl_grad": spearman(occlusion, alpha, mask)[0],
            "cpig": cpig(alpha, human, mask, correct)[correct],
            "collapse_grad": collapsed(alpha.detach(), mask),
        }
        if attention is not None:
            attention = attention.detach()
            rows["spearman_attn"] = spearman(attention, human, mask)[0]
            rows["occl_attn"] = spearman(occlusion, attention, mask)[0]
            rows["top_iou"] = top_proposal_iou(attention, boxes, image_size, hat_mask, mask)
        for name, value in rows.items():
            self.values[name].append(value.detach().cpu().numpy().astype(np.float64))

    def per_question(self) -> dict[str, np.ndarray]:
        """Every metric's per-question values so far ([N] float64, NaN where undefined)."""
        return {
            name: np.concatenate(parts) if parts else np.zeros(0, dtype=np.float64)
            for name, parts in self.values.items()
        }

    def result(self) -> dict[str, dict | None]:
        """{name: {"value", "ci95", "n", "undefined", "direction"}}; None for attention metrics without attention."""
        report: dict[str, dict | None] = {}
        for name, values in self.per_question().items():
            if name in _ATTENTION_METRICS and self.has_attention is False:
                report[name] = None
                continue
            entry = summarise(values, n_boot=self.n_boot, seed=self.seed)
            entry["direction"] = GROUNDING_METRICS[name].direction
            report[name] = entry
        return report

"""The VQA task: one grounding row per question (its ground-truth answer), BCE on soft scores, official
accuracy; data from a VQA store (``groundbench data vqa``) or the synthetic VQA-CP world."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F

from ..data.batch import Batch
from ..data.dataset import make_loader
from ..data.store import VQAStore
from ..errors import GroundbenchError
from ..importance.gradient import gradient_importance_and_output
from ..models.protocol import VQAOutput, batch_inputs, extra_inputs
from .base import DataRef, Echo, HumanRows, Task, check_same_list

# Model sizes for the synthetic world (CPU-sized); real data uses the reference sizes (UpDnConfig defaults).
SYNTHETIC_MODEL = {"num_hid": 256, "word_dim": 100}
# Pretraining schedule (Adamax): 20 epochs at batch 64. At the earlier 15 x 256 UpDn was still climbing on
# the synthetic world (val 65 at epoch 15 with no prior shift, 87 at epoch 36) and never learned the yes/no
# and counting questions from the image. Fine-tuning keeps the shared schedule of methods/base.py.
PRETRAIN = {"epochs": 20, "batch_size": 64, "lr": 2e-3}


def vqa_task_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy on soft scores, scaled by A as the reference's instance_bce_with_logits.

    logits, target: [B, A] -> scalar.
    """
    return F.binary_cross_entropy_with_logits(logits, target) * target.shape[1]


def soft_accuracy(model: torch.nn.Module, loader, device: str) -> float:
    """Validation score for model selection: mean soft score of the argmax answer, in % (the reference's
    compute_score_with_logits); the official metric is reported by ``groundbench eval``."""
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in loader:
            batch = batch.to(device)
            pred = model(batch.v, batch.boxes, batch.mask, batch.q, **extra_inputs(model, batch)).logits.argmax(1)
            total += float(batch.target.gather(1, pred.unsqueeze(1)).sum())
            count += len(batch)
    return 100.0 * total / max(count, 1)


class VQATask(Task):
    """VQA (VQA-CP v2 / VQA v2 / the synthetic world): rows are questions; see tasks/base.py."""

    name = "vqa"
    default_split = "cp"
    splits = ("cp", "v2")
    selection = "val soft accuracy"
    headline = "accuracy"

    def method_defaults(self, method: str, fine_tune: bool) -> dict:
        return {} if fine_tune else dict(PRETRAIN)

    # -- model-facing ------------------------------------------------------------------------------
    def forward(self, model, batch: Batch) -> VQAOutput:
        return model(batch.v, batch.boxes, batch.mask, batch.q, **extra_inputs(model, batch))

    def task_loss(self, output: VQAOutput, batch: Batch) -> torch.Tensor:
        return vqa_task_loss(output.logits, batch.target)

    def gradient_rows(self, model, batch: Batch, *, create_graph: bool) -> tuple[torch.Tensor, VQAOutput]:
        """alpha: [B, K] Eq. 2 importance of the ground-truth answer's logit, and the output."""
        return gradient_importance_and_output(model, batch, create_graph=create_graph)

    def attention_rows(self, model, batch: Batch) -> tuple[torch.Tensor | None, VQAOutput]:
        out = self.forward(model, batch)
        return out.attention, out

    def human_rows(self, batch: Batch) -> HumanRows:
        """Rows with a human map and a ground-truth answer in the vocabulary take part in the ranking loss."""
        return HumanRows(batch.human, batch.mask, batch.has_human & (batch.target.sum(1) > 0))

    def output_shapes(self, batch: Batch, dims: dict) -> tuple[tuple, tuple]:
        """logits [B, A], attention [B, K]."""
        b, k = batch.v.shape[:2]
        return (b, dims["num_answers"]), (b, k)

    # -- data --------------------------------------------------------------------------------------
    def model_name(self, method_model: str) -> str:
        return method_model

    def open_store(self, path: Path) -> VQAStore:
        return VQAStore.open(path)

    def open_store_verified(self, path: Path) -> VQAStore:
        """The store with every file's sha256 checked, the features array included."""
        return VQAStore.open(path, verify_features=True)

    def synthetic(self, cache_root: Path, echo: Echo, params: dict | None = None,
                  split: str | None = None) -> tuple[VQAStore, DataRef]:
        """The synthetic VQA-CP world's store in the cache, generated on first use (and said so)."""
        from ..data.synthetic import WorldParams, build_world, default_world_dir, world_is_built

        if split not in (None, "cp"):
            raise GroundbenchError(f"the synthetic VQA world has split scheme 'cp', not '{split}'")
        world = WorldParams.from_dict(params) if params else WorldParams()
        out = default_world_dir(cache_root) if params is None else default_world_dir(cache_root, world)
        if not ((out / "manifest.json").exists() and world_is_built(out / "raw", world)):
            echo(f"Generating the synthetic world (first use) into {out} ...")
            build_world(out, world)
        return VQAStore.open(out), DataRef("synthetic", out, world.to_dict())

    def benchmark(self, split: str) -> str:
        return f"synth-vqa{split}"

    def curve_store(self, cache_root: Path, echo: Echo, overrides: dict | None,
                    split: str | None = None) -> tuple[VQAStore, DataRef]:
        """The supervision curve's world: the default world (with ``overrides``) but every train question has a
        human map (``hat_fraction = 1``), so the curve's fractions can reach all of train."""
        from ..data.synthetic import WorldParams

        params = WorldParams.from_dict({**WorldParams().to_dict(), **(overrides or {}), "hat_fraction": 1.0})
        return self.synthetic(cache_root, echo, params.to_dict())

    def world_params(self, overrides: dict | None) -> dict | None:
        from ..data.synthetic import WorldParams

        return {**WorldParams().to_dict(), **overrides} if overrides else None

    def provide_inputs(self, model, store: VQAStore) -> None:
        store.provide(batch_inputs(model))

    def check_split(self, split: str, store: VQAStore) -> None:
        scheme = store.manifest.get("split_scheme")
        if scheme != split:
            raise GroundbenchError(f"--split {split} asked for, but this data has split scheme '{scheme}'",
                                   path=store.root)

    def data_dims(self, store: VQAStore) -> dict:
        """num_tokens: vocabulary + padding + unknown; num_answers: the answer list; v_dim: feature size."""
        return {"num_tokens": len(store.vocab) + 2, "num_answers": len(store.answers),
                "v_dim": int(store.manifest["feature_dim"])}

    def model_config(self, store: VQAStore, model_name: str, overrides: dict | None = None) -> dict:
        """Model config sized to the store: vocabulary, answers, feature dimension (+ synthetic sizes)."""
        config = self.data_dims(store)
        if store.manifest.get("source") == "synthetic":
            config.update(SYNTHETIC_MODEL)
        config.update(overrides or {})
        return config

    def train_dataset(self, store: VQAStore, *, human_only: bool, hint_fraction: float | None, seed: int):
        return store.dataset("train", human_only=human_only, hint_fraction=hint_fraction, seed=seed)

    def loader(self, dataset, batch_size: int, *, shuffle: bool, seed: int = 0):
        return make_loader(dataset, batch_size, shuffle=shuffle, seed=seed)

    def selector(self, store: VQAStore, device: str) -> Callable[[torch.nn.Module], float]:
        """Val soft accuracy (%), the selection score; never reads test."""
        val_loader = make_loader(store.dataset("val"), 512, shuffle=False)
        return lambda model: soft_accuracy(model, val_loader, device)

    def metadata(self, store: VQAStore) -> dict:
        """What a checkpoint must carry to be evaluated against this data again."""
        return {"answers": list(store.answers), "vocab": list(store.vocab)}

    def check_checkpoint(self, meta: dict, store: VQAStore, path: Path | None = None) -> None:
        """The data's answers and question vocabulary must be the checkpoint's (same order); names the first
        mismatch. A checkpoint without a vocabulary (older metadata) is checked on its answers only."""
        if meta.get("task", "vqa") != self.name:
            raise GroundbenchError(f"a {meta.get('task')} checkpoint cannot be scored as VQA", path=path)
        check_same_list("answer list", list(store.answers), list(meta.get("answers", [])), path or store.root)
        if "vocab" in meta:
            check_same_list("question vocabulary", list(store.vocab), list(meta["vocab"]), path or store.root)

    def evaluate(self, model, store: VQAStore, splits, device: str = "cpu", grounding: bool = True) -> dict:
        from ..evaluate import evaluate

        self.provide_inputs(model, store)
        return evaluate(model, store, splits, device=device, grounding=grounding)

    def predictions(self, model, store: VQAStore, split: str, device: str = "cpu") -> list[dict]:
        """The official VQA results format: [{"question_id": int, "answer": str}] (VQA evaluation API)."""
        from ..evaluate import predict

        self.provide_inputs(model, store)
        answers, _, _, _ = predict(model, store, split, device, grounding=False)
        return [{"question_id": int(qid), "answer": answer} for qid, answer in answers.items()]

    def eval_splits(self, store: VQAStore) -> list[str]:
        return [s for s in store.splits if s != "train"]

"""The captioning task: one grounding row per visual-word occurrence (that word's log-probability at its
ground-truth time step), token cross-entropy, CIDEr-D selection; data from a caption store
(``groundbench data captioning``) or the synthetic captioning world (robust or standard split)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F

from ..errors import GroundbenchError
from ..importance.caption_rows import caption_attention_rows, caption_gradient_rows
from ..importance.caption_window import caption_window_rows
from ..models.protocol import CaptionOutput
from .base import DataRef, Echo, HumanRows, Task, check_same_list

# Model sizes for the synthetic world (CPU-sized); real data uses the reference sizes (config defaults).
# 128 hidden units: a teacher-forced step at batch 64 takes ~70 ms on 2 CPU cores (~200 ms at 256).
SYNTHETIC_MODEL = {"word_dim": 64, "num_hid": 128, "att_hid": 64}
MODELS = {"updn": "updn-captioner"}

# Schedules (Adamax, like every method here). Pretraining: 15 epochs over (image, caption) pairs.
# Fine-tuning keeps the shared schedule of methods/base.py (lr 2e-4, batch 64, 30 epochs) on the images
# with masks. lam: weight of the task loss in Eq. 4 for captioning, where the task loss is the mean token
# cross-entropy (~1) instead of VQA's BCE x A (~3-10): see the README's captioning section.
PRETRAIN = {"epochs": 15, "batch_size": 64, "lr": 2e-3}
CAPTION_LAM = 1.0


def caption_task_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Token cross-entropy with teacher forcing (Anderson et al. 2018, XE stage), mean over real tokens.

    logits: [B, T, V]; targets: [B, T] word ids, 0 = padding (ignored) -> scalar.
    """
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=0)


class CaptioningTask(Task):
    """Image captioning (COCO robust / Karpathy splits, or the synthetic world); see tasks/base.py."""

    name = "captioning"
    default_split = "robust"
    splits = ("robust", "standard", "karpathy")
    selection = "val CIDEr-D (greedy decoding)"
    headline = "cider"

    # -- model-facing ------------------------------------------------------------------------------
    def forward(self, model, batch) -> CaptionOutput:
        return model(batch.v, batch.boxes, batch.mask, batch.tokens[:, :-1])

    def task_loss(self, output: CaptionOutput, batch) -> torch.Tensor:
        return caption_task_loss(output.logits, batch.tokens[:, 1:])

    def gradient_rows(self, model, batch, *, create_graph: bool) -> tuple[torch.Tensor, CaptionOutput]:
        """alpha: [R, K] Eq. 2 importance of each visual word's log-probability, and the output on the batch."""
        out = self.forward(model, batch)
        return caption_gradient_rows(model, batch, create_graph=create_graph), out

    def window_gradient_rows(self, model, batch, horizon: int, *,
                             create_graph: bool) -> tuple[torch.Tensor, CaptionOutput]:
        """alpha: [R, K] Eq. 2 through each visual word's last ``horizon`` steps (truncated BPTT), and the output."""
        out = self.forward(model, batch)
        return caption_window_rows(model, batch, horizon, create_graph=create_graph), out

    def attention_rows(self, model, batch) -> tuple[torch.Tensor | None, CaptionOutput]:
        out = self.forward(model, batch)
        return caption_attention_rows(out.attention, batch), out

    def human_rows(self, batch) -> HumanRows:
        """Every row has a human mask (rows are built only where one exists)."""
        mask = batch.mask[batch.row_batch]
        valid = torch.ones(batch.row_batch.shape[0], dtype=torch.bool, device=mask.device)
        return HumanRows(batch.human, mask, valid)

    def output_shapes(self, batch, dims: dict) -> tuple[tuple, tuple]:
        """logits [B, T, V], attention [B, T, K], T = the teacher-forced input length."""
        (b, k), t = batch.v.shape[:2], batch.tokens.shape[1] - 1
        return (b, t, dims["num_tokens"]), (b, t, k)

    # -- data --------------------------------------------------------------------------------------
    def model_name(self, method_model: str) -> str:
        if method_model not in MODELS:
            raise GroundbenchError(f"no captioning model for the '{method_model}' family "
                                   f"(captioning trains: {', '.join(MODELS)})")
        return MODELS[method_model]

    def method_defaults(self, method: str, fine_tune: bool) -> dict:
        from ..methods import METHODS

        defaults = {} if fine_tune else dict(PRETRAIN)
        if hasattr(METHODS[method], "lam"):
            defaults["lam"] = CAPTION_LAM
        return defaults

    def open_store(self, path: Path):
        from ..data.caption_store import CaptionStore

        return CaptionStore.open(path)

    def open_store_verified(self, path: Path):
        """The store with every file's sha256 checked, the features array included."""
        from ..data.caption_store import CaptionStore

        return CaptionStore.open(path, verify_features=True)

    def synthetic(self, cache_root: Path, echo: Echo, params: dict | None = None, split: str | None = None):
        """The synthetic captioning world's store for ``split`` (robust / standard), built on first use."""
        from ..data.caption_store import CaptionStore
        from ..data.synthetic_captions import (CaptionWorldParams, build_caption_world, caption_world_is_built,
                                               default_caption_world_dir)

        split = split or self.default_split
        if split not in ("robust", "standard"):
            raise GroundbenchError(f"the synthetic captioning world has splits robust and standard, not '{split}'")
        world = CaptionWorldParams.from_dict(params) if params else CaptionWorldParams()
        out = default_caption_world_dir(cache_root, None if params is None else world)
        if not ((out / split / "manifest.json").exists() and caption_world_is_built(out / "raw", world)):
            echo(f"Generating the synthetic captioning world ({split} split, first use) into {out} ...")
            build_caption_world(out, world, split_scheme=split)
        return CaptionStore.open(out / split), DataRef("synthetic-captions", out / split, world.to_dict())

    def benchmark(self, split: str) -> str:
        return f"synth-captions-{split}"

    def curve_store(self, cache_root: Path, echo: Echo, overrides: dict | None, split: str | None = None):
        """The supervision curve's store: the synthetic world's ``split`` prepared again with masks on every
        train image (``mask_fraction = 1``; the world's own store keeps the paper's 6%), beside it."""
        from ..data.caption_prepare import prepare_captioning
        from ..data.caption_store import CaptionStore

        split = split or self.default_split
        _, ref = self.synthetic(cache_root, echo, self.world_params(overrides), split)
        out = Path(ref.path).parent / f"{split}-all-masks"
        if not (out / "manifest.json").exists():
            echo(f"Preparing the {split} split with masks on every train image into {out} ...")
        prepare_captioning(Path(ref.path).parent / "raw", out, split_scheme=split, source="synthetic-captions",
                           min_count=1, mask_fraction=1.0, progress=False)
        return CaptionStore.open(out), DataRef("store", out)

    def world_params(self, overrides: dict | None) -> dict | None:
        from ..data.synthetic_captions import CaptionWorldParams

        return {**CaptionWorldParams().to_dict(), **overrides} if overrides else None

    def check_split(self, split: str, store) -> None:
        scheme = store.manifest.get("split_scheme")
        if scheme != split:
            raise GroundbenchError(f"--split {split} asked for, but this data has split scheme '{scheme}'",
                                   path=store.root)

    def data_dims(self, store) -> dict:
        """num_tokens: the caption vocabulary (special tokens included); v_dim: feature size."""
        return {"num_tokens": len(store.vocab), "v_dim": int(store.manifest["feature_dim"])}

    def model_config(self, store, model_name: str, overrides: dict | None = None) -> dict:
        config = self.data_dims(store)
        if str(store.manifest.get("source", "")).startswith("synthetic"):
            config.update(SYNTHETIC_MODEL)
        config.update(overrides or {})
        return config

    def train_dataset(self, store, *, human_only: bool, hint_fraction: float | None, seed: int):
        return store.dataset("train", human_only=human_only, hint_fraction=hint_fraction, seed=seed)

    def loader(self, dataset, batch_size: int, *, shuffle: bool, seed: int = 0):
        from ..data.caption_dataset import caption_loader

        return caption_loader(dataset, batch_size, shuffle=shuffle, seed=seed)

    def selector(self, store, device: str) -> Callable[[torch.nn.Module], float]:
        """Val CIDEr-D of greedy captions, in-process on the store's tokens (no Java); never reads test."""
        from ..evaluate_captions import val_cider

        return lambda model: val_cider(model, store, device)

    def metadata(self, store) -> dict:
        return {"vocab": list(store.vocab), "categories": list(store.categories)}

    def check_checkpoint(self, meta: dict, store, path: Path | None = None) -> None:
        """The data's vocabulary must be the checkpoint's; names the first mismatch."""
        if meta.get("task") != self.name:
            raise GroundbenchError(f"a {meta.get('task')} checkpoint cannot be scored as captioning", path=path)
        check_same_list("caption vocabulary", list(store.vocab), list(meta.get("vocab", [])), path or store.root)

    def evaluate(self, model, store, splits, device: str = "cpu", grounding: bool = True) -> dict:
        from ..evaluate_captions import evaluate_captions

        return evaluate_captions(model, store, splits, device=device, grounding=grounding)

    def predictions(self, model, store, split: str, device: str = "cpu") -> list[dict]:
        """The COCO caption results format: [{"image_id": int, "caption": str}] (beam search, as reported)."""
        from ..evaluate_captions import generate

        return [{"image_id": int(i), "caption": c} for i, c in sorted(generate(model, store, split, device).items())]

    def eval_splits(self, store) -> list[str]:
        return [s for s in store.splits if s != "train"]

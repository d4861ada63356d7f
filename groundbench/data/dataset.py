"""A torch Dataset over one split of a prepared store, and the collate that builds a Batch."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from .attention import HumanArrays
from .batch import HAT_GRID, Batch
from .feature_arrays import FeatureArrays
from .text import encode


class RowOf:
    """id -> row of ``ids`` [M] (the last row for a repeated id, as a dict built in order), or None; held as a
    sorted array instead of a dict, so its memory is 16 bytes per id."""

    def __init__(self, ids):
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        self.order = np.argsort(ids, kind="stable")
        self.sorted = ids[self.order]

    def get(self, key: int) -> int | None:
        pos = int(np.searchsorted(self.sorted, key, side="right")) - 1
        return int(self.order[pos]) if pos >= 0 and self.sorted[pos] == key else None

    def __getitem__(self, key: int) -> int:
        row = self.get(key)
        if row is None:
            raise KeyError(key)
        return row


class VQADataset(Dataset):
    """Questions of one split (``records``: a data/record_table.RecordTable or a list of record dicts); each
    item reads its image's features lazily from the memory map.

    An item is a dict: v [K, D], boxes [K, 4], num_boxes, q [T], target [A] (soft scores), human [K],
    has_human, hat_mask [G, G], image_size (w, h), and the question's metadata; plus oracle [K] when an
    ``oracle`` array ([M, K], row i for question ``oracle_ids[i]``: data/oracle_importance.py) is given.
    """

    def __init__(self, records: Sequence[dict], features: FeatureArrays, vocab: list[str], num_answers: int,
                 human: HumanArrays | None = None, oracle: np.ndarray | None = None,
                 oracle_ids: Sequence[int] | None = None):
        self.records = records
        self.features = features
        self.word_to_id = {word: i + 1 for i, word in enumerate(vocab)}
        self.num_answers = int(num_answers)
        self.human = human
        self.human_row = RowOf([] if human is None else human.question_ids)
        self.grid = HAT_GRID if human is None else int(human.hat_mask.shape[-1])
        self.oracle = oracle
        self.oracle_row = RowOf([] if oracle is None else oracle_ids)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> dict:
        record = self.records[index]
        row = self.features.row_of[record["image_id"]]
        k = self.features.k_max
        target = np.zeros(self.num_answers, dtype=np.float32)
        target[np.asarray(record["labels"], dtype=np.int64)] = np.asarray(record["scores"], dtype=np.float32)
        h = self.human_row.get(record["question_id"])
        item = {
            "v": np.array(self.features.array("features")[row]),
            "boxes": np.array(self.features.array("boxes")[row]),
            "num_boxes": int(self.features.num_boxes[row]),
            "q": encode(record["question"], self.word_to_id),
            "target": target,
            "human": self.human.importance[h] if h is not None else np.zeros(k, np.float32),
            "has_human": h is not None,
            "hat_mask": self.human.hat_mask[h] if h is not None else np.zeros((self.grid, self.grid), bool),
            "image_size": self.features.image_size[row].astype(np.float32),
            "question_id": record["question_id"], "image_id": record["image_id"],
            "answers": list(record["answers"]), "answer_type": record["answer_type"],
            "question_type": record["question_type"],
        }
        if self.oracle is not None:
            item["oracle"] = np.array(self.oracle[self.oracle_row[record["question_id"]]], dtype=np.float32)
        return item


def collate(items: list[dict]) -> Batch:
    """Stack dataset items into a Batch (mask [B, K] True for the first num_boxes proposals)."""
    def stack(name: str, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(np.stack([item[name] for item in items])).to(dtype)

    k = items[0]["v"].shape[0]
    counts = torch.tensor([item["num_boxes"] for item in items])
    return Batch(
        v=stack("v", torch.float32), boxes=stack("boxes", torch.float32),
        mask=torch.arange(k)[None, :] < counts[:, None],
        q=torch.tensor([item["q"] for item in items], dtype=torch.long),
        target=stack("target", torch.float32), human=stack("human", torch.float32),
        has_human=torch.tensor([item["has_human"] for item in items], dtype=torch.bool),
        image_size=stack("image_size", torch.float32), hat_mask=stack("hat_mask", torch.bool),
        question_ids=[item["question_id"] for item in items], image_ids=[item["image_id"] for item in items],
        answers=[item["answers"] for item in items], answer_types=[item["answer_type"] for item in items],
        question_types=[item["question_type"] for item in items],
        oracle=stack("oracle", torch.float32) if "oracle" in items[0] else None,
    )


def make_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0, num_workers: int = 0) -> DataLoader:
    """A DataLoader yielding Batches; shuffling is seeded so a run's order is reproducible."""
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate,
                      generator=generator, num_workers=num_workers)


def default_workers(device: str) -> int:
    """DataLoader worker processes when none are asked for: 0 on CPU (the model competes for the same cores),
    4 on CUDA (reading and collating overlap the GPU's steps)."""
    return 4 if torch.device(device).type == "cuda" else 0


def for_device(loader: DataLoader, device: str, workers: int | None = None) -> DataLoader:
    """``loader`` fed to ``device``: ``workers`` processes (default ``default_workers``) and, on CUDA, pinned
    batches (Batch.pin_memory) for non-blocking copies. The same dataset, batch sampler (so the same order),
    collate and generator object (so resume state and the random draws per epoch are those of ``loader``);
    items are read deterministically, so the batches are the same with or without workers. Each worker reopens
    the store's memory maps (FeatureArrays pickles without them). Returns ``loader`` itself when nothing changes."""
    workers = default_workers(device) if workers is None else int(workers)
    pin = torch.device(device).type == "cuda"
    if workers == loader.num_workers and pin == loader.pin_memory:
        return loader
    return DataLoader(loader.dataset, batch_sampler=loader.batch_sampler, collate_fn=loader.collate_fn,
                      generator=loader.generator, num_workers=workers, pin_memory=pin,
                      prefetch_factor=4 if workers > 0 else None)  # not persistent: same draws per epoch

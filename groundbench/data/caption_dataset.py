"""torch Datasets over one split of a caption store, and the collate that builds a CaptionBatch.

CaptionDataset: one item per (image, caption), for training and grounding; CaptionImageDataset: one item per
image (its first caption's tokens, caption_index -1), for generating captions. Features are read lazily from
the memory map, as VQADataset does. Grounding rows of an item: every visual-word occurrence of its caption
(``metrics.chair.find_objects``: phrases before single words, the row on the phrase's LAST token) whose
category has a human row for the image and whose word is in the vocabulary (a ``<unk>`` target is no row).
Since targets = tokens[1:] and tokens[0] = <bos>, the word at position p of the caption is row_step p.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..metrics.chair import VisualWords, find_objects
from .caption_batch import CaptionBatch
from .caption_masks import CaptionHumanArrays
from .caption_text import MAX_CAPTION_TOKENS, UNK, encode_caption, word_ids
from .feature_arrays import FeatureArrays


class CaptionDataset(Dataset):
    """Items (dicts): v [K, D], boxes [K, 4], num_boxes, image_size (w, h), tokens [L] int64, row_step /
    row_category / row_word [R_i] int64, human [R_i, K] float32, hat_mask [R_i, G, G] bool, image_id,
    caption_index, references, objects."""

    per_image = False

    def __init__(self, records: list[dict], features: FeatureArrays, vocab: list[str], categories: list[str],
                 visual_words: Mapping[str, str], human: CaptionHumanArrays):
        self.records = records
        self.features = features
        self.word_to_id = word_ids(vocab)
        self.category_index = {name: i for i, name in enumerate(categories)}
        self.words = VisualWords(dict(visual_words), tuple(categories))
        self.human = human
        self.human_row = human.row_index()
        if self.per_image:
            self.items = [(i, -1) for i in range(len(records))]
        else:
            self.items = [(i, j) for i, record in enumerate(records) for j in range(len(record["tokens"]))]

    def __len__(self) -> int:
        return len(self.items)

    def rows(self, image_id: int, tokens: list[str], ids: list[int]) -> list[tuple[int, int, int, int]]:
        """(step, category, word id, human row) of every grounding row of one caption."""
        out = []
        for position, name in find_objects(tokens, self.words):
            category = self.category_index.get(name)
            human = self.human_row.get((image_id, category))
            word = ids[position + 1] if position < MAX_CAPTION_TOKENS else UNK
            if human is not None and word != UNK:
                out.append((position, category, word, human))
        return out

    def __getitem__(self, index: int) -> dict:
        i, j = self.items[index]
        record = self.records[i]
        tokens = record["tokens"][max(j, 0)]
        ids = encode_caption(tokens, self.word_to_id)
        rows = self.rows(record["image_id"], tokens, ids)
        step, category, word, human = (np.array([r[n] for r in rows], dtype=np.int64) for n in range(4))
        row = self.features.row_of[record["image_id"]]
        return {
            "v": np.array(self.features.array("features")[row]),
            "boxes": np.array(self.features.array("boxes")[row]),
            "num_boxes": int(self.features.num_boxes[row]),
            "image_size": self.features.image_size[row].astype(np.float32),
            "tokens": np.array(ids, dtype=np.int64),
            "row_step": step, "row_category": category, "row_word": word,
            "human": self.human.importance[human], "hat_mask": self.human.hat_mask[human],
            "image_id": record["image_id"], "caption_index": j,
            "references": list(record["captions"]), "objects": list(record["objects"]),
        }


class CaptionImageDataset(CaptionDataset):
    """One item per image: the tokens (and rows) of its first caption, caption_index -1, all references."""

    per_image = True


def collate_captions(items: list[dict]) -> CaptionBatch:
    """Stack items into a CaptionBatch (mask [B, K] True for the first num_boxes proposals; rows concatenated
    in item order, row_batch = the item's position)."""
    def stack(name: str, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(np.stack([item[name] for item in items])).to(dtype)

    def cat(name: str, dtype: torch.dtype) -> torch.Tensor:
        return torch.as_tensor(np.concatenate([item[name] for item in items])).to(dtype)

    k = items[0]["v"].shape[0]
    counts = torch.tensor([item["num_boxes"] for item in items])
    row_batch = torch.cat([torch.full((len(item["row_step"]),), b, dtype=torch.long) for b, item in enumerate(items)])
    return CaptionBatch(
        v=stack("v", torch.float32), boxes=stack("boxes", torch.float32),
        mask=torch.arange(k)[None, :] < counts[:, None], image_size=stack("image_size", torch.float32),
        tokens=stack("tokens", torch.long), row_batch=row_batch, row_step=cat("row_step", torch.long),
        row_category=cat("row_category", torch.long), row_word=cat("row_word", torch.long),
        human=cat("human", torch.float32), hat_mask=cat("hat_mask", torch.bool),
        image_ids=[item["image_id"] for item in items], caption_index=[item["caption_index"] for item in items],
        references=[item["references"] for item in items], objects=[item["objects"] for item in items],
    )


def caption_loader(dataset: Dataset, batch_size: int, *, shuffle: bool, seed: int = 0,
                   num_workers: int = 0) -> DataLoader:
    """A DataLoader yielding CaptionBatches; shuffling is seeded (as data/dataset.make_loader)."""
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_captions,
                      generator=generator, num_workers=num_workers)

"""One visual word of one image's reference caption through one captioning model (the paper's Figure 4): the
word's Eq. 2 gradient importance at its step (importance/caption_rows.py), the attention at that step, the
category's human mask, the model's word at that step (teacher forced) and its own greedy caption."""
from __future__ import annotations

import torch

from ..data.caption_dataset import collate_captions
from ..data.caption_text import BOS, EOS, encode_caption
from ..errors import GroundbenchError
from ..importance.caption_rows import caption_attention_rows, caption_gradient_rows
from ..metrics.chair import find_objects, tokenize
from ..models.decoding import greedy_decode
from .explanation import Explanation, as_numpy


def find_image(store, image_id: int) -> tuple[str, int]:
    """(split, index in its records) of ``image_id``, looked up in every split; a one-line error when absent."""
    for split in store.splits:
        for index, record in enumerate(store.records(split)):
            if int(record["image_id"]) == int(image_id):
                return split, index
    raise GroundbenchError(f"no image {image_id} in this data (splits {', '.join(store.splits)})", path=store.root)


def _phrase(tokens: list[str], last: int, category: str, lookup: dict[str, str], longest: int) -> str:
    """The visual word / phrase ending at token ``last`` that ``find_objects`` matched to ``category``."""
    for n in range(min(longest, last + 1), 0, -1):
        words = " ".join(tokens[last - n + 1:last + 1])
        if lookup.get(words) == category:
            return words
    return tokens[last]


def grounded_words(dataset, record: dict, caption: int) -> list[tuple[str, int]]:
    """(visual word or phrase, row number among the caption's rows) of every grounding row of one caption."""
    tokens = record["tokens"][caption]
    rows = dataset.rows(record["image_id"], tokens, encode_caption(tokens, dataset.word_to_id))
    lookup, longest = dataset.words.words, dataset.words.max_phrase
    positions = {step for step, *_ in rows}
    found = [(p, c) for p, c in find_objects(tokens, dataset.words) if p in positions]
    return [(_phrase(tokens, p, c, lookup, longest), n) for n, (p, c) in enumerate(found)]


def find_word(dataset, record: dict, word: str) -> tuple[int, int]:
    """(caption index, row number) of the first reference caption of ``record`` whose grounding rows include
    ``word`` (a visual word or phrase, any case); a one-line error listing the image's grounded words."""
    wanted = " ".join(tokenize(word))
    seen: list[str] = []
    for caption in range(len(record["tokens"])):
        for phrase, row in grounded_words(dataset, record, caption):
            if phrase == wanted:
                return caption, row
            if phrase not in seen:
                seen.append(phrase)
    listing = ", ".join(sorted(seen)) if seen else "none (no category of this image has a human mask)"
    raise GroundbenchError(f"no reference caption of image {record['image_id']} has a grounded visual word "
                           f"'{word}'; its grounded visual words: {listing}")


def explain_word(model, store, image_id: int, word: str, device: str = "cpu") -> Explanation:
    """Explanation of visual word ``word`` of image ``image_id`` under a captioning ``model``."""
    split, index = find_image(store, image_id)
    dataset = store.dataset(split)
    record = dataset.records[index]
    caption, row = find_word(dataset, record, word)
    batch = collate_captions([dataset[dataset.items.index((index, caption))]]).to(device)
    model.eval()
    alpha = caption_gradient_rows(model, batch)
    with torch.no_grad():
        out = model(batch.v, batch.boxes, batch.mask, batch.tokens[:, :-1])
        attention = caption_attention_rows(out.attention, batch)
        greedy = greedy_decode(model, batch.v, batch.boxes, batch.mask, bos=BOS, eos=EOS)
    step, truth_id = int(batch.row_step[row]), int(batch.row_word[row])
    guess_id = int(out.logits[0, step].argmax())
    tokens = list(record["tokens"][caption])
    phrase = " ".join(tokenize(word))
    n = len(phrase.split())
    marked = tokens[:step - n + 1] + [f"[{phrase}]"] + tokens[step + 1:]
    width, height = (int(x) for x in batch.image_size[0].tolist())
    return Explanation(
        prompt=" ".join(marked), truth=phrase, prediction=store.vocab[guess_id], correct=guess_id == truth_id,
        note=f"its caption: \"{store.decode(greedy[0].tolist())}\"",
        target=f"log p('{store.vocab[truth_id]}') at step {step + 1}",
        boxes=as_numpy(batch.boxes[0]), mask=as_numpy(batch.mask[0]), image_size=(width, height),
        gradient=as_numpy(alpha[row]), attention=None if attention is None else as_numpy(attention[row]),
        human=as_numpy(batch.human[row]), hat_mask=as_numpy(batch.hat_mask[row]))

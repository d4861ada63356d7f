"""One VQA question through one model: its answer, Eq. 2 gradient importance, attention and the human map."""
from __future__ import annotations

from collections import Counter

import torch

from ..data.dataset import collate
from ..errors import GroundbenchError
from ..importance.attention import attention_importance
from ..importance.gradient import gradient_importance_and_output
from ..metrics.vqa import vqa_accuracy
from ..models.protocol import batch_inputs, extra_inputs
from .explanation import Explanation, as_numpy


def find_question(store, question_id: int) -> tuple[str, int]:
    """(split, index in that split's records) of ``question_id``, looked up in every split of the store; a
    one-line error naming the splits searched when it is in none."""
    for split in store.splits:
        for index, record in enumerate(store.records(split)):
            if int(record["question_id"]) == int(question_id):
                return split, index
    raise GroundbenchError(f"no question {question_id} in this data (splits {', '.join(store.splits)})",
                           path=store.root)


def answer_counts(answers: list[str]) -> str:
    """The annotators' answers as ``yes ×6, no ×4`` (most common first, then first seen)."""
    return ", ".join(f"{answer} ×{count}" for answer, count in Counter(answers).most_common())


def explain_question(model, store, question_id: int, device: str = "cpu") -> tuple[Explanation, int]:
    """(Explanation of ``question_id`` under ``model``, its image id).

    The ground truth is the answer of highest soft score (the first of equal ones: ``batch.target.argmax``),
    the one HINT trains (Eq. 2) and the grounding metrics score; the gradient is of its logit. A question whose
    answers are all outside the answer list (target all 0) shows the annotators' most common answer and takes
    the gradient of the predicted answer instead (said in ``target``).
    """
    split, index = find_question(store, question_id)
    store.provide(batch_inputs(model))
    item = store.dataset(split)[index]
    batch = collate([item]).to(device)
    model.eval()
    with torch.no_grad():
        predicted = model(batch.v, batch.boxes, batch.mask, batch.q, **extra_inputs(model, batch)).logits.argmax(1)
    in_list = bool(batch.target.sum() > 0)
    answer_index = batch.target.argmax(1) if in_list else predicted
    alpha, output = gradient_importance_and_output(model, batch, answer_index)
    attention = attention_importance(output, batch.mask)
    answer = store.answers[int(predicted[0])]
    score = vqa_accuracy(answer, item["answers"])
    truth = store.answers[int(answer_index[0])] if in_list else Counter(item["answers"]).most_common(1)[0][0]
    target_name = store.answers[int(answer_index[0])]
    has_human = bool(item["has_human"])
    width, height = (int(x) for x in item["image_size"])
    explanation = Explanation(
        prompt=str(store.records(split)[index]["question"]), truth=truth, prediction=answer, correct=score > 0,
        note=f"VQA accuracy {score:.2f} ({item['answer_type']}); annotators: {answer_counts(item['answers'])}",
        target=f"'{target_name}'" + (" (ground truth)" if in_list else " (predicted; ground truth not an answer)"),
        boxes=as_numpy(batch.boxes[0]), mask=as_numpy(batch.mask[0]), image_size=(width, height),
        gradient=as_numpy(alpha[0]), attention=None if attention is None else as_numpy(attention[0]),
        human=as_numpy(batch.human[0]) if has_human else None,
        hat_mask=as_numpy(batch.hat_mask[0]) if has_human else None)
    return explanation, int(item["image_id"])


"""VQA-like questions about a scene, the objects each answer depends on, and 10 human answers."""
from __future__ import annotations

from dataclasses import dataclass

from .params import COLOURS, COUNTS, SHAPES, SIZES, YES_NO, WorldParams, plural, stream
from .scenes import Scene

# family -> (question template, question_type prefix as VQA annotates it, answer_type, answer set)
FAMILIES = {
    "color": ("what color is the {shape}?", "what color is the", "other", COLOURS),
    "shape": ("what shape is the {color} object?", "what shape is the", "other", SHAPES),
    "size": ("what size is the {shape}?", "what size is the", "other", SIZES),
    "count": ("how many {shapes} are there?", "how many", "number", COUNTS),
    "is_color": ("is the {shape} {color}?", "is the", "yes/no", YES_NO),
    "exists": ("is there a {color} {shape}?", "is there a", "yes/no", YES_NO),
}
FAMILY_ORDER = ("color", "shape", "size", "count", "is_color", "exists")
MAX_WRONG_VOTES = 4
N_ANNOTATORS = 10


@dataclass(frozen=True)
class Question:
    """A question on an image. index: position in the image's candidate list (question_id = image_id*1000 + index).

    concept: the question text (its answer prior is what a blind model learns); relevant: indices of the
    scene objects the answer depends on (what a human looks at).
    """

    image_id: int
    index: int
    family: str
    text: str
    answer: str
    relevant: tuple[int, ...]

    @property
    def question_id(self) -> int:
        return self.image_id * 1000 + self.index

    @property
    def question_type(self) -> str:
        return FAMILIES[self.family][1]

    @property
    def answer_type(self) -> str:
        return FAMILIES[self.family][2]

    @property
    def concept(self) -> str:
        return self.text


def question_text(family: str, shape: str = "", color: str = "") -> str:
    """The family's template filled in, e.g. question_text("count", shape="cross") = "how many crosses are there?"."""
    return FAMILIES[family][0].format(shape=shape, shapes=plural(shape), color=color)


def _near_miss(value: str, present: list[str], every: tuple[str, ...], rng) -> str:
    """A wrong value for a yes/no question: one another object in the scene has when there is one."""
    pool = [v for v in present if v != value] or [v for v in every if v != value]
    return pool[int(rng.integers(len(pool)))]


def _yes_no(obj, scene: Scene, rng) -> list[tuple[str, str, str, tuple[int, ...]]]:
    """(family, text, answer, relevant) of the yes/no questions on ``obj``: "is the {shape} {colour}?" when its
    shape is unique, "is there a {colour} {shape}?" when its colour is (so no other object can make it true);
    one true (yes) and one near-miss (no) each. The answer depends on ``obj`` alone: what a human looks at."""
    out = []
    if len(scene.with_shape(obj.shape)) == 1:
        colours = sorted({o.color for o in scene.objects}, key=COLOURS.index)
        for color, answer in ((obj.color, "yes"), (_near_miss(obj.color, colours, COLOURS, rng), "no")):
            out.append(("is_color", question_text("is_color", shape=obj.shape, color=color), answer, (obj.index,)))
    if len(scene.with_color(obj.color)) == 1:
        shapes = sorted({o.shape for o in scene.objects}, key=SHAPES.index)
        for shape, answer in ((obj.shape, "yes"), (_near_miss(obj.shape, shapes, SHAPES, rng), "no")):
            out.append(("exists", question_text("exists", shape=shape, color=obj.color), answer, (obj.index,)))
    return out


def candidate_questions(scene: Scene, params: WorldParams) -> list[Question]:
    """Every question the scene supports unambiguously (unique referents), in a fixed order."""
    rng = stream(params, "questions", scene.image_id)
    found: list[tuple[str, str, str, tuple[int, ...]]] = []
    for shape in sorted({o.shape for o in scene.objects}, key=SHAPES.index):
        objs = scene.with_shape(shape)
        if len(objs) == 1:
            found.append(("color", question_text("color", shape=shape), objs[0].color, (objs[0].index,)))
            found.append(("size", question_text("size", shape=shape), objs[0].size, (objs[0].index,)))
        found.append(("count", question_text("count", shape=shape), str(len(objs)), tuple(o.index for o in objs)))
    for color in sorted({o.color for o in scene.objects}, key=COLOURS.index):
        objs = scene.with_color(color)
        if len(objs) == 1:
            found.append(("shape", question_text("shape", color=color), objs[0].shape, (objs[0].index,)))
    for obj in scene.objects:
        found.extend(_yes_no(obj, scene, rng))
    found.sort(key=lambda f: (FAMILY_ORDER.index(f[0]), f[1]))
    return [Question(scene.image_id, i, fam, text, ans, rel) for i, (fam, text, ans, rel) in enumerate(found)]


def _wrong_answer(question: Question, rng) -> str:
    """A plausible mistake: another answer of the same family (a count off by one)."""
    if question.family == "count":
        return str(int(question.answer) + (1 if rng.random() < 0.5 else -1))
    options = [a for a in FAMILIES[question.family][3] if a != question.answer]
    return options[int(rng.integers(len(options)))]


def human_answers(question: Question, params: WorldParams) -> list[dict]:
    """10 VQA-style answers. A share ``contested_rate`` of questions is contested: there each annotator is
    wrong with prob ``disagreement`` (at most 4 wrong, so the true answer keeps >= 6 votes and is the
    multiple-choice answer); confidence "maybe" with prob ``maybe_rate`` (doubled for wrong answers)."""
    rng = stream(params, "answers", question.question_id)
    contested = rng.random() < params.contested_rate
    wrong = (rng.random(N_ANNOTATORS) < params.disagreement) & contested
    for extra in rng.permutation(N_ANNOTATORS):
        if wrong.sum() <= MAX_WRONG_VOTES:
            break
        wrong[extra] = False
    out = []
    for i in range(N_ANNOTATORS):
        answer = _wrong_answer(question, rng) if wrong[i] else question.answer
        maybe = rng.random() < params.maybe_rate * (2 if wrong[i] else 1)
        out.append({"answer": answer, "answer_confidence": "maybe" if maybe else "yes", "answer_id": i + 1})
    return out

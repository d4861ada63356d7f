"""The official VQA accuracy (Antol et al. 2015; VQA v2, Goyal et al. 2017).

Follows ``PythonEvaluationTools/vqaEvaluation/vqaEval.py`` of GT-Vision-Lab/VQA as on its master
branch after the 2017 fix (the version the VQA v2 / VQA-CP papers score with):

* Every gt answer and the prediction have newlines / tabs turned into spaces and are stripped.
* **Quirk, kept on purpose:** the normalisation (``processPunctuation`` then ``processDigitArticle``)
  is applied to the gt answers *and* to the prediction only when the annotators disagree (more than
  one distinct stripped answer). When all annotators agree, "two" does not match ten "2"s.
* Accuracy = mean over the leave-one-out subsets of the answers of min(1, #matches / 3). The official
  file assumes 10 answers; with fewer we average over the subsets that exist.

The normalisation reproduces the official tables, including their oddities: the contractions table
maps e.g. "dont" to "don’t" with a typographic apostrophe, while a straight apostrophe is punctuation
("don't" -> "don t"); the period rule removes any "." not followed by a digit, at most 32 times
per answer (the official code passes ``re.UNICODE`` where ``re.sub`` expects ``count``).
"""
from __future__ import annotations

import functools
import re
from collections import Counter
from types import MappingProxyType
from typing import Collection, Iterable, Mapping

ANSWER_TYPES = ("yes/no", "number", "other")

_NUMBER_WORDS = MappingProxyType({
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
})
_ARTICLES = frozenset({"a", "an", "the"})
_PUNCT = (";", ":", "/", "'", "[", "]", '"', "(", ")", "=", "+", "\\", "_", ">", "<", "@", "`", ",", "?")
_DIGIT_COMMA_DIGIT = re.compile(r"\d,\d")
_PERIOD = re.compile(r"\.(?!\d)")
_PERIOD_MAX = int(re.UNICODE)  # the official count quirk, see the module docstring

# The official contractions table, restricted to the entries that can ever fire: keys are looked up
# after lower-casing and after processPunctuation removed every straight apostrophe, so entries with
# capitals or a straight "'" in the key are unreachable and omitted. One "key value" pair per line;
# note the mix of typographic and straight apostrophes in the values, as in the official table.
_CONTRACTION_TEXT = """
aint ain't|arent aren't|cant can't|couldve could've|couldnt couldn't|couldnt’ve couldn’t’ve
didnt didn’t|doesnt doesn’t|dont don’t|hadnt hadn’t|hadnt’ve hadn’t’ve|hasnt hasn’t|havent haven’t
hed he’d|hed’ve he’d’ve|he’dve he’d’ve|hes he’s|howd how’d|howll how’ll|hows how’s|isnt isn’t
itd it’d|itd’ve it’d’ve|it’dve it’d’ve|itll it’ll|maam ma’am|mightnt mightn’t|mightnt’ve mightn’t’ve
mightn’tve mightn’t’ve|mightve might’ve|mustnt mustn’t|mustve must’ve|neednt needn’t|notve not’ve
oclock o’clock|oughtnt oughtn’t|ow’s’at ’ow’s’at|’ows’at ’ow’s’at|’ow’sat ’ow’s’at|shant shan’t
shed’ve she’d’ve|she’dve she’d’ve|shouldve should’ve|shouldnt shouldn’t|shouldnt’ve shouldn’t’ve
shouldn’tve shouldn’t’ve|somebody’d somebodyd|somebodyd’ve somebody’d’ve|somebody’dve somebody’d’ve
somebodyll somebody’ll|somebodys somebody’s|someoned someone’d|someoned’ve someone’d’ve
someone’dve someone’d’ve|someonell someone’ll|someones someone’s|somethingd something’d
somethingd’ve something’d’ve|something’dve something’d’ve|somethingll something’ll|thats that’s
thered there’d|thered’ve there’d’ve|there’dve there’d’ve|therere there’re|theres there’s|theyd they’d
theyd’ve they’d’ve|they’dve they’d’ve|theyll they’ll|theyre they’re|theyve they’ve|twas ’twas
wasnt wasn’t|wed’ve we’d’ve|we’dve we’d’ve|weve we've|werent weren’t|whatll what’ll|whatre what’re
whats what’s|whatve what’ve|whens when’s|whered where’d|wheres where's|whereve where’ve|whod who’d
whod’ve who’d’ve|who’dve who’d’ve|wholl who’ll|whos who’s|whove who've|whyll why’ll|whyre why’re
whys why’s|wont won’t|wouldve would’ve|wouldnt wouldn’t|wouldnt’ve wouldn’t’ve|wouldn’tve wouldn’t’ve
yall y’all|yall’ll y’all’ll|y’allll y’all’ll|yall’d’ve y’all’d’ve|y’alld’ve y’all’d’ve
y’all’dve y’all’d’ve|youd you’d|youd’ve you’d’ve|you’dve you’d’ve|youll you’ll|youre you’re
youve you’ve
"""
_CONTRACTIONS = MappingProxyType(dict(
    pair.split(" ") for pair in _CONTRACTION_TEXT.replace("\n", "|").split("|") if pair
))


def _clean(text: str) -> str:
    """Newlines and tabs to spaces, then strip (applied to every answer before anything else)."""
    return text.replace("\n", " ").replace("\t", " ").strip()


def process_punctuation(text: str) -> str:
    """vqaEval.processPunctuation: drop or blank punctuation, then periods not followed by a digit.

    A mark is deleted when it touches a space anywhere in ``text`` (or ``text`` has a digit,digit
    comma); otherwise it becomes a space.
    """
    out = text
    joined_number = _DIGIT_COMMA_DIGIT.search(text) is not None
    for mark in _PUNCT:
        if joined_number or mark + " " in text or " " + mark in text:
            out = out.replace(mark, "")
        else:
            out = out.replace(mark, " ")
    return _PERIOD.sub("", out, count=_PERIOD_MAX)


def process_digit_article(text: str) -> str:
    """vqaEval.processDigitArticle: lower-case, number words -> digits, drop articles, contractions."""
    words = [_NUMBER_WORDS.get(word, word) for word in text.lower().split()]
    words = [word for word in words if word not in _ARTICLES]
    return " ".join(_CONTRACTIONS.get(word, word) for word in words)


@functools.lru_cache(maxsize=1 << 16)
def normalize_answer(answer: str) -> str:
    """The official answer normalisation: clean, processPunctuation, processDigitArticle.

    Memoised (a pure function; VQA answers repeat heavily).

    "Two" -> "2", "a dog." -> "dog", "dont" -> "don’t" (typographic apostrophe, as the official table).
    """
    return process_digit_article(process_punctuation(_clean(answer)))


def vqa_accuracy(pred: str, answers: list[str]) -> float:
    """Official per-question accuracy: mean over leave-one-out subsets of min(1, matches / 3).

    answers: the human answers (10 in VQA; fewer are averaged over what is there). Normalisation of
    both sides happens only when the annotators disagree (the official quirk, see module docstring).
    """
    if not answers:
        raise ValueError("vqa_accuracy needs at least one human answer")
    gts = [_clean(a) for a in answers]
    res = _clean(pred)
    if len(set(gts)) > 1:
        gts = [normalize_answer(a) for a in gts]  # on a cleaned string: exactly the official two steps
        res = normalize_answer(res)
    return accuracy_from_hits(sum(1 for a in gts if a == res), len(gts))


def accuracy_from_hits(hits: int, n: int) -> float:
    """Leave-one-out mean of min(1, matches / 3) for ``hits`` matching answers out of ``n``.

    Leaving out answer i removes one match exactly when answer i itself matches.
    """
    return ((n - hits) * min(1.0, hits / 3.0) + hits * min(1.0, (hits - 1) / 3.0)) / n


def best_accuracy(answers: list[str], vocab: Collection[str], normalised_vocab: Collection[str]) -> float:
    """The highest official accuracy any answer of ``vocab`` can reach on this question (upper bound).

    normalised_vocab: {normalize_answer(v) for v in vocab}, passed in so callers compute it once.
    """
    gts = [_clean(a) for a in answers]
    if len(set(gts)) > 1:
        gts = [normalize_answer(a) for a in gts]
        allowed = normalised_vocab
    else:
        allowed = vocab
    counts = Counter(a for a in gts if a in allowed)
    return accuracy_from_hits(max(counts.values()), len(gts)) if counts else 0.0


def soft_score(count: int) -> float:
    """Soft target for an answer given by ``count`` annotators: 0, .3, .6, .9, 1 for 0..4+.

    As get_score in hengyuan-hu/bottom-up-attention-vqa tools/compute_softscore.py.
    """
    if count <= 0:
        return 0.0
    return (0.3, 0.6, 0.9)[count - 1] if count < 4 else 1.0


def accuracy_by_type(preds: Mapping[int, str], records: Iterable[Mapping]) -> dict:
    """Mean official accuracy overall and per answer type, with counts.

    records: dicts with ``question_id``, ``answers`` (raw strings) and ``answer_type``; every record
    needs a prediction in ``preds`` (question_id -> answer string), else KeyError names it.
    Returns ``{"overall": {"accuracy", "count"}, "yes/no": {...}, "number": {...}, "other": {...}}``
    with accuracies as fractions in [0, 1] and ``None`` for a type with no questions; answer types
    outside the three standard ones get their own entry.
    """
    sums: dict[str, float] = {name: 0.0 for name in ANSWER_TYPES}
    counts: dict[str, int] = {name: 0 for name in ANSWER_TYPES}
    total, n = 0.0, 0
    for record in records:
        qid = record["question_id"]
        if qid not in preds:
            raise KeyError(f"no prediction for question {qid}")
        acc = vqa_accuracy(preds[qid], list(record["answers"]))
        kind = record.get("answer_type", "other")
        sums[kind] = sums.get(kind, 0.0) + acc
        counts[kind] = counts.get(kind, 0) + 1
        total += acc
        n += 1
    result = {"overall": {"accuracy": total / n if n else None, "count": n}}
    for kind in counts:
        result[kind] = {"accuracy": sums[kind] / counts[kind] if counts[kind] else None, "count": counts[kind]}
    return result

"""``groundbench score vqa``: official accuracy of results files, checked against scores counted by hand on the
real VQA v2 fixture and on small typed files; every bad input is one line and exit 2."""
import json
from pathlib import Path

import pytest

from test_cli import fails_cleanly, invoke
from groundbench.scoring.common import describe_ids

REAL = Path(__file__).parent / "fixtures" / "vqav2"  # a copy of shared/data/vqav2-fixture (see its README)
NET, POSITION, COLOUR = 458752000, 458752001, 458752002
# the fixture's human answers, counted: NET: net x6, netting, mesh, pitcher, orange; POSITION: pitcher x9,
# catcher; COLOUR: orange x10 (all annotators agree: no normalisation at all, the official quirk)


def loo(matches: int, n: int = 10) -> float:
    """By hand: the mean over the n leave-one-out subsets of min(1, matching answers left / 3)."""
    return sum(min(1.0, (matches - (left_out < matches)) / 3) for left_out in range(n)) / n




def dump(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def results(path: Path, answers: dict) -> Path:
    return dump(path, [{"question_id": qid, "answer": a} for qid, a in answers.items()])


def score_real(tmp_path, answers: dict):
    out = tmp_path / "report.json"
    result = invoke("score", "vqa", "--questions", REAL / "questions.json", "--annotations", REAL / "annotations.json",
                    "--results", results(tmp_path / "r.json", answers), "--out", out)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


def test_leave_one_out_by_hand():
    assert [loo(m) for m in range(6)] == pytest.approx([0.0, 0.3, 0.6, 0.9, 1.0, 1.0])


def test_real_fixture_punctuation_case_and_the_agreement_quirk(tmp_path):
    # "Net." -> "net" (period dropped, lower-cased: the NET annotators disagree) matches 6; "catcher" 1;
    # "Orange" is left as is because all 10 COLOUR annotators agree, so it matches none of the "orange"s
    report, output = score_real(tmp_path, {NET: "Net.", POSITION: "catcher", COLOUR: "Orange"})
    expected = 100 * (loo(6) + loo(1) + 0.0) / 3  # = 100 * (1 + 0.3 + 0) / 3 = 43.33...
    assert expected == pytest.approx(130 / 3)
    assert report["overall"]["accuracy"] == pytest.approx(expected) and report["overall"]["count"] == 3
    # the fixture is trimmed to question_id + answers: the types are derived, and the report says so
    assert list(report["answer_types"]) == ["other"]
    assert report["answer_types"]["other"]["accuracy"] == pytest.approx(expected)
    assert list(report["question_types"]) == ["none of the above"]
    assert any("derived" in w for w in report["warnings"]) and "warning: " in output
    assert "| overall" in output and "43.33" in output  # 2 decimals in the table, full precision in JSON
    lo, hi = report["overall"]["ci95"]
    assert lo <= report["overall"]["accuracy"] <= hi


def test_real_fixture_articles_are_dropped(tmp_path):
    # "the mesh" -> "mesh" (1 of 10), "a pitcher" -> "pitcher" (9 of 10), "orange" exact (10 of 10)
    report, output = score_real(tmp_path, {NET: "the mesh", POSITION: "a pitcher", COLOUR: "orange"})
    assert report["overall"]["accuracy"] == pytest.approx(100 * (loo(1) + loo(9) + loo(10)) / 3)
    assert report["overall"]["accuracy"] == pytest.approx(230 / 3) and "76.67" in output


def typed_files(tmp_path, n_extra: int = 0):
    """Five questions with types, as VQA-CP's bare lists; (questions, annotations, {qid: answer}, expected %)."""
    cases = [  # (answer type, question type, human answers, predicted answer, matches after the official rules)
        ("number", "how many", ["two", "two", "2"] + ["three"] * 7, "2", 3),  # disagree: "two" -> "2"
        ("number", "how many", ["4"] * 10, "four", 0),  # all agree: "four" is not normalised to "4"
        ("yes/no", "is there a", ["yes"] * 8 + ["no"] * 2, "no", 2),
        ("other", "what color is the", ["red"] * 3 + ["dark red"] * 7, "red,", 3),  # the comma becomes a space
        ("other", "what is the", ["a dog"] * 4 + ["dog"] * 2 + ["cat"] * 4, "The dog", 6),  # articles dropped
    ]
    cases += [("other", "what is the", ["cat"] * 10, "cat", 10)] * n_extra
    questions, annotations, answers = [], [], {}
    for i, (atype, qtype, humans, pred, _) in enumerate(cases):
        qid = 100 + i
        questions.append({"image_id": 7, "question": f"question {i}?", "question_id": qid})
        annotations.append({"question_id": qid, "image_id": 7, "question_type": qtype, "answer_type": atype,
                            "multiple_choice_answer": humans[0], "answers": [
                                {"answer": a, "answer_confidence": "yes", "answer_id": j + 1}
                                for j, a in enumerate(humans)]})
        answers[qid] = pred
    acc = [loo(matches) for *_, matches in cases]
    expected = {"overall": 100 * sum(acc) / len(acc), "number": 100 * (acc[0] + acc[1]) / 2, "yes/no": 100 * acc[2],
                "other": 100 * sum(acc[3:]) / len(acc[3:])}
    return dump(tmp_path / "q.json", questions), dump(tmp_path / "a.json", annotations), answers, expected


def test_typed_files_by_answer_and_question_type(tmp_path):
    q, a, answers, expected = typed_files(tmp_path)
    assert expected == pytest.approx({"overall": 68.0, "number": 45.0, "yes/no": 60.0, "other": 95.0})
    out = tmp_path / "report.json"
    result = invoke("score", "vqa", "--questions", q, "--annotations", a,
                    "--results", results(tmp_path / "r.json", answers), "--out", out)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["overall"]["accuracy"] == pytest.approx(expected["overall"])
    assert list(report["answer_types"]) == ["yes/no", "number", "other"]  # the official order
    for atype in ("number", "yes/no", "other"):
        assert report["answer_types"][atype]["accuracy"] == pytest.approx(expected[atype])
    assert {k: v["count"] for k, v in report["answer_types"].items()} == {"yes/no": 1, "number": 2, "other": 2}
    types = {k: (v["accuracy"], v["count"]) for k, v in report["question_types"].items()}
    assert types == {"how many": (pytest.approx(45.0), 2), "is there a": (pytest.approx(60.0), 1),
                     "what color is the": (pytest.approx(90.0), 1), "what is the": (pytest.approx(100.0), 1)}
    assert report["warnings"] == [] and "68.00" in result.output and "warning" not in result.output


def test_describe_ids_counts_and_names_the_first_few():
    assert describe_ids([3, 1, 2]) == "3: 1, 2, 3"
    assert describe_ids(range(10, 0, -1)) == "10: 1, 2, 3, 4, 5, ..."


def run_typed(tmp_path, answers: dict, q=None, a=None):
    q0, a0, _, _ = typed_files(tmp_path, n_extra=5)
    out = tmp_path / "report.json"
    result = invoke("score", "vqa", "--questions", q or q0, "--annotations", a or a0,
                    "--results", results(tmp_path / "r.json", answers) if isinstance(answers, dict) else answers,
                    "--out", out)
    assert not out.exists()  # no report, not even part of one
    return result


def test_missing_duplicated_and_unknown_results_name_the_ids(tmp_path):
    everything = {qid: "cat" for qid in range(100, 110)}
    line = fails_cleanly(run_typed(tmp_path, {100: "2"}), "r.json", "without a result", "a.json",
                         "9: 101, 102, 103, 104, 105, ...")
    assert "109" not in line
    fails_cleanly(run_typed(tmp_path, {**everything, 999: "x", 1000: "y"}), "r.json", "not in the annotations",
                  "2: 999, 1000")
    doubled = tmp_path / "doubled.json"
    dump(doubled, [{"question_id": qid, "answer": "cat"} for qid in [*everything, 104, 107]])
    fails_cleanly(run_typed(tmp_path, doubled), "doubled.json", "more than once", "2: 104, 107")


def test_questions_and_annotations_must_pair(tmp_path):
    q, a, answers, _ = typed_files(tmp_path)
    questions = json.loads(q.read_text())
    extra_q = dump(tmp_path / "q_extra.json", questions + [{"image_id": 7, "question": "why?", "question_id": 555}])
    fails_cleanly(run_typed(tmp_path, answers, q=extra_q, a=a), "a.json", "record 555", "no annotation")
    fewer_q = dump(tmp_path / "q_fewer.json", {"questions": questions[1:]})
    fails_cleanly(run_typed(tmp_path, answers, q=fewer_q, a=a), "a.json", "record 100", "no question")


@pytest.mark.parametrize("records, needles", [
    ({"question_id": 100, "answer": "2"}, ["JSON list"]),
    ([{"question_id": 100}], ["record 0:", "missing field 'answer'"]),
    ([{"question_id": "100", "answer": "2"}], ["record 0:", "'question_id' must be an integer", "the string '100'"]),
    ([{"question_id": 100, "answer": 2}], ["record 0 (question 100):", "'answer' must be a string", "the number 2"]),
    (["100: 2"], ["record 0:", "expected a JSON object"]),
])
def test_malformed_results_records(tmp_path, records, needles):
    fails_cleanly(run_typed(tmp_path, dump(tmp_path / "bad.json", records)), "bad.json", *needles)


def test_unreadable_inputs(tmp_path):
    q, a, answers, _ = typed_files(tmp_path)
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    fails_cleanly(run_typed(tmp_path, broken), "broken.json", "not valid JSON")
    fails_cleanly(run_typed(tmp_path, tmp_path / "absent.json"), "absent.json", "not found")
    bad_annotation = dump(tmp_path / "a_bad.json", [{"question_id": 100}])
    fails_cleanly(run_typed(tmp_path, answers, q=q, a=bad_annotation), "a_bad.json", "missing field 'answers'")

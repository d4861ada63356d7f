"""``groundbench score captions``: COCO caption metrics equal to caption_metrics on the same data, CHAIR counted
by hand on three images (objects from instances plus reference captions, or captions only), bad inputs."""
import json
from pathlib import Path

import pytest

import groundbench.scoring.caption_files as caption_files
from test_cli import fails_cleanly, invoke
from groundbench.metrics.captions import METRIC_NAMES, caption_metrics, java_available

REFERENCES = {
    1: ["A dog sleeping on a couch.", "A brown dog lies on a sofa."],
    2: ["A man riding a horse on a beach.", "A person rides a brown horse."],
    3: ["A plate of food on a wooden table.", "Food served on a table."],
}
CAPTIONS = {1: "a dog and a cat on a couch", 2: "a man riding a horse", 3: "a pizza and a fork on a table"}
INSTANCES = {1: ["dog", "couch"], 2: ["person"], 3: ["dining table", "fork"]}  # no horse: only the captions say so
CATEGORY_IDS = {"person": 1, "horse": 19, "dog": 18, "couch": 63, "dining table": 67, "fork": 48, "pizza": 59}




def dump(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def annotations_file(path: Path, references=REFERENCES) -> Path:
    images = [{"id": i, "width": 640, "height": 480, "file_name": f"{i}.jpg"} for i in references]
    annotations = [{"id": 10 * i + j, "image_id": i, "caption": c}
                   for i, caps in references.items() for j, c in enumerate(caps)]
    return dump(path, {"images": images, "annotations": annotations})


def results_file(path: Path, captions=CAPTIONS) -> Path:
    return dump(path, [{"image_id": i, "caption": c} for i, c in captions.items()])


def instances_file(path: Path, instances=INSTANCES) -> Path:
    return dump(path, {"images": [{"id": i} for i in REFERENCES],
                       "categories": [{"id": cid, "name": n} for n, cid in CATEGORY_IDS.items()],
                       "annotations": [{"id": 100 * i + j, "image_id": i, "category_id": CATEGORY_IDS[name]}
                                       for i, names in instances.items() for j, name in enumerate(names)]})


@pytest.fixture
def files(tmp_path):
    return {"annotations": annotations_file(tmp_path / "captions.json"), "results": results_file(tmp_path / "res.json"),
            "instances": instances_file(tmp_path / "instances.json")}


def score(tmp_path, files, *extra):
    out = tmp_path / "report.json"
    args = ["score", "captions", "--annotations", files["annotations"], "--results", files["results"], *extra]
    result = invoke(*args, "--out", out)
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result.output


@pytest.fixture
def no_java(monkeypatch):
    """The caption metrics replaced by a stand-in (no JVM): for the tests about CHAIR and bad inputs."""
    def fake(gts, res, tokenize=True):
        return {name: {"value": 0.5, "per_image": None, "direction": "higher"} for name in METRIC_NAMES}
    monkeypatch.setattr(caption_files, "caption_metrics", fake)
    monkeypatch.setattr(caption_files, "require_java", lambda what: None)


@pytest.mark.skipif(not java_available(), reason="no Java runtime: the PTB tokenizer and METEOR run in a JVM")
def test_caption_metrics_equal_pycocoevalcap_on_the_same_data(tmp_path, files):
    report, output = score(tmp_path, files, "--instances", files["instances"])
    direct = caption_metrics(REFERENCES, CAPTIONS, tokenize=True)
    assert set(METRIC_NAMES) <= set(report["metrics"])
    for name in METRIC_NAMES:
        assert report["metrics"][name]["value"] == pytest.approx(direct[name]["value"], rel=1e-9), name
        assert report["metrics"][name]["n"] == 3 and report["metrics"][name]["direction"] == "higher"
    assert report["metrics"]["bleu4"]["ci95"] is None  # a corpus statistic: no per-image values to resample
    lo, hi = report["metrics"]["cider"]["ci95"]
    assert lo <= sum(direct["cider"]["per_image"]) / 3 <= hi
    assert "| cider" in output and "| chair_i" in output


def test_chair_by_hand_with_instances(tmp_path, files, no_java):
    # mentions: image 1 dog, cat, couch; image 2 man (person), horse; image 3 pizza, fork, table (dining table)
    # present: image 1 dog, couch; image 2 person (instances) + horse (captions); image 3 dining table, fork
    # hallucinated: cat, pizza -> CHAIR-i = 2 / 8; captions with one: images 1 and 3 -> CHAIR-s = 2 / 3
    report, output = score(tmp_path, files, "--instances", files["instances"])
    assert report["chair"]["mentions"] == 8 and report["chair"]["hallucinated"] == 2
    assert report["metrics"]["chair_i"]["value"] == pytest.approx(2 / 8)
    assert report["metrics"]["chair_s"]["value"] == pytest.approx(2 / 3)
    assert report["metrics"]["chair_i"]["direction"] == report["metrics"]["chair_s"]["direction"] == "lower"
    assert report["objects_from"] == caption_files.FROM_BOTH
    assert report["visual_words"].endswith("chair_synonyms.txt") and "2 of 8 object mentions" in output


def test_chair_from_reference_captions_only(tmp_path, files, no_java):
    # no instances: image 3's fork is in no reference caption, so it is hallucinated too -> 3 / 8
    report, output = score(tmp_path, files)
    assert report["chair"]["hallucinated"] == 3
    assert report["metrics"]["chair_i"]["value"] == pytest.approx(3 / 8)
    assert report["metrics"]["chair_s"]["value"] == pytest.approx(2 / 3)
    assert report["objects_from"] == caption_files.FROM_CAPTIONS and "reference captions only" in output


def test_words_file_overrides_the_list(tmp_path, files, no_java):
    words = tmp_path / "words.txt"
    words.write_text("dog, puppy\ncat, kitten\n", encoding="utf-8")
    # only dog and cat are visual words: image 1 mentions dog (present) and cat (not) -> 1 / 2, 1 caption of 3
    report, output = score(tmp_path, files, "--instances", files["instances"], "--words", words)
    assert (report["chair"]["mentions"], report["chair"]["hallucinated"]) == (2, 1)
    assert report["metrics"]["chair_s"]["value"] == pytest.approx(1 / 3)
    assert report["chair"]["unlisted_instance_categories"] == ["couch", "dining table", "fork", "person"]
    assert report["visual_words"] == str(words) and "ignored" in output


def run(tmp_path, files, **changes):
    out = tmp_path / "report.json"
    paths = {**files, **changes}
    args = ["score", "captions", "--annotations", paths["annotations"], "--results", paths["results"],
            "--instances", paths["instances"], "--out", out]
    if "words" in paths:
        args += ["--words", paths["words"]]
    result = invoke(*args)
    assert not out.exists()
    return result


def test_results_errors_name_the_images(tmp_path, files, no_java):
    bad = tmp_path / "bad.json"
    twice = [{"image_id": i, "caption": "a dog"} for i in (1, 2, 3, 3, 2)]
    fails_cleanly(run(tmp_path, files, results=dump(bad, twice)), "bad.json", "more than once", "2: 2, 3")
    fails_cleanly(run(tmp_path, files, results=results_file(bad, {**CAPTIONS, 7: "a cat", 8: "a dog"})),
                  "bad.json", "not in the annotations captions.json", "2: 7, 8")
    fails_cleanly(run(tmp_path, files, results=results_file(bad, {1: "a dog"})), "bad.json", "without a caption",
                  "2: 2, 3")
    fails_cleanly(run(tmp_path, files, results=results_file(bad, {**CAPTIONS, 2: "  "})), "bad.json", "image 2",
                  "non-empty string")
    fails_cleanly(run(tmp_path, files, results=results_file(bad, {**CAPTIONS, 2: "..."})), "bad.json", "image 2",
                  "no words")
    fails_cleanly(run(tmp_path, files, results=dump(bad, [{"image_id": "1", "caption": "a"}])), "bad.json",
                  "record #0", "'image_id' must be an integer")
    fails_cleanly(run(tmp_path, files, results=dump(bad, [{"image_id": 1}])), "bad.json", "missing field 'caption'")
    fails_cleanly(run(tmp_path, files, results=dump(bad, {"image_id": 1})), "bad.json", "JSON list")


def test_annotation_and_instance_errors(tmp_path, files, no_java):
    bad = tmp_path / "bad.json"
    fails_cleanly(run(tmp_path, files, annotations=annotations_file(bad, {**REFERENCES, 4: []})), "bad.json",
                  "without a reference caption", "1: 4")
    data = json.loads(files["annotations"].read_text())
    data["annotations"].append({"id": 99, "image_id": 5, "caption": "a cat"})
    fails_cleanly(run(tmp_path, files, annotations=dump(bad, data)), "bad.json", "record annotation 99",
                  "not among this file's images")
    data = json.loads(files["instances"].read_text())
    data["images"] = data["images"][:1]
    fails_cleanly(run(tmp_path, files, instances=dump(bad, data)), "bad.json", "not listed in this instances file",
                  "2: 2, 3")
    data = json.loads(files["instances"].read_text())
    data["annotations"][0]["category_id"] = 1234
    fails_cleanly(run(tmp_path, files, instances=dump(bad, data)), "bad.json", "record annotations[0]",
                  "unknown category id 1234")
    fails_cleanly(run(tmp_path, files, words=tmp_path / "absent.txt"), "absent.txt", "visual-word list")
    fails_cleanly(run(tmp_path, files, annotations=tmp_path / "absent.json"), "absent.json", "not found")

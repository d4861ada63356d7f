"""The paper's numbers shipped in leaderboards/reported/ against their transcription (every value, under the
setting the json gives it), and the committed tables against the renderer's output."""
from __future__ import annotations

import json

import pytest

from groundbench.leaderboard import SHIPPED_REPORTED, build_leaderboard, load_records
from groundbench.leaderboard_render import render
from groundbench.leaderboard_benchmarks import BENCHMARKS

from test_leaderboard import REPO

PAPER_JSON = REPO.parent / "shared" / "data" / "hint-paper-reported.json"  # shared data, read-only


def _shipped():
    return [rec for _, rec in load_records(REPO / "leaderboards" / "reported")]


def _find(shipped, benchmark, paper_row, source_part):
    found = [r for r in shipped if r.benchmark == benchmark and r.config.get("paper_row") == paper_row
             and source_part in r.source]
    assert len(found) == 1, (benchmark, paper_row, source_part, found)
    return found[0]


def _values(record):
    assert record.seed is None and not record.measured and all(m.n is None or m.n == 1000
                                                                for m in record.metrics.values())
    return {name: m.value for name, m in record.metrics.items()}


@pytest.mark.skipif(not PAPER_JSON.exists(), reason="the shared transcription of the paper is not beside the repo")
def test_every_shipped_reported_number_is_the_papers_under_its_setting():
    paper = json.loads(PAPER_JSON.read_text(encoding="utf-8"))
    shipped = _shipped()
    seen = set()
    names = ["accuracy", "accuracy_yes_no", "accuracy_number", "accuracy_other"]
    assert paper["vqa_table1"]["columns"] == ["overall", "yes_no", "number", "other"]
    for row in paper["vqa_table1"]["rows"]:
        for key, bench, split in (("vqacp_test", "vqacp-v2", "test"), ("vqav2_val", "vqa-v2", "val")):
            rec = _find(shipped, bench, row["model"], "Table 1")
            assert _values(rec) == {f"{split}/{n}": v for n, v in zip(names, row[key])}
            assert rec.source.startswith("Selvaraju") != row["from_cited_paper"]  # cited rows name their paper
            seen.add(id(rec))
    g = paper["grounding"]
    for key, bench, metric, what in (
            ("spearman_gradcam_vs_human_vqa", "vqa-v2", "val/spearman_grad", "Spearman"),  # trained on VQA v2
            ("top_proposal_iou_vqacp", "vqacp-v2", "test/top_iou", "top-proposal IoU"),
            ("spearman_gradcam_vs_segmentation_captioning", "coco-robust", "test/spearman_grad", "Spearman")):
        for side, paper_row in (("base", "UpDn"), ("hint", "UpDn + HINT")):
            rec = _find(shipped, bench, paper_row, what)
            assert _values(rec) == {metric: g[key][side]} and rec.config["setting"] == g[key]["setting"]
            seen.add(id(rec))
    occ = _find(shipped, "hint-paper-analyses", "UpDn", "occlusion")
    assert _values(occ) == {"test/occl_grad": g["occlusion_rank_correlation"]["gradient"],
                            "test/occl_attn": g["occlusion_rank_correlation"]["attention"]}
    assert occ.config["setting"] == g["occlusion_rank_correlation"]["setting"]
    seen.add(id(occ))
    for key, bench, side, paper_row in (("updn_robust", "coco-robust", "updn", "UpDn"),
                                        ("updn_hint_robust", "coco-robust", "hint", "UpDn + HINT"),
                                        ("updn_karpathy", "coco-karpathy", "updn", "UpDn"),
                                        ("updn_hint_karpathy", "coco-karpathy", "hint", "UpDn + HINT")):
        rec = _find(shipped, bench, paper_row, "CIDEr")
        assert _values(rec) == {"test/cider": paper["captioning_cider"][key]}  # both CIDEr-D as a fraction
        assert rec.model == "updn-captioner"
        seen.add(id(rec))
    for key, model, what in (("vqa_attention", "updn", "trust study, VQA"),
                             ("captioning_gradient_explanations", "updn-captioner", "trust study, captioning")):
        study = paper["human_trust"][key]
        for side, paper_row in (("prefer_base", "UpDn"), ("prefer_hint", "UpDn + HINT")):
            rec = _find(shipped, "hint-paper-analyses", paper_row, what)
            assert _values(rec) == {"human/preferred": study[side]} and rec.model == model
            assert rec.metrics["human/preferred"].n == study["responses"]
            seen.add(id(rec))
    assert len(seen) == len(shipped) == 27  # nothing shipped that the transcription does not hold


def test_no_reported_number_is_filed_under_a_setting_it_was_not_measured_in():
    for rec in _shipped():
        assert rec.config.get("setting") and rec.source and rec.config.get("transcribed_from")
        if rec.benchmark == "vqacp-v2":  # the paper's Spearman -0.09 -> 0.18 is for the model trained on VQA v2
            assert not any("spearman" in name for name in rec.metrics)
        if rec.benchmark in BENCHMARKS:
            assert all(name.split("/")[0] in BENCHMARKS[rec.benchmark].splits for name in rec.metrics)


def test_committed_tables_are_the_renderers_output():
    """leaderboards/README.md: each made by `groundbench leaderboard --dir leaderboards/records --benchmark B
    --out leaderboards/B.md` (the paper's rows borrowed from leaderboards/reported)."""
    root = REPO / "leaderboards"
    for bench in ("synth-vqacp", "synth-captions-robust", "synth-captions-standard"):
        tables = build_leaderboard(root / "records", benchmark=bench, reported=SHIPPED_REPORTED)
        assert tables[0].beside, bench  # the paper's rows for the real analogue are shown
        assert (root / f"{bench}.md").read_text(encoding="utf-8") == render(tables, "markdown"), bench
    page = root / "synth-vqacp.html"
    tables = build_leaderboard(root / "records", benchmark="synth-vqacp", reported=SHIPPED_REPORTED)
    assert page.read_text(encoding="utf-8") == render(tables, "html", root=root / "records", out=page)

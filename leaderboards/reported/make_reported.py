"""Write the HINT paper's reported numbers as result records, one per (paper row, setting).

    .venv/bin/python leaderboards/reported/make_reported.py [../shared/data/hint-paper-reported.json]

Reads the transcription of the paper (``hint-paper-reported.json``, shared data; it states the setting of
every number) and writes ``leaderboards/reported/<benchmark>/<what>-<method>[-<model>].json``; every other
record under ``leaderboards/reported/`` is removed, so the folder is exactly what the json says. Metric names
and scales are those of our measured records (accuracies in %, CIDEr-D as a fraction: the json's 1.06 is our
1.06), so a reported row and a measured row line up column for column, in separate rows.
"""
from __future__ import annotations

import sys
from pathlib import Path

from groundbench.io import read_json
from groundbench.results import Metric, load_record, make_record, save_record

HERE = Path(__file__).resolve().parent
DEFAULT_JSON = HERE.parents[2] / "shared" / "data" / "hint-paper-reported.json"
DATE = "2026-11-29T00:00:00+00:00"  # when the numbers were transcribed into records
PAPER = "Selvaraju et al., ICCV 2019"  # the full title is each record's config.paper (arXiv:1902.03751)
# Table 1 row name -> (method, model) in our naming; the cited paper of a row the paper took from elsewhere
TABLE1 = {"SAN": ("san", "san"), "UpDn": ("updn", "updn"), "GVQA": ("gvqa", "gvqa"),
          "UpDn + Attn. Align": ("attn-align", "updn"), "UpDn + AdvReg": ("advreg", "updn"),
          "UpDn + HINT": ("hint", "updn")}
CITED = {"GVQA": ("Agrawal et al., CVPR 2018", "Agrawal et al., Don't Just Assume; Look and Answer: Overcoming "
                                               "Priors for Visual Question Answering, CVPR 2018"),
         "UpDn + AdvReg": ("Ramakrishnan et al., NeurIPS 2018", "Ramakrishnan et al., Overcoming Language Priors in "
                           "Visual Question Answering with Adversarial Regularization, NeurIPS 2018")}
WHAT = {"spearman_gradcam_vs_human_vqa": "Spearman, Grad-CAM vs human attention",
        "top_proposal_iou_vqacp": "top-proposal IoU",
        "spearman_gradcam_vs_segmentation_captioning": "Spearman, Grad-CAM vs segmentations",
        "occlusion_rank_correlation": "occlusion rank correlation",
        "vqa_attention": "human trust study, VQA", "captioning_gradient_explanations": "human trust study, captioning"}
ACCURACY = {"overall": "accuracy", "yes_no": "accuracy_yes_no", "number": "accuracy_number", "other": "accuracy_other"}
CAPTIONER = "updn-captioner"


def _record(out: dict, benchmark: str, name: str, method: str, model: str, metrics: dict, *, source: str,
            setting: str, paper_row: str, pointer: str, citation: str, note: str = "", n: int | None = None) -> None:
    config = {"setting": setting, "paper_row": paper_row, "transcribed_from": f"hint-paper-reported.json: {pointer}",
              "paper": citation}
    if note:
        config["note"] = note
    typed = {k: Metric(value=v, direction="higher", n=n) for k, v in metrics.items()}
    out[Path(benchmark) / f"{name}.json"] = make_record(benchmark, method, model, None, typed, config,
                                                        source=source, code_version="", date=DATE)


def records(data: dict) -> dict[Path, object]:
    """Relative path -> ResultRecord for every number of the transcription (its module docstring)."""
    out: dict = {}
    citation = data["source"]
    cols = data["vqa_table1"]["columns"]
    for i, row in enumerate(data["vqa_table1"]["rows"]):
        method, model = TABLE1[row["model"]]
        source = f"{PAPER}, Table 1"
        note = ""
        if row["from_cited_paper"]:
            source = f"{CITED[row['model']][0]} via {PAPER}, Table 1"
            note = (f"Table 1 marks this row (dagger) as taken from the cited paper: {CITED[row['model']][1]} "
                    "(the json flags the row; naming the paper is our reading of the citation).")
        for key, bench, split, setting in (("vqacp_test", "vqacp-v2", "test", "VQA-CP v2 test; trained on VQA-CP v2 train"),
                                           ("vqav2_val", "vqa-v2", "val", "VQA v2 val; trained on VQA v2 train")):
            metrics = {f"{split}/{ACCURACY[c]}": v for c, v in zip(cols, row[key])}
            _record(out, bench, f"table1-{method}", method, model, metrics, source=source, setting=setting,
                    paper_row=row["model"], pointer=f"vqa_table1.rows[{i}].{key}", citation=citation, note=note)
    g = data["grounding"]
    for key, bench, metric, model, what in (
            ("spearman_gradcam_vs_human_vqa", "vqa-v2", "val/spearman_grad", "updn", "spearman"),
            ("top_proposal_iou_vqacp", "vqacp-v2", "test/top_iou", "updn", "top-iou"),
            ("spearman_gradcam_vs_segmentation_captioning", "coco-robust", "test/spearman_grad", CAPTIONER, "spearman")):
        for side, method, paper_row in (("base", "updn", "UpDn"), ("hint", "hint", "UpDn + HINT")):
            split_note = "The json gives no split; filed under the split our metric of this benchmark is scored on."
            _record(out, bench, f"{what}-{method}", method, model, {metric: g[key][side]},
                    source=f"{PAPER}, {WHAT[key]}", setting=g[key]["setting"], paper_row=paper_row,
                    pointer=f"grounding.{key}.{side}", citation=citation, note=split_note)
    occ = g["occlusion_rank_correlation"]
    _record(out, "hint-paper-analyses", "occlusion-updn", "updn", "updn",
            {"test/occl_grad": occ["gradient"], "test/occl_attn": occ["attention"]},
            source=f"{PAPER}, {WHAT['occlusion_rank_correlation']}", setting=occ["setting"], paper_row="UpDn",
            pointer="grounding.occlusion_rank_correlation", citation=citation,
            note="The json names neither the dataset nor the model; filed on the base UpDn, the model whose two "
                 "importance measures the paper compares, under a benchmark of its own.")
    cider = data["captioning_cider"]
    for key, bench, method, paper_row, setting in (
            ("updn_robust", "coco-robust", "updn", "UpDn", "COCO robust split"),
            ("updn_hint_robust", "coco-robust", "hint", "UpDn + HINT", "COCO robust split"),
            ("updn_karpathy", "coco-karpathy", "updn", "UpDn", "COCO Karpathy split"),
            ("updn_hint_karpathy", "coco-karpathy", "hint", "UpDn + HINT", "COCO Karpathy split")):
        _record(out, bench, f"cider-{method}", method, CAPTIONER, {"test/cider": cider[key]},
                source=f"{PAPER}, captioning CIDEr", setting=setting, paper_row=paper_row,
                pointer=f"captioning_cider.{key}", citation=citation,
                note="CIDEr as a fraction, as the json gives it (1.06 = 106 as printed); the test split is implied.")
    for key, model, task in (("vqa_attention", "updn", "VQA attention maps"),
                             ("captioning_gradient_explanations", CAPTIONER, "captioning gradient explanations")):
        study = data["human_trust"][key]
        for side, method, paper_row in (("prefer_base", "updn", "UpDn"), ("prefer_hint", "hint", "UpDn + HINT")):
            _record(out, "hint-paper-analyses", f"trust-{key.split('_')[0]}-{method}", method, model,
                    {"human/preferred": study[side]}, n=study["responses"],
                    source=f"{PAPER}, {WHAT[key]}", paper_row=paper_row, pointer=f"human_trust.{key}.{side}",
                    setting=f"human study, {task}: % of {study['responses']} responses preferring this model's "
                            "explanation (the rest: no preference)", citation=citation)
    return out


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_JSON
    wanted = records(read_json(source, what="reported numbers"))
    for path in sorted(HERE.rglob("*.json")):
        if path.relative_to(HERE) not in wanted:
            load_record(path)  # only ever removes result records
            path.unlink()
    for rel, record in sorted(wanted.items()):
        save_record(HERE / rel, record)
    print(f"wrote {len(wanted)} records under {HERE} from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

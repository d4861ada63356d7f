"""Scoring files made without groundbench's training code (issue 9, ``groundbench score``).

* ``vqa_files``: official VQA / VQA-CP results files -> official accuracy (GT-Vision-Lab/VQA vqaEval.py).
* ``caption_files``: COCO caption results files -> CIDEr-D, BLEU, METEOR, ROUGE-L (pycocoevalcap) and CHAIR.
* ``grounding_files``: per-proposal importance (.npz) -> Spearman / top-proposal IoU against a store's human maps.
"""

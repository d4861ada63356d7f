"""Held-out validation for VQA-CP: VQA-CP v2 has no val split, so one is carved from train by image."""
from __future__ import annotations

import hashlib

DEFAULT_VAL_FRACTION = 0.1


def in_val_holdout(image_id: int, fraction: float = DEFAULT_VAL_FRACTION) -> bool:
    """True when ``image_id``'s train questions go to the held-out val split.

    Deterministic and seed-free (a hash of the image id), so the synthetic world and the real
    converter agree, and all questions on one image land on the same side (no image leakage).
    """
    digest = hashlib.blake2b(str(int(image_id)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % 100_000 < round(fraction * 100_000)

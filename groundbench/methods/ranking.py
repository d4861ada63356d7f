"""The HINT ranking loss over proposal pairs: Selvaraju et al. 2019, Eq. 3-4."""
from __future__ import annotations

import torch


def ranking_loss(network: torch.Tensor, human: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 3: sum over pairs (r, r') that humans rank r above r' (s_r > s_r') while the network ranks
    them the other way (a_r < a_r') of |a_r' - a_r|; vectorised over all K x K pairs.

    network, human: [B, K]; mask: [B, K] bool. Returns [B] per-example losses (0 when the orders agree).
    """
    pair_valid = mask.unsqueeze(2) & mask.unsqueeze(1)
    human_above = (human.unsqueeze(2) > human.unsqueeze(1)) & pair_valid  # [B, r, r']: s_r > s_r'
    violation = (network.unsqueeze(1) - network.unsqueeze(2)).clamp_min(0.0)  # a_r' - a_r when positive
    return (violation * human_above.to(violation.dtype)).sum(dim=(1, 2))

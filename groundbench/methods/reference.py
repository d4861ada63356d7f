"""Reference rows: methods that are not competitors but bound what the others could reach."""
from __future__ import annotations

from dataclasses import dataclass

from .task import UpDnMethod


@dataclass
class OracleAttentionMethod(UpDnMethod):
    """A ceiling, not a competitor: UpDn trained from scratch like ``updn`` (task loss, same schedule, selection
    on val accuracy), but its attention over the K proposals is the oracle human importance of the question
    (models/oracle_attention.py: HINT Eq. 1 on the exact masks of the relevant objects), not learned. Needs a
    synthetic world's store (data/oracle_importance.py). The leaderboard shows it in a block of its own."""

    name = "oracle-attention"
    model = "updn-oracle"
    description = "reference: attention = human importance"

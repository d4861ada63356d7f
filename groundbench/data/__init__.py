"""Data: official files or the synthetic world -> prepared store -> Batch."""

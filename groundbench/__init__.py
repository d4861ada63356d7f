"""groundbench: train and score vision-and-language models on visual grounding."""

__version__ = "0.1.0"

"""Metrics: VQA accuracy, grounding metrics, statistics."""

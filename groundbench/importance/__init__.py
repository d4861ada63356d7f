"""Importance of each region proposal, always [B, K] with a proposal mask."""

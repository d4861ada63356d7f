"""Models that meet the protocol of models/protocol.py."""

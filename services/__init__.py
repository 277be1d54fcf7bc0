"""Ladder's four services: recruitment, training, inspection and the ledger."""

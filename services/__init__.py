"""Ladder's services: one per area that shared.areas declares, and the ledger."""

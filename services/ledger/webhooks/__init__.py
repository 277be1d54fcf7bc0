"""Webhooks out: subscribers hear about ledger changes, signed, retried and replayable.

``domain`` (plain Python), ``service`` (use cases), ``api`` (the subscriptions
routes), ``tasks`` (Celery); the tables are in ``services.ledger.models``.
"""

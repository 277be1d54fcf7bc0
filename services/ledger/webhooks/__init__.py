"""Webhooks out: subscribers hear about ledger changes, signed, retried and replayable.

``domain`` (plain Python) and ``settings``; the use cases: ``subscriptions`` (with their
alerts and secrets), ``delivery`` (one attempt, the sweep, the purge) and ``messages``
(resend, recover, the delivery log); ``fanout`` (what the followers of the log write),
``api`` (the subscriptions routes), ``tasks`` (Celery); the tables are in
``services.ledger.models``.
"""

"""Inspection's tables are the common area tables; an inspection is an activity."""

from __future__ import annotations

from shared.area.models import Activity, ApiToken, Base, Involvement, Outbox

__all__ = ["Activity", "ApiToken", "Base", "Involvement", "Outbox"]

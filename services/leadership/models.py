"""Leadership's tables are the common area tables; a meeting is an activity."""

from __future__ import annotations

from shared.area.models import Activity, ApiToken, Base, Involvement, Outbox

__all__ = ["Activity", "ApiToken", "Base", "Involvement", "Outbox"]

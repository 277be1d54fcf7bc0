"""Builders for test events: valid CloudEvents the ledger accepts."""

from __future__ import annotations

import uuid
from typing import Any

from shared.envelope import ACTIVITY_RECORDED, INVOLVEMENT_RECORDED, new_event


def activity(area: str = "recruitment", org_unit: str = "ward-7", **data: Any) -> dict[str, Any]:
    activity_id = str(uuid.uuid4())
    return new_event(type=ACTIVITY_RECORDED, source=f"/ladder/{area}", subject=activity_id,
                     data={"area": area, "activity_id": activity_id, "org_unit": org_unit, **data})


def involvement(area: str = "recruitment", step: int = 5, **data: Any) -> dict[str, Any]:
    activity_id = str(uuid.uuid4())
    return new_event(type=INVOLVEMENT_RECORDED, source=f"/ladder/{area}", subject=activity_id,
                     data={"area": area, "activity_id": activity_id, "org_unit": "ward-7",
                           "pseudonym": "p_test", "step": step, **data})

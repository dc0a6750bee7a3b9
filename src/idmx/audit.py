"""The audit log: every staff action, with who, when, what, and the object before and after."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from idmx import clock
from idmx.db import models as m


def plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def snapshot(obj: Any, fields: list[str]) -> dict[str, Any]:
    return {f: plain(getattr(obj, f)) for f in fields}


def record(
    s: Session,
    *,
    actor_id: int | None,
    action: str,
    obj: tuple[str, int | None],
    institution_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    public_note: str = "",
) -> None:
    """Add an audit event to the caller's transaction: it lands exactly when the action does."""
    s.add(
        m.AuditEvent(
            at=clock.now(), actor_id=actor_id, institution_id=institution_id, action=action, object_type=obj[0],
            object_id=obj[1], before=plain(before) if before else None, after=plain(after) if after else None,
            public_note=public_note,
        )
    )

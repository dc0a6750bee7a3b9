"""INSERT ... ON CONFLICT for both databases: uniqueness is enforced by constraints, never by
check-then-insert, so concurrent identical requests cannot create duplicates."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Table) -> Any:
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)

"""The institution filter every staff query goes through.

Central administrators see everything; institution staff see only their institution's rows. A
row outside the scope is reported as missing (404), never as forbidden, so ids cannot be probed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from idmx.accounts.services import StaffPrincipal
from idmx.db import models as m


def consultations(query: Select[Any], who: StaffPrincipal) -> Select[Any]:
    if who.is_central:
        return query
    return query.where(m.Consultation.institution_id == who.institution_id)

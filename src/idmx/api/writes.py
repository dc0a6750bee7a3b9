"""Plan answers through the API: the same state machine and persistence as the HTML forms.

`idmx.plans.items.apply` stores the answer, its public history event, the audit record (actor None:
no staff member) and the followers' notifications; this module adds a second audit record naming
the token that acted, and marks the token used, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from idmx import audit, clock
from idmx.api import schemas as body
from idmx.api.tokens import TokenPrincipal
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import DomainError, NotFound
from idmx.fields import clean_text
from idmx.i18n import gettext as _
from idmx.plans import items, policy


class TokenRevoked(DomainError):
    status_code = 401


Move = Callable[[policy.Answer], tuple[policy.Answer, policy.Event]]


def _legal_basis_id(s: Session, code: str) -> int | None:
    """The basis with this code; None (refused by the state machine, naming the field) when unknown."""
    return s.scalar(select(m.LegalBasis.id).where(m.LegalBasis.code == code.strip()))


def move_for(s: Session, data: object, today: date, item_id: int) -> Move:
    """The state-machine move an answer body asks for, with text cleaned as the HTML forms clean it."""
    if isinstance(data, body.CommitBody):
        due, justification = data.due_date, clean_text(data.justification)
        return lambda a: policy.commit(a, due, today, justification)
    if isinstance(data, body.PublishBody):
        url, catalogue_id = clean_text(data.url), clean_text(data.catalogue_id)
        return lambda a: policy.publish(a, url, today, catalogue_id)
    if isinstance(data, body.DenyBody):
        basis, explanation = _legal_basis_id(s, clean_text(data.legal_basis)), clean_text(data.explanation)
        return lambda a: policy.deny(a, basis, explanation)
    if isinstance(data, body.ReopenBody):
        note = clean_text(data.note)
        # The same time to answer as a reopening through the plan page (idmx.plans.answers.reopen).
        days = items.answer_days(s, item_id)
        return lambda a: policy.reopen(a, today, days, note)
    raise TypeError(f"unknown answer body {type(data).__name__}")


def answer(db: Database, token: TokenPrincipal, item_id: int, action: str, data: object) -> None:
    """Apply one answer to an item of the token's institution (another institution's item: not found)."""
    today = clock.local_date(clock.now())
    with db.write() as s:
        row = s.get(m.ApiToken, token.id)
        if row is None or row.revoked_at is not None:  # revoked since the request was authenticated
            raise TokenRevoked(_("This API token is not valid or has been revoked."))
        row.last_used_at = clock.now()
        item = s.scalar(
            select(m.PlanItem).where(m.PlanItem.id == item_id, m.PlanItem.institution_id == token.institution_id)
            .with_for_update().execution_options(populate_existing=True)  # concurrent answers queue (PostgreSQL)
        )
        if item is None:
            raise NotFound(_("There is no plan item with this number."))
        event = items.apply(s, item, move_for(s, data, today, item_id), actor_id=None)
        audit.record(s, actor_id=None, action="api_token.use", obj=("api_token", token.id),
                     institution_id=token.institution_id,
                     after={"token": token.name, "plan_item_id": item_id, "action": action, "event": event.kind})

"""Anyone can report a proposal that breaks the rules; the report waits in the moderation queue.

A report stores the reason and, when the reporter already is a respondent of the consultation, their
respondent row; never an address or the cookie token. Posting is CSRF-protected, has the honeypot
field of the public forms, and counts against the "proposal" rate limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template
from sqlalchemy import select

from idmx.consultations import identity, services
from idmx.consultations.forms import clean_text
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Conflict, NotFound
from idmx.i18n import gettext as _
from idmx.web import FormData, page, see_other, wants_fragment

REASON_MAX = 1000


@dataclass
class ReportForm:
    reason: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_report(form: Mapping[str, Any]) -> ReportForm:
    reason = clean_text(form.get("reason"))
    errors: dict[str, str] = {}
    if not reason:
        errors["reason"] = _("Tell the moderators what is wrong with this proposal.")
    elif len(reason) > REASON_MAX:
        errors["reason"] = _("At most %(max)s characters (you wrote %(n)s).") % {"max": REASON_MAX, "n": len(reason)}
    if clean_text(form.get("website")):  # the honeypot
        errors["form"] = _("Your report could not be accepted. If you are a person, please try again.")
    return ReportForm(reason=reason, errors=errors)


def _check_reportable(status: m.ProposalStatus | None) -> None:
    if status is None:
        raise NotFound(_("There is no proposal at this address."))
    if status != m.ProposalStatus.published:
        raise Conflict(_("Only published proposals can be reported. Nothing was saved."))


def reportable(db: Database, consultation_id: int, proposal_id: int) -> dict[str, Any]:
    with db.read() as s:
        row = s.execute(
            select(m.Proposal.id, m.Proposal.title, m.Proposal.status).where(
                m.Proposal.id == proposal_id, m.Proposal.consultation_id == consultation_id
            )
        ).first()
    _check_reportable(row.status if row else None)
    assert row is not None
    return {"id": row.id, "title": row.title}


def create_report(db: Database, consultation_id: int, proposal_id: int, token_hash: str | None, form: ReportForm,
                  now: datetime) -> int:
    with db.write() as s:
        status = s.scalar(
            select(m.Proposal.status).where(m.Proposal.id == proposal_id, m.Proposal.consultation_id == consultation_id)
        )
        _check_reportable(status)
        report = m.ProposalReport(
            proposal_id=proposal_id, consultation_id=consultation_id, reason=form.reason, created_at=now,
            respondent_id=services.respondent_id(s, consultation_id, token_hash),
        )
        s.add(report)
        s.flush()
        return report.id


class ReportController(Controller):
    path = "/c/{slug:str}/proposals/{proposal_id:int}/report"

    @get("/", name="consultations:report_form", sync_to_thread=True)
    def report_form(self, request: Request, slug: FromPath[str], proposal_id: FromPath[int],
                    db: NamedDependency[Database]) -> Template:
        view = services.get_consultation(db, slug)
        target = reportable(db, view.id, proposal_id)
        return self._page(request, view, target, ReportForm(), sent=request.query_params.get("sent") == "1")

    def _page(self, request: Request, view: services.ConsultationView, target: dict[str, Any], form: ReportForm, *,
              sent: bool = False, status: int = 200) -> Template:
        now = datetime.now(timezone.utc)
        context = {"view": view, "c": view.consultation, "phase": view.consultation.phase(now), "target": target,
                   "form": form, "sent": sent}
        return page(request, "consultations/report.html", context, fragment="consultations/_report_form.html",
                    status_code=status)

    @post("/", name="consultations:report", sync_to_thread=True, opt={"rate_limit": "proposal"})
    def report(self, request: Request, slug: FromPath[str], proposal_id: FromPath[int], data: FormData,
               db: NamedDependency[Database]) -> Response:
        view = services.get_consultation(db, slug)
        target = reportable(db, view.id, proposal_id)
        form = parse_report(data)
        if not form.valid:
            return self._page(request, view, target, form, status=422)
        token = identity.token_from(request)
        create_report(db, view.id, proposal_id, identity.hash_token(token) if token else None, form,
                      datetime.now(timezone.utc))
        if wants_fragment(request):
            return self._page(request, view, target, ReportForm(), sent=True)
        url = request.app.route_reverse("consultations:report_form", slug=slug, proposal_id=proposal_id)
        return see_other(url + "?sent=1")

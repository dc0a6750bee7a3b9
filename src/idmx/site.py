"""Site-wide pages: home, health check, language switch."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.response import Redirect, Template
from sqlalchemy import func, select

from idmx.db import Database
from idmx.db import models as m
from idmx.i18n import LANGUAGES
from idmx.web import page, see_other

LANG_COOKIE = "idmx_lang"


def consultation_listing(db: Database, now: datetime) -> dict[str, list[dict]]:
    """Published consultations grouped into open, upcoming and closed, with participation counts."""
    participants = (
        select(m.Respondent.consultation_id, func.count().label("n"))
        .where(m.Respondent.participated_at.is_not(None))  # visitors who only looked do not count
        .group_by(m.Respondent.consultation_id)
        .subquery()
    )
    proposals = (
        select(m.Proposal.consultation_id, func.count().label("n"))
        .where(m.Proposal.status == m.ProposalStatus.published)
        .group_by(m.Proposal.consultation_id)
        .subquery()
    )
    query = (
        select(
            m.Consultation,
            m.Institution.acronym,
            m.Institution.name_es,
            m.Institution.name_en,
            func.coalesce(participants.c.n, 0).label("participants"),
            func.coalesce(proposals.c.n, 0).label("proposals"),
        )
        .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
        .outerjoin(participants, participants.c.consultation_id == m.Consultation.id)
        .outerjoin(proposals, proposals.c.consultation_id == m.Consultation.id)
        .where(m.Consultation.status == m.ConsultationStatus.published)
        .order_by(m.Consultation.closes_at.desc(), m.Consultation.id)
    )
    groups: dict[str, list[dict]] = {"open": [], "upcoming": [], "closed": []}
    with db.read() as s:
        for c, acronym, inst_es, inst_en, n_participants, n_proposals in s.execute(query):
            groups[c.phase(now)].append(
                {
                    "consultation": c,
                    "institution": {"acronym": acronym, "name_es": inst_es, "name_en": inst_en} if acronym else None,
                    "participants": n_participants,
                    "proposals": n_proposals,
                }
            )
    groups["open"].sort(key=lambda row: row["consultation"].closes_at)
    groups["upcoming"].sort(key=lambda row: row["consultation"].opens_at)
    return groups


class SiteController(Controller):
    @get("/", name="site:home", sync_to_thread=True)
    def home(self, request: Request, db: NamedDependency[Database]) -> Template:
        groups = consultation_listing(db, datetime.now(timezone.utc))
        return page(request, "site/home.html", {"groups": groups})

    @get("/healthz", name="site:health", sync_to_thread=True, include_in_schema=False)
    def health(self, db: NamedDependency[Database]) -> Response:
        try:
            ok = db.ping()
            detail = "ok"
        except Exception as exc:  # the point of a health check is to report, not to raise
            ok, detail = False, type(exc).__name__
        body = {"status": "ok" if ok else "error", "database": {"status": detail, "backend": db.engine.dialect.name}}
        return Response(body, status_code=200 if ok else 503)

    @post("/language", name="site:language")
    async def set_language(self, request: Request) -> Redirect:
        form = await request.form()
        lang = form.get("lang", "")
        target = form.get("next", "/")
        # Only same-site relative paths: the switcher must not become an open redirect.
        if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
            target = "/"
        response = see_other(target)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
        return response

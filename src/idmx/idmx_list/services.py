"""The published IDMX lists: the series, one edition's public page, and its rows as data.

Only published editions are read here: a draft is the central team's working copy, not public data.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from idmx import clock
from idmx.db import Database
from idmx.db import models as m
from idmx.editions import priority
from idmx.editions.services import changes_from_previous
from idmx.errors import NotFound
from idmx.i18n import gettext as _
from idmx.i18n import localised
from idmx.idmx_list.export import EditionExport, EditionMeta
from idmx.plans import policy
from idmx.plans import services as plan_items


@dataclass
class SeriesRow:
    latest: m.Edition
    older: list[m.Edition]
    items: int


def public_listing(db: Database) -> list[SeriesRow]:
    """Published editions by series: the latest version of each (newest publication first), older ones after."""
    with db.read() as s:
        editions = list(s.scalars(select(m.Edition).where(m.Edition.status == m.EditionStatus.published)
                                  .order_by(m.Edition.series, m.Edition.version.desc())))
        counts = dict(s.execute(select(m.InfrastructureItem.edition_id, func.count())
                                .group_by(m.InfrastructureItem.edition_id)).all())
    series: dict[str, list[m.Edition]] = defaultdict(list)
    for e in editions:
        series[e.series].append(e)
    rows = [SeriesRow(v[0], v[1:], int(counts.get(v[0].id, 0))) for v in series.values()]
    rows.sort(key=lambda r: (r.latest.published_at, r.latest.series), reverse=True)
    return rows


def latest_version(db: Database, series: str) -> int | None:
    with db.read() as s:
        return s.scalar(select(func.max(m.Edition.version)).where(m.Edition.series == series,
                                                                   m.Edition.status == m.EditionStatus.published))


@dataclass
class PublicItem:
    rank: int | None
    key: int
    title: str
    institution: str | None
    institution_name: str | None
    tier: int | None
    priority: float | None
    ci_low: float | None
    ci_high: float | None
    support_weighted: float | None
    support_raw: int | None
    plan_item_id: int | None
    policy_due: date | None
    status: policy.PublicStatus | None


@dataclass
class PublicEdition:
    edition: m.Edition
    items: list[PublicItem]
    tiers: list[m.EditionTier]
    versions: list[int]
    latest: int
    previous_version: int | None
    changes: priority.Diff | None


def public_edition(db: Database, series: str, version: int, today: date) -> PublicEdition:
    """A published version with each item's current public status; NotFound for drafts and unknowns."""
    with db.read() as s:
        edition = s.scalar(select(m.Edition).where(m.Edition.series == series, m.Edition.version == version,
                                                   m.Edition.status == m.EditionStatus.published))
        if edition is None:
            raise NotFound(_("There is no published IDMX edition with this number."))
        rows = s.execute(
            select(m.InfrastructureItem, m.Institution.acronym, m.Institution.name_es, m.PlanItem)
            .outerjoin(m.Institution, m.Institution.id == m.InfrastructureItem.institution_id)
            .outerjoin(m.PlanItem, m.PlanItem.id == m.InfrastructureItem.plan_item_id)
            .where(m.InfrastructureItem.edition_id == edition.id)
            .order_by(m.InfrastructureItem.rank.is_(None), m.InfrastructureItem.rank, m.InfrastructureItem.key)
        ).all()
        items = [PublicItem(
            i.rank, i.key, i.title, acr, name, i.tier, i.priority, i.ci_low, i.ci_high, i.support_weighted,
            i.support_raw, i.plan_item_id, plan.policy_due if plan else None,
            policy.public_status(plan_items.answer_of(plan), today) if plan else None,
        ) for i, acr, name, plan in rows]
        tiers = list(s.scalars(select(m.EditionTier).where(m.EditionTier.edition_id == edition.id)
                               .order_by(m.EditionTier.tier)))
        versions = list(s.scalars(select(m.Edition.version).where(m.Edition.series == series,
                                                                  m.Edition.status == m.EditionStatus.published)
                                  .order_by(m.Edition.version)))
        previous_version = s.scalar(select(m.Edition.version).where(m.Edition.id == edition.previous_id)) \
            if edition.previous_id else None
        changes = changes_from_previous(s, edition)
    return PublicEdition(edition, items, tiers, versions, max(versions), previous_version, changes)


def find_published(s: Session, series: str, version: int | None = None) -> m.Edition:
    """The given version of a series, or its latest published one; NotFound for drafts and unknowns."""
    query = select(m.Edition).where(m.Edition.series == series, m.Edition.status == m.EditionStatus.published)
    if version is not None:
        query = query.where(m.Edition.version == version)
    edition = s.scalar(query.order_by(m.Edition.version.desc()).limit(1))
    if edition is None:
        raise NotFound(_("There is no published IDMX list at this address."))
    return edition


def edition_export(s: Session, edition: m.Edition, today: date, lang: str = "es") -> EditionExport:
    """Rows of a published edition, in rank order, with each item's public status on `today`."""
    if edition.status != m.EditionStatus.published or edition.published_at is None:
        raise NotFound(_("There is no published IDMX list at this address."))
    previous = s.scalar(select(m.Edition.version).where(m.Edition.id == edition.previous_id)) if edition.previous_id else None
    meta = EditionMeta(
        edition.id, edition.series, edition.version, localised(edition.title_es, edition.title_en, lang),
        edition.notes_es, edition.published_at, previous,
    )
    item, inst, topic, plan = m.InfrastructureItem, m.Institution, m.Topic, aliased(m.PlanItem)
    query = (
        select(item, inst.acronym, inst.name_es, inst.name_en, topic.code, topic.name_es, topic.name_en, plan)
        .outerjoin(inst, inst.id == item.institution_id)
        .outerjoin(topic, topic.id == item.topic_id)
        .outerjoin(plan, plan.id == item.plan_item_id)
        .where(item.edition_id == edition.id)
        .order_by(item.rank.is_(None), item.rank, item.key)
    )
    out = EditionExport(meta)
    for it, acronym, inst_es, inst_en, topic_code, topic_es, topic_en, pi in s.execute(query):
        answer = plan_items.answer_of(pi) if pi is not None else None
        out.rows.append({
            "rank": it.rank,
            "item_key": it.key,
            "title": it.title,
            "description": it.description,
            "institution_acronym": acronym or "",
            "institution": localised(inst_es or "", inst_en or "", lang),
            "topic_code": topic_code or "",
            "topic": localised(topic_es or "", topic_en or "", lang),
            "tier": it.tier,
            "priority": it.priority,
            "ci_low": it.ci_low,
            "ci_high": it.ci_high,
            "policy_due": answer.policy_due if answer else None,
            "due_date": answer.due_date if answer else None,
            "status": policy.public_status(answer, today).value if answer else "",
            "published_on": answer.published_on if answer else None,
            "published_url": answer.published_url if answer else "",
            "catalogue_id": answer.catalogue_id if answer else "",
            "item_path": f"/items/{pi.id}" if pi is not None else "",
        })
    return out


def load(db: Database, series: str, version: int | None, lang: str) -> EditionExport:
    with db.read() as s:
        edition = find_published(s, series, version)
        return edition_export(s, edition, clock.local_date(clock.now()), lang)

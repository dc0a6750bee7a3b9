"""IDMX list editions: drafts, runs, items, publication, revisions, and the public view.

The central team creates a draft (`create`), chooses ranking runs with weights (`set_runs`), builds
the items (`build`: grouping suggestions, combined priority, ranks, default tiers; see
`idmx.plans.priority`), corrects them (`update_item`, `move_proposal`), and publishes (`publish`),
which puts every item into its institution's open-up plan. A published edition never changes: every
write here goes through `_draft`, which refuses a published edition with `Conflict` (409). A change
is a revision (`revise`): a new draft, version + 1, with the same items under the same keys, whose
publication reuses the plan items of the keys it keeps.

Rebuilding a draft keeps staff's work: a proposal already in an item stays in it (moves and splits
are kept), items keep their key, title, description, institution and topic, and a tier that staff
changed from its default is kept. Proposals of newly chosen runs join an existing item when the
matcher pairs them with one of its proposals, or form new items; items whose proposals all left
(their run was removed) disappear. Priorities, ranks and default tiers are recomputed every time.

Every write is one transaction with its audit record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from idmx import audit, clock
from idmx.calendar import services as calendar
from idmx.db import Database
from idmx.db import models as m
from idmx.editions import priority
from idmx.editions.forms import (
    DESCRIPTION_MAX,
    TITLE_MAX,
    ConsultationRuns,
    EditionForm,
    ItemForm,
    RunChoice,
)
from idmx.errors import Conflict, NotFound
from idmx.i18n import gettext as _
from idmx.plans import policy
from idmx.plans import services as plan_items

ITEM_FIELDS = ["key", "title", "description", "institution_id", "topic_id", "tier", "rank"]


def published_message() -> str:
    return _("This edition is published and cannot be changed. Revise it to make a new version.")


# --- forms ----------------------------------------------------------------------------------------------------


# --- reading --------------------------------------------------------------------------------------------------


@dataclass
class EditionRow:
    edition: m.Edition
    items: int
    runs: int


def listing(db: Database) -> list[EditionRow]:
    n_items = (select(m.InfrastructureItem.edition_id, func.count().label("n"))
               .group_by(m.InfrastructureItem.edition_id).subquery())
    n_runs = select(m.EditionRun.edition_id, func.count().label("n")).group_by(m.EditionRun.edition_id).subquery()
    query = (select(m.Edition, func.coalesce(n_items.c.n, 0), func.coalesce(n_runs.c.n, 0))
             .outerjoin(n_items, n_items.c.edition_id == m.Edition.id)
             .outerjoin(n_runs, n_runs.c.edition_id == m.Edition.id)
             .order_by(m.Edition.series, m.Edition.version.desc()))
    with db.read() as s:
        return [EditionRow(e, int(i), int(r)) for e, i, r in s.execute(query).all()]


@dataclass
class RunInfo:
    run_id: int
    weight: float
    consultation_id: int
    consultation_title: str
    consultation_slug: str
    institution: str | None
    method: str
    created_at: datetime


@dataclass
class ProposalRow:
    proposal_id: int
    title: str
    consultation_title: str
    run_id: int
    score: float
    ci_low: float
    ci_high: float
    n_eff: float
    n_votes: int


@dataclass
class ItemRow:
    item: m.InfrastructureItem
    institution: str | None
    topic: str | None
    proposals: list[ProposalRow]


@dataclass
class EditionView:
    edition: m.Edition
    tiers: list[m.EditionTier]
    runs: list[RunInfo]
    items: list[ItemRow]
    previous: m.Edition | None
    next_draft: m.Edition | None
    is_latest: bool
    changes: priority.Diff | None

    @property
    def is_draft(self) -> bool:
        return self.edition.status == m.EditionStatus.draft


def _edition(s: Session, edition_id: int, *, lock: bool = False) -> m.Edition:
    query = select(m.Edition).where(m.Edition.id == edition_id)
    if lock:
        query = query.with_for_update()
    edition = s.scalar(query)
    if edition is None:
        raise NotFound(_("There is no such edition."))
    return edition


def _draft(s: Session, edition_id: int) -> m.Edition:
    """The edition, locked for the transaction, or Conflict when it is published (immutable)."""
    edition = _edition(s, edition_id, lock=True)
    if edition.status != m.EditionStatus.draft:
        raise Conflict(published_message())
    return edition


def _runs(s: Session, edition_id: int) -> list[RunInfo]:
    query = (select(m.EditionRun.ranking_run_id, m.EditionRun.weight, m.RankingRun.consultation_id,
                    m.Consultation.title_es, m.Consultation.slug, m.Institution.acronym, m.RankingRun.method,
                    m.RankingRun.created_at)
             .join(m.RankingRun, m.RankingRun.id == m.EditionRun.ranking_run_id)
             .join(m.Consultation, m.Consultation.id == m.RankingRun.consultation_id)
             .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
             .where(m.EditionRun.edition_id == edition_id)
             .order_by(m.Consultation.title_es, m.RankingRun.id))
    return [RunInfo(r[0], float(r[1]), r[2], r[3], r[4], r[5], str(r[6]), r[7])
            for r in s.execute(query).all()]


def _item_diff_rows(s: Session, edition_id: int) -> list[priority.DiffItem]:
    query = (select(m.InfrastructureItem.key, m.InfrastructureItem.title, m.InfrastructureItem.rank,
                    m.InfrastructureItem.tier, m.Institution.acronym)
             .outerjoin(m.Institution, m.Institution.id == m.InfrastructureItem.institution_id)
             .where(m.InfrastructureItem.edition_id == edition_id))
    return [priority.DiffItem(k, t, r, tier, inst or "") for k, t, r, tier, inst in s.execute(query).all()]


def changes_from_previous(s: Session, edition: m.Edition) -> priority.Diff | None:
    if edition.previous_id is None:
        return None
    return priority.diff(_item_diff_rows(s, edition.previous_id), _item_diff_rows(s, edition.id))


def get(db: Database, edition_id: int) -> EditionView:
    with db.read() as s:
        edition = _edition(s, edition_id)
        tiers = list(s.scalars(select(m.EditionTier).where(m.EditionTier.edition_id == edition_id)
                               .order_by(m.EditionTier.tier)))
        rows = s.execute(
            select(m.InfrastructureItem, m.Institution.acronym, m.Topic.name_es)
            .outerjoin(m.Institution, m.Institution.id == m.InfrastructureItem.institution_id)
            .outerjoin(m.Topic, m.Topic.id == m.InfrastructureItem.topic_id)
            .where(m.InfrastructureItem.edition_id == edition_id)
            .order_by(m.InfrastructureItem.rank.is_(None), m.InfrastructureItem.rank, m.InfrastructureItem.key)
        ).all()
        links: dict[int, list[ProposalRow]] = defaultdict(list)
        for link, title, ctitle in s.execute(
            select(m.ItemProposal, m.Proposal.title, m.Consultation.title_es)
            .join(m.Proposal, m.Proposal.id == m.ItemProposal.proposal_id)
            .join(m.Consultation, m.Consultation.id == m.Proposal.consultation_id)
            .join(m.InfrastructureItem, m.InfrastructureItem.id == m.ItemProposal.item_id)
            .where(m.InfrastructureItem.edition_id == edition_id)
            .order_by(m.ItemProposal.ci_low.desc(), m.ItemProposal.proposal_id)
        ).all():
            links[link.item_id].append(ProposalRow(link.proposal_id, title, ctitle, link.ranking_run_id, link.score,
                                                   link.ci_low, link.ci_high, link.n_eff, link.n_votes))
        items = [ItemRow(item, inst, topic, links.get(item.id, [])) for item, inst, topic in rows]
        runs = _runs(s, edition_id)
        previous = s.get(m.Edition, edition.previous_id) if edition.previous_id else None
        later = s.scalar(select(m.Edition).where(m.Edition.series == edition.series,
                                                 m.Edition.version > edition.version)
                         .order_by(m.Edition.version.desc()).limit(1))
        return EditionView(edition, tiers, runs, items, previous,
                           later if later is not None and later.status == m.EditionStatus.draft else None,
                           later is None, changes_from_previous(s, edition))


def publish_problems(view: EditionView) -> list[str]:
    problems = []
    if not view.items:
        problems.append(_("Build the items before publishing: the edition has none."))
    tiers = {t.tier for t in view.tiers}
    for row in view.items:
        item = row.item
        if item.institution_id is None:
            problems.append(_("Item %(key)s (“%(title)s”) has no responsible institution.") % {"key": item.key, "title": item.title})
        if item.tier is None or item.tier not in tiers:
            problems.append(_("Item %(key)s (“%(title)s”) has no tier.") % {"key": item.key, "title": item.title})
    return problems


def institution_choices(db: Database) -> list[tuple[int, str]]:
    with db.read() as s:
        rows = s.execute(select(m.Institution.id, m.Institution.acronym, m.Institution.name_es)
                         .order_by(m.Institution.acronym)).all()
    return [(i, f"{a} — {n}") for i, a, n in rows]


def topic_choices(db: Database) -> list[tuple[int, str]]:
    with db.read() as s:
        return [(i, n) for i, n in s.execute(select(m.Topic.id, m.Topic.name_es).order_by(m.Topic.name_es)).all()]


def item_of(view: EditionView, item_id: int) -> ItemRow:
    for row in view.items:
        if row.item.id == item_id:
            return row
    raise NotFound(_("This edition has no such item."))


# --- drafts and settings ---------------------------------------------------------------------------------------


def _set_tiers(s: Session, edition_id: int, tiers: list[priority.Tier]) -> None:
    s.execute(delete(m.EditionTier).where(m.EditionTier.edition_id == edition_id))
    s.flush()
    s.add_all(m.EditionTier(edition_id=edition_id, tier=t.tier, business_days=t.business_days, up_to_rank=t.up_to_rank)
              for t in tiers)


def _settings(edition: m.Edition) -> dict[str, Any]:
    return audit.snapshot(edition, ["series", "version", "title_es", "title_en", "notes_es", "answer_business_days"])


def create(db: Database, actor_id: int | None, form: EditionForm) -> int | None:
    """A new series' first draft; None (with form.errors["series"]) when the series exists."""
    with db.write() as s:
        if s.scalar(select(m.Edition.id).where(m.Edition.series == form.values["series"]).limit(1)) is not None:
            form.errors["series"] = _("This series exists already: revise its latest version instead.")
            return None
        v = form.values
        edition = m.Edition(series=v["series"], version=1, title_es=v["title_es"], title_en=v["title_en"],
                            notes_es=v["notes_es"], answer_business_days=v["answer_business_days"],
                            status=m.EditionStatus.draft)
        s.add(edition)
        s.flush()
        _set_tiers(s, edition.id, form.tiers)
        audit.record(s, actor_id=actor_id, action="edition.create", obj=("edition", edition.id),
                     after={**_settings(edition), "tiers": [t.__dict__ for t in form.tiers]})
        return edition.id


def update_settings(db: Database, actor_id: int | None, edition_id: int, form: EditionForm) -> None:
    with db.write() as s:
        edition = _draft(s, edition_id)
        before = _settings(edition)
        v = form.values
        edition.title_es, edition.title_en, edition.notes_es = v["title_es"], v["title_en"], v["notes_es"]
        edition.answer_business_days = v["answer_business_days"]
        _set_tiers(s, edition_id, form.tiers)
        audit.record(s, actor_id=actor_id, action="edition.update", obj=("edition", edition_id), before=before,
                     after={**_settings(edition), "tiers": [t.__dict__ for t in form.tiers]})


# --- choosing runs --------------------------------------------------------------------------------------------


def run_choices(db: Database, edition_id: int) -> list[ConsultationRuns]:
    """Every consultation with stored runs (newest first), marking the edition's current choice."""
    with db.read() as s:
        _edition(s, edition_id)
        chosen = {r: w for r, w in s.execute(select(m.EditionRun.ranking_run_id, m.EditionRun.weight)
                                             .where(m.EditionRun.edition_id == edition_id)).all()}
        rows = s.execute(
            select(m.RankingRun.id, m.RankingRun.method, m.RankingRun.created_at, m.RankingRun.excludes_flagged,
                   m.Consultation.id, m.Consultation.title_es, m.Consultation.slug, m.Institution.acronym)
            .join(m.Consultation, m.Consultation.id == m.RankingRun.consultation_id)
            .outerjoin(m.Institution, m.Institution.id == m.Consultation.institution_id)
            .order_by(m.Consultation.institution_id.is_not(None), m.Consultation.title_es, m.Consultation.id,
                      m.RankingRun.created_at.desc(), m.RankingRun.id.desc())
        ).all()
    out: dict[int, ConsultationRuns] = {}
    for run_id, method, created, excludes, cid, title, slug, inst in rows:
        group = out.setdefault(cid, ConsultationRuns(cid, title, slug, inst, []))
        latest = not excludes and not any(not r.excludes_flagged for r in group.runs)
        group.runs.append(RunChoice(run_id, str(method), created, latest=latest, excludes_flagged=bool(excludes)))
        if run_id in chosen:
            group.selected, group.weight = run_id, float(chosen[run_id])
    return list(out.values())


def set_runs(db: Database, actor_id: int | None, edition_id: int, selection: dict[int, float]) -> BuildSummary | None:
    """Store the chosen runs and weights; when the draft already has items, rebuild them at once (keeping
    staff's edits, see the module docstring) so items and runs never disagree."""
    with db.write() as s:
        edition = _draft(s, edition_id)
        before = dict(s.execute(select(m.EditionRun.ranking_run_id, m.EditionRun.weight)
                                .where(m.EditionRun.edition_id == edition_id)).all())
        s.execute(delete(m.EditionRun).where(m.EditionRun.edition_id == edition_id))
        s.flush()
        s.add_all(m.EditionRun(edition_id=edition_id, ranking_run_id=r, weight=w) for r, w in sorted(selection.items()))
        audit.record(s, actor_id=actor_id, action="edition.runs", obj=("edition", edition_id),
                     before={"runs": {str(k): v for k, v in before.items()}},
                     after={"runs": {str(k): v for k, v in selection.items()}})
        s.flush()
        has_items = s.scalar(select(m.InfrastructureItem.id).where(m.InfrastructureItem.edition_id == edition_id).limit(1))
        return _build(s, edition, actor_id) if has_items is not None else None


# --- building items -------------------------------------------------------------------------------------------


def _next_key(s: Session, series: str) -> int:
    top = s.scalar(select(func.max(m.InfrastructureItem.key))
                   .join(m.Edition, m.Edition.id == m.InfrastructureItem.edition_id)
                   .where(m.Edition.series == series))
    return int(top or 0) + 1


def _tiers_of(s: Session, edition_id: int) -> list[priority.Tier]:
    return [priority.Tier(t.tier, t.business_days, t.up_to_rank) for t in
            s.scalars(select(m.EditionTier).where(m.EditionTier.edition_id == edition_id).order_by(m.EditionTier.tier))]


def _recompute(s: Session, edition_id: int) -> None:
    """Priority, interval, support, rank and default tier of every item from its stored proposal rows."""
    s.flush()
    items = {i.key: i for i in s.scalars(select(m.InfrastructureItem).where(m.InfrastructureItem.edition_id == edition_id))}
    if not items:
        return
    key_of = {i.id: i.key for i in items.values()}
    links = s.scalars(select(m.ItemProposal).where(m.ItemProposal.item_id.in_(list(key_of)))).all()
    rows = pd.DataFrame([{"key": key_of[link.item_id], "run_id": link.ranking_run_id, "proposal_id": link.proposal_id,
                          "score": link.score, "ci_low": link.ci_low, "ci_high": link.ci_high, "n_eff": link.n_eff,
                          "n_votes": link.n_votes} for link in links],
                        columns=["key", *priority.PROPOSAL_COLUMNS])
    weights = dict(s.execute(select(m.EditionRun.ranking_run_id, m.EditionRun.weight)
                             .where(m.EditionRun.edition_id == edition_id)).all())
    tiers = _tiers_of(s, edition_id)
    rows = rows[rows["run_id"].isin(list(weights))]  # runs removed since the last build do not count
    ranked = priority.rank(priority.combine(rows, weights))
    was_default = {key: item.tier is None or (item.rank is not None and item.tier == priority.default_tier(item.rank, tiers))
                   for key, item in items.items()}
    for item in items.values():
        item.priority = item.ci_low = item.ci_high = item.support_weighted = None
        item.support_raw = item.rank = None
    for rec in ranked.itertuples(index=False):
        item = items[int(rec.key)]
        item.priority, item.ci_low, item.ci_high = float(rec.priority), float(rec.ci_low), float(rec.ci_high)
        item.support_weighted, item.support_raw, item.rank = float(rec.support_weighted), int(rec.support_raw), int(rec.rank)
    for key, item in items.items():
        if was_default[key] and item.rank is not None:
            item.tier = priority.default_tier(item.rank, tiers)


@dataclass
class _Proposal:
    id: int
    title: str
    description: str
    institution_id: int | None
    topic_id: int | None


def _published_proposals(s: Session, consultation_ids: list[int]) -> dict[int, _Proposal]:
    if not consultation_ids:
        return {}
    rows = s.execute(select(m.Proposal.id, m.Proposal.title, m.Proposal.description, m.Proposal.institution_id,
                            m.Proposal.topic_id)
                     .where(m.Proposal.consultation_id.in_(consultation_ids),
                            m.Proposal.status == m.ProposalStatus.published)).all()
    return {r[0]: _Proposal(*r) for r in rows}


def _defaults(group: pd.DataFrame, proposals: dict[int, _Proposal]) -> dict[str, Any]:
    """Title, description, institution and topic of a new item: its best-ranked proposal's (or the next
    proposal, best first, that names an institution / topic)."""
    ordered = group.sort_values(["ci_low", "score", "n_eff", "proposal_id"], ascending=[False, False, False, True],
                                kind="mergesort")
    chain = [proposals[int(p)] for p in ordered["proposal_id"]]
    best = chain[0]
    return {
        "title": best.title[:TITLE_MAX], "description": best.description[:DESCRIPTION_MAX],
        "institution_id": next((p.institution_id for p in chain if p.institution_id is not None), None),
        "topic_id": next((p.topic_id for p in chain if p.topic_id is not None), None),
    }


@dataclass
class BuildSummary:
    items: int
    proposals: int
    new_items: int
    kept_items: int
    dropped_items: int


def build(db: Database, actor_id: int | None, edition_id: int) -> BuildSummary:
    """(Re)build the draft's items from its runs; see the module docstring for what a rebuild keeps."""
    with db.write() as s:
        return _build(s, _draft(s, edition_id), actor_id)


def _build(s: Session, edition: m.Edition, actor_id: int | None) -> BuildSummary:
    edition_id = edition.id
    runs = s.execute(select(m.EditionRun.ranking_run_id, m.RankingRun.method, m.RankingRun.results,
                            m.RankingRun.consultation_id)
                     .join(m.RankingRun, m.RankingRun.id == m.EditionRun.ranking_run_id)
                     .where(m.EditionRun.edition_id == edition_id)).all()
    if not runs:
        raise Conflict(_("Choose at least one ranking run before building the items."))
    proposals = _published_proposals(s, sorted({r[3] for r in runs}))
    rows = pd.DataFrame([row for run_id, method, results, _cid in runs
                         for row in priority.run_rows(run_id, str(method), results or [])
                         if row["proposal_id"] in proposals], columns=priority.PROPOSAL_COLUMNS)
    rows = rows.drop_duplicates("proposal_id", keep="first")  # one run per consultation: never needed, but safe
    items = {i.key: i for i in s.scalars(select(m.InfrastructureItem)
                                         .where(m.InfrastructureItem.edition_id == edition_id))}
    by_id = {i.id: i.key for i in items.values()}
    locked = {link.proposal_id: by_id[link.item_id] for link in s.scalars(
        select(m.ItemProposal).where(m.ItemProposal.item_id.in_(list(by_id) or [-1])))}
    candidates = [priority.Candidate(int(r.proposal_id), int(r.run_id), proposals[int(r.proposal_id)].title,
                                     locked.get(int(r.proposal_id)))
                  for r in rows.itertuples(index=False)]
    groups = priority.suggest_groups(candidates)
    rows.index = pd.Index(rows["proposal_id"].to_numpy(), name=None)
    # Keys: a group holding proposals of an existing item keeps that item's key; new groups get new
    # keys in the order of their best proposal, so a rebuild numbers them the same way every time.
    kept: dict[int, list[int]] = {}
    fresh: list[list[int]] = []
    for g in groups:
        keys = {locked[p] for p in g if p in locked}
        if keys:
            kept[min(keys)] = g
        else:
            fresh.append(g)

    def strength(g: list[int]) -> tuple:
        sub = rows.loc[g]
        best = priority.best_proposal(sub)
        b = rows.loc[best]
        return (-float(b["ci_low"]), -float(b["score"]), best)

    fresh.sort(key=strength)
    next_key = max(_next_key(s, edition.series), max(items, default=0) + 1)
    # Datasets an institution added itself carry no proposals; a rebuild keeps them.
    dropped = [k for k in items if k not in kept and items[k].plan_item_id is None]
    s.execute(delete(m.ItemProposal).where(m.ItemProposal.item_id.in_(list(by_id) or [-1])))
    for k in dropped:
        s.delete(items.pop(k))
    s.flush()
    assignment: dict[int, m.InfrastructureItem] = {}
    for k, g in kept.items():
        assignment.update({p: items[k] for p in g})
    for g in fresh:
        item = m.InfrastructureItem(edition_id=edition_id, key=next_key, **_defaults(rows.loc[g], proposals))
        next_key += 1
        s.add(item)
        s.flush()
        assignment.update({p: item for p in g})
    for pid, item in assignment.items():
        r = rows.loc[pid]
        s.add(m.ItemProposal(item_id=item.id, proposal_id=pid, ranking_run_id=int(r["run_id"]), score=float(r["score"]),
                             ci_low=float(r["ci_low"]), ci_high=float(r["ci_high"]), n_eff=float(r["n_eff"]),
                             n_votes=int(r["n_votes"])))
    _recompute(s, edition_id)
    summary = BuildSummary(len(kept) + len(fresh), len(assignment), len(fresh), len(kept), len(dropped))
    audit.record(s, actor_id=actor_id, action="edition.build", obj=("edition", edition_id), after=summary.__dict__)
    return summary


# --- correcting items -----------------------------------------------------------------------------------------


def _item(s: Session, edition_id: int, item_id: int) -> m.InfrastructureItem:
    item = s.scalar(select(m.InfrastructureItem).where(m.InfrastructureItem.id == item_id,
                                                       m.InfrastructureItem.edition_id == edition_id))
    if item is None:
        raise NotFound(_("This edition has no such item."))
    return item


def update_item(db: Database, actor_id: int | None, edition_id: int, item_id: int, form: ItemForm) -> None:
    with db.write() as s:
        _draft(s, edition_id)
        item = _item(s, edition_id, item_id)
        before = audit.snapshot(item, ITEM_FIELDS)
        v = form.values
        item.title, item.description = v["title"], v["description"]
        item.institution_id, item.topic_id, item.tier = v["institution"], v["topic"], v["tier"]
        audit.record(s, actor_id=actor_id, action="edition.item_update", obj=("infrastructure_item", item.id),
                     before=before, after=audit.snapshot(item, ITEM_FIELDS))


def move_proposal(db: Database, actor_id: int | None, edition_id: int, proposal_id: int, target_key: int | None) -> int:
    """Move a proposal to the item with `target_key`, or (None) split it into a new item of its own.

    Returns the id of the item it is in afterwards. An item left without proposals disappears.
    """
    with db.write() as s:
        edition = _draft(s, edition_id)
        found = s.execute(select(m.ItemProposal, m.InfrastructureItem)
                          .join(m.InfrastructureItem, m.InfrastructureItem.id == m.ItemProposal.item_id)
                          .where(m.InfrastructureItem.edition_id == edition_id,
                                 m.ItemProposal.proposal_id == proposal_id)).first()
        if found is None:
            raise NotFound(_("This edition has no such proposal."))
        link, source = found
        if target_key is None:
            p = s.get(m.Proposal, proposal_id)
            assert p is not None
            target = m.InfrastructureItem(edition_id=edition_id, key=_next_key(s, edition.series), title=p.title,
                                          description=p.description[:DESCRIPTION_MAX], institution_id=p.institution_id,
                                          topic_id=p.topic_id)
            s.add(target)
            s.flush()
        else:
            target = s.scalar(select(m.InfrastructureItem).where(m.InfrastructureItem.edition_id == edition_id,
                                                                 m.InfrastructureItem.key == target_key))
            if target is None:
                raise NotFound(_("This edition has no such item."))
        if target.id == source.id:
            return source.id
        values = {c: getattr(link, c) for c in ("ranking_run_id", "score", "ci_low", "ci_high", "n_eff", "n_votes")}
        s.delete(link)
        s.flush()
        s.add(m.ItemProposal(item_id=target.id, proposal_id=proposal_id, **values))
        s.flush()
        left = s.scalar(select(func.count()).select_from(m.ItemProposal).where(m.ItemProposal.item_id == source.id))
        source_key = source.key
        if not left:
            s.delete(source)
        _recompute(s, edition_id)
        audit.record(s, actor_id=actor_id, action="edition.move_proposal", obj=("edition", edition_id),
                     before={"proposal_id": proposal_id, "item_key": source_key, "item_removed": not left},
                     after={"proposal_id": proposal_id, "item_key": target.key, "new_item": target_key is None})
        return target.id


# --- publication and revision ---------------------------------------------------------------------------------


def publish(db: Database, actor_id: int | None, edition_id: int, now: datetime) -> list[str]:
    """Publish the draft and put its items into the institutions' plans; the problems when it cannot be.

    Plan items are created with the publication date (Mexico City) as their assignment date, the
    edition's time to answer, and the tier's latest due date. In a revision an item whose key was on
    the previous version keeps that version's plan item (and its answer and deadline) as long as the
    responsible institution is the same; otherwise a new plan item goes to the new institution.
    """
    view = get(db, edition_id)
    if not view.is_draft:
        raise Conflict(published_message())
    problems = publish_problems(view)
    if problems:
        return problems
    today = clock.local_date(now)
    with db.write() as s:
        edition = _draft(s, edition_id)
        tiers = {t.tier: t for t in _tiers_of(s, edition_id)}
        items = list(s.scalars(select(m.InfrastructureItem).where(m.InfrastructureItem.edition_id == edition_id)
                               .order_by(m.InfrastructureItem.rank)))
        if not items or any(i.institution_id is None or i.tier not in tiers for i in items):
            raise Conflict(_("The items changed while publishing; check them and try again."))
        previous: dict[int, tuple[int | None, int | None]] = {}
        if edition.previous_id is not None:
            previous = {k: (p, inst) for k, p, inst in s.execute(
                select(m.InfrastructureItem.key, m.InfrastructureItem.plan_item_id, m.InfrastructureItem.institution_id)
                .where(m.InfrastructureItem.edition_id == edition.previous_id)).all()}
        created = reused = 0
        national_days, own_days = calendar.off_days_by_institution(s)
        for item in items:
            if item.plan_item_id is not None:  # an institution's own dataset: it keeps its plan item and answer
                reused += 1
                continue
            plan_id, old_inst = previous.get(item.key, (None, None))
            if plan_id is not None and old_inst == item.institution_id:
                item.plan_item_id = plan_id
                reused += 1
                continue
            assert item.institution_id is not None and item.tier is not None
            plan = plan_items.create_item(
                s, institution_id=item.institution_id, source=m.PlanSource.idmx, title=item.title,
                description=item.description, topic_id=item.topic_id, today=today,
                answer_days=edition.answer_business_days,
                policy_due=policy.add_business_days(today, tiers[item.tier].business_days,
                                                    own_days.get(item.institution_id, national_days)),
                actor_id=actor_id,
                note=f"{edition.series} v{edition.version}",
            )
            item.plan_item_id = plan.id
            created += 1
        edition.status = m.EditionStatus.published
        edition.published_at = now
        edition.published_by = actor_id
        audit.record(s, actor_id=actor_id, action="edition.publish", obj=("edition", edition_id),
                     after={"series": edition.series, "version": edition.version, "published_on": today,
                            "items": len(items), "plan_items_created": created, "plan_items_reused": reused})
    return []


def institution_additions(db: Database) -> list[tuple[m.PlanItem, str]]:
    """(plan item, institution acronym) of datasets institutions added themselves (or got as data
    requests) that no edition lists yet."""
    from idmx.plans.services import own_items_for_next_edition

    with db.read() as s:
        plans = own_items_for_next_edition(s)
        acronyms = dict(s.execute(select(m.Institution.id, m.Institution.acronym)).all())
        return [(p, acronyms.get(p.institution_id, "")) for p in plans]


def add_plan_item(db: Database, actor_id: int | None, edition_id: int, plan_item_id: int) -> int:
    """Put an institution's own dataset on the draft, in the last tier; it keeps its plan item and answer."""
    from idmx.plans.services import own_items_for_next_edition

    with db.write() as s:
        edition = _draft(s, edition_id)
        plan = next((p for p in own_items_for_next_edition(s) if p.id == plan_item_id), None)
        if plan is None:
            raise NotFound(_("This dataset is not waiting for an edition."))
        keys = s.scalars(select(m.InfrastructureItem.key).where(m.InfrastructureItem.edition_id == edition_id)).all()
        tiers = _tiers_of(s, edition_id)
        item = m.InfrastructureItem(
            edition_id=edition_id, key=max(_next_key(s, edition.series), max(keys, default=0) + 1), title=plan.title,
            description=plan.description, institution_id=plan.institution_id, topic_id=plan.topic_id,
            tier=max((t.tier for t in tiers), default=None), plan_item_id=plan.id,
        )
        s.add(item)
        s.flush()
        audit.record(s, actor_id=actor_id, action="edition.add_plan_item", obj=("edition", edition_id),
                     after={"key": item.key, "plan_item_id": plan.id, "title": plan.title})
        return item.id


def revise(db: Database, actor_id: int | None, edition_id: int) -> int:
    """A new draft (version + 1) of a published edition with its runs, tiers and items; returns its id.

    Only the latest version can be revised; when its revision already exists as a draft, that draft's
    id is returned instead of making a second one.
    """
    with db.write() as s:
        source = _edition(s, edition_id, lock=True)
        if source.status != m.EditionStatus.published:
            raise Conflict(_("Only a published edition can be revised; keep editing this draft instead."))
        later = s.scalar(select(m.Edition).where(m.Edition.series == source.series, m.Edition.version > source.version)
                         .order_by(m.Edition.version.desc()).limit(1))
        if later is not None:
            if later.status == m.EditionStatus.draft and later.previous_id == source.id:
                return later.id
            raise Conflict(_("A newer version of this edition exists: revise that one."))
        new = m.Edition(series=source.series, version=source.version + 1, title_es=source.title_es,
                        title_en=source.title_en, notes_es="", previous_id=source.id,
                        answer_business_days=source.answer_business_days, status=m.EditionStatus.draft)
        s.add(new)
        s.flush()
        for run in s.scalars(select(m.EditionRun).where(m.EditionRun.edition_id == source.id)):
            s.add(m.EditionRun(edition_id=new.id, ranking_run_id=run.ranking_run_id, weight=run.weight))
        for tier in s.scalars(select(m.EditionTier).where(m.EditionTier.edition_id == source.id)):
            s.add(m.EditionTier(edition_id=new.id, tier=tier.tier, business_days=tier.business_days,
                                up_to_rank=tier.up_to_rank))
        copied: dict[int, int] = {}
        for item in s.scalars(select(m.InfrastructureItem).where(m.InfrastructureItem.edition_id == source.id)):
            twin = m.InfrastructureItem(edition_id=new.id, **{c: getattr(item, c) for c in (
                "key", "title", "description", "institution_id", "topic_id", "tier", "rank", "priority", "ci_low",
                "ci_high", "support_weighted", "support_raw")})
            s.add(twin)
            s.flush()
            copied[item.id] = twin.id
        for link in s.scalars(select(m.ItemProposal).where(m.ItemProposal.item_id.in_(list(copied) or [-1]))):
            s.add(m.ItemProposal(item_id=copied[link.item_id], proposal_id=link.proposal_id,
                                 ranking_run_id=link.ranking_run_id, score=link.score, ci_low=link.ci_low,
                                 ci_high=link.ci_high, n_eff=link.n_eff, n_votes=link.n_votes))
        audit.record(s, actor_id=actor_id, action="edition.revise", obj=("edition", new.id),
                     before={"edition_id": source.id, "version": source.version},
                     after={**_settings(new), "items": len(copied)})
        return new.id


# --- public pages ---------------------------------------------------------------------------------------------



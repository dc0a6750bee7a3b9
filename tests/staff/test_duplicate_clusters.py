"""The staff duplicate finder as candidate groups, best first, with one-click merge, on SQLite and PostgreSQL.

The groups come from `idmx.matching` (`find_pairs`, then `clusters`): the same function as the hints
while typing and `idmx duplicates`. Every merge is a plain form POST answered with a redirect back to
the page, through the existing `moderation:merge` route and its institution scoping.
"""

from __future__ import annotations

import hashlib
import html
import re

import pytest
from sqlalchemy import func, insert, select

from idmx import seeding
from idmx.clock import now as utcnow
from idmx.db import models as m
from tests import factories as f
from tests.consultations.test_participation import post_form
from tests.staff.test_moderation import as_, clusters_of, institution_id, proposal, staff  # noqa: F401 - the fixture

GASOLINE = ("Precios diarios de gasolina y diésel por estación de servicio",
            "Cuánto cuesta el combustible en cada gasolinera, actualizado todos los días")
CRIME = ("Incidencia delictiva por municipio", "Delitos denunciados cada mes en cada municipio")
pytestmark = pytest.mark.usefixtures("staff")  # the accounts `as_` signs in with

AIR = ["Calidad del aire por municipio", "Datos municipales de calidad del aire", "Calidad del aire en cada municipio"]


def titles_by_id(db, consultation_id: int) -> dict[int, str]:
    with db.read() as s:
        return dict(s.execute(select(m.Proposal.id, m.Proposal.title).where(m.Proposal.consultation_id == consultation_id)).all())


def votes_on(db, pid: int) -> int:
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(m.Vote).where(m.Vote.proposal_id == pid))


def support(db, c: m.Consultation, voters: dict[str, list[int]]) -> None:
    """Approval votes: respondent name -> the proposals they support."""
    with db.write() as s:
        for name, pids in voters.items():
            r = m.Respondent(consultation_id=c.id, token_hash=hashlib.sha256(f"{c.slug}-{name}".encode()).hexdigest())
            s.add(r)
            s.flush()
            s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": pid, "respondent_id": r.id, "value": 1,
                                        "cast_at": utcnow()} for pid in pids])


def merge_form(page: str, merged: int) -> dict[str, str]:
    """The fields of the one-click merge form of proposal `merged` on the duplicates page."""
    forms = re.findall(r'<form method="post" action="([^"]+/merge)" class="inline">(.*?)</form>', page, re.S)
    (fields,) = [dict(re.findall(r'name="(\w+)" value="([^"]*)"', body)) for _, body in forms
                 if f'name="merged" value="{merged}"' in body]
    fields.pop("_csrf_token")
    return {k: html.unescape(v) for k, v in fields.items()}


def test_the_demo_pairs_are_groups_of_the_demo_consultations(client, db):
    seeding.seed_demo(db)
    as_(client, "central")
    for slug in ("idmx-2026", "idmx-2027"):
        with db.read() as s:
            cid = s.scalar(select(m.Consultation.id).where(m.Consultation.slug == slug))
        page = client.get(f"/staff/moderation/{cid}/duplicates")
        assert page.status_code == 200, slug
        titles = titles_by_id(db, cid)
        groups = [{titles[i] for i in g["ids"]} for g in clusters_of(page.text)]
        assert set(GASOLINE) in groups and set(CRIME) in groups, (slug, groups)
        scores = [g["score"] for g in clusters_of(page.text)]
        assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
        for title in GASOLINE + CRIME:
            assert html.escape(title, quote=False) in page.text


def test_merge_from_a_group_into_its_survivor(client, db):
    c = f.consultation(db, "aire", institution_id=institution_id(db, "SEMARNAT"))
    low, high, third = f.proposals(db, c.id, AIR)
    (pending,) = f.proposals(db, c.id, ["Datos de calidad de aire por municipios"], status=m.ProposalStatus.pending)
    (other,) = f.proposals(db, c.id, ["Contratos de compras públicas"])
    # `high` has most votes, so it is the survivor; "ana" supports both it and `low`.
    support(db, c, {"ana": [high, low], "beto": [high], "eva": [high], "carla": [low], "dani": [third]})
    as_(client, "moderator")
    url = f"/staff/moderation/{c.id}/duplicates"
    page = client.get(url).text
    (group,) = clusters_of(page)
    assert set(group["ids"]) == {low, high, third, pending} and other not in group["ids"]
    assert group["survivor"] == high and group["ids"][0] == high  # the survivor first, then by votes
    assert f'<tr data-proposal="{other}"' not in page

    # One click: a plain form with the survivor, the duplicate and the way back to this page.
    fields = merge_form(page, low)
    assert fields == {"survivor": str(high), "merged": str(low), "next": f"{url}?merged=1"}
    r = post_form(client, f"{url.rsplit('/', 1)[0]}/merge", fields)
    assert r.status_code == 303 and r.headers["location"] == f"{url}?merged=1"
    assert proposal(db, low).merged_into_id == high and proposal(db, low).status == m.ProposalStatus.merged
    assert votes_on(db, high) == 4 and votes_on(db, low) == 0  # ana counts once, carla's vote moved
    page = client.get(r.headers["location"]).text
    assert 'role="status"' in page
    (group,) = clusters_of(page)
    assert low not in group["ids"] and group["survivor"] == high

    # A pending duplicate merges the same way.
    r = post_form(client, f"/staff/moderation/{c.id}/merge", merge_form(page, pending))
    assert r.status_code == 303 and proposal(db, pending).merged_into_id == high


def test_keep_another_one_instead(client, db):
    c = f.consultation(db, "aire", institution_id=institution_id(db, "SEMARNAT"))
    first, second, third = f.proposals(db, c.id, AIR)
    as_(client, "moderator")
    url = f"/staff/moderation/{c.id}/duplicates"
    page = client.get(url).text
    assert clusters_of(page)[0]["survivor"] == first  # equal votes: the oldest
    assert f'href="{url}?keep={third}#cluster-1"' in page
    page = client.get(url, params={"keep": third}).text
    (group,) = clusters_of(page)
    assert group["survivor"] == third and group["ids"][0] == third
    fields = merge_form(page, first)
    assert fields == {"survivor": str(third), "merged": str(first), "next": f"{url}?merged=1&keep={third}"}
    r = post_form(client, f"/staff/moderation/{c.id}/merge", fields)
    assert r.status_code == 303 and r.headers["location"] == f"{url}?merged=1&keep={third}"
    assert proposal(db, first).merged_into_id == third
    # A pending or unknown proposal to keep changes nothing; a bad value is ignored.
    assert client.get(url, params={"keep": ["abc", "999999"]}).status_code == 200


def test_a_group_without_a_published_proposal_offers_no_merge(client, db):
    c = f.consultation(db, "aire", institution_id=institution_id(db, "SEMARNAT"),
                       proposal_mode=m.ProposalMode.moderated)
    f.proposals(db, c.id, AIR[:2], status=m.ProposalStatus.pending)
    as_(client, "moderator")
    page = client.get(f"/staff/moderation/{c.id}/duplicates").text
    (group,) = clusters_of(page)
    assert group["survivor"] is None and 'name="merged"' not in page


def test_other_institutions_see_no_groups_and_cannot_merge(client, db):
    c = f.consultation(db, "aire", institution_id=institution_id(db, "SEMARNAT"))
    first, second, _ = f.proposals(db, c.id, AIR)
    as_(client, "other")
    assert client.get(f"/staff/moderation/{c.id}/duplicates").status_code == 404
    r = post_form(client, f"/staff/moderation/{c.id}/merge", {"survivor": first, "merged": second})
    assert r.status_code == 404 and proposal(db, second).status == m.ProposalStatus.published

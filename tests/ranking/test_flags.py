"""Suspicious votes, flagged and never deleted: found (too fast, the same pattern as many others), shown to
staff with their reasons, and rankings stored with and without them; and the issue's manipulation through
HTTP on both databases (15 fresh sessions cannot put a new idea above an established one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from litestar.testing import TestClient
from scipy import optimize, special
from sqlalchemy import delete, insert, select
from tests import factories as f
from tests.accounts.test_auth import PASSWORD, login
from tests.consultations.test_participation import post_form

from idmx import seeding
from idmx.accounts.services import create_user
from idmx.db import models as m
from idmx.ranking import flags, queries, suspicion
from idmx.ranking import services as runs
from idmx.ranking.pipeline import RunParams

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


# --- the rules, by hand ----------------------------------------------------------------------------------


def test_too_fast_is_a_mean_gap_below_reading_time():
    pairwise, per_proposal = suspicion.PAIRWISE, suspicion.PER_PROPOSAL
    # 8 answers over 6.3 s: 7 gaps of 0.9 s.
    assert suspicion.fast_answers(8, T0, T0 + timedelta(seconds=6.3), pairwise) == "answers=8,seconds=0.90"
    assert suspicion.fast_answers(8, T0, T0 + timedelta(seconds=7), pairwise) is None  # 1 s each: a person
    assert suspicion.fast_answers(7, T0, T0, pairwise) is None  # too few answers to judge
    # Per-proposal answers may follow each other faster (a skimmed list): 10 answers over 4 s flag, 5 s do not.
    assert suspicion.fast_answers(10, T0, T0 + timedelta(seconds=4), per_proposal) == "answers=10,seconds=0.44"
    assert suspicion.fast_answers(10, T0, T0 + timedelta(seconds=5), per_proposal) is None


def test_signatures_identify_a_set_of_answers_whatever_its_order():
    rows = np.array([[1, 5, 6], [1, 7, 8], [2, 7, 8], [2, 5, 6], [3, 6, 5], [3, 7, 8]], dtype=np.int64)
    ids, counts, sig = suspicion.answer_signatures(rows, "pairwise")
    assert ids.tolist() == [1, 2, 3] and counts.tolist() == [2, 2, 2]
    assert sig[0] == sig[1] and sig[0] != sig[2]  # 6 beating 5 is another answer
    # Approval: which proposals someone was shown is chance; only the supported ones make the pattern.
    approval = np.array([[1, 3, 1], [1, 4, 0], [2, 3, 1], [2, 9, 0], [2, 11, 0], [3, 4, 1]], dtype=np.int64)
    ids, counts, sig = suspicion.answer_signatures(approval, "approval")
    assert ids.tolist() == [1, 2, 3] and counts.tolist() == [1, 1, 1]
    assert sig[0] == sig[1] != sig[2]


def test_a_pattern_needs_enough_answers_and_enough_respondents_sharing_it():
    rules = suspicion.PAIRWISE  # 5 answers, 5 respondents
    same = [[10 + k, 20 + k] for k in range(5)]

    def rows(respondents, answers):
        return np.array([[r, *a] for r in respondents for a in answers], dtype=np.int64)

    five = suspicion.pattern_groups(*suspicion.answer_signatures(rows(range(1, 6), same), "pairwise"), rules)
    assert five == {r: "answers=5,group=5" for r in range(1, 6)}
    four = suspicion.pattern_groups(*suspicion.answer_signatures(rows(range(1, 5), same), "pairwise"), rules)
    assert four == {}
    short = suspicion.pattern_groups(*suspicion.answer_signatures(rows(range(1, 11), same[:4]), "pairwise"), rules)
    assert short == {}  # ten people agreeing on four comparisons is no pattern
    assert suspicion.flag_label("pattern", "answers=5,group=5") == "Las mismas 5 respuestas que otras 4 personas participantes."


# --- finding them in the database ------------------------------------------------------------------------


def _respondent(s, c, i: int) -> int:
    r = m.Respondent(consultation_id=c.id, token_hash=f"{i:064d}", participated_at=T0)
    s.add(r)
    s.flush()
    return r.id


def test_fast_and_patterned_respondents_are_flagged_once_with_their_reasons(db):
    c = f.consultation(db, voting_method=m.VotingMethod.pairwise)
    ids = f.proposals(db, c.id, [f"Conjunto {k}" for k in range(8)])
    pairs = [(ids[a], ids[b]) for a in range(8) for b in range(a + 1, 8)]
    who = {}
    with db.write() as s:
        def answer(name, i, chosen, gap_s, winner=lambda left, right: left):
            rid = who[name] = _respondent(s, c, i)
            s.execute(insert(m.PairwiseVote), [
                {"consultation_id": c.id, "respondent_id": rid, "left_id": a, "right_id": b, "winner_id": winner(a, b),
                 "cast_at": T0 + timedelta(seconds=gap_s * k)} for k, (a, b) in enumerate(chosen)])

        answer("fast", 1, pairs[:10], 0.3)
        answer("slow", 2, pairs[:10], 5.0)
        for g in range(6):  # six respondents, the same five answers, at a person's pace
            answer(f"group{g}", 10 + g, pairs[10:15], 8.0)
        for g in range(3):  # three more, with those pairs answered the other way: a group of three is no pattern
            answer(f"few{g}", 20 + g, pairs[10:15], 8.0, winner=lambda left, right: right)

    assert flags.flag_consultation(db, c.id) == {"fast": 1, "pattern": 6}
    assert flags.flag_consultation(db, c.id) == {"fast": 1, "pattern": 6}  # found again, stored once
    stored = {(fl.respondent_id, fl.kind): fl.detail for fl in f.rows(db, m.RespondentFlag)}
    assert stored == {(who["fast"], "fast"): "answers=10,seconds=0.30",
                      **{(who[f"group{g}"], "pattern"): "answers=5,group=6" for g in range(6)}}
    listed = flags.listing(db, c.id)
    assert {(fl.respondent_id, fl.kind) for fl in listed} == set(stored)
    fast = next(fl for fl in listed if fl.kind == "fast")
    assert fast.answers == 10 and "0.30" in fast.reason
    counts = flags.counts(db, c.id)
    assert counts.respondents == 7 and counts.by_kind == {"fast": 1, "pattern": 6}


def test_approval_answers_cast_faster_than_reading_are_flagged(db):
    c = f.consultation(db)
    ids = f.proposals(db, c.id, [f"Conjunto {k}" for k in range(12)])
    with db.write() as s:
        for i, gap in enumerate((0.2, 3.0)):
            rid = _respondent(s, c, i)
            s.execute(insert(m.Exposure), [{"respondent_id": rid, "proposal_id": p, "consultation_id": c.id} for p in ids])
            s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": p, "respondent_id": rid, "value": 1,
                                        "cast_at": T0 + timedelta(seconds=gap * k)} for k, p in enumerate(ids)])
    assert flags.flag_consultation(db, c.id) == {"fast": 1, "pattern": 0}
    (flag,) = f.rows(db, m.RespondentFlag)
    assert flag.kind == "fast" and flag.detail == "answers=12,seconds=0.20"


# --- rankings with and without them ----------------------------------------------------------------------


@pytest.mark.slow
def test_the_run_without_flagged_respondents_is_the_run_of_the_votes_without_them(db):
    seeding.seed_demo(db)
    with db.read() as s:
        consultations = dict(s.execute(select(m.Consultation.slug, m.Consultation.id)).all())
    demo = {slug: consultations[slug] for slug in ("idmx-2027", "idmx-2026", "semarnat-ambiente-2027")}
    flagged = {}
    with db.write() as s:
        for cid in demo.values():
            kind = runs.kind_of(str(s.scalar(select(m.Consultation.voting_method).where(m.Consultation.id == cid))))
            keys = queries.respondent_keys(s, cid, kind)
            flagged[cid] = [int(r) for r in keys[::9, 0][:12]]  # respondents from several cells
            s.execute(insert(m.RespondentFlag), [{"consultation_id": cid, "respondent_id": r, "kind": "burst",
                                                   "detail": "address=31", "flagged_at": T0} for r in flagged[cid]])
    without = {}
    for slug, cid in demo.items():
        # Honest demo answers are never flagged by the detectors.
        assert flags.flag_consultation(db, cid) == {"fast": 0, "pattern": 0}, slug
        every = runs.run_for_consultation(db, cid)
        without[cid] = runs.run_for_consultation(db, cid, RunParams(exclude_flagged=True))
        assert runs.latest_run(db, cid, excludes_flagged=True).id == without[cid].id
        assert runs.latest_run(db, cid).id == every.id
        assert not every.excludes_flagged and without[cid].excludes_flagged
        assert every.summary["flagged_respondents"] == 12 and every.summary["excluded_respondents"] == 0
        assert without[cid].summary["excluded_respondents"] == 12
        assert every.summary["respondents"] - without[cid].summary["respondents"] == 12
        assert every.fingerprint != without[cid].fingerprint

    # Take their votes away for real: a plain run then reads the same inputs and gives the same ranking.
    with db.write() as s:
        for cid, rids in flagged.items():
            for table in (m.Vote, m.Exposure, m.PairwiseVote):
                s.execute(delete(table).where(table.respondent_id.in_(rids)))
            s.execute(delete(m.RespondentFlag).where(m.RespondentFlag.consultation_id == cid))
    for slug, cid in demo.items():
        again = runs.run_for_consultation(db, cid)
        assert again.fingerprint == without[cid].fingerprint, slug
        assert again.results == without[cid].results, slug


def test_every_respondent_flagged_leaves_only_the_run_of_every_vote(db):
    c = f.consultation(db, phase="closed")
    ids = f.proposals(db, c.id, ["Calidad del aire", "Escuelas"])
    with db.write() as s:
        rid = _respondent(s, c, 1)
        s.execute(insert(m.Exposure), [{"respondent_id": rid, "proposal_id": p, "consultation_id": c.id} for p in ids])
        s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": ids[0], "respondent_id": rid, "value": 1}])
        s.execute(insert(m.RespondentFlag), [{"consultation_id": c.id, "respondent_id": rid, "kind": "burst",
                                               "detail": "network=201", "flagged_at": T0}])
    ((_job, run_id),) = runs.refresh_due(db)
    assert run_id is not None and runs.latest_run(db, c.id, excludes_flagged=True) is None
    with pytest.raises(runs.RankingError, match="every respondent"):
        runs.run_for_consultation(db, c.id, RunParams(exclude_flagged=True))


# --- what staff and the public see -----------------------------------------------------------------------


def _flagged_world(db):
    semarnat = db_institution(db, "SEMARNAT")
    c = f.consultation(db, "aire", institution_id=semarnat)
    ids = f.proposals(db, c.id, ["Calidad del aire por estación", "Escuelas públicas", "Contratos"])
    with db.write() as s:
        segment = s.scalar(select(m.Segment.id).where(m.Segment.code == "journalists"))
        for i in range(12):
            rid = _respondent(s, c, i)
            s.execute(insert(m.Exposure), [{"respondent_id": rid, "proposal_id": p, "consultation_id": c.id} for p in ids])
            # The last four support only "Contratos", all at once: flagged.
            chosen = [ids[2]] if i >= 8 else [ids[0], ids[1]]
            s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": p, "respondent_id": rid, "value": 1}
                                       for p in chosen])
            if i >= 8:
                s.execute(insert(m.RespondentFlag), [{"consultation_id": c.id, "respondent_id": rid, "kind": "burst",
                                                       "detail": f"address={27 + i}", "flagged_at": T0}])
        s.execute(m.Respondent.__table__.update().where(m.Respondent.consultation_id == c.id).values(segment_id=segment))
    runs.refresh_due(db)
    return c, ids


def db_institution(db, acronym: str) -> int:
    with db.read() as s:
        return s.scalar(select(m.Institution.id).where(m.Institution.acronym == acronym))


def test_the_public_page_says_how_many_were_flagged_and_shows_the_ranking_without_them(client, db):
    c, ids = _flagged_world(db)
    page = client.get(f"/c/{c.slug}/results")
    assert page.status_code == 200
    assert 'id="flagged-notice"' in page.text and "4 personas participantes" in page.text
    assert f"/c/{c.slug}/results?votes=unflagged" in page.text
    without = client.get(f"/c/{c.slug}/results?votes=unflagged")
    assert without.status_code == 200 and 'id="flagged-notice"' in without.text
    # "Contratos" had only the flagged supporters: every vote ranks it, the run without them gives it nothing.
    every_csv = client.get(f"/c/{c.slug}/results/ranking.csv").text.splitlines()
    without_csv = client.get(f"/c/{c.slug}/results/ranking.csv?votes=unflagged").text.splitlines()
    def scores(lines):
        return {int(line.split(",")[1]): float(line.split(",")[3]) for line in lines[1:]}

    assert scores(every_csv)[ids[2]] == pytest.approx(4 / 12)  # four supporters of twelve counted
    assert scores(without_csv)[ids[2]] == 0.0 and scores(without_csv)[ids[0]] == 1.0


def test_staff_see_the_flags_with_reasons_only_for_their_own_consultations(db, app):
    c, _ids = _flagged_world(db)
    create_user(db, "mod@semarnat.gob.mx", PASSWORD, m.Role.institution_moderator, "SEMARNAT")
    create_user(db, "mod@inegi.gob.mx", PASSWORD, m.Role.institution_moderator, "INEGI")
    with TestClient(app=app, base_url="http://testserver.local") as own:
        assert login(own, "mod@semarnat.gob.mx").status_code == 303
        page = own.get(f"/staff/moderation/{c.id}/flags")
        assert page.status_code == 200
        assert page.text.count('data-kind="burst"') == 5  # the badge and four rows
        assert "Una de 35 personas participantes nuevas desde una misma dirección en una hora." in page.text
        assert f'href="/staff/moderation/{c.id}/flags"' in own.get(f"/staff/moderation/{c.id}").text
    with TestClient(app=app, base_url="http://testserver.local") as other:
        assert login(other, "mod@inegi.gob.mx").status_code == 303
        assert other.get(f"/staff/moderation/{c.id}/flags").status_code == 404


# --- the manipulation, through HTTP --------------------------------------------------------------


def test_fifteen_fresh_sessions_cannot_put_a_new_idea_above_an_established_one(app, db):
    """The issue's report: 20 ideas, 300 honest respondents x 10 comparisons, three of each against the
    established idea 0, the strongest (it beats the field 85% of the time, ~1,000 comparisons). Then a new
    idea is proposed and 15 fresh browser sessions vote it the winner of 11 comparisons, one against idea 0."""
    rng = np.random.default_rng(14)
    c = f.consultation(db, voting_method=m.VotingMethod.pairwise)
    ids = f.proposals(db, c.id, [f"Conjunto de datos {k}" for k in range(20)])
    theta = np.r_[0.0, np.linspace(-1.5, 1.0, 19)]
    theta[0] = optimize.brentq(lambda t: special.expit(t - np.delete(theta, 0)).mean() - 0.85, -6, 6)
    with db.write() as s:
        rows = []
        for i in range(300):
            rid = _respondent(s, c, i)
            seen = set()
            while len(seen) < 10:
                a, b = (0, rng.integers(1, 20)) if len(seen) < 3 else rng.choice(20, 2, replace=False)
                if frozenset((a, b)) in seen:
                    continue
                seen.add(frozenset((a, b)))
                winner = a if rng.random() < special.expit(theta[a] - theta[b]) else b
                rows.append({"consultation_id": c.id, "respondent_id": rid, "left_id": ids[a], "right_id": ids[b],
                             "winner_id": ids[winner], "cast_at": T0 + timedelta(minutes=i, seconds=10 * len(seen))})
        s.execute(insert(m.PairwiseVote), rows)
    (new,) = f.proposals(db, c.id, ["Un conjunto recién propuesto"])
    opponents = [ids[0]] + [int(x) for x in rng.choice(ids[1:], 10, replace=False)]
    for session in range(15):
        with TestClient(app=app, base_url="http://testserver.local") as browser:
            assert browser.get(f"/c/{c.slug}/pair").status_code == 200
            if session < 11:
                answer = post_form(browser, f"/c/{c.slug}/pair",
                                   {"left": new, "right": opponents[session], "choice": "left"}, htmx=True)
                assert answer.status_code == 200
    runs.refresh_due(db)
    run = runs.latest_run(db, c.id)
    by_id = {r["proposal_id"]: r for r in run.results}
    established, fresh = by_id[ids[0]], by_id[new]
    print(f"\nestablished: {established['n_votes']} comparisons, {established['score']:.3f} [{established['ci_low']:.3f}, "
          f"{established['ci_high']:.3f}], rank {established['rank']}; new: 11 wins, {fresh['score']:.3f} "
          f"[{fresh['ci_low']:.3f}, {fresh['ci_high']:.3f}], rank {fresh['rank']}")
    assert fresh["n_votes"] == 11 and 900 <= established["n_votes"] <= 1_100
    assert established["rank"] == 1 and fresh["rank"] > 1
    assert fresh["ci_high"] - fresh["ci_low"] > 0.25  # eleven wins say little against the whole field
    with TestClient(app=app, base_url="http://testserver.local") as reader:
        table = reader.get(f"/c/{c.slug}/results").text.split("<tbody>")[1]
    assert table.index("Conjunto de datos 0<") < table.index("Un conjunto recién propuesto<")

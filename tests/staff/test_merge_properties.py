"""Merging duplicates, as properties over random small vote sets, on SQLite and PostgreSQL.

Each example builds its own consultation (so examples never see each other's rows): proposals A (the
survivor), B (merged into A), two bystanders X and Y, and C, merged into B earlier; a few respondents
with random approval or rating votes, exposures and pairwise comparisons. After `merge_proposals`:
A's supporters are exactly those of A or B, each counted once with the vote they gave A if any (else
their vote on B); no vote total grows; exposures are the union; no comparison of A against B or
mentioning B is left, and each respondent still answers each pair at most once (an answer about A wins
over the same respondent's answer about B); the reported comparison count of A matches its rows; C now
points to A.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from idmx.clock import now as utcnow
from idmx.db import models as m
from idmx.errors import Conflict, DomainError, NotFound
from idmx.moderation.services import merge_proposals
from tests import factories as f

A, B, X, Y = range(4)  # positions of the votable proposals; C (merged into B) is not votable
N_RESPONDENTS = 5

vote_sets = st.fixed_dictionaries({
    "method": st.sampled_from(["approval", "rating"]),
    "b_pending": st.booleans(),
    # respondent -> proposal position -> rating (approval uses 1 for any value)
    "votes": st.dictionaries(
        st.tuples(st.integers(0, N_RESPONDENTS - 1), st.integers(0, 3)), st.integers(1, 5), max_size=16
    ),
    "exposures": st.sets(st.tuples(st.integers(0, N_RESPONDENTS - 1), st.integers(0, 3)), max_size=16),
    # (respondent, left, right, winner: 0 left, 1 right, 2 none); one answer per respondent and pair
    "pairs": st.lists(
        st.tuples(st.integers(0, N_RESPONDENTS - 1), st.integers(0, 3), st.integers(0, 3), st.integers(0, 2))
        .filter(lambda t: t[1] != t[2]),
        max_size=12, unique_by=lambda t: (t[0], frozenset(t[1:3])),
    ),
})


def build(db, spec: dict) -> tuple[int, list[int], list[int], int]:
    """A consultation with the proposals, respondents and votes of `spec`; returns (cid, pids, rids, c_id)."""
    slug = "merge-" + uuid.uuid4().hex[:12]
    c = f.consultation(db, slug, voting_method=m.VotingMethod(spec["method"]))
    now = utcnow()
    with db.write() as s:
        pids = []
        for i, title in enumerate(["Calidad del aire", "Calidad del aire por municipio", "Presupuesto federal",
                                   "Contratos públicos"]):
            status = m.ProposalStatus.pending if i == B and spec["b_pending"] else m.ProposalStatus.published
            p = m.Proposal(consultation_id=c.id, title=title, status=status)
            s.add(p)
            s.flush()
            pids.append(p.id)
        chained = m.Proposal(consultation_id=c.id, title="Aire limpio (duplicado)", status=m.ProposalStatus.merged,
                             merged_into_id=pids[B])
        s.add(chained)
        rids = []
        for i in range(N_RESPONDENTS):
            r = m.Respondent(consultation_id=c.id, token_hash=hashlib.sha256(f"{slug}-{i}".encode()).hexdigest())
            s.add(r)
            s.flush()
            rids.append(r.id)
        votes = [
            {"consultation_id": c.id, "proposal_id": pids[p], "respondent_id": rids[r],
             "value": 1 if spec["method"] == "approval" else value, "cast_at": now}
            for (r, p), value in spec["votes"].items()
        ]
        if votes:
            s.execute(insert(m.Vote), votes)
        exposures = [{"consultation_id": c.id, "proposal_id": pids[p], "respondent_id": rids[r]} for r, p in spec["exposures"]]
        if exposures:
            s.execute(insert(m.Exposure), exposures)
        for r, left, right, winner in spec["pairs"]:
            s.add(m.PairwiseVote(consultation_id=c.id, respondent_id=rids[r], left_id=pids[left], right_id=pids[right],
                                 winner_id=[pids[left], pids[right], None][winner], cast_at=now))
        s.flush()
        return c.id, pids, rids, chained.id


def state(db, cid: int) -> dict:
    with db.read() as s:
        return {
            "votes": {(v.respondent_id, v.proposal_id): v.value for v in s.scalars(select(m.Vote).where(m.Vote.consultation_id == cid))},
            "exposures": {(e.respondent_id, e.proposal_id) for e in s.scalars(select(m.Exposure).where(m.Exposure.consultation_id == cid))},
            "pairs": [(p.respondent_id, p.left_id, p.right_id, p.winner_id)
                      for p in s.scalars(select(m.PairwiseVote).where(m.PairwiseVote.consultation_id == cid).order_by(m.PairwiseVote.id))],
            "proposals": {p.id: p for p in s.scalars(select(m.Proposal).where(m.Proposal.consultation_id == cid))},
        }


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=vote_sets)
def test_merge_preserves_supporters_and_counts_everyone_once(db, spec):
    cid, pids, rids, chained = build(db, spec)
    a, b = pids[A], pids[B]
    before = state(db, cid)
    with db.write() as s:
        result = merge_proposals(s, a, b)
    after = state(db, cid)

    supporters = lambda votes, pid: {r for (r, p) in votes if p == pid}  # noqa: E731
    a_before, b_before = supporters(before["votes"], a), supporters(before["votes"], b)
    # Distinct supporters of A or B are A's supporters now, each once (the unique constraint and the count agree).
    assert supporters(after["votes"], a) == a_before | b_before
    with db.read() as s:
        n_rows = s.scalar(select(func.count()).select_from(m.Vote).where(m.Vote.proposal_id == a))
        n_distinct = s.scalar(select(func.count(func.distinct(m.Vote.respondent_id))).where(m.Vote.proposal_id == a))
    assert n_rows == n_distinct == len(a_before | b_before)
    assert supporters(after["votes"], b) == set()
    # The documented rule: a vote already on A is kept; otherwise the vote on B moves with its value.
    for r in a_before:
        assert after["votes"][(r, a)] == before["votes"][(r, a)]
    for r in b_before - a_before:
        assert after["votes"][(r, a)] == before["votes"][(r, b)]
    # Totals never grow: exactly the double votes disappear; other proposals are untouched.
    assert len(after["votes"]) == len(before["votes"]) - len(a_before & b_before)
    for pid in (pids[X], pids[Y]):
        assert {k: v for k, v in after["votes"].items() if k[1] == pid} == {k: v for k, v in before["votes"].items() if k[1] == pid}
    assert (result.votes_moved, result.votes_dropped) == (len(b_before - a_before), len(a_before & b_before))

    # Exposures: the union on A, nothing left on B.
    seen = lambda rows, pid: {r for (r, p) in rows if p == pid}  # noqa: E731
    assert seen(after["exposures"], a) == seen(before["exposures"], a) | seen(before["exposures"], b)
    assert seen(after["exposures"], b) == set()
    assert len(after["exposures"]) <= len(before["exposures"])

    # Pairwise: A-vs-B gone; B re-pointed to A unless the respondent already answered that pair about A;
    # nothing else changed.
    def repoint(row):
        r, left, right, winner = row
        swap = lambda x: a if x == b else x  # noqa: E731
        return (r, swap(left), swap(right), swap(winner))

    about_a = {(r, left if right == a else right) for r, left, right, _w in before["pairs"] if a in (left, right)}
    expected = [repoint(row) for row in before["pairs"] if {row[1], row[2]} != {a, b}
                and not (b in row[1:3] and (row[0], row[1] if row[2] == b else row[2]) in about_a)]
    assert after["pairs"] == expected
    assert all(left != right and b not in (left, right, winner) for _, left, right, winner in after["pairs"])
    assert len({(r, frozenset((left, right))) for r, left, right, _w in after["pairs"]}) == len(after["pairs"])
    assert result.pairwise_dropped == len(before["pairs"]) - len(expected)
    assert result.n_comparisons == sum(1 for _, left, right, _w in after["pairs"] if a in (left, right))
    proposals = after["proposals"]

    # Statuses: B merged into A, the earlier chain now ends at A too, A unchanged.
    assert (proposals[b].status, proposals[b].merged_into_id) == (m.ProposalStatus.merged, a)
    assert (proposals[chained].status, proposals[chained].merged_into_id) == (m.ProposalStatus.merged, a)
    assert result.repointed_merges == [chained]
    assert (proposals[a].status, proposals[a].merged_into_id) == (m.ProposalStatus.published, None)


def _two(db, **b_overrides):
    c = f.consultation(db, "merge-" + uuid.uuid4().hex[:8])
    (a,) = f.proposals(db, c.id, ["Calidad del aire"])
    (b,) = f.proposals(db, c.id, ["Calidad del aire por estado"], **b_overrides)
    return c, a, b


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        ("survivor_pending", Conflict),
        ("merged_hidden", Conflict),
        ("merged_already", Conflict),
        ("other_consultation", Conflict),
        ("same", DomainError),
        ("missing", NotFound),
    ],
)
def test_merge_refuses_and_changes_nothing(db, setup, error):
    c, a, b = _two(db)
    with db.write() as s:
        if setup == "survivor_pending":
            s.get(m.Proposal, a).status = m.ProposalStatus.pending
        elif setup == "merged_hidden":
            s.get(m.Proposal, b).status = m.ProposalStatus.hidden
        elif setup == "merged_already":
            z = m.Proposal(consultation_id=c.id, title="Otra propuesta")
            s.add(z)
            s.flush()
            s.get(m.Proposal, b).status, s.get(m.Proposal, b).merged_into_id = m.ProposalStatus.merged, z.id
        elif setup == "other_consultation":
            other = m.Consultation(slug="otra-" + uuid.uuid4().hex[:6], title_es="Otra", voting_method=m.VotingMethod.approval,
                                   proposal_mode=m.ProposalMode.open, opens_at=utcnow(), closes_at=utcnow() + timedelta(days=1))
            s.add(other)
            s.flush()
            s.get(m.Proposal, b).consultation_id = other.id
        s.add(m.Vote(consultation_id=c.id, proposal_id=b, respondent_id=_respondent(s, c.id), value=1))
    before = {p.id: (p.status, p.merged_into_id) for p in f.rows(db, m.Proposal)}
    target = {"same": (a, a), "missing": (a, 999_999)}.get(setup, (a, b))
    with pytest.raises(error), db.write() as s:
        merge_proposals(s, *target)
    assert {p.id: (p.status, p.merged_into_id) for p in f.rows(db, m.Proposal)} == before
    assert [v.proposal_id for v in f.rows(db, m.Vote)] == [b]


def _respondent(s, cid: int) -> int:
    r = m.Respondent(consultation_id=cid, token_hash=hashlib.sha256(uuid.uuid4().bytes).hexdigest())
    s.add(r)
    s.flush()
    return r.id


def test_merging_a_pending_duplicate_resolves_its_reports(db):
    c, a, b = _two(db, status=m.ProposalStatus.pending)
    with db.write() as s:
        s.add(m.ProposalReport(proposal_id=b, consultation_id=c.id, reason="Duplicada"))
    with db.write() as s:
        result = merge_proposals(s, a, b)
    assert (result.votes_moved, result.reports_resolved) == (0, 1)
    merged = {p.id: p for p in f.rows(db, m.Proposal)}[b]
    assert (merged.status, merged.merged_into_id) == (m.ProposalStatus.merged, a)
    (stored,) = f.rows(db, m.ProposalReport)
    assert stored.resolution == m.ReportResolution.merged and stored.resolved_at is not None

"""Every vote real, counted once, never lost: real parallel clients against a running `idmx serve`, on
SQLite and PostgreSQL (`tests.live`)."""

from __future__ import annotations

import hashlib
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from idmx.accounts.services import create_user
from idmx.db import models as m
from idmx.enums import Role
from idmx.ranking import services as runs
from tests import factories as f
from tests.live import Visitor, one_window, serve


def _all_at_once(n: int, work) -> list:
    """Run `work(i)` in n threads released together, so the requests really overlap."""
    barrier = threading.Barrier(n)

    def run(i: int):
        barrier.wait()
        return work(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def _visitors(base: str, n: int, path: str) -> list[Visitor]:
    visitors = [Visitor(base) for _ in range(n)]
    for v in visitors:
        assert v.get(path).status_code == 200  # the identity and the CSRF cookie, as a browser gets them
    return visitors


def test_a_hundred_simultaneous_pairwise_voters_are_all_stored(db, tmp_path):
    c = f.consultation(db, voting_method=m.VotingMethod.pairwise)
    ids = f.proposals(db, c.id, f.TITLES[:4])
    pairs = [(ids[0], ids[1])] * 50 + [(ids[i % 4], ids[(i + 1) % 4]) for i in range(50)]  # one hot pair, and others
    with serve(db.url, tmp_path) as base:
        visitors = _visitors(base, 100, f"/c/{c.slug}/pair")

        def vote(i: int):
            left, right = pairs[i]
            return visitors[i].post(f"/c/{c.slug}/pair", {"left": left, "right": right,
                                                          "choice": "left" if i % 3 else "right"})

        answers = _all_at_once(100, vote)
    assert [r.status_code for r in answers] == [200] * 100, {r.status_code: r.text[:300] for r in answers}
    stored = sorted((v.left_id, v.right_id, v.winner_id) for v in f.rows(db, m.PairwiseVote))
    expected = sorted((left, right, left if i % 3 else right) for i, (left, right) in enumerate(pairs))
    assert stored == expected


def test_invented_cookies_are_never_adopted_and_bursts_are_flagged(db, tmp_path):
    c = f.consultation(db)
    (pid,) = f.proposals(db, c.id, ["Calidad del aire por estación"])
    invented = [secrets.token_urlsafe(32) for _ in range(40)]
    one_window()  # the burst counts new respondents per address and hour
    with serve(db.url, tmp_path, IDMX_NEW_RESPONDENTS_PER_HOUR_PER_ADDRESS="10") as base:
        for token in invented:
            visitor = _visitors(base, 1, f"/c/{c.slug}/")[0]
            visitor.http.cookies.set("idmx_respondent", token)  # what a script would mint offline
            answer = visitor.post(f"/c/{c.slug}/proposals/{pid}/vote", {"support": "1"})
            assert answer.status_code == 200
            issued = answer.cookies.get("idmx_respondent")
            assert issued and not issued.startswith(token), "the server must issue its own identity"
            visitor.close()
    hashes = {r.token_hash for r in f.rows(db, m.Respondent)}
    assert not hashes & {hashlib.sha256(t.encode()).hexdigest() for t in invented}
    assert len(hashes) == 40 and len(f.rows(db, m.Vote)) == 40  # kept...
    flags = f.rows(db, m.RespondentFlag)
    assert len(flags) == 30 and {fl.kind for fl in flags} == {"burst"}  # ...and the 30 beyond 10 an hour flagged
    assert sorted(int(fl.detail.split("=")[1]) for fl in flags) == list(range(11, 41))


def test_a_repeated_comparison_is_stored_once_and_counted_once(db, tmp_path):
    c = f.consultation(db, voting_method=m.VotingMethod.pairwise)
    a, b = f.proposals(db, c.id, f.TITLES[:2])
    with serve(db.url, tmp_path) as base:
        visitor = _visitors(base, 1, f"/c/{c.slug}/pair")[0]
        answers = _all_at_once(20, lambda i: visitor.post(
            f"/c/{c.slug}/pair", {"left": a if i % 2 else b, "right": b if i % 2 else a, "choice": "left"}))
    assert {r.status_code for r in answers} == {200}
    (row,) = f.rows(db, m.PairwiseVote)
    assert row.winner_id == row.left_id
    run = runs.run_for_consultation(db, c.id)
    assert sum(r["n_votes"] for r in run.results) == 2  # one comparison, counted once for each proposal


def test_malformed_votes_and_forms_are_refused_and_change_nothing(db, tmp_path):
    c = f.consultation(db)
    (pid,) = f.proposals(db, c.id, ["Calidad del aire por estación"])
    vote = f"/c/{c.slug}/proposals/{pid}/vote"
    with serve(db.url, tmp_path) as base:
        visitor = _visitors(base, 1, f"/c/{c.slug}/")[0]
        assert visitor.post(vote, {"support": "1"}).status_code == 200
        token = visitor.http.cookies.get("idmx_csrf")
        bodies = [
            (b"support=1&support=0", None),
            (b"support=yes", None),
            (b"support=1&extra=1", None),
            (b"", None),
            (b'{"support": "0"}', "application/json"),
            (b"support=%FF%FE", None),  # not UTF-8
        ]
        for body, content_type in bodies:
            # The CSRF token travels in the header (as with htmx), so the body is exactly what is tested.
            answer = visitor.post(vote, body, content_type=content_type)
            assert answer.status_code == 400, (body, answer.status_code, answer.text[:200])
            assert "No se guardó nada" in answer.text
        proposal = visitor.post(f"/c/{c.slug}/propose",
                                b"title=Datos%20de%20agua%FF&_csrf_token=" + token.encode(), htmx=False)
        assert proposal.status_code == 400
    assert [(v.proposal_id, v.value) for v in f.rows(db, m.Vote)] == [(pid, 1)]
    assert [p.id for p in f.rows(db, m.Proposal)] == [pid]


def test_limits_hold_under_a_thousand_simultaneous_votes(db, tmp_path):
    c = f.consultation(db)
    ids = f.proposals(db, c.id, f.TITLES[:2])
    one_window()  # 600 votes per respondent and hour: the whole burst in one hour
    with serve(db.url, tmp_path, IDMX_VOTES_PER_HOUR="600") as base:
        visitor = _visitors(base, 1, f"/c/{c.slug}/")[0]

        def vote(i: int):
            return visitor.post(f"/c/{c.slug}/proposals/{ids[i % 2]}/vote", {"support": str((i // 2) % 2)})

        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(vote, range(1000)))
    codes = [r.status_code for r in answers]
    # Never more than the limit; a few fewer when a server process still held part of its lease
    # (`idmx.web.limits`), and every other answer a 429 (none lost to an error).
    assert 570 <= codes.count(200) <= 600 and codes.count(200) + codes.count(429) == 1000, sorted(set(codes))
    assert all(int(r.headers["retry-after"]) > 0 for r in answers if r.status_code == 429)


def test_sign_in_attempts_are_counted_atomically(db, tmp_path):
    create_user(db, "central@idmx.gob.mx", "una contraseña larga", Role.central_admin, None)
    with serve(db.url, tmp_path) as base:
        visitor = _visitors(base, 1, "/staff/login")[0]
        answers = _all_at_once(50, lambda i: visitor.post(
            "/staff/login", {"email": "central@idmx.gob.mx", "password": f"wrong {i}"}, htmx=False))
    codes = [r.status_code for r in answers]
    # Counted per account and per address, each at most 5 a minute: never more than 5 checked.
    assert 1 <= codes.count(400) <= 5 and codes.count(400) + codes.count(429) == 50, codes
    assert all("retry-after" in r.headers for r in answers if r.status_code == 429)
    with db.read() as s:
        assert s.scalar(select(m.StaffUser.email)) == "central@idmx.gob.mx"

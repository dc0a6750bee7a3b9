"""Public results pages over HTTP, on both databases."""

from __future__ import annotations

import time

from sqlalchemy import func, insert, select
from tests import factories as f

from idmx.clock import now as utcnow
from idmx.db import models as m
from idmx.ranking import services as runs


def _votes(db, c, ids, pattern):
    """pattern: respondent index -> (segment code, {proposal index: supported?})."""
    with db.write() as s:
        segs = dict(s.execute(select(m.Segment.code, m.Segment.id)).all())
        for i, (seg, marks) in enumerate(pattern):
            r = m.Respondent(consultation_id=c.id, token_hash=f"{i:064d}", segment_id=segs[seg], participated_at=utcnow())
            s.add(r)
            s.flush()
            for j, supported in marks.items():
                s.execute(insert(m.Exposure), [{"respondent_id": r.id, "proposal_id": ids[j], "consultation_id": c.id}])
                if supported:
                    s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": ids[j], "respondent_id": r.id, "value": 1}])


def _world(db, **overrides):
    c = f.consultation(db, **overrides)
    ids = f.proposals(db, c.id, ["=HYPERLINK(\"http://x\")", "Calidad del aire por estación", "Escuelas públicas"])
    # Officials (many) like proposal 0; journalists (few) like proposal 1.
    pattern = [("public_officials", {0: True, 1: False, 2: i % 2 == 0}) for i in range(30)]
    pattern += [("journalists", {0: False, 1: True, 2: i % 3 == 0}) for i in range(6)]
    _votes(db, c, ids, pattern)
    runs.refresh_due(db)  # what the worker does; pages only read stored runs
    return c, ids


def test_results_page_ranks_with_intervals_and_reuses_the_stored_run(client, db):
    c, ids = _world(db)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.RankingRun)) == 1
    r = client.get(f"/c/{c.slug}/results")
    assert r.status_code == 200
    assert "<svg" in r.text and "<title id=\"chart-title\">" in r.text and "<desc id=\"chart-desc\">" in r.text
    assert "Calidad del aire por estación" in r.text and "Intervalo de 95%" in r.text
    client.get(f"/c/{c.slug}/results")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.RankingRun)) == 1


def test_weighting_lets_the_smaller_segment_count(client, db):
    c, ids = _world(db)
    html = client.get(f"/c/{c.slug}/results").text
    table = html.split("<tbody>")[1]
    # Weighted to equal segment shares, the journalists' favourite ties the officials' favourite.
    assert table.index("Calidad del aire") < table.index("Escuelas públicas")
    assert "Periodistas" in html and "Servidores públicos" in html


def test_htmx_switches_criterion_and_segment_without_a_page(client, db):
    c, _ = _world(db)
    r = client.get(f"/c/{c.slug}/results", params={"criterion": "point", "segment": "journalists"},
                   headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<div id="results"')
    assert "<html" not in r.text and "Lugar en el sector" in r.text
    rows = r.text.split("<tbody>")[1]
    assert rows.index("Calidad del aire") < rows.index("HYPERLINK")


def test_results_are_hidden_until_closing_when_the_consultation_says_so(client, db):
    c, _ = _world(db, results_visibility=m.ResultsVisibility.after_close)
    r = client.get(f"/c/{c.slug}/results")
    assert r.status_code == 404 and "cuando cierra" in r.text
    assert client.get(f"/c/{c.slug}/results/ranking.csv").status_code == 404


def test_csv_download_is_spreadsheet_safe(client, db):
    c, ids = _world(db)
    r = client.get(f"/c/{c.slug}/results/ranking.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    body = r.content.decode("utf-8")
    assert body.startswith("\ufeffrank,proposal_id,title,score,ci_low,ci_high,n_eff,n_votes,rank_low,rank_high\r\n")
    assert "'=HYPERLINK" in body and ",=HYPERLINK" not in body and '"=HYPERLINK' not in body
    assert len(body.strip().split("\r\n")) == 4
    assert len(r.headers["x-idmx-fingerprint"]) == 64


def test_every_rank_has_its_interval_on_the_page_the_csv_and_the_api(client, db):
    c, _ids = _world(db)
    run = client.get(f"/api/v1/consultations/{c.slug}/runs").json()
    run_id = (run["items"] if isinstance(run, dict) and "items" in run else run)[0]["id"]
    results = client.get(f"/api/v1/consultations/{c.slug}/runs/{run_id}").json()["results"]
    assert all(1 <= r["rank_low"] <= r["rank_high"] <= len(results) for r in results)
    html = client.get(f"/c/{c.slug}/results").text
    for r in results:
        assert f"({r['rank_low']}–{r['rank_high']})" in html
    body = client.get(f"/c/{c.slug}/results/ranking.csv").content.decode("utf-8-sig").splitlines()
    by_id = {int(line.split(",")[1]): line for line in body[1:]}
    for r in results:
        assert by_id[r["proposal_id"]].endswith(f",{r['rank_low']},{r['rank_high']}")


def test_rank_intervals_are_stored_by_the_worker_and_read_by_every_page(client, db):
    c, _ids = _world(db)
    run = runs.latest_run(db, c.id)
    computed = runs.run_rank_intervals(db, run)  # before the worker reached it: computed on request
    assert runs.store_rank_intervals(db) == [run.id]
    assert runs.store_rank_intervals(db) == []  # once per run
    with db.read() as s:
        stored = s.get(m.RunRankIntervals, run.id)
        assert stored.confidence == run.params["confidence"]
        assert list(zip(stored.low, stored.high)) == [computed[r["proposal_id"]] for r in run.results]
    # The pages read the stored row: replaced by recognisable values, those are what they show.
    n = len(run.results)
    assert set(computed.values()) == {(1, n)}  # three close proposals: any could be first
    marked = {r["proposal_id"]: (2, n) for r in run.results}
    with db.write() as s:
        s.execute(m.RunRankIntervals.__table__.update().where(m.RunRankIntervals.run_id == run.id)
                  .values(low=[2] * n, high=[n] * n))
    assert runs.run_rank_intervals(db, run) == marked
    html = client.get(f"/c/{c.slug}/results").text
    assert f"(2–{n})" in html and f"(1–{n})" not in html
    body = client.get(f"/c/{c.slug}/results/ranking.csv").content.decode("utf-8-sig").splitlines()
    assert all(line.endswith(f",2,{n}") for line in body[1:])
    api = client.get(f"/api/v1/consultations/{c.slug}/runs/{run.id}").json()["results"]
    assert {(r["rank_low"], r["rank_high"]) for r in api} == {(2, n)}
    # A row that does not fit its run (another confidence) is not trusted.
    with db.write() as s:
        s.execute(m.RunRankIntervals.__table__.update().where(m.RunRankIntervals.run_id == run.id)
                  .values(confidence=0.5))
    assert runs.run_rank_intervals(db, run) == computed
    # It goes with its run.
    with db.write() as s:
        s.execute(m.RankingRun.__table__.delete().where(m.RankingRun.id == run.id))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.RunRankIntervals)) == 0


def test_a_run_made_before_closing_is_replaced_once_after_closing(client, db):
    c, _ = _world(db)
    with db.write() as s:
        s.execute(m.Consultation.__table__.update().where(m.Consultation.id == c.id).values(
            closes_at=utcnow()))  # after the first run was made
    time.sleep(0.01)
    assert [job.final for job, _run in runs.refresh_due(db)] == [True]
    assert runs.refresh_due(db) == []
    client.get(f"/c/{c.slug}/results")
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.RankingRun)) == 2


def test_pages_never_compute_a_ranking(client, db):
    c = f.consultation(db)
    ids = f.proposals(db, c.id, ["Calidad del aire por estación", "Escuelas públicas"])
    _votes(db, c, ids, [("journalists", {0: True, 1: False})])
    r = client.get(f"/c/{c.slug}/results")
    assert r.status_code == 200 and "Todavía no hay votos que priorizar." not in r.text
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.RankingRun)) == 0


def test_no_votes_yet_is_said_plainly(client, db):
    c = f.consultation(db)
    f.proposals(db, c.id, ["Calidad del aire por estación"])
    r = client.get(f"/c/{c.slug}/results")
    assert r.status_code == 200 and "Todavía no hay votos que priorizar." in r.text


def test_a_sector_view_shows_that_sectors_own_scores(client, db):
    """Journalists (6) all back "Calidad del aire" and none the first proposal; 2 of 6 back the schools.
    Their view shows their own shares and effective n (6), not the overall figures reordered."""
    c, ids = _world(db)
    html = client.get(f"/c/{c.slug}/results", params={"segment": "journalists", "criterion": "point"}).text
    rows = [row for row in html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>") if "<td" in row]
    cells = {title: row for row in rows for title in ("Calidad del aire", "Escuelas públicas", "HYPERLINK") if title in row}
    assert list(cells) == ["Calidad del aire", "Escuelas públicas", "HYPERLINK"]  # in the sector's order
    assert "100.0\u00a0%" in cells["Calidad del aire"] and "33.3\u00a0%" in cells["Escuelas públicas"]
    assert "0.0\u00a0%" in cells["HYPERLINK"]
    assert all('data-label="n efectiva">6</td>' in row and 'data-label="Votos">6</td>' in row
               for row in cells.values())  # effective n and votes: 6 each


def test_a_target_nobody_answers_for_is_explained_not_called_no_votes(client, db):
    """A target share for a sector nobody from took part: no ranking can be computed; the public page says
    why (never "no votes"), and the staff page warns."""
    c = f.consultation(db)
    ids = f.proposals(db, c.id, ["Calidad del aire por estación", "Escuelas públicas"])
    with db.write() as s:
        s.add_all([m.WeightingTarget(consultation_id=c.id, variable="segment", category=code, target=0.5)
                   for code in ("journalists", "academia")])
    _votes(db, c, ids, [("journalists", {0: True, 1: False}) for _ in range(4)])
    assert [run_id for _job, run_id in runs.refresh_due(db)] == [None]
    html = client.get(f"/c/{c.slug}/results").text
    assert "Todavía no hay votos" not in html and "no se pueden calcular" in html and "Academia" in html
    from idmx.accounts.services import create_user
    from idmx.enums import Role

    create_user(db, "central@idmx.gob.mx", "una contraseña larga", Role.central_admin, None)
    client.get("/staff/login")
    client.post("/staff/login", data={"email": "central@idmx.gob.mx", "password": "una contraseña larga",
                                      "_csrf_token": client.cookies.get("idmx_csrf")})
    staff = client.get(f"/staff/consultations/{c.id}").text
    assert 'id="weighting-warning"' in staff and "Academia" in staff

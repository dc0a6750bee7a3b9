"""Vote modes: a new way of voting is one registration (`idmx.votemodes.register`), then it is voted,
stored, ranked, exported as files and reproduced like the built-in ones."""

from __future__ import annotations

import functools

import pytest

from idmx import seeding, statistics, votemodes
from idmx.db import models as m
from idmx.ranking import pipeline
from idmx.ranking import services as runs
from tests import factories as f
from tests.consultations.test_participation import post_form


@pytest.fixture
def importance():
    """A toy mode: importance from 1 to 3, stored as values and ranked as a mean with its interval."""
    mode = votemodes.register(votemodes.VoteMode(
        code="importance",
        name=lambda: "Importancia",
        description=lambda: "Importancia: de 1 a 3",
        votes_description=lambda: "Every answer, from 1 to 3.",
        storage="value",
        statistics="rating",
        parse=votemodes.scale_parser(1, 3),
        scorer=functools.partial(statistics.rating_scores, scale=(1.0, 3.0)),
        scale=(1.0, 3.0),
        values=(1, 3),
        partial="consultations/_rating.html",
        support="mean",
    ))
    yield mode
    votemodes.unregister(mode.code)


def test_the_database_refuses_a_mode_the_code_does_not_know(db):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        f.consultation(db, slug="desconocido", voting_method="raffle")


def test_a_mode_registered_in_one_place_is_voted_ranked_and_reproduced(client, db, importance, tmp_path):
    seeding.sync_vote_modes(db)  # what `idmx seed` does for a newly registered mode
    c = f.consultation(db, voting_method="importance")
    ids = f.proposals(db, c.id, ["Presupuesto ejercido por programa", "Contratos de obra pública"])

    page = client.get(f"/c/{c.slug}/").text
    # The rating control offers the mode's own range: three options per proposal.
    assert page.count('name="value" value="3"') == 2 and 'name="value" value="4"' not in page

    assert post_form(client, f"/c/{c.slug}/proposals/{ids[0]}/vote", {"value": "3"}).status_code == 303
    assert post_form(client, f"/c/{c.slug}/proposals/{ids[1]}/vote", {"value": "1"}).status_code == 303
    refused = post_form(client, f"/c/{c.slug}/proposals/{ids[1]}/vote", {"value": "4"})
    assert refused.status_code == 400 and "del 1 al 3" in refused.text
    assert sorted(v.value for v in f.rows(db, m.Vote)) == [1, 3]

    run = runs.run_for_consultation(db, c.id)
    assert run.method == "importance"
    scores = {r["proposal_id"]: r for r in run.results}
    assert scores[ids[0]]["score"] == 3.0 and scores[ids[1]]["score"] == 1.0
    assert all(1.0 <= r["ci_low"] <= r["ci_high"] <= 3.0 for r in run.results)
    assert [r["proposal_id"] for r in sorted(run.results, key=lambda r: r["rank"])] == [ids[0], ids[1]]

    results = client.get(f"/c/{c.slug}/results").text
    assert "Presupuesto ejercido por programa" in results

    written = runs.write_inputs(db, c.id, tmp_path)
    again = pipeline.rank_files(written.respondents, written.votes, "importance", written.targets)
    assert again.fingerprint == run.fingerprint and again.rows == run.results


def test_strict_vote_input_keeps_the_earlier_vote(client, db):
    c = f.consultation(db)
    (pid,) = f.proposals(db, c.id, ["Calidad del aire por estación"])
    url = f"/c/{c.slug}/proposals/{pid}/vote"
    assert post_form(client, url, {"support": "1"}).status_code == 303
    for bad in ({"support": "yes"}, {"support": ["1", "0"]}, {}, {"support": "1", "value": "3"}):
        assert post_form(client, url, bad).status_code == 400, bad
    assert [v.value for v in f.rows(db, m.Vote)] == [1]

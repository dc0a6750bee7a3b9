"""Open data of closed consultations: export -> `idmx rank` offline -> the stored run, exactly."""

from __future__ import annotations

import io
import json
import re
import shlex
import time
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from idmx import i18n, seeding
from idmx.cli import main
from idmx.clock import now as utcnow
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Conflict, NotFound
from idmx.exports import services as data
from idmx.ranking import files, pipeline
from idmx.ranking import services as runs
from tests import factories

DEMO = {"idmx-2027": "approval", "idmx-2026": "rating", "semarnat-ambiente-2027": "pairwise"}
FINGERPRINT = re.compile(r"fingerprint: ([0-9a-f]{64})")
PARAMS = {"approval": pipeline.RunParams(), "rating": pipeline.RunParams(rank_by="point", confidence=0.9),
          "pairwise": pipeline.RunParams(ridge=0.5, confidence=0.9, cap=4.0)}


def _env(db: Database, tmp_path: Path) -> dict[str, str]:
    return {"IDMX_DATABASE_URL": db.url, "IDMX_VAR_DIR": str(tmp_path / "var"), "IDMX_ENV": "test"}


def close(db: Database, slugs) -> dict[str, int]:
    """Move the consultations' dates so that they closed an hour ago; their ids by slug."""
    now = utcnow()
    with db.write() as s:
        s.execute(update(m.Consultation).where(m.Consultation.slug.in_(list(slugs)))
                  .values(opens_at=now - timedelta(days=30), closes_at=now - timedelta(hours=1)))
        return dict(s.execute(select(m.Consultation.slug, m.Consultation.id).where(m.Consultation.slug.in_(list(slugs)))).all())


@pytest.fixture
def closed_demo(db: Database) -> dict[str, int]:
    seeding.seed_demo(db)
    return close(db, DEMO)


def _export(runner: CliRunner, env: dict[str, str], slug: str, out: Path) -> str:
    result = runner.invoke(main, ["export", "consultation", slug, "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def _rank(runner: CliRunner, directory: Path, command: str, out: Path) -> str:
    """Run the package's documented `idmx rank` command on its files."""
    args = shlex.split(command)[1:]
    for flag in ("--cells", "--statistics", "--targets"):
        i = args.index(flag)
        args[i + 1] = str(directory / args[i + 1])
    args[args.index("--out") + 1] = str(out)
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    return FINGERPRINT.search(result.output).group(1)


@pytest.mark.slow
def test_round_trip_export_rank_offline_gives_the_stored_run(db: Database, closed_demo, tmp_path: Path):
    runner = CliRunner()
    env = _env(db, tmp_path)
    for slug, method in DEMO.items():
        run = runs.run_for_consultation(db, closed_demo[slug], PARAMS[method])
        first, second = tmp_path / slug / "a", tmp_path / slug / "b"
        output = _export(runner, env, slug, first)
        assert f"fingerprint {run.fingerprint}" in output
        _export(runner, env, slug, second)
        assert sorted(p.name for p in first.iterdir()) == sorted(data.PACKAGE_FILES)
        # Every CSV has exactly the columns of its allow-list.
        for path in first.glob("*.csv"):
            header = path.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
            expected = data.STATISTICS_COLUMNS[method] if path.name == "statistics.csv" else data.COLUMNS[path.name]
            if path.name == "ranking.csv":
                expected = (*expected, *(["theta"] if method == "pairwise" else []), *files.RANK_INTERVAL_COLUMNS)
            assert tuple(header) == tuple(expected), path.name

        package = json.loads((first / "datapackage.json").read_text(encoding="utf-8"))
        assert package["published_run"] == {"run_id": run.id, "fingerprint": run.fingerprint}
        assert package["reproduce"] == data.reproduce_command(data.package_info(db, slug), run)
        # The demo weights by sector only, so merging states changes no weight: the package's ranking is
        # the stored run's, byte for byte. Pairwise intervals are clustered, and the package's clusters
        # pool respondents whose number of comparisons would single them out: the same strengths and
        # scores, intervals that moved by what the descriptor says.
        control = package["disclosure_control"]
        confidence = PARAMS[method].confidence
        if method != "pairwise":
            assert control["ranking_matches_published_run"] is True
            assert (first / "ranking.csv").read_bytes() == files.render_ranking(run.results, confidence).encode()
        else:
            assert control["ranking_matches_published_run"] is False
            assert control["pairwise_clusters"]["pseudo_clusters"] > 0
            mine = pd.read_csv(first / "ranking.csv", encoding="utf-8-sig").set_index("proposal_id").sort_index()
            stored = pd.DataFrame(run.results).set_index("proposal_id").sort_index()
            assert mine.index.equals(stored.index)
            for column in ("score", "theta", "n_votes"):
                assert np.allclose(mine[column], stored[column], rtol=0, atol=1e-9), column
            moved = max((mine[c] - stored[c]).abs().max() for c in ("ci_low", "ci_high"))
            assert 0 < moved <= control["pairwise_clusters"]["largest_interval_change"] + 1e-9
            changed = int((mine["rank"] != stored["rank"]).sum())
            assert changed == control["pairwise_clusters"]["ranks_changed"]
        # Offline, on the files alone: the package's fingerprint and byte for byte its ranking.
        for directory in (first, second):
            out = directory / "my-ranking.csv"
            assert _rank(runner, directory, package["reproduce"], out) == package["inputs_fingerprint"]
            assert (directory / "ranking.csv").read_bytes() == out.read_bytes()
        # Two exports: the same content (nothing random is left in the files).
        for name in ("respondents.csv", "cells.csv", "statistics.csv", "ranking.csv"):
            assert (first / name).read_bytes() == (second / name).read_bytes(), name

        # Protected microdata: k-anonymous on everything it publishes, one row per respondent but the
        # suppressed ones, and no link to the statistics.
        ra = pd.read_csv(first / "respondents.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert list(ra.columns) == list(data.RESPONDENT_COLUMNS)
        k = package["disclosure_control"]["k"]
        assert ra.groupby(["segment", "region", "state", "votes"]).size().min() >= k
        assert package["disclosure_control"]["files"]["respondents.csv"]["risk_after"] == 0
        people = package["disclosure_control"]["files"]["respondents.csv"]["suppressed"]
        assert len(ra) + people == run.summary["respondents"]
        cells = pd.read_csv(first / "cells.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert cells["respondents"].astype(int).sum() == run.summary["respondents"]
        assert cells["respondents"].astype(int).min() >= k

        # Proposals: published and merged (with their survivor) only; statistics only on published ones.
        p = pd.read_csv(first / "proposals.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert list(p.columns) == list(data.PROPOSAL_COLUMNS)
        assert set(p["status"]) <= {"published", "merged"}
        with db.read() as s:
            public = dict(s.execute(select(m.Proposal.id, m.Proposal.status).where(
                m.Proposal.consultation_id == closed_demo[slug])).all())
        published = {str(i) for i, st in public.items() if st == m.ProposalStatus.published}
        assert set(p.loc[p["status"] == "published", "proposal_id"]) == published
        st = pd.read_csv(first / "statistics.csv", dtype=str, encoding="utf-8-sig")
        voted = set(st["winner_id"]) | set(st["loser_id"]) if method == "pairwise" else set(st["proposal_id"])
        assert voted <= published
        merged = p[p["status"] == "merged"]
        assert (merged["merged_into_id"] != "").all() and (p.loc[p["status"] == "published", "merged_into_id"] == "").all()

        # Runs after closing, their targets and results.
        rr = pd.read_csv(first / "runs.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert list(rr.columns) == list(data.RUN_COLUMNS) and str(run.id) in set(rr["run_id"])
        assert set(rr["fingerprint"]) == {run.fingerprint}  # every final run saw the same inputs
        res = pd.read_csv(first / "run_results.csv", dtype=str, encoding="utf-8-sig", keep_default_na=False)
        assert list(res.columns) == list(data.RUN_RESULT_COLUMNS)
        assert (res["run_id"] == str(run.id)).sum() == len(run.results)


def test_the_zip_download_is_the_same_package(db: Database, closed_demo, tmp_path: Path):
    slug = "semarnat-ambiente-2027"
    runs.run_for_consultation(db, closed_demo[slug], PARAMS["pairwise"])
    info = data.package_info(db, slug)
    chunks = list(data.zip_chunks(db, info, flush_bytes=4096))
    assert len(chunks) > 2  # written and handed over while it is produced
    with zipfile.ZipFile(io.BytesIO(b"".join(chunks))) as zf:
        assert zf.namelist() == list(data.PACKAGE_FILES)
        assert zf.testzip() is None
        zf.extractall(tmp_path / "zip")
        assert all(i.date_time[3:] == (0, 0, 0) for i in zf.infolist())  # no time of day
    package = json.loads((tmp_path / "zip" / "datapackage.json").read_text(encoding="utf-8"))
    assert _rank(CliRunner(), tmp_path / "zip", package["reproduce"], tmp_path / "out.csv") == package["inputs_fingerprint"]
    assert (tmp_path / "out.csv").read_bytes() == (tmp_path / "zip" / "ranking.csv").read_bytes()


@pytest.fixture
def english():
    token = i18n.activate("en")
    yield
    i18n.deactivate(token)


def test_only_closed_consultations_are_exported(db: Database, tmp_path: Path, english):
    factories.consultation(db, "abierta", phase="open")
    factories.consultation(db, "futura", phase="upcoming")
    factories.consultation(db, "borrador", phase="closed", status=m.ConsultationStatus.draft)
    with pytest.raises(Conflict, match="still open"):
        data.package_info(db, "abierta")
    with pytest.raises(Conflict, match="not opened yet"):
        data.package_info(db, "futura")
    with pytest.raises(NotFound):
        data.package_info(db, "borrador")
    with pytest.raises(NotFound):
        data.package_info(db, "no-existe")
    runner = CliRunner()
    result = runner.invoke(main, ["export", "consultation", "borrador", "--out", str(tmp_path)], env=_env(db, tmp_path))
    assert result.exit_code == 1 and "borrador: This consultation is a draft" in result.output
    result = runner.invoke(main, ["export", "consultation", "abierta", "--out", str(tmp_path)], env=_env(db, tmp_path))
    assert result.exit_code == 1 and "still open" in result.output


def test_allow_lists_are_the_files_headers():
    assert data.COLUMNS["proposals.csv"] == ("proposal_id", "title", "description", "intended_use", "institution",
                                             "topic", "status", "merged_into_id", "from_fixed_list")
    assert data.COLUMNS["respondents.csv"] == ("respondent_id", "segment", "segment_name", "region", "region_name",
                                               "state", "state_name", "votes")
    assert data.COLUMNS["cells.csv"] == ("cell", "segment", "state", "respondents")
    assert data.STATISTICS_COLUMNS == {"approval": ("proposal_id", "cell", "exposures", "supporters"),
                                       "rating": ("proposal_id", "cell", "n", "sum", "sumsq"),
                                       "pairwise": ("cluster_id", "cell", "winner_id", "loser_id", "wins")}
    assert data.COLUMNS["targets.csv"] == ("variable", "category", "target")
    assert data.COLUMNS["runs.csv"] == ("run_id", "method", "computed_on", "fingerprint", "code_version", "targets_source",
                                        "cap", "ridge", "confidence", "rank_by", "respondents", "vote_rows", "proposals", "n_eff")
    assert data.COLUMNS["run_targets.csv"] == ("run_id", "variable", "category", "target")
    assert data.COLUMNS["run_results.csv"] == ("run_id", "rank", "proposal_id", "score", "ci_low", "ci_high", "n_eff",
                                               "n_votes", "theta")
    forbidden = re.compile(r"mail|token|hash|^ip$|_ip|addr|organisation|use_|cast_at|created_at|author|reason|note")
    allowed = [*data.COLUMNS.values(), *data.STATISTICS_COLUMNS.values()]
    assert not [c for cols in allowed for c in cols if forbidden.search(c)]


def test_fingerprint_ignores_respondent_labels_and_sees_every_change(tmp_path: Path):
    def rank(r: str, v: str, t: str | None = None) -> str:
        d = tmp_path / str(len(list(tmp_path.iterdir())))
        d.mkdir()
        (d / "R.csv").write_text(r)
        (d / "V.csv").write_text(v)
        tpath = None
        if t is not None:
            (d / "T.csv").write_text(t)
            tpath = d / "T.csv"
        return pipeline.rank_files(d / "R.csv", d / "V.csv", "rating", tpath).fingerprint

    r = "respondent_id,segment\n1,a\n2,b\n3,a\n"
    v = "respondent_id,proposal_id,value\n1,10,4\n1,11,5\n2,10,2\n3,11,1\n"
    base = rank(r, v)
    # Relabelled respondents (text, other numbers, other order): the same fingerprint.
    assert rank("respondent_id,segment\nz,a\ny,b\nx,a\n",
                "respondent_id,proposal_id,value\nx,11,1\nz,11,5\ny,10,2\nz,10,4\n") == base
    assert rank("respondent_id,segment\n30,a\n7,b\n12,a\n",
                "respondent_id,proposal_id,value\n12,11,1\n30,10,4\n30,11,5\n7,10,2\n") == base
    # Any real change: a value, a proposal id, a category, one row more, two respondents' rows swapped
    # across categories, targets.
    changed = [
        rank(r, v.replace("2,10,2", "2,10,3")),
        rank(r, v.replace("3,11,1", "3,12,1")),
        rank(r.replace("2,b", "2,c"), v),
        rank(r, v + "2,11,3\n"),
        rank(r, "respondent_id,proposal_id,value\n2,10,4\n2,11,5\n1,10,2\n3,11,1\n"),
        rank(r, v, "variable,category,target\nsegment,a,1\nsegment,b,1\n"),
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_data_page_and_downloads_over_http(db: Database, client):
    from tests.exports.test_privacy import sensitive_world

    world = sensitive_world(db, m.VotingMethod.rating, slug="datos-http")
    run = world["run"]
    r = client.get("/c/datos-http/data", headers={"Accept-Language": "en"})
    assert r.status_code == 200 and "Reproduce the ranking" in r.text
    assert "idmx-datos-http-datos.zip" in r.text and run.fingerprint in r.text
    assert "idmx rank --cells cells.csv --statistics statistics.csv --mode rating" in r.text
    r = client.get("/c/datos-http/data/idmx-datos-http-datos.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="idmx-datos-http-datos.zip"'
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert zf.namelist() == list(data.PACKAGE_FILES)
    r = client.get("/c/datos-http/data/runs.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbfrun_id,method,computed_on,fingerprint") and run.fingerprint.encode() in r.content
    # Pseudonymised files only come inside the package; anything else is not found.
    for name in ("respondents.csv", "votes.csv", "datapackage.json", "otro.csv", "..%2Fsecret"):
        assert client.get(f"/c/datos-http/data/{name}").status_code == 404, name

    factories.consultation(db, "abierta-http", phase="open")
    factories.consultation(db, "borrador-http", phase="closed", status=m.ConsultationStatus.draft)
    for path in ("/c/abierta-http/data", "/c/abierta-http/data/proposals.csv", "/c/abierta-http/data/idmx-abierta-http-datos.zip"):
        r = client.get(path, headers={"Accept-Language": "en"})
        assert r.status_code == 409 and "still open" in r.text, path
    assert client.get("/c/borrador-http/data").status_code == 404
    assert client.get("/c/no-existe/data").status_code == 404


def test_downloads_build_the_protected_files_one_at_a_time_and_rank_them_once(db: Database, client, monkeypatch):
    from tests.exports.test_privacy import sensitive_world

    sensitive_world(db, m.VotingMethod.rating, slug="datos-ocupados")
    monkeypatch.setattr(data, "BUILD_WAIT_S", 0.3)
    assert data._BUILDS.acquire(timeout=5)  # another download is building right now
    try:
        started = time.monotonic()
        r = client.get("/c/datos-ocupados/data/statistics.csv", headers={"Accept-Language": "en"})
        assert time.monotonic() - started < 3
        assert r.status_code == 503 and r.headers["retry-after"] == "30"
        assert "Many people are downloading" in r.text and "Nothing is lost" in r.text
        zipped = client.get("/c/datos-ocupados/data/idmx-datos-ocupados-datos.zip")
        assert zipped.status_code == 503 and not zipped.content.startswith(b"PK")  # refused whole, not cut off
        # Files that need no protection are served meanwhile.
        assert client.get("/c/datos-ocupados/data/proposals.csv").status_code == 200
    finally:
        data._BUILDS.release()
    assert client.get("/c/datos-ocupados/data/statistics.csv").status_code == 200

    # The ranking of the same protected inputs is fitted once, and is what a fresh fit gives.
    data._RANKINGS.clear()
    info = data.package_info(db, "datos-ocupados")
    first, second = data.prepare(db, info), data.prepare(db, info)
    assert second.ranking is first.ranking and len(data._RANKINGS) == 1
    params = data.run_params(info, data.published_run(db, info))
    assert first.ranking == pipeline.compute_ranking(first.inputs, params, segments=False).rows


@pytest.mark.parametrize("method", [m.VotingMethod.approval, m.VotingMethod.pairwise])
def test_a_consultation_that_closed_without_votes_has_a_whole_empty_package(db: Database, client, tmp_path: Path,
                                                                            method):
    import frictionless

    c = factories.consultation(db, "sin-votos", phase="closed", voting_method=method)
    factories.proposals(db, c.id, ["Calidad del aire por estación"])
    r = client.get("/c/sin-votos/data/idmx-sin-votos-datos.zip")
    assert r.status_code == 200
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        assert zf.namelist() == list(data.PACKAGE_FILES)
        zf.extractall(tmp_path)
    package = json.loads((tmp_path / "datapackage.json").read_text(encoding="utf-8"))
    assert package["published_run"] is None and package["inputs_fingerprint"] is None
    assert package["disclosure_control"]["residual_risk"] == 0
    for name in ("respondents.csv", "cells.csv", "statistics.csv", "ranking.csv"):
        assert len((tmp_path / name).read_text(encoding="utf-8-sig").splitlines()) == 1, name  # the header only
    assert "Calidad del aire" in (tmp_path / "proposals.csv").read_text(encoding="utf-8-sig")
    report = frictionless.validate(tmp_path / "datapackage.json")
    assert report.valid, report.flatten(["resource", "type", "note"])[:10]

"""`idmx rank`: the command line reproduces stored runs; file errors are one clear message."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import insert, select
from tests import factories

from idmx import seeding
from idmx.cli import main
from idmx.db import Database
from idmx.db import models as m
from idmx.ranking import files, pipeline
from idmx.ranking import services as runs

DEMO = {"idmx-2027": "approval", "idmx-2026": "rating", "semarnat-ambiente-2027": "pairwise"}
FINGERPRINT = re.compile(r"fingerprint: ([0-9a-f]{64})")


def _env(db: Database, tmp_path: Path) -> dict[str, str]:
    return {"IDMX_DATABASE_URL": db.url, "IDMX_VAR_DIR": str(tmp_path / "var"), "IDMX_ENV": "test"}


@pytest.mark.slow
def test_the_command_line_reproduces_stored_runs(db: Database, tmp_path: Path):
    seeding.seed_demo(db)
    runner = CliRunner()
    env = _env(db, tmp_path)
    for slug, method in DEMO.items():
        # The app's path: `idmx rank --consultation` stores a run and prints its fingerprint and top 10.
        result = runner.invoke(main, ["rank", "--consultation", slug], env=env)
        assert result.exit_code == 0, result.output
        assert f", {method}, " in result.output
        printed = FINGERPRINT.search(result.output).group(1)
        with db.read() as s:
            cid = s.scalar(select(m.Consultation.id).where(m.Consultation.slug == slug))
        run = runs.latest_run(db, cid)
        assert run.fingerprint == printed
        assert len([line for line in result.output.splitlines() if "#" in line]) == min(10, len(run.results))

        written = runs.write_inputs(db, cid, tmp_path / slug)
        out = tmp_path / slug / "ranking.csv"
        args = ["rank", "--respondents", str(written.respondents), "--votes", str(written.votes), "--mode", method,
                "--targets", str(written.targets), "--out", str(out), "--weights-out", str(tmp_path / slug / "w.csv")]
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert FINGERPRINT.search(result.output).group(1) == run.fingerprint
        assert out.read_bytes() == files.render_ranking(run.results).encode()
        # Approval and rating also print the rows' format 2 fingerprint, which runs stored before
        # format 3 carry: the database's rows give the same one.
        earlier = re.search(r"fingerprint \(format 2, [^)]*\): ([0-9a-f]{64})", result.output)
        if method == "pairwise":
            assert earlier is None
        else:
            db_rows = runs._read_db_inputs(db, cid, pipeline.RunParams(), keep_rows=True)
            assert earlier.group(1) == db_rows.format2_fingerprint != run.fingerprint
        header = (tmp_path / slug / "w.csv").read_text().splitlines()[0]
        assert header == "respondent_id,weight"

        if method == "pairwise":  # once through a real process: `python -m idmx rank`
            out2 = tmp_path / slug / "ranking2.csv"
            proc = subprocess.run(
                [sys.executable, "-m", "idmx", *args[:-4], "--out", str(out2)],
                capture_output=True, text=True, env={**os.environ, **env}, timeout=300, check=False,
            )
            assert proc.returncode == 0, proc.stderr
            assert FINGERPRINT.search(proc.stdout).group(1) == run.fingerprint
            assert out2.read_bytes() == out.read_bytes()


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _rank(tmp_path: Path, respondents: str, votes: str, mode: str, *extra: str, targets: str | None = None):
    args = ["rank", "--respondents", str(_write(tmp_path / "R.csv", respondents)),
            "--votes", str(_write(tmp_path / "V.csv", votes)), "--mode", mode, "--out", str(tmp_path / "out.csv"), *extra]
    if targets is not None:
        args += ["--targets", str(_write(tmp_path / "T.csv", targets))]
    return CliRunner().invoke(main, args)


R = "respondent_id,segment,state\n1,academia,09\n2,citizens,\n3,academia,14\n"


@pytest.mark.parametrize(
    ("respondents", "votes", "mode", "targets", "expected"),
    [
        pytest.param("id,segment\n1,a\n", "respondent_id,proposal_id,value\n1,1,1\n", "approval", None,
                     "R.csv, line 1, column 'respondent_id': missing column 'respondent_id'", id="missing-column"),
        pytest.param(R, "respondent_id,proposal_id\n1,1\n", "rating", None,
                     "V.csv, line 1, column 'value': missing column 'value'", id="missing-vote-column"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,1\n2,10,0\n\n7,10,1\n", "approval", None,
                     "V.csv, line 5, column 'respondent_id': respondent '7' is not in R.csv", id="unknown-respondent"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,3\n2,10,6\n", "rating", None,
                     "V.csv, line 3, column 'value': value '6' is not a rating from 1 to 5", id="rating-out-of-range"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,1\n2,10,2\n", "approval", None,
                     "V.csv, line 3, column 'value': value '2' is not 1 (supported) or 0", id="approval-out-of-range"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,1\n1,10,0\n", "approval", None,
                     "V.csv, line 3, column 'proposal_id': respondent 1 already voted on proposal 10 on line 2",
                     id="duplicate-vote"),
        pytest.param(R, "respondent_id,winner_id,loser_id\n1,10,11\n2,11,10\n3,12,10\n", "pairwise", None,
                     "V.csv, line 4, column 'winner_id': with --ridge 0 every proposal must be linked", id="disconnected"),
        pytest.param(R, "respondent_id,winner_id,loser_id\n1,10,10\n", "pairwise", None,
                     "V.csv, line 2, column 'loser_id': proposal 10 cannot beat itself", id="self-comparison"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,1\n", "approval",
                     "variable,category,target\nsegment,academia,0.5\nsegment,citizens,-1\n",
                     "T.csv, line 3, column 'target': target '-1' is not a number >= 0", id="negative-target"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,1\n", "approval",
                     "variable,category,target\nsegment,academia,0.5\nsegment,citizens,0.3\nsegment,journalists,0.2\n",
                     "T.csv, line 4, column 'category': category 'journalists' of variable 'segment' has a target but no respondents",
                     id="empty-target-category"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,1\n", "approval",
                     "variable,category,target\nstate,09,1\nstate,14,1\n",
                     "R.csv, line 3, column 'state': category 'not_stated' of variable 'state' has no row in T.csv",
                     id="category-without-target"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,1\n", "approval", "variable,category,target\nage,18-29,1\n",
                     "T.csv, line 2, column 'variable': variable 'age' is not a column of R.csv", id="unknown-variable"),
        pytest.param("respondent_id,segment\n1,a\n1,b\n", "respondent_id,proposal_id,value\n1,1,1\n", "approval", None,
                     "R.csv, line 3, column 'respondent_id': respondent 1 is listed twice (first on line 2)",
                     id="duplicate-respondent"),
        pytest.param(R, "respondent_id,proposal_id,value\n1,10,1,9\n", "approval", None,
                     "V.csv, line 2: 4 fields, but the header has 3", id="too-many-fields"),
    ],
)
def test_file_errors_name_file_line_and_column(tmp_path, respondents, votes, mode, targets, expected):
    extra = ("--ridge", "0") if mode == "pairwise" else ()
    result = _rank(tmp_path, respondents, votes, mode, *extra, targets=targets)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    message = lines[0].replace(f"{tmp_path}{os.sep}", "")  # files are named as given on the command line
    assert message.startswith("Error: ") and expected in message, message
    assert not (tmp_path / "out.csv").exists()


def test_connected_graph_with_ridge_0_and_string_ids(tmp_path):
    respondents = "respondent_id,segment\nana,x\nbeto,y\n"
    votes = "respondent_id,winner_id,loser_id\nana,A,B\nbeto,B,C\nana,C,A\nbeto,A,C\n"
    result = _rank(tmp_path, respondents, votes, "pairwise", "--ridge", "0", "--rank-by", "point")
    assert result.exit_code == 0, result.output
    ranking = (tmp_path / "out.csv").read_text().splitlines()
    assert ranking[0] == "rank,proposal_id,score,ci_low,ci_high,n_eff,n_votes,theta,rank_low,rank_high"
    assert [line.split(",")[1] for line in ranking[1:]] == ["A", "B", "C"]


def test_ids_are_kept_exactly_as_written(tmp_path):
    """Ids are text: leading zeros stay, "007" and "7" are two proposals, and each is written back as read."""
    respondents = "respondent_id,segment\n001,a\n002,b\n010,a\n"
    votes = ("respondent_id,proposal_id,value\n001,01612910137588,1\n001,007,0\n002,01612910137588,1\n"
             "002,7,1\n010,007,1\n010,7,0\n")
    result = _rank(tmp_path, respondents, votes, "approval", "--weights-out", str(tmp_path / "w.csv"))
    assert result.exit_code == 0, result.output
    ranking = (tmp_path / "out.csv").read_text().splitlines()
    assert sorted(line.split(",")[1] for line in ranking[1:]) == ["007", "01612910137588", "7"]
    weights = (tmp_path / "w.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in weights[1:]] == ["001", "002", "010"]
    # A vote for a respondent written differently from R.csv is someone else: refused, with the line.
    bad = _rank(tmp_path, respondents, "respondent_id,proposal_id,value\n1,7,1\n", "approval")
    assert bad.exit_code != 0 and "'1' is not in" in bad.output and "line 2" in bad.output


def test_row_order_and_number_format_do_not_change_the_fingerprint(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = _rank(tmp_path / "a",
              "respondent_id,state,segment\n2,14,citizens\n1,09,academia\n",
              "respondent_id,proposal_id,value\n2,10,4\n1,11,5\n1,10,3\n", "rating",
              targets="variable,category,target\nsegment,citizens,1\nsegment,academia,1.0\n")
    b = _rank(tmp_path / "b",
              "respondent_id,segment,state\n1,academia,09\n2, citizens ,14\n",
              "respondent_id,proposal_id,value\n1,10,3\n1,11,5.0\n2,10,4\n", "rating",
              targets="variable,category,target\nsegment,academia,1\nsegment,citizens,1\n")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    assert FINGERPRINT.search(a.output).group(1) == FINGERPRINT.search(b.output).group(1)
    assert (tmp_path / "a" / "out.csv").read_bytes() == (tmp_path / "b" / "out.csv").read_bytes()


def test_usage_errors(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["rank"])
    assert result.exit_code == 2 and "give --consultation SLUG, or files" in result.output
    result = runner.invoke(main, ["rank", "--consultation", "x", "--votes", "V.csv"])
    assert result.exit_code == 2 and "does not take --votes" in result.output


def test_unknown_consultation(db: Database, tmp_path):
    result = CliRunner().invoke(main, ["rank", "--consultation", "no-existe"], env=_env(db, tmp_path))
    assert result.exit_code == 1 and "there is no consultation 'no-existe'" in result.output


def test_a_run_without_flagged_respondents_is_stored_and_reproduced_from_its_files(db: Database, tmp_path: Path):
    c = factories.consultation(db, "con-marcas")
    ids = factories.proposals(db, c.id, ["Calidad del aire", "Escuelas", "Contratos"])
    with db.write() as s:
        for i in range(9):
            r = m.Respondent(consultation_id=c.id, token_hash=f"{i:064d}")
            s.add(r)
            s.flush()
            s.execute(insert(m.Exposure), [{"respondent_id": r.id, "proposal_id": p, "consultation_id": c.id} for p in ids])
            s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": ids[i % 3], "respondent_id": r.id,
                                        "value": 1}])
            if i < 2:
                s.add(m.RespondentFlag(consultation_id=c.id, respondent_id=r.id, kind="burst", detail="address=40"))
    runner, env = CliRunner(), _env(db, tmp_path)
    result = runner.invoke(main, ["rank", "--consultation", c.slug, "--without-flagged"], env=env)
    assert result.exit_code == 0, result.output
    assert "flagged as suspicious: 2 respondents (left out)" in result.output and "7 respondents" in result.output
    run = runs.latest_run(db, c.id, excludes_flagged=True)
    assert run.fingerprint == FINGERPRINT.search(result.output).group(1) and run.params["exclude_flagged"] is True
    assert runs.latest_run(db, c.id) is None  # the run of every vote is another run

    written = runs.write_inputs(db, c.id, tmp_path / "files", params=pipeline.RunParams(exclude_flagged=True))
    assert written.fingerprint == run.fingerprint
    out = tmp_path / "files" / "ranking.csv"
    result = runner.invoke(main, ["rank", "--respondents", str(written.respondents), "--votes", str(written.votes),
                                  "--mode", "approval", "--targets", str(written.targets), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert FINGERPRINT.search(result.output).group(1) == run.fingerprint
    assert out.read_bytes() == files.render_ranking(run.results).encode()
    usage = runner.invoke(main, ["rank", "--without-flagged", "--votes", "V.csv"])
    assert usage.exit_code == 2 and "--without-flagged ranks from the database" in usage.output

"""Privacy by construction, over EVERY export format and the public JSON API: edition CSV/XLSX/JSON/JSON-LD,
plan and all-plans CSV/XLSX/JSON, compliance CSV/XLSX/JSON, the consultation data zips, the command
line's plan/compliance files, and the list (and detail) endpoints of /api/v1.

The world holds private values in every private field the schema has: staff e-mails and password
hashes, audit before/after, respondents' organisation and uses (with e-mail and IP addresses), raw
respondent tokens and their hashes, hidden and pending proposals (and their hiding reasons and report
reasons), draft consultations and editions, follower e-mails and token hashes, outbox recipients,
bodies and errors, and API tokens (raw and hashed). None may appear anywhere.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from idmx import clock
from idmx.cli import main
from idmx.db import Database
from idmx.db import models as m
from idmx.exports import services as data
from idmx.plans import policy
from idmx.plans import services as plan_items
from tests import factories
from tests.api import world as api_world
from tests.exports.scan import assert_clean
from tests.exports.test_privacy import STAFF_EMAIL, sensitive_world

FOLLOWER = "seguidora.privada@example.org"
FOLLOW_SECRET = "follow-secret-Zq8xW3vN5mT1kR7p"
OUTBOX_SECRET = "Cuerpo del correo con enlace privado"
OUTBOX_ERROR = "SMTP 550 desde 172.16.5.4 rechazado"


@pytest.fixture
def settings(settings):
    """A real-looking public address: the default (http://127.0.0.1:8000) is an IP address the scan would flag
    in the DCAT catalogue's links, although it is the site's own public address, not anyone's data."""
    return settings.with_(public_url="https://idmx.example.mx")


def _minute_marks(times: list[datetime]) -> dict[str, str]:
    """Private moments (vote times...) as literals, both ways a file could write them, to the minute."""
    marks = {}
    for i, t in enumerate(times):
        for sep in ("T", " "):
            marks[f"private time {i}{sep}"] = t.strftime(f"%Y-%m-%d{sep}%H:%M")
    return marks


def _private_rows(db: Database, world: dict) -> dict[str, str]:
    """Followers, outbox, answers given by a named staff member; returns the extra literals."""
    on = clock.today()
    with db.write() as s:
        staff = s.scalar(select(m.StaffUser).where(m.StaffUser.email.like(f"%{STAFF_EMAIL}")))
        plan_ids = list(s.scalars(select(m.PlanItem.id).order_by(m.PlanItem.id)))
        first = s.get(m.PlanItem, plan_ids[0])
        if first.status == m.PlanStatus.pending:
            plan_items.apply_move(s, first, lambda a: policy.publish(a, "https://datos.gob.mx/dataset/x", on), actor_id=staff.id)
        s.add(m.Follow(plan_item_id=plan_ids[0], email=FOLLOWER, language="es",
                       token_hash=hashlib.sha256(FOLLOW_SECRET.encode()).hexdigest()))
        s.add(m.OutboxMessage(to_email=FOLLOWER, subject="Aviso", body=f"{OUTBOX_SECRET} {FOLLOW_SECRET}",
                              last_error=OUTBOX_ERROR))
        s.flush()
        hashes = {
            **{f"respondent hash {i}": h for i, h in enumerate(s.scalars(select(m.Respondent.token_hash)))},
            **{f"api token hash {i}": h for i, h in enumerate(s.scalars(select(m.ApiToken.token_hash)))},
            **{f"follow hash {i}": h for i, h in enumerate(s.scalars(select(m.Follow.token_hash)))},
            **{f"password hash {i}": h for i, h in enumerate(s.scalars(select(m.StaffUser.password_hash)))},
        }
        c_id = world["consultation"].id
        times = list(s.scalars(select(m.Vote.cast_at).where(m.Vote.consultation_id == c_id)))
        times += list(s.scalars(select(m.Respondent.participated_at).where(m.Respondent.consultation_id == c_id)))
    return {**hashes, **_minute_marks(sorted({t.replace(second=0, microsecond=0) for t in times if t}))}


def test_every_export_format_and_the_api_are_clean(db: Database, client, tmp_path, monkeypatch):
    world = sensitive_world(db)
    api = api_world.build(db)
    factories.published_edition(db, ["Calidad del aire privada", "Descargas de agua privadas"], series="idmx-privada",
                                institution="INEGI")
    literals = {
        **world["literals"], **_private_rows(db, world),
        "api secret marker": api_world.SECRET, "respondent organisation (api world)": api_world.RESPONDENT_MARK,
        "raw api token": api.token, "other raw api token": api.other_token, "follow secret": FOLLOW_SECRET,
        "outbox body": OUTBOX_SECRET, "outbox error": OUTBOX_ERROR,
    }
    with db.read() as s:
        fingerprints = list(s.scalars(select(m.RankingRun.fingerprint)))
        editions = list(s.execute(select(m.Edition.id, m.Edition.series, m.Edition.version)
                                  .where(m.Edition.status == m.EditionStatus.published)))
        plan_ids = list(s.scalars(select(m.PlanItem.id)))
        run_ids = list(s.execute(select(m.Consultation.slug, m.RankingRun.id)
                                 .join(m.RankingRun, m.RankingRun.consultation_id == m.Consultation.id)))
        slugs = list(s.scalars(select(m.Consultation.slug)))

    def get(url: str) -> bytes:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
        return r.content

    files: dict[str, bytes] = {}   # scanned for times of day too
    timed: dict[str, bytes] = {}   # carry public times (publication, opening...): private times as literals
    for _id, series, version in editions:
        files[f"{series}.csv"] = get(f"/idmx/{series}/v{version}/idmx.csv")
        files[f"{series}.xlsx"] = get(f"/idmx/{series}/v{version}/idmx.xlsx")
        timed[f"{series}.json"] = get(f"/idmx/{series}/v{version}/idmx.json")
        timed[f"{series}.jsonld"] = get(f"/idmx/{series}/v{version}/idmx.jsonld")
    for stem in ("/institutions/SEMARNAT/plan", "/institutions/INEGI/plan", "/institutions/plans", "/monitoring"):
        for fmt in ("csv", "xlsx", "json"):
            files[f"{stem}.{fmt}"] = get(f"{stem}.{fmt}")
    for slug in ("privada", "cerrada"):
        info = data.package_info(db, slug)
        files[f"{slug}.zip"] = get(f"/c/{slug}/data/{info.zip_name}")
        with zipfile.ZipFile(io.BytesIO(files[f"{slug}.zip"])) as zf:  # the published inputs' own fingerprint
            fingerprints.append(json.loads(zf.read("datapackage.json"))["inputs_fingerprint"])

    monkeypatch.setenv("IDMX_DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("IDMX_VAR_DIR", str(tmp_path / "var"))
    for args in (["plans", "--format", "json"], ["plans", "--format", "xlsx"], ["compliance", "--format", "csv"],
                 ["plan", "SEMARNAT", "--format", "csv"], ["edition", "idmx-privada", "--format", "xlsx"]):
        out = tmp_path / ("-".join(args) + "." + args[-1])
        result = CliRunner().invoke(main, ["export", *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        files[f"cli/{out.name}"] = out.read_bytes()

    api_urls = ["/api/v1/consultations?per_page=100", "/api/v1/editions?per_page=100",
                "/api/v1/institutions?per_page=100", "/api/v1/plan-items?per_page=100", "/api/v1/compliance",
                "/api/v1/legal-bases", "/api/v1/institutions/SEMARNAT/plan?per_page=100",
                "/api/v1/institutions/INEGI/plan?per_page=100"]
    api_urls += [f"/api/v1/editions/{e}" for e, _s, _v in editions]
    api_urls += [f"/api/v1/editions/{e}/items?per_page=100" for e, _s, _v in editions]
    api_urls += [f"/api/v1/plan-items/{i}" for i in plan_ids]
    api_urls += [f"/api/v1/consultations/{slug}" for slug in slugs if slug != "borrador"]
    api_urls += [f"/api/v1/consultations/{slug}/proposals?per_page=100" for slug in slugs if slug != "borrador"]
    for url in api_urls:
        timed[url] = get(url)
    for slug, run_id in run_ids:  # runs of consultations whose results are not public yet answer 404
        for url in (f"/api/v1/consultations/{slug}/runs", f"/api/v1/consultations/{slug}/runs/{run_id}"):
            r = client.get(url)
            assert r.status_code in (200, 404), (url, r.status_code)
            if r.status_code == 200:
                timed[url] = r.content
    assert "/api/v1/consultations/privada/runs" in timed and "/api/v1/consultations/cerrada/runs" in timed

    # The draft consultation and edition are not there at all.
    assert client.get("/api/v1/consultations/borrador").status_code == 404
    assert client.get(f"/api/v1/editions/{api.draft_edition_id}").status_code == 404

    # The scan has something to look for, and everything to look in.
    assert sum(k.startswith("private time") for k in literals) >= 2 and sum("hash" in k for k in literals) >= 20
    assert len(files) >= 20 and len(timed) >= 25
    assert_clean(files, literals=literals, allowed_hex=fingerprints)
    assert_clean(timed, literals=literals, allowed_hex=fingerprints, timestamps=False)

"""Privacy by construction: no export leaks e-mails, IP addresses, tokens or their hashes, vote
times, hidden or pending proposals, staff notes or report reasons (scan helper: tests/exports/scan.py)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import insert, select

from idmx.cli import main
from idmx.clock import now as utcnow
from idmx.db import Database
from idmx.db import models as m
from idmx.exports import services as data
from idmx.ranking import services as runs
from tests import factories
from tests.exports.scan import assert_clean, scan_text

RAW_TOKENS = [f"cookie-token-{i:02d}-Zq8xW3vN5mT1kR7p" for i in range(12)]
HIDDEN_TITLE = "Secreto ocultado por moderación"
PENDING_TITLE = "Propuesta pendiente reservada"
STAFF_EMAIL = "moderadora.interna@idmx.gob.mx"
STAFF_NOTE = "Nota interna del personal sobre el caso 4711"
REPORT_REASON = "Denuncia con datos del denunciante"
ORGANISATION = "Colectivo ana.perez@example.org"
USE_TEXT = "Lo usaremos desde 192.168.10.20 y 2001:db8::1"


def sensitive_world(db: Database, method: m.VotingMethod = m.VotingMethod.approval, slug: str = "privada") -> dict:
    """A closed consultation whose private fields hold e-mails, IP addresses, tokens and hidden text.

    Returns what must never appear in an export (``literals``) and the consultation.
    """
    c = factories.consultation(db, slug, phase="closed", voting_method=method)
    published = factories.proposals(db, c.id, factories.TITLES[:4])
    (hidden,) = factories.proposals(db, c.id, [HIDDEN_TITLE], status=m.ProposalStatus.hidden,
                                    hidden_reason="Oculta: escribió a quejas@example.com desde 10.1.2.3")
    (pending,) = factories.proposals(db, c.id, [PENDING_TITLE], status=m.ProposalStatus.pending,
                                     description="Contacto: pendiente@example.net")
    (merged,) = factories.proposals(db, c.id, ["Calidad del aire duplicada"], status=m.ProposalStatus.merged,
                                    merged_into_id=published[0])
    now = utcnow()
    with db.write() as s:
        segs = list(s.scalars(select(m.Segment.id).order_by(m.Segment.id)))
        states = list(s.scalars(select(m.State.id).order_by(m.State.id)))
        staff = m.StaffUser(email=f"{slug}.{STAFF_EMAIL}", password_hash="$argon2id$" + "x" * 60, role=m.Role.central_admin)
        s.add(staff)
        s.flush()
        respondents = []
        for i, token in enumerate(RAW_TOKENS):
            r = m.Respondent(consultation_id=c.id, token_hash=hashlib.sha256(token.encode()).hexdigest(),
                             segment_id=segs[i % 3], state_id=states[i % 5] if i % 4 else None,
                             organisation=ORGANISATION, use_who=USE_TEXT, use_purpose=token, use_benefit=STAFF_EMAIL,
                             created_at=now - timedelta(days=2), participated_at=now - timedelta(days=2))
            s.add(r)
            s.flush()
            respondents.append(r.id)
        for i, rid in enumerate(respondents):
            shown = published + [hidden]
            cast = now - timedelta(days=2, minutes=i)
            if method == m.VotingMethod.approval:
                s.execute(insert(m.Exposure), [{"respondent_id": rid, "proposal_id": p, "consultation_id": c.id} for p in shown])
                s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": p, "respondent_id": rid, "value": 1,
                                            "cast_at": cast} for j, p in enumerate(shown) if (i + j) % 2 == 0])
            elif method == m.VotingMethod.rating:
                s.execute(insert(m.Vote), [{"consultation_id": c.id, "proposal_id": p, "respondent_id": rid,
                                            "value": 1 + (i + j) % 5, "cast_at": cast} for j, p in enumerate(shown)])
            else:
                pairs = [(published[j], published[(j + 1) % 4]) for j in range(4)] + [(published[0], hidden)]
                s.execute(insert(m.PairwiseVote), [
                    {"consultation_id": c.id, "respondent_id": rid, "left_id": a, "right_id": b,
                     "winner_id": a if (i + k) % 3 else b, "cast_at": cast} for k, (a, b) in enumerate(pairs)])
        s.add(m.ProposalReport(proposal_id=published[1], consultation_id=c.id, respondent_id=respondents[0],
                               reason=REPORT_REASON + " reporta@example.com"))
        s.add(m.AuditEvent(actor_id=staff.id, action="proposal.hide", object_type="proposal", object_id=hidden,
                           before={"email": STAFF_EMAIL}, after={"note": STAFF_NOTE}, public_note=""))
    run = runs.run_for_consultation(db, c.id)
    literals = {
        "hidden proposal title": HIDDEN_TITLE, "pending proposal title": PENDING_TITLE,
        "staff note": STAFF_NOTE, "report reason": REPORT_REASON, "respondent organisation": ORGANISATION,
        "respondent intended use": USE_TEXT,
        **{f"raw token {i}": t for i, t in enumerate(RAW_TOKENS)},
    }
    return {"consultation": c, "run": run, "literals": literals, "hidden": hidden, "pending": pending, "merged": merged}


def test_the_scan_finds_what_it_looks_for():
    text = f"{ORGANISATION} {USE_TEXT} {hashlib.sha256(b'x').hexdigest()} 2027-03-01T12:00:00 {HIDDEN_TITLE}"
    kinds = {f.kind for f in scan_text("x.csv", text, literals={"hidden": HIDDEN_TITLE})}
    assert kinds == {"e-mail address", "IPv4 address", "IPv6 address", "64-hex string (token hash?)",
                     "timestamp with a time of day", "hidden"}
    assert not scan_text("ok.csv", "rank,score\n1,-0.5\n2,0.25\n12:30,1.2.3,2027-03-01\n")


def test_no_export_format_leaks_private_data(db: Database, client, tmp_path: Path):
    for method in m.VotingMethod:
        world = sensitive_world(db, method, slug=f"privada-{method.value}")
        c, run = world["consultation"], world["run"]
        assert run.summary["respondents"] == len(RAW_TOKENS)
        info = data.package_info(db, c.slug)
        exported: dict[str, bytes] = {"package.zip": b"".join(data.zip_chunks(db, info))}
        # The command line's directory export.
        out = tmp_path / c.slug
        result = CliRunner().invoke(main, ["export", "consultation", c.slug, "--out", str(out)],
                                    env={"IDMX_DATABASE_URL": db.url, "IDMX_VAR_DIR": str(tmp_path / "var")})
        assert result.exit_code == 0, result.output
        exported |= {f"cli/{p.name}": p.read_bytes() for p in sorted(out.iterdir())}
        assert {f"cli/{n}" for n in data.PACKAGE_FILES} <= set(exported)
        # Every web download, the zip and the page itself.
        r = client.get(f"/c/{c.slug}/data")
        assert r.status_code == 200
        exported["page.html"] = r.content
        for name in (*data.DOWNLOADABLE, info.zip_name):
            r = client.get(f"/c/{c.slug}/data/{name}")
            assert r.status_code == 200, (name, r.text[:200])
            exported[f"web/{name}"] = r.content
        # The results page's CSV download.
        exported["results.csv"] = client.get(f"/c/{c.slug}/results/ranking.csv").content
        with db.read() as s:
            hashes = list(s.scalars(select(m.Respondent.token_hash).where(m.Respondent.consultation_id == c.id)))
        literals = {**world["literals"], **{f"token hash {i}": h for i, h in enumerate(hashes)}}
        package = json.loads(exported["cli/datapackage.json"])
        assert_clean(exported, literals=literals, allowed_hex={run.fingerprint, package["inputs_fingerprint"]})
        # The votes of the hidden proposal are not exported either (nor its id).
        stats = exported["cli/statistics.csv"].decode("utf-8-sig").splitlines()[1:]
        ids = {x for line in stats for x in line.split(",")[2:4]} if method == m.VotingMethod.pairwise else {
            line.split(",")[0] for line in stats}
        assert str(world["hidden"]) not in ids and str(world["pending"]) not in ids
        proposals = exported["cli/proposals.csv"].decode("utf-8-sig")
        assert f"\r\n{world['merged']}," in proposals  # merged ones are public, with their survivor
        assert f"\r\n{world['hidden']}," not in proposals and f"\r\n{world['pending']}," not in proposals

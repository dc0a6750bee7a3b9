"""The vote tallies that database triggers keep (migration 0007), checked and rebuilt from the rows.

`m.VoteTally` holds, per proposal and weighting cell, what a ranking needs; `m.Respondent`'s
``n_exposures`` / ``n_votes`` say who has rows and `m.CellRespondents` counts those per cell. Triggers keep both current on every write, so the
application never writes them. This module recomputes them from the exposures and votes:
`differences` for tests and the ``idmx tallies check`` command, `rebuild` to repair or to fill
them after a bulk load that bypassed triggers (PostgreSQL ``session_replication_role = replica``).
"""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from idmx.db import Database
from idmx.db import models as m
from idmx.db.models import TALLY_WORDS
from idmx.errors import NotFound
from idmx.i18n import gettext as _

__all__ = ["VALUES", "differences", "rebuild"]

VALUES = ("exposures", "supporters", "n", "total", "total_sq")
_KEY = ("consultation_id", "proposal_id", "segment_key", "state_key")

# Every row's contribution, summed per key: exposures (supported when the respondent has an
# approval vote on the proposal) and votes (count, sum and sum of squares of the values).
_RECOMPUTED = """
SELECT consultation_id, proposal_id, segment_key, state_key,
       sum(exposures) AS exposures, sum(supporters) AS supporters, sum(n) AS n, sum(total) AS total,
       sum(total_sq) AS total_sq
FROM (
    SELECT e.consultation_id, e.proposal_id, coalesce(r.segment_id, 0) AS segment_key,
           coalesce(r.state_id, 0) AS state_key, 1 AS exposures,
           CASE WHEN v.id IS NULL THEN 0 ELSE 1 END AS supporters, 0 AS n, 0 AS total, 0 AS total_sq
    FROM exposures e JOIN respondents r ON r.id = e.respondent_id
    LEFT JOIN votes v ON v.respondent_id = e.respondent_id AND v.proposal_id = e.proposal_id AND v.value = 1
    WHERE e.consultation_id = :c
    UNION ALL
    SELECT v.consultation_id, v.proposal_id, coalesce(r.segment_id, 0), coalesce(r.state_id, 0),
           0, 0, 1, v.value, v.value * v.value
    FROM votes v JOIN respondents r ON r.id = v.respondent_id
    WHERE v.consultation_id = :c
) contributions
GROUP BY consultation_id, proposal_id, segment_key, state_key
"""

_CELLS = """
SELECT coalesce(segment_id, 0), coalesce(state_id, 0),
       sum(CASE WHEN n_exposures > 0 THEN 1 ELSE 0 END), sum(CASE WHEN n_votes > 0 THEN 1 ELSE 0 END)
FROM respondents WHERE consultation_id = :c GROUP BY coalesce(segment_id, 0), coalesce(state_id, 0)
"""

_COUNTS = """
SELECT r.id, r.n_exposures, r.n_votes,
       (SELECT count(*) FROM exposures e WHERE e.respondent_id = r.id),
       (SELECT count(*) FROM votes v WHERE v.respondent_id = r.id)
FROM respondents r WHERE r.consultation_id = :c
"""


def _pack(word: tuple[tuple[str, int], ...], fields: dict[str, int]) -> int | None:
    """What the database's `packed_expression` gives for these fields."""
    if any(fields[name] >= 1 << bits for name, bits in word):
        return None
    value = 0
    for name, bits in word:
        value = (value << bits) + fields[name]
    return value


def differences(session: Session, consultation_id: int) -> list[str]:
    """Where the kept tallies differ from the rows (empty when they agree); one line per difference.
    The packed read columns are checked against the fields of their row."""
    params = {"c": consultation_id}
    out: list[str] = []
    kept = {}
    for row in session.execute(
        text(f"SELECT {', '.join(_KEY + VALUES + tuple(TALLY_WORDS))} FROM vote_tallies WHERE consultation_id = :c"), params
    ):
        key, values, words = tuple(row[:4]), tuple(row[4:4 + len(VALUES)]), tuple(row[4 + len(VALUES):])
        kept[key] = values
        fields = dict(zip(_KEY + VALUES, row))
        for name, have in zip(TALLY_WORDS, words):
            want = _pack(TALLY_WORDS[name], fields)
            if have != want:
                out.append(f"tally {dict(zip(_KEY, key))}: {name} is {have}, its fields give {want}")
    fresh = {tuple(row[:4]): tuple(row[4:]) for row in session.execute(text(_RECOMPUTED), params)}
    zero = (0,) * len(VALUES)
    for key in sorted(set(kept) | set(fresh)):
        have, want = kept.get(key, zero), fresh.get(key, zero)
        if tuple(map(int, have)) != tuple(map(int, want)):
            out.append(f"tally {dict(zip(_KEY, key))}: kept {dict(zip(VALUES, have))}, rows give {dict(zip(VALUES, want))}")
    for rid, n_exp, n_votes, exp, votes in session.execute(text(_COUNTS), params):
        if (n_exp, n_votes) != (exp, votes):
            out.append(f"respondent {rid}: kept {n_exp} exposures and {n_votes} votes, rows give {exp} and {votes}")
    kept_cells = {
        (seg, st): (exposed, voted)
        for seg, st, exposed, voted in session.execute(
            text("SELECT segment_key, state_key, exposed, voted FROM cell_respondents WHERE consultation_id = :c"), params
        )
    }
    fresh_cells = {(seg, st): (int(e), int(v)) for seg, st, e, v in session.execute(text(_CELLS), params)}
    for key in sorted(set(kept_cells) | set(fresh_cells)):
        have, want = kept_cells.get(key, (0, 0)), fresh_cells.get(key, (0, 0))
        if have != want:
            out.append(f"cell (segment {key[0]}, state {key[1]}): kept {have[0]} exposed and {have[1]} voting"
                       f" respondents, rows give {want[0]} and {want[1]}")
    return out


def rebuild(session: Session, consultation_id: int) -> None:
    """Recompute a consultation's tallies and respondent counts from its rows (in the caller's
    transaction). On PostgreSQL it locks the respondents table until the transaction ends: votes
    wait for it."""
    params = {"c": consultation_id}
    session.execute(text("DELETE FROM vote_tallies WHERE consultation_id = :c"), params)
    session.execute(text(f"INSERT INTO vote_tallies ({', '.join(_KEY + VALUES)}) {_RECOMPUTED}"), params)
    # The per-cell counts are recomputed whole below, so their trigger is of no use while the
    # respondents' counts change: on PostgreSQL it is switched off for this transaction (each of
    # thousands of updates to the same few cell rows would leave a row version the next one walks
    # past: minutes at national scale). SQLite cannot switch a trigger off; there the counts are
    # emptied first so that it never takes a respondent out of a wrong count below zero.
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        session.execute(text("ALTER TABLE respondents DISABLE TRIGGER trg_respondents_update_cells"))
    session.execute(text("DELETE FROM cell_respondents WHERE consultation_id = :c"), params)
    session.execute(
        text(
            "UPDATE respondents SET n_exposures = (SELECT count(*) FROM exposures e WHERE e.respondent_id = respondents.id),"
            " n_votes = (SELECT count(*) FROM votes v WHERE v.respondent_id = respondents.id)"
            " WHERE consultation_id = :c"
        ),
        params,
    )
    if postgres:
        session.execute(text("ALTER TABLE respondents ENABLE TRIGGER trg_respondents_update_cells"))
    session.execute(text("DELETE FROM cell_respondents WHERE consultation_id = :c"), params)
    session.execute(
        text(f"INSERT INTO cell_respondents (consultation_id, segment_key, state_key, exposed, voted) SELECT :c, *"
             f" FROM ({_CELLS}) cells"),
        params,
    )


def check(db: Database, slug: str | None = None, *, recompute: bool = False) -> tuple[int, list[str]]:
    """Compare (after `recompute`, rebuild) the tallies of one consultation or of every one; returns how
    many were checked and one line per difference."""
    with db.write() if recompute else db.read() as s:
        stmt = select(m.Consultation.id, m.Consultation.slug).order_by(m.Consultation.id)
        if slug is not None:
            stmt = stmt.where(m.Consultation.slug == slug)
        found = s.execute(stmt).all()
        if slug is not None and not found:
            raise NotFound(_("There is no consultation at this address.") + f" ({slug})")
        problems = []
        for cid, cslug in found:
            if recompute:
                rebuild(s, cid)
            problems.extend(f"{cslug}: {line}" for line in differences(s, cid))
    return len(found), problems

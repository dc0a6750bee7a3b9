"""Vote tallies kept by the database: per proposal and weighting cell, and per respondent.

A ranking run used to aggregate every exposure and vote of a consultation (millions of rows) each
time. These tables hold the sufficient statistics instead, kept current by triggers on the tables
they summarise, so every write path (the vote hot path, merges, profile changes, bulk imports, a
``psql`` session) updates them in its own transaction and none can forget to:

* ``vote_tallies``: per (consultation, proposal, segment, state) the exposures, the supporters
  (exposures with an approval vote), and the number, sum and sum of squares of vote values.
  ``segment_key`` / ``state_key`` are the ids, 0 when the question was skipped (a primary key
  cannot hold NULL).
* ``respondents.n_exposures`` / ``n_votes``: a respondent's rows, so a ranking finds its
  respondents without probing every one of them.

The trigger bodies are the same statements on both databases (SQLite trigger programs, PostgreSQL
PL/pgSQL functions). Deleting a respondent first deletes its exposures and votes, so their triggers
still find the respondent's cell (a cascade would run them after the row is gone).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 07:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "(consultation_id, proposal_id, segment_key, state_key)"
COLUMNS = "consultation_id, proposal_id, segment_key, state_key, exposures, supporters, n, total, total_sq"
VALUES = ("exposures", "supporters", "n", "total", "total_sq")
ADD = ", ".join(f"{c} = vote_tallies.{c} + excluded.{c}" for c in VALUES)


def _cell(x: str, column: str) -> str:
    return f"(SELECT coalesce(r.{column}, 0) FROM respondents r WHERE r.id = {x}.respondent_id)"


def _where_cell(x: str) -> str:
    return (f"consultation_id = {x}.consultation_id AND proposal_id = {x}.proposal_id"
            f" AND segment_key = {_cell(x, 'segment_id')} AND state_key = {_cell(x, 'state_id')}")


def _supported_vote(x: str) -> str:
    return (f"CASE WHEN EXISTS (SELECT 1 FROM votes v WHERE v.respondent_id = {x}.respondent_id"
            f" AND v.proposal_id = {x}.proposal_id AND v.value = 1) THEN 1 ELSE 0 END")


def _exposed(x: str) -> str:
    return (f"CASE WHEN {x}.value = 1 AND EXISTS (SELECT 1 FROM exposures e WHERE e.respondent_id = {x}.respondent_id"
            f" AND e.proposal_id = {x}.proposal_id) THEN 1 ELSE 0 END")


def _upsert(x: str, values: str) -> str:
    return (f"INSERT INTO vote_tallies ({COLUMNS}) SELECT {x}.consultation_id, {x}.proposal_id,"
            f" coalesce(r.segment_id, 0), coalesce(r.state_id, 0), {values}"
            f" FROM respondents r WHERE r.id = {x}.respondent_id"
            f" ON CONFLICT {KEY} DO UPDATE SET {ADD}")


def exposure_added(x: str) -> list[str]:
    return [_upsert(x, f"1, {_supported_vote(x)}, 0, 0, 0"),
            f"UPDATE respondents SET n_exposures = n_exposures + 1 WHERE id = {x}.respondent_id"]


def exposure_removed(x: str) -> list[str]:
    return [f"UPDATE vote_tallies SET exposures = exposures - 1, supporters = supporters - {_supported_vote(x)}"
            f" WHERE {_where_cell(x)}",
            f"UPDATE respondents SET n_exposures = n_exposures - 1 WHERE id = {x}.respondent_id"]


def vote_added(x: str) -> list[str]:
    # Supporters in a second statement: both databases check an upsert's candidate row (here
    # 0 exposures) before they find the conflict, and "supporters <= exposures" would reject it.
    return [_upsert(x, f"0, 0, 1, {x}.value, {x}.value * {x}.value"),
            f"UPDATE vote_tallies SET supporters = supporters + {_exposed(x)} WHERE {_where_cell(x)}",
            f"UPDATE respondents SET n_votes = n_votes + 1 WHERE id = {x}.respondent_id"]


def vote_removed(x: str) -> list[str]:
    return [f"UPDATE vote_tallies SET supporters = supporters - {_exposed(x)}, n = n - 1, total = total - {x}.value,"
            f" total_sq = total_sq - {x}.value * {x}.value WHERE {_where_cell(x)}",
            f"UPDATE respondents SET n_votes = n_votes - 1 WHERE id = {x}.respondent_id"]


def _respondent_rows(x: str, p: str) -> list[str]:
    """A respondent's five tally values on proposal ``p``."""
    exposed = f"FROM exposures e WHERE e.respondent_id = {x}.id AND e.proposal_id = {p}"
    voted = f"FROM votes v WHERE v.respondent_id = {x}.id AND v.proposal_id = {p}"
    return [
        f"(SELECT count(*) {exposed})",
        f"(SELECT count(*) {exposed} AND EXISTS (SELECT 1 FROM votes v WHERE v.respondent_id = e.respondent_id"
        " AND v.proposal_id = e.proposal_id AND v.value = 1))",
        f"(SELECT count(*) {voted})",
        f"(SELECT coalesce(sum(v.value), 0) {voted})",
        f"(SELECT coalesce(sum(v.value * v.value), 0) {voted})",
    ]


def _proposals_of(x: str) -> str:
    return (f"(SELECT proposal_id FROM exposures WHERE respondent_id = {x}.id"
            f" UNION SELECT proposal_id FROM votes WHERE respondent_id = {x}.id)")


def respondent_left_cell(old: str) -> str:
    """Take a respondent's rows out of the cell it was in."""
    subtract = ", ".join(f"{c} = {c} - {q}" for c, q in zip(VALUES, _respondent_rows(old, "vote_tallies.proposal_id")))
    return (f"UPDATE vote_tallies SET {subtract} WHERE consultation_id = {old}.consultation_id"
            f" AND segment_key = coalesce({old}.segment_id, 0) AND state_key = coalesce({old}.state_id, 0)"
            f" AND proposal_id IN {_proposals_of(old)}")


def respondent_entered_cell(new: str) -> str:
    return (f"INSERT INTO vote_tallies ({COLUMNS}) SELECT {new}.consultation_id, p.proposal_id,"
            f" coalesce({new}.segment_id, 0), coalesce({new}.state_id, 0), {', '.join(_respondent_rows(new, 'p.proposal_id'))}"
            f" FROM {_proposals_of(new)} p WHERE true ON CONFLICT {KEY} DO UPDATE SET {ADD}")


def respondent_deleted(old: str) -> list[str]:
    # Their own triggers subtract the rows while the respondent (and so its cell) still exists.
    return [f"DELETE FROM votes WHERE respondent_id = {old}.id", f"DELETE FROM exposures WHERE respondent_id = {old}.id"]


_CHANGED = {
    "exposures": "OLD.respondent_id IS NOT NEW.respondent_id OR OLD.proposal_id IS NOT NEW.proposal_id"
                 " OR OLD.consultation_id IS NOT NEW.consultation_id",
    "votes": "OLD.respondent_id IS NOT NEW.respondent_id OR OLD.proposal_id IS NOT NEW.proposal_id"
             " OR OLD.consultation_id IS NOT NEW.consultation_id OR OLD.value IS NOT NEW.value",
    "respondents": "OLD.segment_id IS NOT NEW.segment_id OR OLD.state_id IS NOT NEW.state_id",
}

# (table, event, statements). UPDATE moves a row: out of its old cell, into the new one.
TRIGGERS = {
    "exposures": {"INSERT": exposure_added("NEW"), "DELETE": exposure_removed("OLD"),
                  "UPDATE": exposure_removed("OLD") + exposure_added("NEW")},
    "votes": {"INSERT": vote_added("NEW"), "DELETE": vote_removed("OLD"),
              "UPDATE": vote_removed("OLD") + vote_added("NEW")},
    "respondents": {"UPDATE": [respondent_left_cell("OLD"), respondent_entered_cell("NEW")],
                    "DELETE": respondent_deleted("OLD")},
}


def _sqlite_triggers() -> list[str]:
    out = []
    for table, events in TRIGGERS.items():
        for event, statements in events.items():
            name = f"trg_{table}_{event.lower()}_tallies"
            timing = "BEFORE" if (table, event) == ("respondents", "DELETE") else "AFTER"
            what = "UPDATE OF segment_id, state_id" if (table, event) == ("respondents", "UPDATE") else event
            when = f" WHEN {_CHANGED[table]}" if event == "UPDATE" else ""
            body = "".join(f"  {stmt};\n" for stmt in statements)
            out.append(f"CREATE TRIGGER {name} {timing} {what} ON {table} FOR EACH ROW{when}\nBEGIN\n{body}END")
    return out


def _pg_triggers() -> list[str]:
    out = []
    for table, events in TRIGGERS.items():
        branches = []
        for event, statements in events.items():
            body = "".join(f"    {stmt};\n" for stmt in statements)
            branches.append(f"  IF TG_OP = '{event}' THEN\n{body}  END IF;\n")
        ret = "OLD" if table == "respondents" else "NULL"  # BEFORE DELETE must return OLD to go ahead
        fn = f"idmx_{table}_tallies"
        out.append(f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{''.join(branches)}"
                   f"  RETURN {ret};\nEND\n$$")
        for event in events:
            name = f"trg_{table}_{event.lower()}_tallies"
            timing = "BEFORE" if (table, event) == ("respondents", "DELETE") else "AFTER"
            what = "UPDATE OF segment_id, state_id" if (table, event) == ("respondents", "UPDATE") else event
            when = f" WHEN ({_CHANGED[table].replace(' IS NOT ', ' IS DISTINCT FROM ')})" if event == "UPDATE" else ""
            out.append(f"CREATE TRIGGER {name} {timing} {what} ON {table} FOR EACH ROW{when} EXECUTE FUNCTION {fn}()")
    return out


# The statistics recomputed from the rows (backfill); `idmx.ranking.tallies` keeps its own copy,
# since a migration must not change when the application code does.
BACKFILL = [
    f"""INSERT INTO vote_tallies ({COLUMNS})
    SELECT consultation_id, proposal_id, segment_key, state_key, sum(exposures), sum(supporters), sum(n), sum(total), sum(total_sq)
    FROM (
        SELECT e.consultation_id, e.proposal_id, coalesce(r.segment_id, 0) AS segment_key, coalesce(r.state_id, 0) AS state_key,
               1 AS exposures, CASE WHEN v.id IS NULL THEN 0 ELSE 1 END AS supporters, 0 AS n, 0 AS total, 0 AS total_sq
        FROM exposures e JOIN respondents r ON r.id = e.respondent_id
        LEFT JOIN votes v ON v.respondent_id = e.respondent_id AND v.proposal_id = e.proposal_id AND v.value = 1
        UNION ALL
        SELECT v.consultation_id, v.proposal_id, coalesce(r.segment_id, 0), coalesce(r.state_id, 0),
               0, 0, 1, v.value, v.value * v.value
        FROM votes v JOIN respondents r ON r.id = v.respondent_id
    ) rows
    GROUP BY consultation_id, proposal_id, segment_key, state_key""",
    "UPDATE respondents SET n_exposures = (SELECT count(*) FROM exposures e WHERE e.respondent_id = respondents.id),"
    " n_votes = (SELECT count(*) FROM votes v WHERE v.respondent_id = respondents.id)",
]


def upgrade() -> None:
    op.create_table(
        'vote_tallies',
        sa.Column('consultation_id', sa.Integer(), nullable=False),
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('segment_key', sa.Integer(), nullable=False),
        sa.Column('state_key', sa.Integer(), nullable=False),
        sa.Column('exposures', sa.Integer(), server_default='0', nullable=False),
        sa.Column('supporters', sa.Integer(), server_default='0', nullable=False),
        sa.Column('n', sa.Integer(), server_default='0', nullable=False),
        sa.Column('total', sa.BigInteger(), server_default='0', nullable=False),
        sa.Column('total_sq', sa.BigInteger(), server_default='0', nullable=False),
        sa.CheckConstraint('exposures >= 0 AND supporters >= 0 AND supporters <= exposures',
                           name=op.f('ck_vote_tallies_exposures_cover_supporters')),
        sa.CheckConstraint('n >= 0 AND total >= n AND total <= 5 * n AND total_sq >= total AND total_sq <= 5 * total',
                           name=op.f('ck_vote_tallies_values_in_range')),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_vote_tallies_consultation_id_consultations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'], name=op.f('fk_vote_tallies_proposal_id_proposals'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('consultation_id', 'proposal_id', 'segment_key', 'state_key', name=op.f('pk_vote_tallies')),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table('respondents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('n_exposures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('n_votes', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_respondents_row_counts_non_negative'), 'n_exposures >= 0 AND n_votes >= 0')
    for stmt in BACKFILL:
        op.execute(stmt)
    for stmt in (_sqlite_triggers() if op.get_bind().dialect.name == "sqlite" else _pg_triggers()):
        op.execute(stmt)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, events in TRIGGERS.items():
        for event in events:
            op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_{event.lower()}_tallies" + ("" if sqlite else f" ON {table}"))
        if not sqlite:
            op.execute(f"DROP FUNCTION IF EXISTS idmx_{table}_tallies()")
    with op.batch_alter_table('respondents', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_respondents_row_counts_non_negative'), type_='check')
        batch_op.drop_column('n_votes')
        batch_op.drop_column('n_exposures')
    op.drop_table('vote_tallies')

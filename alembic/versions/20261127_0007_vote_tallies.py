"""Vote tallies kept by the database: per proposal and weighting cell, and per respondent.

A ranking run used to aggregate every exposure and vote of a consultation (millions of rows) each
time. These tables hold the sufficient statistics instead, kept current by triggers on the tables
they summarise, so every write path (the vote hot path, merges, profile changes, bulk imports, a
``psql`` session) updates them in its own transaction and none can forget to:

* ``vote_tallies``: per (consultation, proposal, segment, state) the exposures, the supporters
  (exposures with an approval vote), and the number, sum and sum of squares of vote values.
  ``segment_key`` / ``state_key`` are the ids, 0 when the question was skipped (a primary key
  cannot hold NULL).
* ``respondents.n_exposures`` / ``n_votes``: a respondent's rows, and ``cell_respondents``: per
  (consultation, segment, state) the respondents with exposures and with votes, so a ranking
  finds its respondents without probing every one of them.

The trigger bodies are the same statements on both databases (SQLite trigger programs, PostgreSQL
PL/pgSQL functions); see `TRIGGERS` for how deletes are ordered. A later migration that rebuilds
one of these tables in SQLite batch mode drops its triggers and must create them again.

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


def _alive(x: str) -> str:
    """Condition of every UPDATE here: the consultation still exists. Deleting one cascades to rows
    whose triggers would update tallies and respondents that the cascade has not reached yet; for
    rows written in the same transaction PostgreSQL checks their foreign key again, and fails."""
    return f"EXISTS (SELECT 1 FROM consultations c WHERE c.id = {x}.consultation_id)"


def _cell(x: str, column: str) -> str:
    return f"(SELECT coalesce(r.{column}, 0) FROM respondents r WHERE r.id = {x}.respondent_id)"


def _where_cell(x: str) -> str:
    return (f"consultation_id = {x}.consultation_id AND proposal_id = {x}.proposal_id"
            f" AND segment_key = {_cell(x, 'segment_id')} AND state_key = {_cell(x, 'state_id')} AND {_alive(x)}")


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
    return [(f"UPDATE vote_tallies SET exposures = exposures - 1, supporters = supporters - {_supported_vote(x)}"
             f" WHERE {_where_cell(x)}"),
            f"UPDATE respondents SET n_exposures = n_exposures - 1 WHERE id = {x}.respondent_id AND {_alive(x)}"]


def vote_added(x: str) -> list[str]:
    # Supporters in a second statement: both databases check an upsert's candidate row (here
    # 0 exposures) before they find the conflict, and "supporters <= exposures" would reject it.
    return [_upsert(x, f"0, 0, 1, {x}.value, {x}.value * {x}.value"),
            f"UPDATE vote_tallies SET supporters = supporters + {_exposed(x)} WHERE {_where_cell(x)}",
            f"UPDATE respondents SET n_votes = n_votes + 1 WHERE id = {x}.respondent_id"]


def vote_removed(x: str) -> list[str]:
    return [(f"UPDATE vote_tallies SET supporters = supporters - {_exposed(x)}, n = n - 1, total = total - {x}.value,"
             f" total_sq = total_sq - {x}.value * {x}.value WHERE {_where_cell(x)}"),
            f"UPDATE respondents SET n_votes = n_votes - 1 WHERE id = {x}.respondent_id AND {_alive(x)}"]


def _respondent_rows(x: str, p: str) -> list[str]:
    """A respondent's five tally values on proposal ``p``."""
    exposed = f"FROM exposures e WHERE e.respondent_id = {x}.id AND e.proposal_id = {p}"
    voted = f"FROM votes v WHERE v.respondent_id = {x}.id AND v.proposal_id = {p}"
    return [
        f"(SELECT count(*) {exposed})",
        (f"(SELECT count(*) {exposed} AND EXISTS (SELECT 1 FROM votes v WHERE v.respondent_id = e.respondent_id"
         " AND v.proposal_id = e.proposal_id AND v.value = 1))"),
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
            f" AND proposal_id IN {_proposals_of(old)} AND {_alive(old)}")


def respondent_entered_cell(new: str) -> str:
    return (f"INSERT INTO vote_tallies ({COLUMNS}) SELECT {new}.consultation_id, p.proposal_id,"
            f" coalesce({new}.segment_id, 0), coalesce({new}.state_id, 0), {', '.join(_respondent_rows(new, 'p.proposal_id'))}"
            f" FROM {_proposals_of(new)} p WHERE true ON CONFLICT {KEY} DO UPDATE SET {ADD}")


def _counted(x: str) -> tuple[str, str]:
    return f"CASE WHEN {x}.n_exposures > 0 THEN 1 ELSE 0 END", f"CASE WHEN {x}.n_votes > 0 THEN 1 ELSE 0 END"


def respondent_counted(new: str) -> str:
    """Count a respondent in its cell (as shown approval proposals, as a voter) if it has rows."""
    exposed, voted = _counted(new)
    # Only while the consultation exists: a cascade from deleting it updates row counts of
    # respondents whose consultation (and cells) are already gone.
    return (f"INSERT INTO cell_respondents (consultation_id, segment_key, state_key, exposed, voted)"
            f" SELECT c.id, coalesce({new}.segment_id, 0), coalesce({new}.state_id, 0), {exposed}, {voted}"
            f" FROM consultations c WHERE c.id = {new}.consultation_id AND ({new}.n_exposures > 0 OR {new}.n_votes > 0)"
            " ON CONFLICT (consultation_id, segment_key, state_key) DO UPDATE SET"
            " exposed = cell_respondents.exposed + excluded.exposed, voted = cell_respondents.voted + excluded.voted")


def respondent_uncounted(old: str) -> str:
    exposed, voted = _counted(old)
    return (f"UPDATE cell_respondents SET exposed = exposed - {exposed}, voted = voted - {voted}"
            f" WHERE consultation_id = {old}.consultation_id AND segment_key = coalesce({old}.segment_id, 0)"
            f" AND state_key = coalesce({old}.state_id, 0) AND {_alive(old)}")


_MOVED = "OLD.segment_id IS NOT NEW.segment_id OR OLD.state_id IS NOT NEW.state_id"
_CHANGED = {
    "exposures": "OLD.respondent_id IS NOT NEW.respondent_id OR OLD.proposal_id IS NOT NEW.proposal_id"
                 " OR OLD.consultation_id IS NOT NEW.consultation_id",
    "votes": "OLD.respondent_id IS NOT NEW.respondent_id OR OLD.proposal_id IS NOT NEW.proposal_id"
             " OR OLD.consultation_id IS NOT NEW.consultation_id OR OLD.value IS NOT NEW.value",
    "respondents": _MOVED,
    "respondent counts": _MOVED + " OR (OLD.n_exposures > 0) <> (NEW.n_exposures > 0) OR (OLD.n_votes > 0) <> (NEW.n_votes > 0)",
}

# (name, table, timing, event, condition, statements). An UPDATE moves a row: out of its old
# cell, into the new one. Deleting a respondent takes its rows out of the tallies first (BEFORE,
# while they exist); the cascade that then deletes the rows runs once the respondent, and so its
# cell, is gone, and their own triggers find nothing left to update. No trigger writes the row
# that fired it: SQLite leaves that undefined, PostgreSQL rejects it in BEFORE DELETE.
TRIGGERS = [
    ("trg_exposures_insert_tallies", "exposures", "AFTER", "INSERT", None, exposure_added("NEW")),
    ("trg_exposures_delete_tallies", "exposures", "AFTER", "DELETE", None, exposure_removed("OLD")),
    ("trg_exposures_update_tallies", "exposures", "AFTER", "UPDATE", _CHANGED["exposures"],
     exposure_removed("OLD") + exposure_added("NEW")),
    ("trg_votes_insert_tallies", "votes", "AFTER", "INSERT", None, vote_added("NEW")),
    ("trg_votes_delete_tallies", "votes", "AFTER", "DELETE", None, vote_removed("OLD")),
    ("trg_votes_update_tallies", "votes", "AFTER", "UPDATE", _CHANGED["votes"], vote_removed("OLD") + vote_added("NEW")),
    ("trg_respondents_move_tallies", "respondents", "AFTER", "UPDATE OF segment_id, state_id", _CHANGED["respondents"],
     [respondent_left_cell("OLD"), respondent_entered_cell("NEW")]),
    ("trg_respondents_delete_tallies", "respondents", "BEFORE", "DELETE", None, [respondent_left_cell("OLD")]),
    ("trg_respondents_insert_cells", "respondents", "AFTER", "INSERT", "NEW.n_exposures > 0 OR NEW.n_votes > 0",
     [respondent_counted("NEW")]),
    ("trg_respondents_update_cells", "respondents", "AFTER", "UPDATE OF segment_id, state_id, n_exposures, n_votes",
     _CHANGED["respondent counts"], [respondent_uncounted("OLD"), respondent_counted("NEW")]),
    ("trg_respondents_delete_cells", "respondents", "AFTER", "DELETE", None, [respondent_uncounted("OLD")]),
]


def _sqlite_triggers() -> list[str]:
    out = []
    for name, table, timing, event, when, statements in TRIGGERS:
        condition = f" WHEN {when}" if when else ""
        body = "".join(f"  {stmt};\n" for stmt in statements)
        out.append(f"CREATE TRIGGER {name} {timing} {event} ON {table} FOR EACH ROW{condition}\nBEGIN\n{body}END")
    return out


def _pg_triggers() -> list[str]:
    out = []
    for name, table, timing, event, when, statements in TRIGGERS:
        body = "".join(f"  {stmt};\n" for stmt in statements)
        ret = "OLD" if timing == "BEFORE" else "NULL"  # a BEFORE DELETE returning NULL would cancel the delete
        out.append(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n{body}  RETURN {ret};\nEND\n$$")
        condition = f" WHEN ({when.replace(' IS NOT ', ' IS DISTINCT FROM ')})" if when else ""
        out.append(f"CREATE TRIGGER {name} {timing} {event} ON {table} FOR EACH ROW{condition} EXECUTE FUNCTION {name}()")
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
    ("UPDATE respondents SET n_exposures = (SELECT count(*) FROM exposures e WHERE e.respondent_id = respondents.id),"
     " n_votes = (SELECT count(*) FROM votes v WHERE v.respondent_id = respondents.id)"),
    """INSERT INTO cell_respondents (consultation_id, segment_key, state_key, exposed, voted)
    SELECT consultation_id, coalesce(segment_id, 0), coalesce(state_id, 0),
           sum(CASE WHEN n_exposures > 0 THEN 1 ELSE 0 END), sum(CASE WHEN n_votes > 0 THEN 1 ELSE 0 END)
    FROM respondents GROUP BY consultation_id, coalesce(segment_id, 0), coalesce(state_id, 0)""",
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
    op.create_table(
        'cell_respondents',
        sa.Column('consultation_id', sa.Integer(), nullable=False),
        sa.Column('segment_key', sa.Integer(), nullable=False),
        sa.Column('state_key', sa.Integer(), nullable=False),
        sa.Column('exposed', sa.Integer(), server_default='0', nullable=False),
        sa.Column('voted', sa.Integer(), server_default='0', nullable=False),
        sa.CheckConstraint('exposed >= 0 AND voted >= 0', name=op.f('ck_cell_respondents_counts_non_negative')),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_cell_respondents_consultation_id_consultations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('consultation_id', 'segment_key', 'state_key', name=op.f('pk_cell_respondents')),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table('respondents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('n_exposures'
, sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('n_votes', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_respondents_row_counts_non_negative'), 'n_exposures >= 0 AND n_votes >= 0')
    for stmt in BACKFILL:
        op.execute(stmt)
    for stmt in (_sqlite_triggers() if op.get_bind().dialect.name == "sqlite" else _pg_triggers()):
        op.execute(stmt)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, table, *_ in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if sqlite else f" ON {table}"))
        if not sqlite:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    with op.batch_alter_table('respondents', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_respondents_row_counts_non_negative'), type_='check')
        batch_op.drop_column('n_votes')
        batch_op.drop_column('n_exposures')
    op.drop_table('cell_respondents')
    op.drop_table('vote_tallies')

"""Search in the database, shared staff sessions, and successors of abolished institutions.

* ``proposal_search``: what the Spanish matcher reads in each proposal (its terms, the title's words,
  typo keys), written by the application, with a full-text index over it: an FTS5 table kept in sync by
  triggers on SQLite (``proposal_search_fts``, tokenizer ``unicode61 remove_diacritics 2``), GIN indexes
  over each column's ``tsvector`` on PostgreSQL (configuration ``simple``: the tokens are already
  the matcher's accent-free terms, so the database must not stem them again, and both databases then
  find the same candidates). Triggers on ``proposals`` drop a proposal's row when its title or
  description changes and keep its ``published`` flag, whichever program changes them, so a stale row
  never answers.
* ``web_store``: staff sessions when there is no Redis (`idmx.web.dbstore`).
* ``institutions.successor_id`` and ``dissolved_on``: a body abolished by a reform points to the one that
  took over its functions; its plans stay where they were.

A later migration that rebuilds ``proposals`` or ``proposal_search`` in SQLite batch mode drops their
triggers and must create them again (`create_triggers`).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = '0015'
down_revision: str | Sequence[str] | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("terms", "words", "typo_keys", "body")
# PostgreSQL: one GIN index per column (`idmx.consultations.queries` uses exactly these expressions).
# Not one weighted tsvector for all four: GIN keeps no weights, so a query naming a column would have to
# recompute the whole expression for every row it finds.


def _sqlite_triggers() -> list[str]:
    cols = ", ".join(COLUMNS)
    new = ", ".join(f"new.{c}" for c in COLUMNS)
    old = ", ".join(f"old.{c}" for c in COLUMNS)
    insert = f"INSERT INTO proposal_search_fts(rowid, {cols}) VALUES (new.proposal_id, {new});"
    delete = (f"INSERT INTO proposal_search_fts(proposal_search_fts, rowid, {cols})"
              f" VALUES ('delete', old.proposal_id, {old});")
    return [
        f"CREATE TRIGGER proposal_search_ai AFTER INSERT ON proposal_search BEGIN {insert} END",
        f"CREATE TRIGGER proposal_search_ad AFTER DELETE ON proposal_search BEGIN {delete} END",
        f"CREATE TRIGGER proposal_search_au AFTER UPDATE ON proposal_search BEGIN {delete} {insert} END",
        "CREATE TRIGGER proposal_search_stale AFTER UPDATE OF title, description ON proposals"
        " WHEN old.title IS NOT new.title OR old.description IS NOT new.description"
        " BEGIN DELETE FROM proposal_search WHERE proposal_id = new.id; END",
        "CREATE TRIGGER proposal_search_status AFTER UPDATE OF status ON proposals WHEN old.status IS NOT new.status"
        " BEGIN UPDATE proposal_search SET published = (new.status = 'published') WHERE proposal_id = new.id; END",
    ]


def create_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        for statement in _sqlite_triggers():
            op.execute(statement)
        return
    op.execute(
        "CREATE FUNCTION idmx_proposal_search_stale() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN DELETE FROM proposal_search WHERE proposal_id = NEW.id; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER proposal_search_stale AFTER UPDATE OF title, description ON proposals FOR EACH ROW"
        " WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.description IS DISTINCT FROM NEW.description)"
        " EXECUTE FUNCTION idmx_proposal_search_stale()"
    )
    op.execute(
        "CREATE FUNCTION idmx_proposal_search_status() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN UPDATE proposal_search SET published = (NEW.status = 'published') WHERE proposal_id = NEW.id;"
        " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER proposal_search_status AFTER UPDATE OF status ON proposals FOR EACH ROW"
        " WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION idmx_proposal_search_status()"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    with op.batch_alter_table('institutions') as batch:
        batch.add_column(sa.Column('successor_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('dissolved_on', sa.Date(), nullable=True))
        batch.create_foreign_key(op.f('fk_institutions_successor_id_institutions'), 'institutions',
                                 ['successor_id'], ['id'])
        batch.create_check_constraint(op.f('ck_institutions_not_own_successor'),
                                      'successor_id IS NULL OR successor_id <> id')
        batch.create_check_constraint(op.f('ck_institutions_successor_has_date'),
                                      'successor_id IS NULL OR dissolved_on IS NOT NULL')

    op.create_table(
        'web_store',
        sa.Column('namespace', sa.String(length=60), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('value', sa.LargeBinary(), nullable=False),
        sa.Column('expires_at', sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint('namespace', 'key', name=op.f('pk_web_store')),
    )
    op.create_index('ix_web_store_expires_at', 'web_store', ['expires_at'])

    op.create_table(
        'proposal_search',
        sa.Column('proposal_id', sa.Integer(), nullable=False),
        sa.Column('consultation_id', sa.Integer(), nullable=False),
        sa.Column('analysis', sa.String(length=16), nullable=False),
        sa.Column('published', sa.Boolean(), nullable=False),
        sa.Column('terms', sa.Text(), nullable=False),
        sa.Column('words', sa.Text(), nullable=False),
        sa.Column('typo_keys', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'],
                                name=op.f('fk_proposal_search_consultation_id_consultations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['proposal_id'], ['proposals.id'],
                                name=op.f('fk_proposal_search_proposal_id_proposals'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('proposal_id', name=op.f('pk_proposal_search')),
    )
    op.create_index(op.f('ix_proposal_search_consultation_id'), 'proposal_search', ['consultation_id'])
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE proposal_search_fts USING fts5(" + ", ".join(COLUMNS) + ","
            " content='proposal_search', content_rowid='proposal_id', tokenize='unicode61 remove_diacritics 2')"
        )
    else:
        for column in COLUMNS:
            op.execute(f"CREATE INDEX ix_proposal_search_{column}_fts ON proposal_search"
                       f" USING gin (to_tsvector('simple'::regconfig, {column}))")
    create_triggers(dialect)
    # Existing proposals are analysed by the first search of their consultation (`idmx.matching.search`).


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("proposal_search_status", "proposal_search_stale", "proposal_search_au", "proposal_search_ad",
                     "proposal_search_ai"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS proposal_search_fts")
    else:
        for name in ("stale", "status"):
            op.execute(f"DROP TRIGGER IF EXISTS proposal_search_{name} ON proposals")
            op.execute(f"DROP FUNCTION IF EXISTS idmx_proposal_search_{name}()")
    op.drop_table('proposal_search')
    op.drop_index('ix_web_store_expires_at', table_name='web_store')
    op.drop_table('web_store')
    with op.batch_alter_table('institutions') as batch:
        batch.drop_constraint(op.f('ck_institutions_successor_has_date'), type_='check')
        batch.drop_constraint(op.f('ck_institutions_not_own_successor'), type_='check')
        batch.drop_constraint(op.f('fk_institutions_successor_id_institutions'), type_='foreignkey')
        batch.drop_column('dissolved_on')
        batch.drop_column('successor_id')

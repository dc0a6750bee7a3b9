"""Alembic environment: one set of migrations for SQLite and PostgreSQL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from idmx.db.engine import make_engine
from idmx.db.models import Base

config = context.config
target_metadata = Base.metadata


# Indexes on expressions: the databases store them normalised (PostgreSQL rewrites the CASE, SQLite cannot
# reflect them), so autogenerate cannot compare them; the migration that creates each is their reference.
EXPRESSION_INDEXES = {"uq_pairwise_votes_respondent_pair"} | {
    f"ix_proposal_search_{column}_fts" for column in ("terms", "words", "typo_keys", "body")
}
# SQLite's full-text index of proposal_search (migration 0015) is a virtual table plus the shadow tables
# FTS5 keeps its index in (_data, _idx, _docsize, _config); they have no model, as no query of the app
# maps them, so autogenerate would otherwise ask to drop them.
FTS_TABLE = "proposal_search_fts"


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    if type_ == "table" and reflected and compare_to is None and (name or "").startswith(FTS_TABLE):
        return False
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        # SQLite cannot ALTER most things; batch mode rebuilds the table, with the same migration file.
        render_as_batch=True,
        compare_type=True,
        compare_server_default=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from idmx.settings import Settings

        url = Settings.from_env().database_url
    engine = make_engine(url, pool_size=1, max_overflow=0)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()

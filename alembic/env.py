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
EXPRESSION_INDEXES = {"uq_pairwise_votes_respondent_pair"}


def include_object(obj, name, type_, reflected, compare_to) -> bool:
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

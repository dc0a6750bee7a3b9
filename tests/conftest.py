"""Layered fixtures: a backend (SQLite, PostgreSQL) -> a migrated, seeded database -> a clean one per
test -> an app and an HTTP client on it.

Every test that asks for `db` or `client` runs once per backend; both appear in the test ids
(`[sqlite]`, `[postgresql]`). Without a reachable PostgreSQL the PostgreSQL half skips with the reason,
except under CI=true, where it fails: CI must test both databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, text
from sqlalchemy.engine import make_url

from idmx import migrations, seeding
from idmx.db import Database
from idmx.db import models as m
from idmx.settings import Settings

PG_ADMIN_URL = os.environ.get("IDMX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", "postgresql"]

# Tables a test may write to, children first. Reference data (segments, states...) stays seeded.
MUTABLE_TABLES = [
    m.OutboxMessage, m.PlanReminder, m.PublicationCheck, m.ComplianceSnapshot, m.Follow, m.ItemProposal, m.InfrastructureItem, m.DataRequest, m.PlanEvent, m.PlanItem,
    m.EditionRun, m.EditionTier, m.Edition, m.ApiToken,
    m.AuditEvent, m.RankingRun, m.RateCounter, m.RespondentFlag, m.ComparisonCount, m.PairwiseVote, m.Vote, m.Exposure, m.VoteTally, m.CellRespondents, m.ProposalReport, m.ProposalSearch, m.Proposal, m.Respondent,
    m.WeightingTarget, m.Consultation, m.StaffUser, m.WebStoreEntry,
]


def _pg_admin_url() -> str:
    url = make_url(PG_ADMIN_URL)
    return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _postgres_unavailable() -> str | None:
    try:
        engine = create_engine(_pg_admin_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure means "not here"; the message says which
        return f"PostgreSQL not reachable at {PG_ADMIN_URL} ({type(exc).__name__}); set IDMX_TEST_POSTGRES_URL"


class BackendFactory:
    """Creates throw-away databases on one backend and drops them at the end of the session."""

    def __init__(self, name: str, tmp: Path):
        self.name = name
        self.tmp = tmp
        self.created: list[str] = []

    def new_url(self) -> str:
        label = f"idmx_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        if self.name == "sqlite":
            return f"sqlite:///{self.tmp / (label + '.sqlite3')}"
        admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{label}"'))
        admin.dispose()
        self.created.append(label)
        return make_url(_pg_admin_url()).set(database=label).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if not self.created:
            return
        admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for label in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{label}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    from idmx.accounts import passwords

    passwords.use_cheap_parameters()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, tmp_path_factory) -> Iterator[BackendFactory]:
    if request.param == "postgresql":
        reason = _postgres_unavailable()
        if reason:
            if IN_CI:
                pytest.fail(f"CI=true but {reason}")
            pytest.skip(reason)
    factory = BackendFactory(request.param, tmp_path_factory.mktemp(request.param))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def database(backend: BackendFactory) -> Iterator[Database]:
    """A migrated database with the reference data, shared by the tests of one backend."""
    db = Database(backend.new_url(), pool_size=5, max_overflow=40)
    migrations.upgrade(db.engine)
    seeding.seed_reference(db)
    yield db
    db.dispose()


def _clean(db: Database) -> None:
    with db.write() as s:
        for table in MUTABLE_TABLES:
            s.execute(delete(table))


@pytest.fixture
def db(database: Database) -> Iterator[Database]:
    """The shared database, emptied of everything but reference data after each test."""
    yield database
    _clean(database)


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return Settings(
        database_url=database.url,
        secret_key="test-secret-key-" + "x" * 32,
        environment="test",
        var_dir=tmp_path,
    )


@pytest.fixture
def app(settings: Settings, db: Database):
    from idmx.app import create_app

    return create_app(settings, db=db)


@pytest.fixture
def client(app) -> Iterator:
    from litestar.testing import TestClient

    with TestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client

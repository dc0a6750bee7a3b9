"""Fixtures of the API tests: the public world (see `world.py`) on the per-test database."""

from __future__ import annotations

import pytest

from tests.api.world import World, build


@pytest.fixture
def world(db) -> World:
    return build(db)

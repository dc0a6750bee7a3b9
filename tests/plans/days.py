"""The seeded official non-working days, for tests that need a working day (`seeds/non_working_days.json`)."""

from __future__ import annotations

import json
from datetime import date
from functools import cache

from idmx.calendar.services import SEED_FILE
from idmx.paths import seeds_dir


@cache
def official_days() -> frozenset[date]:
    with open(seeds_dir() / SEED_FILE, encoding="utf-8") as fh:
        return frozenset(date.fromisoformat(row["day"]) for row in json.load(fh))

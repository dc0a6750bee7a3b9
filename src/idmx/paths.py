"""Where the non-Python resources are.

In a wheel, `templates/`, `seeds/` and `alembic/` ship inside the package; in a source checkout or an
editable install they stay at the top of the repository, where contributors expect them.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_DIR = PACKAGE_DIR.parent.parent


def resource(name: str) -> Path:
    for candidate in (PACKAGE_DIR / name, _REPO_DIR / name):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"IDMX resource directory {name!r} is missing from this installation")


def templates_dir() -> Path:
    return resource("templates")


def seeds_dir() -> Path:
    return resource("seeds")


def migrations_dir() -> Path:
    return resource("alembic")


STATIC_DIR = PACKAGE_DIR / "static"
I18N_DIR = PACKAGE_DIR / "i18n"

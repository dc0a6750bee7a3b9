"""The layering the README describes, checked: import-linter's contracts (pyproject.toml), and every module
either pure domain (in the contract's list) or one of the named adapter kinds, so a new module is classified
on purpose rather than by accident."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import idmx

ROOT = Path(__file__).resolve().parent.parent
# Modules that may use the framework or the ORM, by their last name: each package's adapters.
ADAPTER_NAMES = {"controllers", "services", "commands", "queries", "tallies", "voting", "guards", "sessions",
                 "throttle", "scope", "http", "openapi", "pagination", "flags"}
# Whole infrastructure modules and packages (the wiring, the database, the web layer).
INFRASTRUCTURE = {"idmx.__main__", "idmx.app", "idmx.asgi", "idmx.audit", "idmx.cli", "idmx.commandline", "idmx.counters",
                  "idmx.migrations", "idmx.seeding", "idmx.worker", "idmx.db", "idmx.web", "idmx.backup",
                  "idmx.backup_commands"}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _matches(pattern: str, module: str) -> bool:
    return re.fullmatch(re.escape(pattern).replace(r"\*", r"[^.]+") + r"(\..+)?", module) is not None


def test_import_linter_contracts_hold():
    result = subprocess.run([str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_module_is_pure_domain_or_a_named_adapter():
    pure = _contracts()["pure-domain"]["source_modules"]
    unclassified = []
    for info in pkgutil.walk_packages(idmx.__path__, "idmx."):
        name = info.name
        if info.ispkg or any(_matches(p, name) for p in pure):  # a package's __init__ holds no code of its own
            continue
        if name.rsplit(".", 1)[-1] in ADAPTER_NAMES or any(_matches(i, name) for i in INFRASTRUCTURE):
            continue
        unclassified.append(name)
    assert not unclassified, (
        "modules that are neither listed as pure domain (pyproject.toml, contract pure-domain) nor a named "
        f"adapter: {unclassified}")


def test_the_domain_loads_without_the_framework_or_the_orm():
    """The contract's claim, at run time: importing every pure module pulls in neither."""
    pure = [p for p in _contracts()["pure-domain"]["source_modules"] if "*" not in p]
    code = ("import sys\n" + "".join(f"import {name}\n" for name in pure)
            + "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('litestar', 'sqlalchemy'))\n"
            + "assert not bad, bad\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]

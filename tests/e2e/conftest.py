"""Browser tests: the real app (`idmx serve --demo` on a fresh SQLite file) driven by Debian's chromium
through Playwright's sync API.

Without chromium (or without the `playwright` package) every test here skips with the reason, except
under CI=true, where they fail: CI must run them. Playwright's own browser download is not used; the
browser is `$IDMX_CHROMIUM` or `chromium` on PATH.

Fixtures: `server` (base URL of one `idmx serve --demo` per session), `browser` (one per session),
`page` (a fresh context, hence fresh cookies, per test; locale es-MX), `page_nojs` (the same with
JavaScript disabled), `reader_page` (one context shared by a module's read-only checks), `axe`
(runs axe-core on the current page and fails on serious or critical violations), and for staff pages
`STAFF` (the accounts created before the server starts), `staff_sessions` and `staff_page`.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
AXE_JS = HERE / "vendor" / "axe.min.js"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCALE = "es-MX"
# Counts htmx settles, so a test can wait until a swapped fragment is live: htmx wires up new content
# only when it settles (20 ms after the swap), and a submit before that is a plain form post.
HTMX_SETTLE_COUNTER = (
    "window.__idmxSettled = 0;"
    "document.addEventListener('htmx:afterSettle', () => { window.__idmxSettled += 1; });"
)
STARTUP_TIMEOUT_S = 60
# Rate limits far above anything the suite does, so a test never meets a 429.
SERVER_LIMITS = {
    "IDMX_VOTES_PER_HOUR": "100000",
    "IDMX_PROPOSALS_PER_HOUR": "1000",
    "IDMX_VOTES_PER_HOUR_PER_IP": "1000000",
    "IDMX_PROPOSALS_PER_HOUR_PER_IP": "100000",
}


@dataclass(frozen=True)
class StaffAccount:
    email: str
    role: str
    institution: str | None = None  # acronym, for institution roles


# Staff accounts created with `idmx createuser` before the server starts. Sign-in is throttled to 5
# attempts a minute per client address (all tests share 127.0.0.1), so tests sign in through the form
# once per account (`staff_sessions`) and reuse the cookies.
STAFF_PASSWORD = "e2e-staff-password-2027"
STAFF = {
    "semarnat_admin": StaffAccount("admin.semarnat@e2e.test", "institution_admin", "SEMARNAT"),
    "central_admin": StaffAccount("central.admin@e2e.test", "central_admin"),
}
# Runs each argument list of the JSON in argv[1] as an `idmx` command; the first failure ends it.
SETUP_COMMANDS = """
import json, sys
from idmx.cli import main
for args in json.loads(sys.argv[1]):
    main(args, prog_name="idmx", standalone_mode=False)
"""


def chromium_path() -> str | None:
    configured = os.environ.get("IDMX_CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("chromium")


def _unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install '.[test]')"
    if chromium_path() is None:
        where = os.environ.get("IDMX_CHROMIUM") or "chromium on PATH"
        return f"chromium not found ({where}); install Debian's chromium or set IDMX_CHROMIUM"
    if not AXE_JS.is_file():
        return f"axe-core is missing at {AXE_JS}"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _unavailable()
    if reason is None or IN_CI:  # under CI the fixtures below fail with the reason instead
        return
    skip = pytest.mark.skip(reason=f"browser tests: {reason}")
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def server_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """Starts `idmx serve --demo` on a free port and a new SQLite file; does not wait for it.

    Before `serve`, in the same process group, it runs `idmx db upgrade`, `idmx seed --demo` and one
    `idmx createuser` per `STAFF` account (serve then finds a non-empty database and only checks the
    migrations). A failing step ends the chain, and the `server` fixture reports the log.
    """
    reason = _unavailable()
    if reason:
        pytest.fail(f"CI=true but {reason}")
    tmp = tmp_path_factory.mktemp("e2e-server")
    port = _free_port()
    # Start from the caller's environment minus every IDMX_ setting, so a developer's database,
    # secret or Redis never leaks into the test server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDMX_")}
    env.update(
        IDMX_VAR_DIR=str(tmp),
        IDMX_DATABASE_URL=f"sqlite:///{tmp / 'e2e.sqlite3'}",
        IDMX_ENV="test",
        IDMX_HOST="127.0.0.1",
        PYTHONUNBUFFERED="1",
        **SERVER_LIMITS,
    )
    steps = [["db", "upgrade"], ["seed", "--demo"]]
    for account in STAFF.values():
        steps.append(["createuser", "--email", account.email, "--role", account.role, "--password", STAFF_PASSWORD,
                      *(["--institution", account.institution] if account.institution else [])])
    # The `idmx` commands run in one interpreter (each `python -m idmx` start costs about a second of
    # imports), in a shell chain, so the setup overlaps the browser's start; `exec` makes serve the
    # process-group leader that `_stop` ends.
    setup = [sys.executable, "-c", SETUP_COMMANDS, json.dumps(steps)]
    serve = [sys.executable, "-m", "idmx", "serve", "--demo", "--port", str(port)]
    script = f"{shlex.join(setup)} && exec {shlex.join(serve)}"
    log_path = tmp / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            ["/bin/sh", "-c", script],
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: granian's workers stop with it
        )
    try:
        yield process, f"http://127.0.0.1:{port}", log_path
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def server(server_process: tuple[subprocess.Popen, str, Path]) -> str:
    """The base URL (no trailing slash) once the server answers /healthz with 200."""
    process, base, log_path = server_process
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not _healthy(base + "/healthz"):
        if process.poll() is not None:
            pytest.fail(f"idmx serve exited with {process.returncode}:\n{log_path.read_text(errors='replace')[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"idmx serve did not answer /healthz within {STARTUP_TIMEOUT_S} s:\n"
                        f"{log_path.read_text(errors='replace')[-4000:]}")
        time.sleep(0.2)
    return base


@pytest.fixture(scope="session")
def browser(server_process) -> Iterator:
    """Chromium, launched while the server (started first) migrates and seeds."""
    reason = _unavailable()
    if reason:
        pytest.fail(f"CI=true but {reason}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=10_000)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def _new_page(browser, server: str, **options):
    context = browser.new_context(base_url=server, locale=LOCALE, **options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # Whatever the Content-Security-Policy (idmx.web.headers) blocks is a bug: htmx must work under it.
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    return context, page, errors


@pytest.fixture
def page(browser, server: str) -> Iterator:
    """A page in a fresh browser context: new cookies, so a new anonymous respondent."""
    context, pg, errors = _new_page(browser, server)
    context.add_init_script(HTMX_SETTLE_COUNTER)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def reader_page(browser, server: str) -> Iterator:
    """One page for a module's read-only checks (accessibility audits): cookies do not matter there."""
    context, pg, errors = _new_page(browser, server)
    context.add_init_script(HTMX_SETTLE_COUNTER)
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def staff_sessions(browser, server: str) -> Callable[[str], dict]:
    """`staff_sessions(key)`: the cookies of a `STAFF[key]` session, signed in through the form once."""
    states: dict[str, dict] = {}

    def state(key: str) -> dict:
        if key not in states:
            account = STAFF[key]
            context, pg, _errors = _new_page(browser, server)
            try:
                pg.goto("/staff/login")
                pg.locator("#email").fill(account.email)
                pg.locator("#password").fill(STAFF_PASSWORD)
                with pg.expect_navigation():
                    pg.locator("main form button[type=submit]").click()
                if not pg.url.rstrip("/").endswith("/staff"):
                    pytest.fail(f"signing in as {account.email} ended at {pg.url}")
                states[key] = context.storage_state()
            finally:
                context.close()
        return states[key]

    return state


@pytest.fixture
def staff_page(browser, server: str, staff_sessions) -> Iterator[Callable]:
    """`staff_page(key)`: a page in a fresh context already signed in as `STAFF[key]`."""
    opened: list[tuple] = []

    def open_page(key: str):
        context, pg, errors = _new_page(browser, server, storage_state=staff_sessions(key))
        context.add_init_script(HTMX_SETTLE_COUNTER)
        opened.append((context, errors))
        return pg

    yield open_page
    errors = []
    for context, context_errors in opened:
        context.close()
        errors += context_errors
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def page_nojs(browser, server: str) -> Iterator:
    """Like `page`, with JavaScript disabled: every action must work as a plain form and link."""
    context, pg, _errors = _new_page(browser, server, java_script_enabled=False)
    yield pg
    context.close()


def _describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(map(str, node["target"])) for node in v["nodes"][:3]]
        more = f" (+{len(v['nodes']) - 3} more)" if len(v["nodes"]) > 3 else ""
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} -> {targets}{more}")
    return "\n".join(lines)


@contextmanager
def htmx_swap(page) -> Iterator[None]:
    """Wait, after the block, until htmx has swapped and settled (the new fragment is wired up).

    Polls with `evaluate` (run by the DevTools protocol): `wait_for_function` compiles its predicate
    inside the page, which the site's Content-Security-Policy (no eval) rightly refuses."""
    settled = page.evaluate("window.__idmxSettled")
    yield
    deadline = time.monotonic() + 15
    while page.evaluate("window.__idmxSettled") <= settled:
        if time.monotonic() > deadline:
            raise AssertionError("htmx did not swap within 15 s")
        page.wait_for_timeout(20)


# Where pages load axe-core from: a same-origin address the test routes to the file, since the
# Content-Security-Policy refuses inline scripts (what `add_script_tag(path=...)` would insert).
AXE_URL = "/__test__/axe.min.js"


@pytest.fixture
def axe() -> Callable:
    """`axe(page)` runs axe-core on the page as it is now and fails on serious or critical violations."""

    def check(pg, context: str = "") -> list[dict]:
        if not pg.evaluate("typeof window.axe !== 'undefined'"):
            if pg.url.startswith("http"):  # a page of the site, under its policy
                pg.route("**" + AXE_URL, lambda route: route.fulfill(path=str(AXE_JS), content_type="text/javascript"))
                pg.add_script_tag(url=AXE_URL)
            else:  # set_content: no site, no policy
                pg.add_script_tag(path=str(AXE_JS))
        result = pg.evaluate("axe.run(document, {resultTypes: ['violations']})")
        assert result["passes"], "axe-core checked nothing: is the page empty?"
        violations = [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]
        where = context or pg.url
        assert not violations, f"axe: serious/critical violations on {where}:\n{_describe(violations)}"
        return result["violations"]

    return check

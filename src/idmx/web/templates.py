"""The Jinja environment every page renders with: autoescaping, translations, formatting filters, and the
globals templates may use (language, the vote mode registry)."""

from __future__ import annotations

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from idmx import __version__, i18n, votemodes
from idmx.paths import templates_dir

HTMX_FILE = "vendor/htmx-2.0.11.min.js"


def jinja_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir()),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.globals.update(
        lang=i18n.current,
        languages=i18n.LANGUAGE_NAMES,
        htmx_file=HTMX_FILE,
        version=__version__,
        vote_mode=votemodes.get,
        vote_modes=votemodes.all_modes,
    )
    env.filters.update(
        datetime=i18n.format_datetime,
        date=i18n.format_date,
        number=i18n.format_number,
        percent=i18n.format_percent,
    )
    return env

"""Interface languages: Spanish by default, English second.

Catalogs are gettext `.po` files compiled in memory at start-up (no compiled `.mo` files to keep in
sync). The request's locale lives in a context variable set by `LocaleMiddleware`, so templates, form
messages and flash messages all translate without passing the locale around.
"""

from __future__ import annotations

import gettext as _gettext
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from io import BytesIO
from zoneinfo import ZoneInfo

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from idmx.paths import I18N_DIR

LANGUAGES = ("es", "en")
DEFAULT = "es"
LANGUAGE_NAMES = {"es": "Español", "en": "English"}
# Dates are shown in central Mexico time; the database stores UTC.
DISPLAY_TZ = ZoneInfo("America/Mexico_City")
# Numbers and dates as written in Mexico (1,234.5), not Spain (1.234,5).
FORMAT_LOCALES = {"es": "es_MX", "en": "en_US"}

_locale: ContextVar[str] = ContextVar("idmx_locale", default=DEFAULT)


@cache
def translations(lang: str) -> _gettext.NullTranslations:
    po = I18N_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not po.exists():
        return _gettext.NullTranslations()
    with open(po, "rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


def current() -> str:
    return _locale.get()


def localised(es: str, en: str, lang: str | None = None) -> str:
    """A reference-data name in `lang` (default: the request's language); Spanish when no English name exists."""
    return en if (lang or current()) == "en" and en else es


def _fmt_locale() -> str:
    return FORMAT_LOCALES[current()]


def activate(lang: str):
    return _locale.set(lang if lang in LANGUAGES else DEFAULT)


def deactivate(token) -> None:
    _locale.reset(token)


def gettext(message: str) -> str:
    return translations(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current()).ngettext(singular, plural, n)


_ = gettext


def negotiate(requested: str | None, accept_language: str | None) -> str:
    """Explicit choice (cookie or ?lang=) wins; then the browser's preferences; then Spanish."""
    if requested in LANGUAGES:
        return requested  # type: ignore[return-value]
    if accept_language:
        best = Locale.negotiate(
            [part.split(";")[0].strip().replace("-", "_") for part in accept_language.split(",") if part.strip()],
            list(LANGUAGES),
            sep="_",
        )
        if best is not None:
            return str(best.language)
    return DEFAULT


def format_datetime(value: datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    return dates.format_datetime(value, fmt, tzinfo=DISPLAY_TZ, locale=_fmt_locale())


def format_date(value: date | datetime | None, fmt: str = "long") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(DISPLAY_TZ).date()
    return dates.format_date(value, fmt, locale=_fmt_locale())


def format_number(value: float | int | None, digits: int | None = None) -> str:
    if value is None:
        return ""
    if digits is None:
        return numbers.format_decimal(value, locale=_fmt_locale())
    return numbers.format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0", locale=_fmt_locale())


def format_percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return ""
    return numbers.format_percent(value, format=f"#,##0.{'0' * digits} %", locale=_fmt_locale())

"""Every user-facing string is in the catalogs, and the Spanish catalog translates all of them."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from idmx import i18n
from idmx.paths import I18N_DIR, PACKAGE_DIR, templates_dir

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trim_blocks": "True", "lstrip_blocks": "True"}


def _extracted() -> set[str]:
    found: set[str] = set()
    sources = [
        (PACKAGE_DIR, [("**.py", "python")], {}),
        (Path(templates_dir()), [("**.html", "jinja2")], {"**.html": JINJA_OPTIONS}),
    ]
    for directory, method_map, options in sources:
        for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(directory), method_map, options_map=options, keywords=KEYWORDS
        ):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_spanish_catalog_translates_every_message():
    with open(I18N_DIR / "es" / "LC_MESSAGES" / "messages.po", "rb") as fh:
        catalog = read_po(fh, locale="es")
    translated = {
        (msg.id if isinstance(msg.id, str) else msg.id[0])
        for msg in catalog
        if msg.id and (msg.string if isinstance(msg.string, str) else all(msg.string)) and "fuzzy" not in msg.flags
    }
    missing = sorted(_extracted() - translated)
    assert not missing, (
        "strings without a Spanish translation (run pybabel extract/update, see babel.cfg): " + "; ".join(missing)
    )


def test_negotiation_prefers_explicit_choice_then_browser_then_spanish():
    assert i18n.negotiate("en", "es-MX") == "en"
    assert i18n.negotiate(None, "en-GB,en;q=0.8") == "en"
    assert i18n.negotiate(None, "fr-FR,de;q=0.5") == "es"
    assert i18n.negotiate("xx", None) == "es"


def test_numbers_and_dates_follow_the_locale():
    from datetime import datetime, timezone

    token = i18n.activate("es")
    try:
        assert i18n.format_number(1234567) == "1,234,567" or i18n.format_number(1234567) == "1 234 567"
        assert "noviembre" in i18n.format_date(datetime(2026, 11, 26, 12, tzinfo=timezone.utc))
    finally:
        i18n.deactivate(token)
    token = i18n.activate("en")
    try:
        assert i18n.format_number(1234567) == "1,234,567"
        assert "November" in i18n.format_date(datetime(2026, 11, 26, 12, tzinfo=timezone.utc))
    finally:
        i18n.deactivate(token)

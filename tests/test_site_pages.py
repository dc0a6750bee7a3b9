"""The privacy notice, terms, contact and method pages in both languages, the footer that links them,
the favicon, and compressed answers (idmx.web.compression), through HTTP."""

from __future__ import annotations

import gzip
import re

import brotli
import pytest
from litestar.testing import TestClient

from idmx.app import create_app
from idmx.paths import STATIC_DIR
from idmx.settings import Settings, SettingsError
from idmx.web import csrf

PAGES = {
    "/privacy": ("Aviso de privacidad", "Privacy notice"),
    "/terms": ("Términos de uso", "Terms of use"),
    "/contact": ("Contacto", "Contact"),
    "/how-ranking-works": ("Cómo funciona la priorización", "How the ranking works"),
}
ENGLISH = {"Accept-Language": "en-US,en;q=0.9"}


def _h1(html: str) -> str:
    return re.search(r"<h1>(.*?)</h1>", html, re.S).group(1).strip()


@pytest.mark.parametrize("path", PAGES)
def test_each_page_in_spanish_by_default_and_in_english(client, path):
    spanish, english = PAGES[path]
    es = client.get(path, headers={"Accept-Language": ""})
    assert es.status_code == 200 and '<html lang="es">' in es.text and _h1(es.text) == spanish
    en = client.get(path, headers=ENGLISH)
    assert en.status_code == 200 and '<html lang="en">' in en.text and _h1(en.text) == english


def test_every_page_links_the_notices_from_its_footer(client):
    for path in ("/", "/monitoring", "/privacy", "/no-such-page"):
        html = client.get(path).text
        footer = html.split('<footer class="site-footer">')[1]
        for target in PAGES:
            assert f'href="{target}"' in footer, (path, target)


def test_the_privacy_notice_says_what_is_kept(client):
    html = client.get("/privacy", headers=ENGLISH).text
    assert "idmx_respondent" in html and "kept for 2 years" in html
    assert "keyed hashes of your address" in html  # rate limits, never the address itself
    assert "ARCO" in html and "sector" in html
    es = client.get("/privacy").text
    assert "se conserva 2 años" in es and "derechos ARCO" in es


def test_the_controller_comes_from_the_settings(app, settings, db):
    configured = settings.with_(controller_name="Agencia de Transformación Digital <y Telecomunicaciones>",
                                controller_contact="privacidad@example.gob.mx")
    with TestClient(app=create_app(configured, db=db), base_url="http://testserver.local") as c:
        html = c.get("/privacy").text
        assert "Agencia de Transformación Digital &lt;y Telecomunicaciones&gt;" in html  # escaped
        assert '<a href="mailto:privacidad@example.gob.mx">' in html
        assert "privacidad@example.gob.mx" in c.get("/contact").text
    with TestClient(app=app, base_url="http://testserver.local") as c:  # not configured: it says so
        assert "aún no se ha configurado su nombre" in c.get("/privacy").text


def test_controller_settings_are_read_from_the_environment():
    env = {"IDMX_ENV": "test", "IDMX_SECRET_KEY": "k" * 40, "IDMX_CONTROLLER_NAME": "  Secretaría   X ",
           "IDMX_CONTROLLER_CONTACT": "Av. Reforma 1, CDMX"}
    s = Settings.from_env(env)
    assert s.controller_name == "Secretaría X" and s.controller_contact == "Av. Reforma 1, CDMX"
    with pytest.raises(SettingsError, match="IDMX_CONTROLLER_NAME"):
        Settings.from_env({**env, "IDMX_CONTROLLER_NAME": "x" * 301})


def test_the_methodology_describes_the_ranking_as_computed(client):
    html = client.get("/how-ranking-works", headers=ENGLISH).text
    for claim in ("Wilson interval", "Bradley–Terry", "lower end of their interval", "effective sample size",
                  "flagged", "own ranking", "idmx rank"):
        assert claim in html, claim


def test_the_results_page_links_to_the_method(client):
    assert 'href="/how-ranking-works"' in client.get("/how-ranking-works").text
    # the link sits beside the ranking's explanation on every results page (templates/ranking/results.html)
    from idmx.paths import templates_dir
    assert "url_for('site:methodology')" in (templates_dir() / "ranking" / "results.html").read_text()


# --- favicon --------------------------------------------------------------------------------------------


def test_favicon_at_the_root_and_as_svg(client):
    ico = client.get("/favicon.ico")
    assert ico.status_code == 200 and ico.headers["content-type"] == "image/x-icon"
    assert ico.content[:4] == b"\x00\x00\x01\x00"  # an ICO directory
    assert ico.content == (STATIC_DIR / "favicon.ico").read_bytes()
    assert "max-age" in ico.headers["cache-control"]
    svg = client.get("/static/favicon.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    html = client.get("/").text
    assert 'rel="icon" href="/static/favicon.svg" type="image/svg+xml"' in html and 'href="/favicon.ico"' in html


# --- compression ----------------------------------------------------------------------------------------


@pytest.fixture
def raw(app):
    """A client that decodes nothing: the test sees the bytes and headers as sent."""
    with TestClient(app=app, base_url="http://testserver.local") as c:
        c.headers.pop("accept-encoding", None)
        yield c


def _get(c, path: str, encoding: str, **headers):
    with c.stream("GET", path, headers={"Accept-Encoding": encoding, **headers}) as r:
        return r, b"".join(r.iter_raw())


def test_pages_scripts_and_styles_are_gzipped_for_browsers_that_ask(raw):
    for path in ("/", "/privacy", "/static/css/idmx.css", "/static/js/idmx.js", "/static/favicon.svg",
                 "/static/vendor/htmx-2.0.11.min.js"):
        raw.cookies.clear()  # a first visit (see the BREACH test below)
        r, body = _get(raw, path, "gzip")
        if path == "/static/favicon.svg" and len(body) < 500:
            assert "content-encoding" not in r.headers  # too small to be worth it
            continue
        assert r.headers.get("content-encoding") == "gzip", path
        assert "accept-encoding" in r.headers["vary"].lower()
        assert len(gzip.decompress(body)) > len(body)


def test_brotli_when_the_browser_accepts_it(raw):
    r, body = _get(raw, "/how-ranking-works", "gzip, deflate, br")
    assert r.headers["content-encoding"] == "br"
    assert "Cómo funciona la priorización" in brotli.decompress(body).decode()


def test_without_accept_encoding_nothing_is_compressed(raw):
    r, body = _get(raw, "/privacy", "identity")
    assert "content-encoding" not in r.headers and body.startswith(b"<!doctype html>")


def test_small_answers_and_compressed_formats_are_left_alone(raw):
    r, body = _get(raw, "/livez", "gzip")
    assert "content-encoding" not in r.headers and body == b'{"status":"ok"}'
    r, body = _get(raw, "/favicon.ico", "gzip")
    assert "content-encoding" not in r.headers and body[:4] == b"\x00\x00\x01\x00"
    r, body = _get(raw, "/monitoring.xlsx", "gzip, br")
    assert "content-encoding" not in r.headers and body[:2] == b"PK"  # XLSX is a ZIP already


def test_streamed_csv_downloads_are_compressed_whole(raw):
    plain, plain_body = _get(raw, "/monitoring.csv", "identity")
    r, body = _get(raw, "/monitoring.csv", "gzip")
    assert r.headers["content-encoding"] == "gzip" and r.headers["content-type"].startswith("text/csv")
    assert gzip.decompress(body) == plain_body and plain_body.startswith("\ufeff".encode())


def test_pages_never_repeat_the_csrf_token_so_they_are_compressed_for_everyone(raw):
    """BREACH: the token in a page is masked afresh every time, so a compressed page's size says nothing
    about it; pages are compressed for returning browsers too."""
    first, _ = _get(raw, "/privacy", "gzip")
    assert first.headers["content-encoding"] == "gzip"
    token = raw.cookies.get("idmx_csrf")
    assert token
    seen = set()
    for _ in range(3):
        again, body = _get(raw, "/staff/login", "gzip")
        assert again.headers["content-encoding"] == "gzip"
        html = gzip.decompress(body).decode()
        assert token not in html  # neither the token ...
        rendered = re.findall(r'"_csrf_token" value="([0-9a-f]+)"|"x-csrftoken": "([0-9a-f]+)"', html)
        rendered = [a or b for a, b in rendered]
        assert len(rendered) >= 2 and {csrf.unmask(r) for r in rendered} == {token}  # ... only masked copies ...
        seen.update(rendered)  # (one masked copy per answer, in each of its forms)
    assert len(seen) == 3  # ... never the same in two answers


WRONG_PASSWORD = "El correo o la contraseña no es correcto."


def test_masked_bare_and_forged_tokens(raw):
    raw.get("/staff/login")
    token = raw.cookies.get("idmx_csrf")
    form = {"email": "nadie@example.mx", "password": "incorrecta"}
    masked = csrf.mask(token)
    assert masked != csrf.mask(token) and csrf.unmask(masked) == token
    # The masked copy a page carried, or the bare token (a script copying the cookie): the form is read.
    for sent in (masked, token):
        r = raw.post("/staff/login", data={**form, "_csrf_token": sent}, follow_redirects=False)
        assert r.status_code == 400 and WRONG_PASSWORD in r.text, sent[:8]
    r = raw.post("/staff/login", data=form, headers={"x-csrftoken": csrf.mask(token)}, follow_redirects=False)
    assert r.status_code == 400 and WRONG_PASSWORD in r.text
    # Anything else is refused: another browser's token, a flipped bit in the mask, garbage.
    other = csrf.mask(token)
    flipped = ("0" if other[0] != "0" else "1") + other[1:]
    for sent in (flipped, "zz" * 128, masked[:-2], ""):
        r = raw.post("/staff/login", data={**form, "_csrf_token": sent}, follow_redirects=False)
        assert r.status_code == 403, sent[:8]

"""Phones and keyboards, in a real browser against `idmx serve --demo` (es-MX).

* No page scrolls sideways at 390 px (a common phone) or 320 px (the narrowest still sold): tables
  reflow into one block per row or scroll inside their own box, navigation wraps.
* Keyboard only: support, rate and compare proposals with Tab, Enter and Space (and the arrow keys,
  which are how a radio group is operated), checking after each vote where focus is (never the page
  body), that the support count changed in place, and what the live region announces.
* axe-core finds no serious or critical violation on the new pages, nor on the narrow layouts.

The module builds what the pages need once: an IDMX edition published from the SEMARNAT demo ranking
(so plan, list and item pages have rows) and an open rating consultation with live results.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from .conftest import HTMX_SETTLE_COUNTER, htmx_swap
from .test_staff_flows import fill_consultation, local_input

try:
    from playwright.sync_api import Page, expect
except ImportError:  # conftest.py skips every test here with the reason (under CI=true: fails them)
    Page = expect = None  # type: ignore[assignment,misc]

pytestmark = pytest.mark.browser

NATIONAL = "/c/idmx-2027"  # approval, live results
SEMARNAT = "/c/semarnat-ambiente-2027"  # pairwise
WIDTHS = (390, 320)
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"
FOCUSED = """() => { const e = document.activeElement;
  return e ? {tag: e.tagName, id: e.id, name: e.getAttribute('name'), value: e.getAttribute('value'),
              text: e.innerText, body: e === document.body} : null; }"""


@dataclass(frozen=True)
class Site:
    item: str  # a public item page
    edition: str  # the public page of the published edition
    rating: str  # an open rating consultation with live results
    rated: int  # a proposal of it


def _submit(pg: Page, name: str) -> None:
    with pg.expect_navigation():
        pg.get_by_role("button", name=name, exact=True).click()


def _publish_edition(central: Page) -> tuple[str, str]:
    """An edition from the SEMARNAT ranking run with its first item given to SEMARNAT (as in test_plans_flow)."""
    central.goto("/staff/editions/new")
    central.locator("#series").fill(f"idmx-movil-{uuid.uuid4().hex[:6]}")
    central.locator("#title_es").fill("IDMX para revisar en el teléfono")
    _submit(central, "Crear el borrador")
    central.locator("#choose-runs").click()
    central.locator("fieldset", has_text=SEMARNAT).locator("select").select_option(index=1)
    _submit(central, "Guardar corridas")
    if central.get_by_role("button", name="Armar los conjuntos", exact=True).count():
        _submit(central, "Armar los conjuntos")
    rows = central.locator("#items tbody tr")
    expect(rows.first).to_be_visible()
    links = [rows.nth(i).locator("a").first.get_attribute("href") for i in range(rows.count())]
    for index in sorted({0, *(i for i in range(len(links)) if rows.nth(i).locator(".field-error").count())}):
        central.goto(links[index])
        semarnat = central.locator("#institution option", has_text="SEMARNAT —").first.get_attribute("value")
        central.locator("#institution").select_option(semarnat)
        _submit(central, "Guardar conjunto")
    central.goto(links[0].split("/items/")[0])
    _submit(central, "Publicar la edición")
    central.locator("#public-link").click()
    edition = central.url.removeprefix(central.url.split("/idmx")[0])
    item = central.locator("table a[href^='/items/']").first.get_attribute("href")
    return edition, item


def _open_rating_consultation(central: Page, public: Page) -> tuple[str, int]:
    slug = f"movil-{uuid.uuid4().hex[:8]}"
    central.goto("/staff/consultations/new")
    fill_consultation(central, slug=slug, title_es=f"Calificación en el teléfono ({slug})", method="rating",
                      mode="open", visibility="live", opens=local_input(2), closes=local_input(40, hour=18))
    central.get_by_role("button", name="Crear borrador").click()
    expect(central).to_have_url(re.compile(r"/staff/consultations/\d+$"))
    central.locator("#consultation-actions").get_by_role("button", name="Publicar").click()
    expect(central.locator("#phase")).to_have_text("Próxima")
    central.locator("#consultation-actions").get_by_role("button", name="Abrir ahora").click()
    expect(central.locator("#phase")).to_have_text("Abierta")
    ids = []
    for title in ("Horarios y rutas del transporte público en tiempo real",
                  "Niveles de las presas y del agua subterránea por acuífero"):
        public.goto(f"/c/{slug}/propose")
        public.get_by_label("¿Qué datos necesitas?").fill(f"{title} {slug}")
        public.get_by_role("button", name="Enviar propuesta").click()
        expect(public).to_have_url(re.compile(rf"/c/{slug}/proposals/\d+\?created=1$"))
        ids.append(int(re.search(r"/proposals/(\d+)", public.url).group(1)))
    return f"/c/{slug}", ids[0]


@pytest.fixture(scope="module")
def site(browser, server: str, staff_sessions) -> Iterator[Site]:
    context = browser.new_context(base_url=server, locale="es-MX", storage_state=staff_sessions("central_admin"))
    public_context = browser.new_context(base_url=server, locale="es-MX")
    try:
        central = context.new_page()
        edition, item = _publish_edition(central)
        rating, rated = _open_rating_consultation(central, public_context.new_page())
        yield Site(item=item, edition=edition, rating=rating, rated=rated)
    finally:
        context.close()
        public_context.close()


@pytest.fixture
def phone(browser, server: str) -> Iterator:
    """`phone(width)`: a page in a fresh context (a new respondent) as wide as a phone."""
    opened = []

    def open_page(width: int) -> Page:
        context = browser.new_context(base_url=server, locale="es-MX", viewport={"width": width, "height": 800},
                                      has_touch=True)
        context.add_init_script(HTMX_SETTLE_COUNTER)
        pg = context.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda exc: errors.append(str(exc)))
        pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        opened.append((context, errors))
        return pg

    yield open_page
    problems = []
    for context, errors in opened:
        context.close()
        problems += errors
    assert not problems, f"errors in the browser console: {problems}"


def assert_no_horizontal_scroll(pg: Page, what: str) -> None:
    widths = pg.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert pg.evaluate(NO_OVERFLOW), f"{what} scrolls sideways at {widths[1]} px: the page is {widths[0]} px wide"


# --- 1. nothing scrolls sideways -------------------------------------------------------------------------

PUBLIC_PAGES = [
    "/", f"{NATIONAL}/", f"{NATIONAL}/propose", f"{NATIONAL}/profile", f"{SEMARNAT}/pair", f"{NATIONAL}/results",
    f"{SEMARNAT}/results", "/c/idmx-2026/results", "/c/idmx-2026/data", "/idmx", "/institutions",
    "/institutions/SEMARNAT/plan", "/monitoring", "/requests", "/requests/new", "/privacy", "/terms", "/contact",
    "/how-ranking-works", "/staff/login",
]


@pytest.mark.parametrize("width", WIDTHS)
def test_public_pages_fit_a_phone(phone, site: Site, width: int) -> None:
    pg = phone(width)
    pages = [*PUBLIC_PAGES, site.edition, site.item, f"{site.rating}/", f"{site.rating}/proposals/{site.rated}",
             f"{NATIONAL}/results?segment=academia"]
    for path in pages:
        response = pg.goto(path)
        assert response.status == 200, path
        expect(pg.locator("main h1")).to_be_visible()
        assert_no_horizontal_scroll(pg, path)
    # A proposal page of the approval consultation, reached from its list.
    pg.goto(f"{NATIONAL}/")
    pg.locator("#proposal-list ol.proposals h3 a").first.click()
    expect(pg).to_have_url(re.compile(r"/proposals/\d+$"))
    assert_no_horizontal_scroll(pg, "a proposal page")


@pytest.mark.parametrize("width", WIDTHS)
def test_staff_pages_fit_a_phone(browser, server: str, staff_sessions, site: Site, width: int) -> None:
    for account, paths in (("central_admin", ["/staff/", "/staff/consultations/", "/staff/consultations/new",
                                              "/staff/moderation/", "/staff/editions", "/staff/audit",
                                              "/staff/exports"]),
                           ("semarnat_admin", ["/staff/plan", "/staff/"])):
        context = browser.new_context(base_url=server, locale="es-MX", viewport={"width": width, "height": 800},
                                      storage_state=staff_sessions(account))
        try:
            pg = context.new_page()
            for path in paths:
                assert pg.goto(path).status == 200, path
                assert_no_horizontal_scroll(pg, f"{path} ({account})")
        finally:
            context.close()


def test_results_table_reflows_into_labelled_blocks_on_a_phone(phone) -> None:
    pg = phone(320)
    pg.goto(f"{NATIONAL}/results")
    first_row = pg.locator("#results table.reflow tbody tr").first
    expect(first_row).to_be_visible()
    cells = first_row.locator("td[data-label]")
    assert cells.count() >= 4
    # Each cell sits on its own line, under the previous one, with its column's name beside it.
    boxes = [cells.nth(i).bounding_box() for i in range(cells.count())]
    assert all(b["y"] > a["y"] for a, b in zip(boxes, boxes[1:]))
    label = pg.evaluate("el => getComputedStyle(el, '::before').content", cells.first.element_handle())
    assert label == '"Lugar"'
    # The same table is an ordinary table on a wide screen.
    pg.set_viewport_size({"width": 1200, "height": 800})
    assert pg.evaluate("el => getComputedStyle(el).display", first_row.element_handle()) == "table-row"


def test_navigation_wraps_and_the_footer_links_the_notices_at_320px(phone, axe) -> None:
    pg = phone(320)
    pg.goto("/")
    links = pg.get_by_role("navigation", name="Principal").get_by_role("link")
    assert links.count() >= 5
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 320, links.nth(i).inner_text()
    footer = pg.get_by_role("navigation", name="Acerca de este sitio")
    for name, heading in (("Aviso de privacidad", "Aviso de privacidad"), ("Términos de uso", "Términos de uso"),
                          ("Cómo funciona la priorización", "Cómo funciona la priorización"),
                          ("Contacto", "Contacto")):
        footer.get_by_role("link", name=name).click()
        expect(pg.get_by_role("heading", level=1)).to_have_text(heading)
        assert_no_horizontal_scroll(pg, heading)
        axe(pg)


# --- 2. keyboard only ------------------------------------------------------------------------------------


def tab_to(pg: Page, selector: str, limit: int = 250) -> None:
    """Press Tab until the focused element matches `selector`, as a keyboard user would."""
    for _ in range(limit):
        pg.keyboard.press("Tab")
        if pg.evaluate("sel => !!document.activeElement && document.activeElement.matches(sel)", selector):
            return
    raise AssertionError(f"{selector} never received focus within {limit} presses of Tab")


def focused(pg: Page) -> dict:
    return pg.evaluate(FOCUSED)


def supporters(text: str) -> int:
    match = re.match(r"\s*([\d,]+) personas? la apoyan?", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def test_support_and_withdraw_with_the_keyboard_keeps_focus_and_updates_the_count(phone) -> None:
    pg = phone(390)
    pg.goto(f"{NATIONAL}/")
    pg.goto(f"{NATIONAL}/")  # a returning browser: its cookie makes it a respondent
    button = pg.locator("#proposal-list .vote-form button[aria-pressed='false']").first
    button_id = button.get_attribute("id")
    proposal_id = int(button_id.removeprefix("p"))
    count = pg.locator(f"#support-{proposal_id}")
    before = supporters(count.inner_text())

    tab_to(pg, f"#{button_id}")
    with htmx_swap(pg):
        pg.keyboard.press("Enter")
    expect(pg.locator(f"#{button_id}")).to_have_attribute("aria-pressed", "true")
    now = focused(pg)
    assert not now["body"] and now["id"] == button_id, f"focus went to {now}"
    expect(count).to_have_text(re.compile(rf"^\s*{before + 1} personas? la apoyan?\s*$"))
    expect(pg.locator("#announcer")).to_have_text(re.compile(rf"^Apoyo guardado\. {before + 1} persona"))

    with htmx_swap(pg):
        pg.keyboard.press("Space")  # withdraw, from the same control
    expect(pg.locator(f"#{button_id}")).to_have_attribute("aria-pressed", "false")
    assert focused(pg)["id"] == button_id
    expect(count).to_have_text(re.compile(rf"^\s*{before} personas? la apoyan?\s*$"))
    expect(pg.locator("#announcer")).to_have_text(re.compile(r"^Apoyo retirado\."))


def test_rating_with_the_keyboard_keeps_focus_on_the_chosen_value(phone, site: Site) -> None:
    pg = phone(320)
    pid = site.rated
    pg.goto(f"{site.rating}/")
    pg.goto(f"{site.rating}/")
    count = pg.locator(f"#support-{pid}")
    expect(count).to_have_text("Sin votos todavía")

    tab_to(pg, f"#r{pid}-1")  # Tab enters the group on its first value
    with htmx_swap(pg):
        pg.keyboard.press("Space")
    assert focused(pg)["id"] == f"r{pid}-1", f"focus went to {focused(pg)}"
    expect(pg.locator(f"#r{pid}-1")).to_be_checked()
    expect(count).to_have_text("Calificación promedio: 1.0 (1 calificación)")
    expect(pg.locator("#announcer")).to_have_text("Calificación guardada: 1. Calificación promedio: 1.0 (1 calificación)")

    for value in (2, 3, 4):  # arrow keys move through a radio group and choose as they go
        with htmx_swap(pg):
            pg.keyboard.press("ArrowRight")
        assert focused(pg)["id"] == f"r{pid}-{value}", f"focus went to {focused(pg)}"
        expect(pg.locator(f"#r{pid}-{value}")).to_be_checked()
        expect(count).to_have_text(f"Calificación promedio: {value}.0 (1 calificación)")
    assert_no_horizontal_scroll(pg, "the rating list after voting")

    pg.reload()  # stored: the page shows the last rating as chosen
    expect(pg.locator(f"#r{pid}-4")).to_be_checked()


def test_pairwise_with_the_keyboard_moves_focus_to_the_next_pairs_first_choice(phone, axe) -> None:
    pg = phone(390)
    pg.goto(f"{SEMARNAT}/pair")
    region = pg.locator("#pair")
    expect(region.locator("p.muted")).to_have_text("Has comparado 0 pares.")
    first_choice = "#pair button[name=choice][value=left]"

    tab_to(pg, "#pair button[name=choice][value=right]")
    for n, key in enumerate(("Enter", "Space", "Enter"), start=1):
        shown = sorted(region.locator("input[type=hidden][name=left], input[type=hidden][name=right]")
                       .evaluate_all("els => els.map(e => e.value)"))
        with htmx_swap(pg):
            pg.keyboard.press(key)
        expect(region.locator("p.muted")).to_have_text(f"Has comparado {n} par." if n == 1 else f"Has comparado {n} pares.")
        now = focused(pg)
        assert not now["body"], "focus fell to the page body"
        assert pg.evaluate("sel => document.activeElement.matches(sel)", first_choice), f"focus went to {now}"
        assert now["text"] == "Elegir esta"
        expect(pg.locator("#announcer")).to_have_text(
            f"Guardado. Aquí está el siguiente par. Has comparado {n} par." if n == 1
            else f"Guardado. Aquí está el siguiente par. Has comparado {n} pares.")
        after = sorted(region.locator("input[type=hidden][name=left], input[type=hidden][name=right]")
                       .evaluate_all("els => els.map(e => e.value)"))
        assert after != shown, "the same pair came back"

    # "I can't decide" is reachable too, and also hands focus to the next pair.
    tab_to(pg, "#pair button[name=choice][value=none]")
    with htmx_swap(pg):
        pg.keyboard.press("Enter")
    expect(region.locator("p.muted")).to_have_text("Has comparado 4 pares.")
    assert pg.evaluate("sel => document.activeElement.matches(sel)", first_choice)
    assert_no_horizontal_scroll(pg, "the pair page after four choices")
    axe(pg, "the pair page after keyboard choices at 390 px")


# --- 3. accessibility of the new and narrow layouts ------------------------------------------------------


@pytest.mark.parametrize("path", ["/privacy", "/terms", "/contact", "/how-ranking-works"])
def test_new_pages_in_english_have_no_serious_violations(browser, server: str, axe, path: str) -> None:
    context = browser.new_context(base_url=server, locale="en-US")
    try:
        pg = context.new_page()
        pg.goto(path)
        expect(pg.locator("html")).to_have_attribute("lang", "en")
        expect(pg.get_by_role("navigation", name="About this site")).to_be_visible()
        axe(pg)
    finally:
        context.close()


@pytest.mark.parametrize("path", [f"{NATIONAL}/results", "/monitoring", "/institutions/SEMARNAT/plan", "item"])
def test_narrow_layouts_have_no_serious_violations(phone, site: Site, axe, path: str) -> None:
    pg = phone(320)
    pg.goto(site.item if path == "item" else path)
    expect(pg.locator("main h1")).to_be_visible()
    axe(pg, f"{path} at 320 px")

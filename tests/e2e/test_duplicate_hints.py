"""Similar proposals before proposing, in a real browser against `idmx serve --demo`, in Spanish (es-MX).

With JavaScript, hints appear while the title is typed (htmx), unfinished words included; without it,
sending the form shows the similar proposals first and saves nothing until the respondent supports one
of them instead or confirms theirs is different. The national consultation (`idmx-2027`) is moderated,
so what these tests propose waits for moderation and never becomes a hint for another test.
"""

from __future__ import annotations

import re

import pytest

try:
    from playwright.sync_api import Page, expect
except ImportError:  # conftest.py skips every test here with the reason (under CI=true: fails them)
    Page = expect = None  # type: ignore[assignment,misc]

pytestmark = pytest.mark.browser

NATIONAL = "/c/idmx-2027"
GASOLINE = "Precios diarios de gasolina y diésel por estación de servicio"
FUEL = "Cuánto cuesta el combustible en cada gasolinera, actualizado todos los días"
CRIME = "Incidencia delictiva por municipio"
CRIME_AGAIN = "Delitos denunciados cada mes en cada municipio"
TITLE_LABEL = "¿Qué datos necesitas?"
CHECK_HEADING = "Parecen la misma solicitud"


def hint_links(page: Page, title: str):
    return page.locator("#similar li").get_by_role("link", name=title, exact=True)


def test_hints_while_typing_find_the_demo_pairs(page: Page) -> None:
    page.goto(f"{NATIONAL}/propose")
    title = page.get_by_label(TITLE_LABEL)

    # An unfinished word is enough: "combus" -> combustible, and "cuánto cuesta" asks for a price.
    title.press_sequentially("Cuánto cuesta el combus")
    expect(page.locator("#similar").get_by_role("heading", name="Ya existen propuestas parecidas")).to_be_visible()
    expect(hint_links(page, GASOLINE)).to_be_visible()
    expect(hint_links(page, FUEL)).to_be_visible()

    title.fill("")
    title.press_sequentially("delitos por mun")
    expect(hint_links(page, CRIME)).to_be_visible()
    expect(hint_links(page, CRIME_AGAIN)).to_be_visible()
    expect(hint_links(page, GASOLINE)).to_have_count(0)
    # The title the hints were shown for travels with the form: sent now, it needs no check page.
    expect(page.locator("#similar input[name=confirm]")).to_have_value("delitos por mun")

    # Nothing similar: the hints go away, and so does the confirmation.
    title.fill("")
    title.press_sequentially("Mapa de ruido urbano por colonia")
    expect(page.locator("#similar li")).to_have_count(0)
    expect(page.locator("#similar input[name=confirm]")).to_have_count(0)


def test_sent_without_seeing_hints_the_check_page_comes_first(page: Page) -> None:
    """`fill` types no keys, so no hints: as for a browser without JavaScript, the check page shows them."""
    page.goto(f"{NATIONAL}/propose")
    page.get_by_label(TITLE_LABEL).fill(CRIME_AGAIN)
    page.get_by_label("Descripción").fill("Robos y homicidios por mes.")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Enviar propuesta").click()
    assert posted.value.status == 200
    check = page.locator("#similar-check")
    expect(check.get_by_role("heading", name=CHECK_HEADING)).to_be_visible()
    expect(check.get_by_role("link", name=CRIME, exact=True)).to_be_visible()
    expect(page.get_by_label(TITLE_LABEL)).to_have_value(CRIME_AGAIN)
    expect(page.get_by_label("Descripción")).to_have_value("Robos y homicidios por mes.")

    # Supporting the existing proposal instead: a plain form, answered with the proposal's page.
    item = check.locator("li").filter(has=page.get_by_role("link", name=CRIME, exact=True))
    href = item.get_by_role("link").get_attribute("href")
    item.get_by_role("button", name="Apoyar esta en su lugar").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(href)}$"))
    expect(page.get_by_role("heading", level=2, name=CRIME)).to_be_visible()
    button = page.locator(f"#p{href.rsplit('/', 1)[1]}")
    expect(button).to_have_attribute("aria-pressed", "true")


def test_without_javascript_check_then_confirm(page_nojs: Page) -> None:
    page = page_nojs
    page.goto(f"{NATIONAL}/propose")
    page.get_by_label(TITLE_LABEL).fill("Delitos denunciados en cada municipio")
    page.get_by_label("Descripción").fill('Con <etiquetas> & "comillas".')
    page.get_by_role("button", name="Enviar propuesta").click()
    expect(page).to_have_url(re.compile(rf"{NATIONAL}/propose$"))  # the check page: nothing saved yet
    check = page.locator("#similar-check")
    expect(check.get_by_role("heading", name=CHECK_HEADING)).to_be_visible()
    expect(check.get_by_role("link", name=CRIME, exact=True)).to_be_visible()
    expect(page.get_by_label("Descripción")).to_have_value('Con <etiquetas> & "comillas".')

    page.get_by_role("button", name="Enviarla: la mía pide otra cosa").click()
    expect(page).to_have_url(re.compile(rf"{NATIONAL}/proposals/\d+\?created=1$"))
    expect(page.get_by_role("status")).to_have_text(
        "¡Gracias! Recibimos tu propuesta; aparecerá cuando una persona moderadora la revise.")
    expect(page.get_by_role("heading", level=2, name="Delitos denunciados en cada municipio")).to_be_visible()

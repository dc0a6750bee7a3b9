"""What an anonymous respondent does, in a real browser against `idmx serve --demo`, in Spanish (es-MX).

Demo consultations (src/idmx/seeding.py): `idmx-2027` approval, open, moderated; `semarnat-ambiente-2027`
pairwise, open, proposals published at once; `idmx-2026` rating, closed; `inegi-estadistica-2027`
upcoming. Every test gets a fresh browser context, so it is a new respondent; the database is shared
by the whole session, so tests never count on totals another test could change.
"""

from __future__ import annotations

import re
import uuid

import pytest

from .conftest import htmx_swap

try:
    from playwright.sync_api import Locator, Page, expect
except ImportError:  # conftest.py skips every test here with the reason (under CI=true: fails them)
    Locator = Page = expect = None  # type: ignore[assignment,misc]

pytestmark = pytest.mark.browser

NATIONAL = "/c/idmx-2027"
SEMARNAT = "/c/semarnat-ambiente-2027"
# A demo proposal of the national consultation (seeds/demo_proposals.json) and a rephrasing of it.
GASOLINE_TITLE = "Precios diarios de gasolina y diésel por estación de servicio"
GASOLINE_TYPED = "precio de la gasolina en cada gasolinera"

MARKER = "window.__idmxE2eMarker"


def mark_document(page: Page) -> None:
    """Tag the current document; the tag survives htmx swaps but not a page load."""
    page.evaluate(f"{MARKER} = 'same-document'")


def assert_same_document(page: Page) -> None:
    assert page.evaluate(f"{MARKER}") == "same-document", "the page was reloaded instead of swapped by htmx"


def proposal_count(page: Page) -> int:
    text = page.locator("#proposal-list > p.muted").first.inner_text()
    match = re.match(r"\s*([\d,.\s]+)\s+propuestas?", text)
    assert match, f"no proposal count in {text!r}"
    return int(re.sub(r"\D", "", match.group(1)))


def first_unsupported(page: Page) -> tuple[int, Locator]:
    """The first "Apoyar" button of the listing, and the proposal id it belongs to."""
    button = page.locator("#proposal-list .vote-form button[aria-pressed='false']").first
    expect(button).to_have_text("Apoyar")
    proposal_id = int(button.get_attribute("id").removeprefix("p"))
    return proposal_id, page.locator(f"#p{proposal_id}")


# --- propose, see the similar proposal, support it instead ---------------------------------------------


def test_propose_finds_similar_and_supports_it_instead(page: Page) -> None:
    page.goto(f"{NATIONAL}/propose")
    expect(page.get_by_role("heading", level=2, name="Proponer un conjunto de datos")).to_be_visible()

    page.get_by_label("¿Qué datos necesitas?").press_sequentially(GASOLINE_TYPED)
    similar = page.locator("#similar")
    expect(similar.get_by_role("heading", name="Ya existen propuestas parecidas")).to_be_visible()
    match = similar.locator("li").filter(has=page.get_by_role("link", name=GASOLINE_TITLE, exact=True))
    expect(match).to_have_count(1)
    href = match.get_by_role("link").get_attribute("href")
    proposal_id = int(href.rstrip("/").rsplit("/", 1)[1])

    match.get_by_role("button", name="Apoyar esta en su lugar").click()

    expect(page).to_have_url(re.compile(rf"{re.escape(href)}$"))
    expect(page.get_by_role("heading", level=2, name=GASOLINE_TITLE)).to_be_visible()
    button = page.locator(f"#p{proposal_id}")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_have_text(re.compile("Apoyada: retirar apoyo"))


# --- approval toggle with htmx ---------------------------------------------------------------------------


def test_approval_toggle_swaps_in_place_and_persists(page: Page) -> None:
    page.goto(f"{NATIONAL}/")
    proposal_id, button = first_unsupported(page)
    mark_document(page)

    with htmx_swap(page):
        button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_have_text(re.compile("Apoyada: retirar apoyo"))
    expect(page.locator(f"form:has(#p{proposal_id}) [role=status]")).to_have_text("Guardado")
    assert_same_document(page)

    with htmx_swap(page):
        button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button).to_have_text("Apoyar")
    assert_same_document(page)

    page.reload()
    expect(button).to_have_attribute("aria-pressed", "false")  # the withdrawal was stored

    with htmx_swap(page):
        button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    page.reload()
    expect(button).to_have_attribute("aria-pressed", "true")  # and so was the support


# --- pairwise ------------------------------------------------------------------------------------------------


def _shown_pair(page: Page) -> frozenset[str]:
    return frozenset(
        page.locator(f"#pair input[name={side}]").get_attribute("value") for side in ("left", "right")
    )


def test_ten_pairwise_choices_arrive_by_htmx(page: Page) -> None:
    page.goto(f"{SEMARNAT}/pair")
    region = page.locator("#pair")
    expect(region).to_contain_text("Has comparado 0 pares.")
    mark_document(page)

    choices = ["left", "right", "left", "right", "none", "left", "right", "left", "right", "left"]
    seen: set[frozenset[str]] = set()
    for n, choice in enumerate(choices, start=1):
        before_text = region.inner_text()
        shown = _shown_pair(page)
        assert shown not in seen, f"pair {sorted(shown)} was shown twice"
        seen.add(shown)
        with htmx_swap(page):
            if choice == "none":
                region.get_by_role("button", name="No puedo decidir").click()
            else:
                option = region.locator(".pair-option").nth(0 if choice == "left" else 1)
                option.get_by_role("button", name="Elegir esta").click()
        expect(region).not_to_have_text(before_text)
        counter = f"Has comparado {n} par." if n == 1 else f"Has comparado {n} pares."
        expect(region).to_contain_text(counter)
        expect(region.get_by_role("status")).to_have_text("Guardado. Aquí está el siguiente par.")
        assert_same_document(page)

    expect(region.locator("p.muted")).to_have_text("Has comparado 10 pares.")
    page.reload()  # the answers were stored for this respondent
    expect(page.locator("#pair p.muted")).to_have_text("Has comparado 10 pares.")


# --- the same flows without JavaScript -----------------------------------------------------------------------


def test_propose_and_vote_without_javascript(page_nojs: Page) -> None:
    page = page_nojs
    page.goto(f"{SEMARNAT}/")
    before = proposal_count(page)

    # Too short a title: the form comes back with the message next to the field, and nothing is stored.
    page.goto(f"{SEMARNAT}/propose")
    page.get_by_label("¿Qué datos necesitas?").fill("abc")
    page.get_by_label("Descripción").fill("Texto que debe conservarse.")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Enviar propuesta").click()
    assert posted.value.status == 422
    expect(page.locator("#title-error")).to_have_text("Escribe un título de al menos 5 caracteres.")
    title = page.get_by_label("¿Qué datos necesitas?")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(title).to_have_attribute("aria-describedby", re.compile(r"\btitle-error\b"))
    expect(title).to_have_value("abc")
    expect(page.get_by_label("Descripción")).to_have_value("Texto que debe conservarse.")
    expect(page.get_by_role("alert")).to_contain_text("No se guardó nada")
    page.goto(f"{SEMARNAT}/")
    assert proposal_count(page) == before

    # A valid proposal: open mode publishes it at once and thanks its author.
    new_title = f"Mapa de ruido urbano por colonia, prueba {uuid.uuid4().hex[:8]}"
    page.goto(f"{SEMARNAT}/propose")
    page.get_by_label("¿Qué datos necesitas?").fill(new_title)
    page.get_by_label("Descripción").fill("Mediciones de decibeles por hora en cada colonia.")
    page.get_by_role("button", name="Enviar propuesta").click()
    expect(page).to_have_url(re.compile(rf"{SEMARNAT}/proposals/\d+\?created=1$"))
    expect(page.get_by_role("status")).to_have_text("¡Gracias! Tu propuesta está publicada y cuenta con tu apoyo.")
    expect(page.get_by_role("heading", level=2, name=new_title)).to_be_visible()
    expect(page.locator(".status strong")).to_have_text("Publicada")
    page.goto(f"{SEMARNAT}/")
    assert proposal_count(page) == before + 1

    # Support on the approval consultation: a plain POST answered with 303 back to the list.
    page.goto(f"{NATIONAL}/")
    proposal_id, button = first_unsupported(page)
    with page.expect_navigation() as navigation:
        button.click()
    response = navigation.value
    redirect = response.request.redirected_from
    assert redirect is not None and redirect.method == "POST", "the vote was not a form post answered by a redirect"
    assert redirect.response().status == 303
    expect(page).to_have_url(re.compile(rf"{NATIONAL}/?#p{proposal_id}$"))
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_have_text(re.compile("Apoyada: retirar apoyo"))


# --- accessibility --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        f"{NATIONAL}/",
        f"{NATIONAL}/propose",
        "proposal",  # the first proposal listed on the national consultation
        f"{SEMARNAT}/pair",
        f"{NATIONAL}/profile",
        "/c/idmx-2026/",  # closed, rating
        "/c/inegi-estadistica-2027/",  # upcoming
    ],
)
def test_no_serious_accessibility_violations(reader_page: Page, axe, path: str) -> None:
    page = reader_page
    if path == "proposal":
        page.goto(f"{NATIONAL}/")
        page.locator("#proposal-list ol.proposals h3 a").first.click()
        expect(page).to_have_url(re.compile(r"/proposals/\d+$"))
    else:
        page.goto(path)
    expect(page.locator("main h1")).to_be_visible()
    axe(page)


def test_axe_check_reports_serious_violations(page: Page, axe) -> None:
    """The harness itself: a page with known serious violations must fail the check."""
    page.set_content(
        '<!doctype html><html lang="es"><head><title>t</title></head><body><main><h1>t</h1>'
        '<img src="data:,"><p style="color:#bbb;background:#fff">poco contraste</p></main></body></html>'
    )
    with pytest.raises(AssertionError) as failure:
        axe(page, "a page with known violations")
    assert "image-alt" in str(failure.value) and "color-contrast" in str(failure.value)


def test_no_serious_accessibility_violations_in_dynamic_states(page: Page, axe) -> None:
    page.goto(f"{NATIONAL}/propose")
    title = page.get_by_label("¿Qué datos necesitas?")
    title.fill(GASOLINE_TYPED[:-1])
    title.press_sequentially(GASOLINE_TYPED[-1])  # one keyup asks for the suggestions
    expect(page.locator("#similar li").first).to_be_visible()
    axe(page, "the propose form with the similar proposals listed")

    page.get_by_label("¿Qué datos necesitas?").fill("abc")
    page.get_by_role("button", name="Enviar propuesta").click()
    expect(page.locator("#title-error")).to_be_visible()
    axe(page, "the propose form with an error")

    page.goto(f"{NATIONAL}/")
    _, button = first_unsupported(page)
    with htmx_swap(page):
        button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    axe(page, "the consultation after an htmx vote")


# --- keyboard -----------------------------------------------------------------------------------------------------


def test_keyboard_skip_link_and_enter_toggles_support(page: Page) -> None:
    page.goto(f"{NATIONAL}/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Saltar al contenido")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0, "the focused skip link is off screen"

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    # Tab on from the main content until the first support button has focus.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('.vote-form button')"):
            break
    else:
        pytest.fail("Tab never reached an “Apoyar” button")
    button_id = page.evaluate("document.activeElement.id")
    button = page.locator(f"#{button_id}")
    expect(button).to_have_attribute("aria-pressed", "false")
    mark_document(page)

    with htmx_swap(page):
        page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_be_focused()  # htmx keeps focus on the swapped button (same id)
    assert_same_document(page)

    with htmx_swap(page):
        page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(button).to_be_focused()
    assert_same_document(page)


# --- known bugs -----------------------------------------------------------------------------------------------------


def test_swapped_support_form_still_works_as_a_plain_form(page: Page) -> None:
    page.goto(f"{NATIONAL}/")
    proposal_id, button = first_unsupported(page)
    with htmx_swap(page):
        button.click()
    expect(button).to_have_attribute("aria-pressed", "true")
    # What the browser does when the swapped form is submitted before htmx wires it up, or without htmx.
    with page.expect_navigation() as navigation:
        page.locator(f"form:has(#p{proposal_id})").evaluate("form => form.submit()")
    assert navigation.value.status == 200, f"{navigation.value.status} at {navigation.value.url}"
    expect(page).to_have_url(re.compile(rf"{NATIONAL}/?#p{proposal_id}$"))
    expect(button).to_have_attribute("aria-pressed", "false")

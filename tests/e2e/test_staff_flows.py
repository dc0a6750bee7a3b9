"""What staff do, in a real browser against `idmx serve --demo`, in Spanish (es-MX).

The accounts (conftest.STAFF) are created with `idmx createuser` before the server starts: a SEMARNAT
institution administrator and a central administrator (the national demo consultation `idmx-2027`,
approval and moderated, belongs to the central team). Sign-in is throttled per client address, so
only the first test signs in through the form by hand; the others reuse a session (`staff_page`).
The database is shared by the whole session: tests make their own consultations and proposals with
unique names and never count on totals another test could change.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from .conftest import LOCALE, STAFF, STAFF_PASSWORD, htmx_swap

try:
    from playwright.sync_api import Page, expect
except ImportError:  # conftest.py skips every test here with the reason (under CI=true: fails them)
    Page = expect = None  # type: ignore[assignment,misc]

pytestmark = pytest.mark.browser

NATIONAL = "/c/idmx-2027"
NATIONAL_TITLE = "Consulta nacional IDMX 2027"
# A near-duplicate pair among the national demo proposals (seeds/demo_proposals.json).
GASOLINE_TITLE = "Precios diarios de gasolina y diésel por estación de servicio"
FUEL_TITLE = "Cuánto cuesta el combustible en cada gasolinera, actualizado todos los días"
MEXICO = ZoneInfo("America/Mexico_City")  # the form's datetime-local inputs are central Mexico time
MARKER = "window.__idmxE2eMarker"


def local_input(days: float, hour: int = 9) -> str:
    """A datetime-local value `days` from today, at `hour`:00 central Mexico time."""
    when = (datetime.now(MEXICO) + timedelta(days=days)).replace(hour=hour, minute=0)
    return when.strftime("%Y-%m-%dT%H:%M")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def anonymous(browser, server: str, locale: str = LOCALE) -> Iterator[Page]:
    """A page in a fresh context without any cookie: a member of the public."""
    context = browser.new_context(base_url=server, locale=locale)
    try:
        yield context.new_page()
    finally:
        context.close()


def mark_document(page: Page) -> None:
    page.evaluate(f"{MARKER} = 'same-document'")


def assert_same_document(page: Page) -> None:
    assert page.evaluate(MARKER) == "same-document", "the page was reloaded instead of swapped by htmx"


def fill_consultation(page: Page, *, slug: str, title_es: str, opens: str, closes: str, title_en: str = "",
                      description_es: str = "", description_en: str = "", method: str = "approval",
                      mode: str = "open", visibility: str = "after_close") -> None:
    page.get_by_label("Dirección").fill(slug)
    page.get_by_label("Título en español").fill(title_es)
    page.get_by_label("Título en inglés").fill(title_en)
    page.get_by_label("Descripción en español").fill(description_es)
    page.get_by_label("Descripción en inglés").fill(description_en)
    page.get_by_label("Método de votación").select_option(method)
    page.get_by_label("Propuestas", exact=True).select_option(mode)
    page.get_by_label("Resultados visibles").select_option(visibility)
    page.get_by_label(re.compile(r"^Abre\b")).fill(opens)
    page.get_by_label(re.compile(r"^Cierra\b")).fill(closes)


def propose(page: Page, title: str, description: str) -> int:
    """As an anonymous respondent, propose in the (moderated) national consultation; returns the id."""
    page.goto(f"{NATIONAL}/propose")
    page.get_by_label("¿Qué datos necesitas?").fill(title)
    page.get_by_label("Descripción").fill(description)
    page.get_by_role("button", name="Enviar propuesta").click()
    expect(page).to_have_url(re.compile(rf"{NATIONAL}/proposals/\d+\?created=1$"))
    expect(page.get_by_role("status")).to_have_text(
        "¡Gracias! Recibimos tu propuesta; aparecerá cuando una persona moderadora la revise.")
    expect(page.locator(".status strong")).to_have_text("En espera de moderación")
    return int(re.search(r"/proposals/(\d+)", page.url).group(1))


def open_national_queue(staff: Page) -> None:
    staff.goto("/staff/moderation/")
    staff.locator("#moderation-consultations").get_by_role("link", name=NATIONAL_TITLE, exact=True).click()
    expect(staff).to_have_url(re.compile(r"/staff/moderation/\d+$"))
    expect(staff.locator("main h1")).to_have_text(f"Moderación: {NATIONAL_TITLE}")


# --- 1. an institution creates, publishes and opens a consultation ------------------------------------


def test_institution_admin_creates_publishes_and_opens_a_consultation(page: Page, browser, server: str) -> None:
    admin = STAFF["semarnat_admin"]
    slug = unique("e2e-agua")
    title_es = f"Datos del agua que necesitas ({slug})"
    title_en = f"Water data you need ({slug})"

    page.goto("/staff/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acceso para el personal")
    page.get_by_label("Correo electrónico").fill(admin.email)
    page.get_by_label("Contraseña").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Iniciar sesión").click()
    expect(page).to_have_url(re.compile(r"/staff/?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Espacio de trabajo")
    staff_nav = page.get_by_role("navigation", name="Personal")
    expect(staff_nav).to_contain_text(f"{admin.email} · SEMARNAT")

    staff_nav.get_by_role("link", name="Nueva consulta").click()
    expect(page).to_have_url(re.compile(r"/staff/consultations/new$"))
    expect(page.get_by_label("Institución")).to_have_count(0)  # an institution admin cannot choose one
    opens, closes = local_input(2), local_input(40, hour=18)
    fill_consultation(
        page, slug=slug, title_es=title_es, title_en=title_en,
        description_es="¿Qué datos del agua debe publicar primero la SEMARNAT?",
        description_en="Which water data should SEMARNAT publish first?",
        method="rating", mode="moderated", visibility="live", opens=opens, closes=closes,
    )
    page.get_by_label("Obligatoria: todos indican su sector").check()
    page.get_by_role("button", name="Crear borrador").click()

    # The edit page of the new draft, with every setting stored as entered.
    expect(page).to_have_url(re.compile(r"/staff/consultations/\d+$"))
    edit_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(title_es)
    expect(page.locator("#phase")).to_have_text("Borrador")
    expect(page.locator("#share-url")).to_have_value(re.compile(rf"^{re.escape(server)}/c/{slug}/?$"))
    share_url = page.locator("#share-url").input_value()
    expect(page.get_by_label("Título en inglés")).to_have_value(title_en)
    expect(page.get_by_label("Descripción en inglés")).to_have_value("Which water data should SEMARNAT publish first?")
    expect(page.get_by_label("Método de votación")).to_have_value("rating")
    expect(page.get_by_label("Propuestas", exact=True)).to_have_value("moderated")
    expect(page.get_by_label("Resultados visibles")).to_have_value("live")
    expect(page.get_by_label("Obligatoria: todos indican su sector")).to_be_checked()
    expect(page.get_by_label(re.compile(r"^Abre\b"))).to_have_value(opens)
    expect(page.get_by_label(re.compile(r"^Cierra\b"))).to_have_value(closes)
    page.goto("/staff/consultations/")
    row = page.locator("#consultations tbody tr").filter(has_text=f"/c/{slug}")
    expect(row).to_contain_text("SEMARNAT")
    expect(row).to_contain_text("Borrador")

    with anonymous(browser, server) as public:
        assert public.goto(f"/c/{slug}/").status == 404, "a draft must not be public"

        # Publish: public, upcoming until its opening date.
        page.goto(edit_url)
        page.locator("#consultation-actions").get_by_role("button", name="Publicar").click()
        expect(page.locator("#phase")).to_have_text("Próxima")
        response = public.goto(share_url)  # the address the edit page offers to share
        assert response.status == 200
        expect(public.get_by_role("heading", level=1)).to_have_text(title_es)
        expect(public.locator(".phase")).to_have_class(re.compile(r"\bphase-upcoming\b"))
        expect(public.locator(".phase")).to_contain_text("Abre el")
        expect(public.get_by_role("link", name="Proponer un conjunto de datos")).to_have_count(0)

        # Open now: the opening date moves to now and the public page takes part at once.
        page.locator("#consultation-actions").get_by_role("button", name="Abrir ahora").click()
        expect(page.locator("#phase")).to_have_text("Abierta")
        expect(page.locator("#consultation-actions").get_by_role("button", name="Cerrar ahora")).to_be_visible()
        public.reload()
        expect(public.locator(".phase")).to_have_class(re.compile(r"\bphase-open\b"))
        expect(public.locator(".phase")).to_contain_text("Abierta hasta el")
        expect(public.locator(".consultation-header .breadcrumb")).to_contain_text("SEMARNAT")
        expect(public.get_by_role("link", name="Proponer un conjunto de datos")).to_be_visible()

    # The English texts are what English-speaking visitors see.
    with anonymous(browser, server, locale="en-US") as public_en:
        public_en.goto(f"/c/{slug}/")
        expect(public_en.get_by_role("heading", level=1)).to_have_text(title_en)
        expect(public_en.locator(".description").first).to_have_text("Which water data should SEMARNAT publish first?")


def test_closing_before_opening_is_refused_in_place(staff_page, browser, server: str, axe) -> None:
    page = staff_page("semarnat_admin")
    slug = unique("e2e-fechas")
    page.goto("/staff/consultations/new")
    fill_consultation(page, slug=slug, title_es=f"Fechas al revés ({slug})", opens=local_input(10), closes=local_input(5))
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Crear borrador").click()
    assert posted.value.status == 422

    expect(page.get_by_role("alert")).to_contain_text("Corrige los campos marcados. No se guardó nada.")
    expect(page.locator("#closes_at-error")).to_have_text("La fecha de cierre debe ser posterior a la de apertura.")
    closes = page.get_by_label(re.compile(r"^Cierra\b"))
    expect(closes).to_have_attribute("aria-invalid", "true")
    expect(closes).to_have_attribute("aria-describedby", re.compile(r"\bcloses_at-error\b"))
    expect(closes).to_have_value(local_input(5))
    expect(page.get_by_label(re.compile(r"^Abre\b"))).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Dirección")).to_have_value(slug)  # what was typed comes back
    expect(page.locator(".field-error")).to_have_count(1)
    axe(page, "the consultation form with an error")

    page.goto("/staff/consultations/")
    expect(page.locator("#consultations")).to_be_visible()
    expect(page.locator("#consultations")).not_to_contain_text(slug)
    with anonymous(browser, server) as public:
        assert public.goto(f"/c/{slug}/").status == 404


# --- 2. moderation: approve, hide, merge ----------------------------------------------------------------


def test_moderation_approve_hide_and_merge(page: Page, staff_page) -> None:
    tag = uuid.uuid4().hex[:6]
    approve_title = f"Horarios de recolección de basura por colonia, prueba {tag}"
    spam_title = f"Compra seguidores baratos aquí, prueba {tag}"
    duplicate_title = f"Horario de la recolección de basura en cada colonia, prueba {tag}"
    reason = f"Publicidad, no es una solicitud de datos ({tag})."

    # An anonymous respondent proposes three things; the consultation is moderated, so they wait.
    approve_id = propose(page, approve_title, "A qué hora pasa el camión de la basura en cada colonia.")
    spam_id = propose(page, spam_title, "Visita mi sitio.")
    duplicate_id = propose(page, duplicate_title, "Días y horas del camión recolector.")

    staff = staff_page("central_admin")
    assert staff.goto(f"{NATIONAL}/proposals/{approve_id}").status == 404, "a pending proposal is only its author's"
    open_national_queue(staff)
    for pid in (approve_id, spam_id, duplicate_id):
        expect(staff.locator(f"#queue-row-{pid}")).to_have_attribute("data-status", "pending")
    queue = staff.locator("#queue")
    mark_document(staff)

    # Approve one: htmx swaps the queue in place.
    staff.get_by_role("checkbox", name=approve_title).check()
    with htmx_swap(staff):
        staff.get_by_role("button", name=re.compile(r"^Aprobar")).click()
    expect(queue.get_by_role("status")).to_have_text("Se actualizó 1 propuesta.")
    expect(staff.locator(f"#queue-row-{approve_id}")).to_have_count(0)
    expect(staff.locator(f"#queue-row-{spam_id}")).to_be_visible()
    assert_same_document(staff)

    # Hide another: without a reason the swapped queue says why and keeps the selection...
    staff.get_by_role("checkbox", name=spam_title).check()
    with htmx_swap(staff):
        staff.get_by_role("button", name="Ocultar", exact=True).click()
    expect(queue.get_by_role("alert")).to_contain_text("No se cambió nada.")
    expect(staff.locator("#bulk-reason-error")).to_have_text(
        "Escribe el motivo; se muestra públicamente en la página de la propuesta.")
    expect(staff.get_by_label("Motivo para ocultar")).to_have_attribute("aria-invalid", "true")
    expect(staff.get_by_role("checkbox", name=spam_title)).to_be_checked()
    expect(staff.locator(f"#queue-row-{spam_id}")).to_be_visible()
    # ... and with one it hides the proposal.
    staff.get_by_label("Motivo para ocultar").fill(reason)
    with htmx_swap(staff):
        staff.get_by_role("button", name="Ocultar", exact=True).click()
    expect(queue.get_by_role("status")).to_have_text("Se actualizó 1 propuesta.")
    expect(staff.locator(f"#queue-row-{spam_id}")).to_have_count(0)
    expect(staff.locator(f"#queue-row-{duplicate_id}")).to_be_visible()
    assert_same_document(staff)
    staff.reload()
    expect(staff.locator(f"#hidden-proposals li[data-proposal='{spam_id}']")).to_contain_text(reason)

    # Merge the respondent's duplicate (still pending) into the approved proposal, as suggested.
    staff.get_by_role("link", name="Posibles duplicados").click()
    expect(staff).to_have_url(re.compile(r"/staff/moderation/\d+/duplicates$"))
    group = (staff.locator("#duplicate-clusters .cluster")
             .filter(has=staff.get_by_role("link", name=approve_title, exact=True))
             .filter(has=staff.get_by_role("link", name=duplicate_title, exact=True)))
    expect(group).to_contain_text("En espera de moderación")
    group.get_by_role("button", name=f"Conservar «{approve_title}» y fusionar en ella «{duplicate_title}»").click()
    expect(staff).to_have_url(re.compile(r"/duplicates\?merged=1$"))
    expect(staff.get_by_role("status")).to_have_text("Las propuestas se fusionaron.")
    expect(group).to_have_count(0)

    # Merge the demo's two gasoline-price proposals with the merge form of one proposal.
    # Their ids, from the merge form's list of published proposals ("#id · title").
    staff.goto(f"/staff/moderation/proposals/{approve_id}")
    expect(staff.locator(".status strong")).to_have_text("Publicada")
    options = staff.locator("#survivor option").evaluate_all("els => els.map(o => [o.value, o.textContent])")
    published = {text.split(" · ", 1)[1]: int(value) for value, text in options if value}
    gasoline_id, fuel_id = published[GASOLINE_TITLE], published[FUEL_TITLE]
    staff.goto(f"/staff/moderation/proposals/{fuel_id}")
    staff.get_by_label("La propuesta que se conserva").select_option(str(gasoline_id))
    staff.locator("#merge-form").get_by_role("button", name="Fusionar").click()
    expect(staff).to_have_url(re.compile(rf"/staff/moderation/proposals/{gasoline_id}\?saved=merged$"))
    expect(staff.get_by_role("status")).to_have_text("Las propuestas se fusionaron.")
    expect(staff.locator("#staff-history li[data-action='proposal.absorb']")).to_contain_text(FUEL_TITLE)

    # What the public sees: the approved proposal published (and supported by its author) ...
    page.goto(f"{NATIONAL}/proposals/{approve_id}")
    expect(page.locator(".status strong")).to_have_text("Publicada")
    expect(page.locator("ol.history")).to_contain_text("Publicada tras la revisión de moderación")
    expect(page.locator(f"#p{approve_id}")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("ol.history")).to_contain_text(f"Se fusionó aquí la propuesta duplicada «{duplicate_title}»")
    # ... the hidden one with its reason in the history (for anyone, not only its author) ...
    staff.goto(f"{NATIONAL}/proposals/{spam_id}")
    expect(staff.locator(".status strong")).to_have_text("Ocultada por moderación")
    expect(staff.locator("ol.history")).to_contain_text(f"Ocultada por moderación: {reason}")
    expect(staff.locator(".proposal-detail .description")).to_have_count(0)
    # ... and the merged ones pointing to the proposals that remain.
    for merged_id, survivor_id, survivor_title in ((duplicate_id, approve_id, approve_title),
                                                   (fuel_id, gasoline_id, GASOLINE_TITLE)):
        staff.goto(f"{NATIONAL}/proposals/{merged_id}")
        expect(staff.locator(".status strong")).to_have_text("Fusionada con otra propuesta")
        expect(staff.locator("ol.history")).to_contain_text(f"Fusionada en «{survivor_title}»")
        notice = staff.locator(".proposal-detail .notice")
        expect(notice).to_contain_text("Esta propuesta se fusionó con:")
        link = notice.get_by_role("link", name=survivor_title, exact=True)
        expect(link).to_have_attribute("href", f"{NATIONAL}/proposals/{survivor_id}")
    link.click()
    expect(staff).to_have_url(re.compile(rf"{NATIONAL}/proposals/{gasoline_id}$"))
    expect(staff.get_by_role("heading", level=2, name=GASOLINE_TITLE)).to_be_visible()


# --- 3. accessibility ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["login", "dashboard", "consultation form", "moderation queue"])
def test_no_serious_accessibility_violations_on_staff_pages(which: str, page: Page, staff_page, axe) -> None:
    if which == "login":
        page.goto("/staff/login")
        target = page
    elif which == "dashboard":
        target = staff_page("semarnat_admin")
        target.goto("/staff/")
        expect(target.locator("main table")).to_be_visible()
    elif which == "consultation form":
        target = staff_page("semarnat_admin")
        target.goto("/staff/consultations/new")
        expect(target.locator("#consultation-form")).to_be_visible()
    else:
        # Something waiting, so the table and the bulk controls are audited too.
        propose(page, f"Padrón de mercados públicos por alcaldía, prueba {uuid.uuid4().hex[:6]}", "")
        target = staff_page("central_admin")
        open_national_queue(target)
        expect(target.locator("#queue table.queue")).to_be_visible()
    expect(target.locator("main h1")).to_be_visible()
    axe(target, which)

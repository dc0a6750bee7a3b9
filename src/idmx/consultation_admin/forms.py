"""Parsing the staff forms for consultations: settings, fixed proposal lists (text and CSV), clones.

Pure functions over what the browser sent and plain reference data, testable without the app. Each
returns the values to show back in the inputs (`raw`), the parsed values, and messages keyed by field
name, so the page re-renders in place with every problem at once and nothing is stored.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from idmx import votemodes
from idmx.consultations.forms import DESCRIPTION_MAX as PROPOSAL_DESCRIPTION_MAX
from idmx.consultations.forms import TITLE_MAX as PROPOSAL_TITLE_MAX
from idmx.consultations.forms import TITLE_MIN as PROPOSAL_TITLE_MIN
from idmx.enums import ProposalMode, ResultsVisibility
from idmx.fields import clean_text
from idmx.i18n import DISPLAY_TZ
from idmx.i18n import gettext as _

if TYPE_CHECKING:
    from idmx.db.models import Consultation

SLUG_MIN, SLUG_MAX = 3, 80
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TITLE_MAX = 200
DESCRIPTION_MAX = 10_000
SHARE_TOLERANCE = 0.001
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends and shows
TARGET_VARIABLES = ("segment", "state")

# Fields whose values shape the results: they cannot change once the consultation has opened.
FROZEN_FIELDS = ("voting_method", "proposal_mode", "opens_at")
TEXT_FIELDS = ("slug", "title_es", "title_en", "description_es", "description_en")
CHOICE_FIELDS = ("voting_method", "proposal_mode", "results_visibility", "segment_question")
DATE_FIELDS = ("opens_at", "closes_at")

# Fixed lists of proposals.
CSV_COLUMNS = ("title", "description", "institution", "topic")
CSV_REQUIRED = ("title", "description")
MAX_ITEMS = 5000
MAX_REPORTED = 200


# --- small parsers ---------------------------------------------------------------------------------


def parse_local(text: str) -> datetime | None:
    """A datetime-local value ("2026-03-01T09:30") read as central Mexico time, returned in UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        return None
    if value.tzinfo is not None:
        return None
    return value.replace(second=0, microsecond=0, tzinfo=DISPLAY_TZ).astimezone(timezone.utc)


def format_local(value: datetime | None) -> str:
    return value.astimezone(DISPLAY_TZ).strftime(LOCAL_FORMAT) if value else ""


def parse_share(text: str) -> float | None:
    """A non-negative finite number; a decimal comma is accepted. None when it is not one."""
    try:
        value = float(text.strip().replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def format_share(value: float) -> str:
    return repr(float(value))


# Names the site's own routes and tools use: a consultation called so would be confusing at best, and at
# worst match a rule meant for those routes (an unanchored CSRF exclusion once did).
RESERVED_SLUGS = frozenset({
    "api", "healthz", "readyz", "livez", "static", "staff", "login", "logout", "admin", "c", "idmx", "items",
    "institutions", "monitoring", "requests", "following", "follows", "language", "data", "results", "new",
})


def _slug(raw: str, errors: dict[str, str]) -> str:
    slug = raw.strip().lower()
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        errors["slug"] = _("The address needs %(min)s to %(max)s characters.") % {"min": SLUG_MIN, "max": SLUG_MAX}
    elif not SLUG_RE.match(slug):
        errors["slug"] = _("Use only lowercase letters without accents, digits and single hyphens between words, e.g. “datos-salud-2026”.")
    elif slug in RESERVED_SLUGS:
        errors["slug"] = _("“%(slug)s” is a name the site uses for itself: choose another address.") % {"slug": slug}
    return slug


def _dates(raw: dict[str, str], errors: dict[str, str]) -> dict[str, datetime | None]:
    values: dict[str, datetime | None] = {}
    for name in DATE_FIELDS:
        value = parse_local(raw[name]) if raw[name] else None
        if value is None:
            errors[name] = _("Choose a date and time.") if not raw[name] else _("This is not a date and time.")
        else:
            raw[name] = format_local(value)
        values[name] = value
    opens, closes = values["opens_at"], values["closes_at"]
    if opens and closes and closes <= opens:
        errors["closes_at"] = _("The closing date must come after the opening date.")
    return values


# --- consultation settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class Choices:
    """Reference data the settings form offers: (code, name_es, name_en) segments, (code, name) states,
    and the institutions a central administrator may pick, (id, label)."""

    segments: list[tuple[str, str, str]]
    states: list[tuple[str, str]]
    institutions: list[tuple[int, str]]

    def codes(self, variable: str) -> list[str]:
        return [row[0] for row in (self.segments if variable == "segment" else self.states)]


def target_input(variable: str, code: str) -> str:
    return f"target_{variable}_{code}"


@dataclass
class ConsultationForm:
    raw: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    # {"segment": {code: share} or None for equal shares, "state": ...}
    targets: dict[str, dict[str, float] | None] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors

    def touched(self, variable: str) -> bool:
        """Whether any target of `variable` was filled in or has a message (to show it unfolded)."""
        prefix = f"target_{variable}_"
        return any(v for k, v in self.raw.items() if k.startswith(prefix)) or any(
            k.startswith(prefix) or k == f"targets_{variable}" for k in self.errors
        )


def blank_form(choices: Choices, institution_id: int | None) -> ConsultationForm:
    raw = {name: "" for name in (*TEXT_FIELDS, *DATE_FIELDS)}
    raw.update(
        institution="" if institution_id is None else str(institution_id),
        voting_method="approval", proposal_mode=ProposalMode.open.value,
        results_visibility=ResultsVisibility.after_close.value, segment_question="optional",
    )
    for variable in TARGET_VARIABLES:
        raw.update({target_input(variable, code): "" for code in choices.codes(variable)})
    return ConsultationForm(raw=raw, targets={v: None for v in TARGET_VARIABLES})


def form_from(c: Consultation, targets: dict[str, dict[str, float] | None], choices: Choices) -> ConsultationForm:
    """The form as the stored consultation fills it: what the edit page shows and edits compare against."""
    raw = {name: getattr(c, name) or "" for name in TEXT_FIELDS}
    raw.update(
        institution="" if c.institution_id is None else str(c.institution_id),
        voting_method=str(c.voting_method), proposal_mode=c.proposal_mode.value,
        results_visibility=c.results_visibility.value,
        segment_question="required" if c.segment_required else "optional",
        opens_at=format_local(c.opens_at), closes_at=format_local(c.closes_at),
    )
    for variable in TARGET_VARIABLES:
        shares = targets.get(variable) or {}
        raw.update({target_input(variable, code): format_share(shares[code]) if code in shares else ""
                    for code in choices.codes(variable)})
    values = {name: getattr(c, name) for name in (*TEXT_FIELDS, "institution_id", "voting_method", "proposal_mode",
                                                  "results_visibility", "segment_required", *DATE_FIELDS)}
    return ConsultationForm(raw=raw, values=values, targets={v: targets.get(v) for v in TARGET_VARIABLES})


def _targets(variable: str, codes: list[str], raw: dict[str, str], errors: dict[str, str]) -> dict[str, float] | None:
    texts = {code: raw[target_input(variable, code)] for code in codes}
    if not any(texts.values()):
        return None  # equal shares
    shares: dict[str, float] = {}
    for code, text in texts.items():
        value = parse_share(text) if text else None
        if value is not None:
            shares[code] = value
        elif text:
            errors[target_input(variable, code)] = _("Write a number of 0 or more, e.g. 0.25.")
    if not all(texts.values()):
        errors[f"targets_{variable}"] = _("Fill in every share, or leave them all empty.")
    if len(shares) < len(codes):
        return None
    total = sum(shares.values())
    if abs(total - 1) > SHARE_TOLERANCE:
        errors[f"targets_{variable}"] = _("The shares must add up to 1 (they add up to %(total)s).") % {"total": f"{total:.4g}"}
        return None
    return shares


def parse_consultation(
    data: Mapping[str, Any],
    choices: Choices,
    *,
    own_institution_id: int | None,
    can_choose_institution: bool,
    current: ConsultationForm | None = None,
) -> ConsultationForm:
    """Read the settings form. For an edit, a field the page did not send (a read-only one) keeps its
    current value; the rules that depend on the consultation's state are in `check_rules`."""
    fallback = current.raw if current else {}
    names = [*TEXT_FIELDS, "institution", *CHOICE_FIELDS, *DATE_FIELDS] + [
        target_input(v, code) for v in TARGET_VARIABLES for code in choices.codes(v)
    ]
    raw = {name: clean_text(data[name]) if name in data else fallback.get(name, "") for name in names}
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"slug": _slug(raw["slug"], errors)}
    raw["slug"] = values["slug"]
    if not raw["title_es"]:
        errors["title_es"] = _("Write the title in Spanish.")
    for name in ("title_es", "title_en"):
        if len(raw[name]) > TITLE_MAX:
            errors[name] = _("At most %(max)s characters (you wrote %(n)s).") % {"max": TITLE_MAX, "n": len(raw[name])}
    for name in ("description_es", "description_en"):
        if len(raw[name]) > DESCRIPTION_MAX:
            errors[name] = _("At most %(max)s characters (you wrote %(n)s).") % {"max": DESCRIPTION_MAX, "n": len(raw[name])}
    values.update({name: raw[name] for name in TEXT_FIELDS if name != "slug"})

    # Institution: central administrators choose one or none (national); others always their own.
    institution_id: int | None = own_institution_id
    if can_choose_institution:
        allowed = {str(i): i for i, _label in choices.institutions}
        if raw["institution"] and raw["institution"] not in allowed:
            errors["institution"] = _("Choose an institution from the list, or none for a national consultation.")
        institution_id = allowed.get(raw["institution"])
    elif raw["institution"] not in ("", str(own_institution_id)):
        errors["institution"] = _("You can only manage consultations of your own institution.")
    raw["institution"] = "" if institution_id is None else str(institution_id)
    values["institution_id"] = institution_id

    if raw["voting_method"] in {code for code, _label in votemodes.choices()}:
        values["voting_method"] = raw["voting_method"]
    else:
        errors["voting_method"] = _("Choose one of the options.")
    for name, enum_cls in (("proposal_mode", ProposalMode), ("results_visibility", ResultsVisibility)):
        try:
            values[name] = enum_cls(raw[name])
        except ValueError:
            errors[name] = _("Choose one of the options.")
    if raw["segment_question"] not in ("required", "optional"):
        errors["segment_question"] = _("Choose one of the options.")
    values["segment_required"] = raw["segment_question"] == "required"

    values.update(_dates(raw, errors))
    targets = {v: _targets(v, choices.codes(v), raw, errors) for v in TARGET_VARIABLES}
    return ConsultationForm(raw=raw, values=values, targets=targets, errors=errors)


def _same_targets(a: dict[str, float] | None, b: dict[str, float] | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-9 for k in a)


def changed_fields(form: ConsultationForm, current: ConsultationForm) -> list[str]:
    """Columns whose submitted value differs from the stored one (dates compared to the minute)."""
    changed = [name for name in (*TEXT_FIELDS, *DATE_FIELDS) if form.raw[name] != current.raw[name]]
    changed += [name for name in ("institution_id", "voting_method", "proposal_mode", "results_visibility",
                                  "segment_required") if form.values[name] != current.values[name]]
    return changed


def targets_changed(form: ConsultationForm, current: ConsultationForm) -> bool:
    return not all(_same_targets(form.targets.get(v), current.targets.get(v)) for v in TARGET_VARIABLES)


def check_rules(form: ConsultationForm, current: ConsultationForm | None, *, started: bool, now: datetime) -> dict[str, str]:
    """Rules that depend on the consultation's state. `started`: published and past its opening date.

    Once started, what shapes the results is frozen (method, proposal mode, opening date, weighting
    targets); the closing date may only move later (closing earlier is the "close now" action).
    """
    errors: dict[str, str] = {}
    closes = form.values.get("closes_at")
    closes_changed = current is None or form.raw["closes_at"] != current.raw["closes_at"]
    if not started:
        if closes and closes_changed and closes <= now:
            errors["closes_at"] = _("The closing date must be in the future.")
        return errors
    assert current is not None
    frozen = _("This cannot change once the consultation has opened: it shapes the results.")
    for name in FROZEN_FIELDS:
        if name in changed_fields(form, current):
            errors[name] = frozen
    for variable in TARGET_VARIABLES:
        if not _same_targets(form.targets.get(variable), current.targets.get(variable)):
            errors[f"targets_{variable}"] = frozen
    if closes and closes_changed and closes < current.values["closes_at"]:
        errors["closes_at"] = _("The closing date can only move later. To close earlier, use “Close now”.")
    return errors


# --- clone as the next round -----------------------------------------------------------------------


@dataclass
class CloneForm:
    raw: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def parse_clone(data: Mapping[str, Any], now: datetime) -> CloneForm:
    raw = {name: clean_text(data.get(name)) for name in ("slug", *DATE_FIELDS)}
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"slug": _slug(raw["slug"], errors)}
    raw["slug"] = values["slug"]
    values.update(_dates(raw, errors))
    if values["closes_at"] and "closes_at" not in errors and values["closes_at"] <= now:
        errors["closes_at"] = _("The closing date must be in the future.")
    return CloneForm(raw=raw, values=values, errors=errors)


# --- fixed lists of proposals ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineProblem:
    line: int
    column: str
    message: str


@dataclass
class FixedItem:
    line: int
    title: str
    description: str = ""
    institution_id: int | None = None
    topic_id: int | None = None


@dataclass
class FixedList:
    items: list[FixedItem] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)
    text: str = ""  # the textarea, shown back

    @property
    def valid(self) -> bool:
        return not self.problems and bool(self.items)

    @property
    def reported(self) -> list[LineProblem]:
        return self.problems[:MAX_REPORTED]


def title_key(title: str) -> str:
    return " ".join(title.casefold().split())


def _check_item(item: FixedItem, problems: list[LineProblem], seen: dict[str, int]) -> None:
    if not item.title:
        problems.append(LineProblem(item.line, "title", _("The title is empty.")))
    elif not PROPOSAL_TITLE_MIN <= len(item.title) <= PROPOSAL_TITLE_MAX:
        problems.append(LineProblem(item.line, "title", _("The title needs %(min)s to %(max)s characters (it has %(n)s).")
                                    % {"min": PROPOSAL_TITLE_MIN, "max": PROPOSAL_TITLE_MAX, "n": len(item.title)}))
    elif (first := seen.setdefault(title_key(item.title), item.line)) != item.line:
        problems.append(LineProblem(item.line, "title", _("Same title as line %(line)s.") % {"line": first}))
    if len(item.description) > PROPOSAL_DESCRIPTION_MAX:
        problems.append(LineProblem(item.line, "description", _("At most %(max)s characters (you wrote %(n)s).")
                                    % {"max": PROPOSAL_DESCRIPTION_MAX, "n": len(item.description)}))


def _too_many(result: FixedList, line: int) -> bool:
    if len(result.items) >= MAX_ITEMS:
        result.problems.append(LineProblem(line, "", _("At most %(max)s proposals per list.") % {"max": MAX_ITEMS}))
        return True
    return False


def parse_fixed_text(text: Any) -> FixedList:
    """One proposal per line, "title" or "title | description"; blank lines are skipped."""
    result = FixedList(text=clean_text(text))
    seen: dict[str, int] = {}
    for number, line in enumerate(result.text.split("\n"), start=1):
        if not line.strip():
            continue
        if _too_many(result, number):
            break
        title, _sep, description = line.partition("|")
        item = FixedItem(number, " ".join(title.split()), description.strip())
        _check_item(item, result.problems, seen)
        result.items.append(item)
    if not result.items and not result.problems:
        result.problems.append(LineProblem(1, "title", _("Write at least one title.")))
    return result


def parse_fixed_csv(content: bytes, institutions: Mapping[str, int], topics: Mapping[str, int]) -> FixedList:
    """A CSV file with a header row: title and description required, institution (acronym) and topic
    (code) optional. UTF-8, with or without a byte-order mark; comma or semicolon separated.

    `institutions` maps upper-case acronyms to ids, `topics` lower-case codes to ids.
    """
    result = FixedList()
    problems = result.problems
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        problems.append(LineProblem(line, "", _("The file is not UTF-8 text. Save it as “CSV UTF-8” and try again.")))
        return result
    text = clean_csv_text(text)
    if not text.strip():
        problems.append(LineProblem(1, "", _("The file is empty.")))
        return result
    header_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in header_line and "," not in header_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error as exc:
        problems.append(LineProblem(1, "", _("The header row cannot be read: %(error)s") % {"error": str(exc)}))
        return result
    for name in CSV_REQUIRED:
        if name not in header:
            problems.append(LineProblem(1, name, _("The column “%(name)s” is missing from the header row.") % {"name": name}))
    for name in header:
        if name not in CSV_COLUMNS:
            problems.append(LineProblem(1, name, _("Unknown column. The columns are: %(names)s.")
                                        % {"names": ", ".join(CSV_COLUMNS)}))
        elif header.count(name) > 1:
            problems.append(LineProblem(1, name, _("This column appears more than once.")))
    if problems:
        return result
    position = {name: header.index(name) for name in header}
    seen: dict[str, int] = {}
    end = reader.line_num
    while True:
        start = end + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(LineProblem(start, "", _("This line cannot be read: %(error)s") % {"error": str(exc)}))
            break
        end = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            problems.append(LineProblem(start, "", _("This line has %(n)s values; the header has %(m)s columns.")
                                        % {"n": len(row), "m": len(header)}))
            continue
        if _too_many(result, start):
            break
        cells = {name: clean_text(row[i]) if i < len(row) else "" for name, i in position.items()}
        item = FixedItem(start, " ".join(cells["title"].split()), cells["description"])
        _check_item(item, problems, seen)
        if cells.get("institution"):
            item.institution_id = institutions.get(cells["institution"].upper())
            if item.institution_id is None:
                problems.append(LineProblem(start, "institution", _("No institution has the acronym “%(value)s”.")
                                            % {"value": cells["institution"]}))
        if cells.get("topic"):
            item.topic_id = topics.get(cells["topic"].lower())
            if item.topic_id is None:
                problems.append(LineProblem(start, "topic", _("No topic has the code “%(value)s”.") % {"value": cells["topic"]}))
        result.items.append(item)
    if not result.items and not problems:
        problems.append(LineProblem(2, "title", _("The file has a header but no proposals.")))
    return result


def no_file() -> FixedList:
    return FixedList(problems=[LineProblem(0, "", _("Choose a CSV file to upload."))])


def clean_csv_text(text: str) -> str:
    """Normalise line ends so line numbers match what a text editor shows."""
    return text.replace("\r\n", "\n").replace("\r", "\n")

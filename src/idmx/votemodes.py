"""Vote modes: one entry per way of voting, and the one place to add another.

An entry says everything the platform needs to know about a mode:

* how a vote arrives: `parse` turns the submitted form into what is stored, strictly (exactly the
  expected fields and values, or a `DomainError` naming the field), and `partial` is the template of the
  vote control shown beside each proposal (`page` instead names the route of a page of its own);
* how it is written: `storage` picks the write path, ``"value"`` (one small number per respondent and
  proposal in ``votes``, `values` its allowed range, exposures recorded when `records_exposures`) or
  ``"comparison"`` (one answer per respondent and pair in ``pairwise_votes``);
* how it is ranked: `statistics` names the sufficient statistics the database keeps for it
  (``"approval"``: exposures and supporters, ``"rating"``: count, sum and sum of squares of the values,
  ``"pairwise"``: the comparisons), `scorer` turns them into scores with intervals on `scale`, and
  `file_columns` is the header of its votes file (`idmx rank`, the open-data package);
* how it reads: its names, what its votes file holds, and how lists show support (`support`).

Built-in modes are registered below; a new one is one `register(VoteMode(...))` (then
`idmx.votemodes_sync` adds its row to the database's ``vote_modes`` reference table, which every
consultation and ranking run refers to). Pure: no framework, no database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from idmx import statistics
from idmx.errors import Conflict
from idmx.fields import FormShapeError, only_fields
from idmx.i18n import gettext as _

__all__ = ["Comparison", "VoteMode", "all_modes", "get", "register"]

Storage = Literal["value", "comparison"]
Statistics = Literal["approval", "rating", "pairwise"]
Support = Literal["count", "mean", "wins"]


class VoteInputError(FormShapeError):
    """A vote whose values are not what the mode expects: nothing is stored (400)."""


@dataclass(frozen=True)
class Comparison:
    left: int
    right: int
    winner: int | None  # None: the respondent could not decide


@dataclass(frozen=True)
class VoteMode:
    code: str
    name: Callable[[], str]  # translated at render time, e.g. "Approval"
    description: Callable[[], str]  # the staff form's option, e.g. "Approval: support or not"
    votes_description: Callable[[], str]  # what its votes file holds
    storage: Storage
    statistics: Statistics
    parse: Callable[[Mapping[str, Any]], Any]
    scorer: Callable[..., Any] | None = None  # value modes: (stats, cell weights, confidence) -> scores
    scale: tuple[float, float] = (0.0, 1.0)
    values: tuple[int, int] = (1, 1)  # value storage: the stored range (within the column's 1-5)
    file_columns: tuple[str, str, str] = ("respondent_id", "proposal_id", "value")
    partial: str | None = None
    page: str | None = None  # route of the mode's own voting page (comparisons)
    support: Support = "count"
    records_exposures: bool = False
    author_vote: int | None = None  # the vote an author casts for their own proposal, if any
    quick_support: bool = False  # similar-proposal hints offer "support this one instead" (``support=1``)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def per_proposal(self) -> bool:
        return self.storage == "value"


_registry: dict[str, VoteMode] = {}


def register(mode: VoteMode) -> VoteMode:
    """Add a mode (or replace one with the same code)."""
    if mode.storage == "value" and not 1 <= mode.values[0] <= mode.values[1] <= 5:
        raise ValueError(f"vote mode {mode.code!r}: stored values must lie within 1-5, got {mode.values}")
    if not mode.code or len(mode.code) > 32 or not mode.code.replace("_", "").isalnum():
        raise ValueError(f"vote mode code must be 1-32 letters, digits or underscores, got {mode.code!r}")
    _registry[mode.code] = mode
    return mode


def unregister(code: str) -> None:
    _registry.pop(code, None)


def get(code: str) -> VoteMode:
    try:
        return _registry[str(getattr(code, "value", code))]
    except KeyError:
        raise ValueError(f"unknown vote mode {code!r}; known: {', '.join(_registry)}") from None


def all_modes() -> Iterable[VoteMode]:
    return list(_registry.values())


def choices() -> list[tuple[str, str]]:
    """(code, description) for the staff form, in registration order."""
    return [(mode.code, mode.description()) for mode in _registry.values()]


# --- strict parsing of the vote forms --------------------------------------------------------------------------


# A vote form may also say where to go back to.
_BACK = {"next"}


def parse_support(form: Mapping[str, Any]) -> int | None:
    """Approval: ``support=1`` supports, ``support=0`` withdraws; nothing else is a vote."""
    value = only_fields(form, _BACK | {"support"}, {"support"})["support"]
    if value not in ("0", "1"):
        raise VoteInputError(_("Support is given (1) or withdrawn (0). Nothing was saved."), field="support")
    return 1 if value == "1" else None


def scale_parser(low: int, high: int) -> Callable[[Mapping[str, Any]], int]:
    """A rating from `low` to `high` in the ``value`` field."""

    def parse(form: Mapping[str, Any]) -> int:
        value = only_fields(form, _BACK | {"value"}, {"value"})["value"]
        if not (value.isascii() and value.isdigit() and low <= int(value) <= high):
            raise VoteInputError(_("Choose a rating from %(low)s to %(high)s. Nothing was saved.")
                                 % {"low": low, "high": high}, field="value")
        return int(value)

    return parse


def parse_comparison(form: Mapping[str, Any]) -> Comparison:
    """Pairwise: the two proposals shown (``left``, ``right``) and ``choice`` left, right or none."""
    values = only_fields(form, _BACK | {"left", "right", "choice"}, {"left", "right", "choice"})
    ids = []
    for name in ("left", "right"):
        text = values[name]
        if not (text.isascii() and text.isdigit() and 0 < len(text) <= 10 and int(text) <= 2_147_483_647):
            raise VoteInputError(_("That choice does not belong to the pair you were shown. Nothing was saved."), field=name)
        ids.append(int(text))
    left, right = ids
    choice = values["choice"]
    if choice not in ("left", "right", "none"):
        raise VoteInputError(_("That choice does not belong to the pair you were shown. Nothing was saved."), field="choice")
    if left == right:  # well formed, but no pair the site shows
        raise Conflict(_("That choice does not belong to the pair you were shown. Nothing was saved."))
    return Comparison(left, right, left if choice == "left" else right if choice == "right" else None)


# --- the built-in modes ------------------------------------------------------------------------------------------

register(VoteMode(
    code="approval",
    name=lambda: _("Approval"),
    description=lambda: _("Approval: support or not"),
    votes_description=lambda: _("Every proposal shown to each respondent: 1 if supported, 0 if shown and not supported."),
    storage="value", statistics="approval", parse=parse_support, scorer=statistics.approval_scores,
    scale=(0.0, 1.0), values=(1, 1), partial="consultations/_support.html", support="count",
    records_exposures=True, author_vote=1, quick_support=True,
))

register(VoteMode(
    code="rating",
    name=lambda: _("Rating 1–5"),
    description=lambda: _("Rating: 1 to 5 stars"),
    votes_description=lambda: _("Every rating, from 1 to 5."),
    storage="value", statistics="rating", parse=scale_parser(1, 5), scorer=statistics.rating_scores,
    scale=(1.0, 5.0), values=(1, 5), partial="consultations/_rating.html", support="mean",
))

register(VoteMode(
    code="pairwise",
    name=lambda: _("Pairwise"),
    description=lambda: _("Pairwise: choose the better of two"),
    votes_description=lambda: _("Every decided comparison: the winner and the loser."),
    storage="comparison", statistics="pairwise", parse=parse_comparison, scorer=None,
    scale=(0.0, 1.0), file_columns=("respondent_id", "winner_id", "loser_id"), page="consultations:pair",
    support="wins",
))

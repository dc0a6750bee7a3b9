"""Which respondents' votes look scripted (pure): answers faster than a person reads, and the same
answers as many others. Flagged, never deleted: staff see why (`flag_label`) and a ranking can be run
without them (`idmx.ranking.pipeline.RunParams.exclude_flagged`). A third kind, bursts of new
respondents from one address or network, is noticed as they arrive
(`idmx.consultations.participants.burst_detail`).

The thresholds err towards not flagging people. Reading two titles and choosing one takes a person
more than a second; a per-proposal answer (support, a rating) can follow the last one faster when the
list is skimmed, so half a second. Identical sets of answers are expected by chance when there are few
of them (several people supporting the same three proposals), so a pattern needs enough answers per
respondent and enough respondents sharing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from idmx.i18n import gettext as _

__all__ = ["Rules", "answer_signatures", "fast_answers", "flag_label", "pattern_groups", "rules_for"]


@dataclass(frozen=True)
class Rules:
    fast_min_answers: int  # a respondent with fewer answers is never "fast"
    reading_seconds: float  # ... with more, flagged when their answers came less than this apart on average
    pattern_min_answers: int  # answers a respondent needs for their set of answers to count as a pattern
    pattern_min_group: int  # respondents that must share it


PAIRWISE = Rules(fast_min_answers=8, reading_seconds=1.0, pattern_min_answers=5, pattern_min_group=5)
PER_PROPOSAL = Rules(fast_min_answers=8, reading_seconds=0.5, pattern_min_answers=8, pattern_min_group=5)


def rules_for(kind: str) -> Rules:
    """The rules for a mode's statistics (`idmx.votemodes.VoteMode.statistics`)."""
    return PAIRWISE if kind == "pairwise" else PER_PROPOSAL


def fast_answers(answers: int, first: datetime, last: datetime, rules: Rules) -> str | None:
    """Why a respondent with ``answers`` answers cast between ``first`` and ``last`` is "fast", as
    stored with the flag (``answers=N,seconds=S``, S the mean time between answers), or None."""
    if answers < rules.fast_min_answers:
        return None
    mean_gap = (last - first).total_seconds() / (answers - 1)
    if mean_gap >= rules.reading_seconds:
        return None
    return f"answers={answers},seconds={mean_gap:.2f}"


_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


def _mixed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each (a, b) pair (splitmix64's finaliser over both): sums of them identify sets."""
    with np.errstate(over="ignore"):
        x = a.astype(np.uint64) * _MIX[0] + b.astype(np.uint64)
        x = (x ^ (x >> np.uint64(30))) * _MIX[1]
        x = (x ^ (x >> np.uint64(27))) * _MIX[2]
        return x ^ (x >> np.uint64(31))


def answer_signatures(rows: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each respondent's set of answers, reduced to (respondent ids, answers, signature).

    ``rows`` are `idmx.ranking.queries.vote_arrays` rows grouped by respondent: approval
    (respondent, proposal, supported 0/1), rating (respondent, proposal, value), pairwise (respondent,
    winner, loser). Approval counts only the supported proposals (which ones a respondent was shown
    differs by chance); the others every answer. The signature sums a hash per answer, so equal sets
    have equal signatures whatever the order they were given in.
    """
    if kind == "approval":
        rows = rows[rows[:, 2] == 1]
        answer = _mixed(rows[:, 1], np.ones(len(rows), dtype=np.int64))
    else:
        answer = _mixed(rows[:, 1], rows[:, 2])
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.uint64)
    starts = np.flatnonzero(np.diff(rows[:, 0], prepend=rows[0, 0] - 1) != 0)
    with np.errstate(over="ignore"):
        signature = np.add.reduceat(answer, starts)
    counts = np.diff(np.append(starts, len(rows)))
    return rows[starts, 0], counts, signature


def pattern_groups(ids: np.ndarray, counts: np.ndarray, signatures: np.ndarray, rules: Rules) -> dict[int, str]:
    """Respondents who gave the same answers as at least ``rules.pattern_min_group - 1`` others, each
    with what is stored with the flag (``answers=N,group=G``)."""
    keep = counts >= rules.pattern_min_answers
    ids, counts, signatures = ids[keep], counts[keep], signatures[keep]
    if len(ids) == 0:
        return {}
    key = np.stack([signatures, counts.astype(np.uint64)], axis=1)
    _unique, group, sizes = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    size = sizes[group]
    flagged = np.flatnonzero(size >= rules.pattern_min_group)
    return {int(ids[i]): f"answers={int(counts[i])},group={int(size[i])}" for i in flagged}


def _details(detail: str) -> dict[str, str]:
    return dict(part.partition("=")[::2] for part in detail.split(",") if "=" in part)


def flag_label(kind: str, detail: str) -> str:
    """A flag's reason for staff, in the active language."""
    d = _details(detail)
    if kind == "burst":
        if "address" in d:
            return _("One of %(n)s new respondents from one address within an hour.") % {"n": d["address"]}
        return _("One of %(n)s new respondents from one network within an hour.") % {"n": d.get("network", "?")}
    if kind == "fast":
        return _("%(answers)s answers, %(seconds)s seconds apart on average: faster than a person reads.") % {
            "answers": d.get("answers", "?"), "seconds": d.get("seconds", "?")}
    return _("The same %(answers)s answers as %(others)s other respondents.") % {
        "answers": d.get("answers", "?"), "others": int(d.get("group", "1")) - 1}

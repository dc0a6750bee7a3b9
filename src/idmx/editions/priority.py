"""Combined priority of the IDMX list: pure functions over plain data (pandas/numpy), no database.

An edition draws on several ranking runs (the national consultation and institutions' own). The
central team gives each selected run ``r`` a weight ``w_r > 0``. Every infrastructure item groups
proposals that ask for the same dataset; this module turns their results into one priority with an
interval, ranks the items and assigns default tiers.

Method
------
1. **Normalise.** A proposal's result in run ``r`` (``RankingRun.results``: score, ci_low, ci_high,
   n_eff, n_votes) is put on a 0-1 scale. Approval (weighted share of approvers) and pairwise (chance
   of beating a random other proposal) already are; a 1-5 rating ``x`` maps to ``(x - 1) / 4``. Values
   are clipped to [0, 1]. A missing interval end (a rating with a single vote has no t-interval) is
   taken as the widest possible, 0 or 1; a proposal without a score (nobody saw it) is left out.
2. **Duplicates within a run.** When several proposals of the same run fall into one item they are
   duplicates, not extra evidence (mostly the same respondents supported both): the item's values in
   that run are those of its proposal with the highest ``ci_low`` (ties: higher score, then more
   effective support, then lower proposal id).
3. **Across runs.** The item's priority is the weighted mean of its per-run scores over the runs in
   which it appears, with the weights renormalised over those runs:
   ``priority = sum_r w_r * score_r / sum_r w_r``. Its interval is the same weighted mean of the
   per-run ``ci_low`` and of the per-run ``ci_high``. Because a weighted mean of lower (upper) bounds
   is a lower (upper) bound of the weighted mean of the true values whenever every per-run interval
   covers its value, this interval is conservative and valid under any dependence between runs (no
   independence assumption; the runs may share respondents).
4. **Support.** ``support_weighted`` is the sum over runs of the chosen proposal's Kish effective
   sample size, ``support_raw`` the sum of its respondent counts (``n_votes``); different
   consultations have different respondents, duplicates inside a run are not added twice.
5. **Rank** by ``ci_low`` descending (as the consultations' own rankings do: a dataset with three
   enthusiastic votes does not outrank one with three thousand), then priority descending, then
   ``support_weighted`` descending, then the item's key ascending: a total, reproducible order.
6. **Tiers.** The default tier of an item is the first tier (by number) whose ``up_to_rank`` is
   empty or at least the item's rank (`policy.DEFAULT_TIERS`: ranks 1-10 tier 1, 11-30 tier 2, the
   rest tier 3). Staff may change any item's tier before publishing.

Grouping suggestions (`suggest_groups`) use the Spanish title matcher (`idmx.matching`): proposals of
*different* runs scoring at least ``THRESHOLD`` are joined by union-find; staff confirm or change the
result. `diff` compares two versions of an edition for the public "changes" section.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from idmx import votemodes
from idmx.matching import THRESHOLD, ProposalIndex

PROPOSAL_COLUMNS = ["run_id", "proposal_id", "score", "ci_low", "ci_high", "n_eff", "n_votes"]
ITEM_COLUMNS = ["key", "priority", "ci_low", "ci_high", "support_weighted", "support_raw", "n_runs"]


# --- normalisation ----------------------------------------------------------------------------------------


def normalise(method: str, value: float | None) -> float | None:
    """One score or interval end of `method` on the 0-1 scale (None stays None)."""
    if value is None:
        return None
    x = float(value)
    if np.isnan(x):
        return None
    low, high = votemodes.get(method).scale
    return float(min(1.0, max(0.0, (x - low) / (high - low))))


def run_rows(run_id: int, method: str, results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One run's stored results as normalised rows (see the module docstring, step 1)."""
    out = []
    for row in results:
        score = normalise(method, row.get("score"))
        if score is None:
            continue
        low = normalise(method, row.get("ci_low"))
        high = normalise(method, row.get("ci_high"))
        low = 0.0 if low is None else min(low, score)
        high = 1.0 if high is None else max(high, score)
        out.append({
            "run_id": int(run_id), "proposal_id": int(row["proposal_id"]), "score": score, "ci_low": low,
            "ci_high": high, "n_eff": float(row.get("n_eff") or 0.0), "n_votes": int(row.get("n_votes") or 0),
        })
    return out


# --- combination ------------------------------------------------------------------------------------------


def best_per_run(rows: pd.DataFrame) -> pd.DataFrame:
    """For each (key, run_id): the row of the proposal with the highest ci_low (step 2)."""
    if rows.empty:
        return rows.copy()
    ordered = rows.sort_values(["key", "run_id", "ci_low", "score", "n_eff", "proposal_id"],
                               ascending=[True, True, False, False, False, True], kind="mergesort")
    return ordered.drop_duplicates(["key", "run_id"], keep="first").reset_index(drop=True)


def combine(rows: pd.DataFrame, weights: Mapping[int, float]) -> pd.DataFrame:
    """Priority, interval and support per item key.

    `rows` has PROPOSAL_COLUMNS plus ``key`` (the item each proposal belongs to); `weights` maps
    run id to its weight (> 0). Returns ITEM_COLUMNS, one row per key, in key order.
    """
    if rows.empty:
        return pd.DataFrame(columns=ITEM_COLUMNS)
    for run_id, w in weights.items():
        if not (np.isfinite(w) and w > 0):
            raise ValueError(f"weight of run {run_id} must be a positive number, got {w!r}")
    best = best_per_run(rows)
    missing = set(best["run_id"]) - set(weights)
    if missing:
        raise ValueError(f"no weight for runs {sorted(missing)}")
    best = best.assign(w=best["run_id"].map(lambda r: float(weights[r])))
    for col in ("score", "ci_low", "ci_high"):
        best[f"w_{col}"] = best["w"] * best[col]
    g = best.groupby("key", sort=True)
    total = g["w"].sum()
    out = pd.DataFrame({
        "key": total.index.astype(int),
        "priority": (g["w_score"].sum() / total).to_numpy(),
        "ci_low": (g["w_ci_low"].sum() / total).to_numpy(),
        "ci_high": (g["w_ci_high"].sum() / total).to_numpy(),
        "support_weighted": g["n_eff"].sum().to_numpy(),
        "support_raw": g["n_votes"].sum().to_numpy().astype(int),
        "n_runs": g["run_id"].nunique().to_numpy().astype(int),
    })
    return out.reset_index(drop=True)


def rank(items: pd.DataFrame) -> pd.DataFrame:
    """Items sorted by ci_low, priority, support (all descending), key (ascending), with ``rank`` 1..n."""
    ordered = items.sort_values(["ci_low", "priority", "support_weighted", "key"],
                                ascending=[False, False, False, True], kind="mergesort").reset_index(drop=True)
    ordered["rank"] = np.arange(1, len(ordered) + 1, dtype=int)
    return ordered


@dataclass(frozen=True)
class Tier:
    tier: int
    business_days: int
    up_to_rank: int | None


def default_tiers() -> list[Tier]:
    from idmx.plans.policy import DEFAULT_TIERS

    return [Tier(*t) for t in DEFAULT_TIERS]


def default_tier(item_rank: int, tiers: Sequence[Tier]) -> int | None:
    """The first tier whose up_to_rank is empty or >= the rank; None when every tier is too small."""
    for t in sorted(tiers, key=lambda t: t.tier):
        if t.up_to_rank is None or item_rank <= t.up_to_rank:
            return t.tier
    return None


def best_proposal(rows: pd.DataFrame) -> int:
    """The best-ranked proposal of one item's rows: highest ci_low, then score, then n_eff, then lowest id."""
    ordered = rows.sort_values(["ci_low", "score", "n_eff", "proposal_id"],
                               ascending=[False, False, False, True], kind="mergesort")
    return int(ordered["proposal_id"].iloc[0])


# --- grouping suggestions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    proposal_id: int
    run_id: int
    title: str
    # The item this proposal already belongs to (staff's earlier decision), or None.
    locked_key: int | None = None


@dataclass
class _UnionFind:
    parent: dict[int, int] = field(default_factory=dict)
    lock: dict[int, int | None] = field(default_factory=dict)

    def add(self, x: int, lock: int | None) -> None:
        self.parent.setdefault(x, x)
        self.lock.setdefault(x, lock)

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        la, lb = self.lock[ra], self.lock[rb]
        if la is not None and lb is not None and la != lb:
            return False  # two items staff kept apart stay apart
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.lock[ra] = la if la is not None else lb
        return True


def suggest_groups(candidates: Sequence[Candidate], threshold: float = THRESHOLD) -> list[list[int]]:
    """Proposals grouped into items: lists of proposal ids, each sorted, ordered by their smallest id.

    Proposals with the same ``locked_key`` always stay together (staff already grouped them), and two
    groups with different locked keys are never joined. Otherwise proposals of different runs whose
    titles match (`ProposalIndex.pairs` at `threshold`) are joined, transitively (union-find), as long
    as at least one of the two was not locked (a new proposal may join an existing item; existing
    items are not re-merged behind staff's back).
    """
    uf = _UnionFind()
    by_id = {c.proposal_id: c for c in candidates}
    for c in candidates:
        uf.add(c.proposal_id, c.locked_key)
    first_of_key: dict[int, int] = {}
    for c in sorted(candidates, key=lambda c: c.proposal_id):
        if c.locked_key is not None:
            if c.locked_key in first_of_key:
                uf.union(first_of_key[c.locked_key], c.proposal_id)
            else:
                first_of_key[c.locked_key] = c.proposal_id
    index = ProposalIndex((c.proposal_id, c.title) for c in candidates)
    for a, b, _score in index.pairs(threshold):
        ca, cb = by_id[a], by_id[b]
        if ca.run_id == cb.run_id:
            continue  # duplicates inside one consultation are the moderators' business (merge)
        if ca.locked_key is not None and cb.locked_key is not None:
            continue
        uf.union(a, b)
    groups: dict[int, list[int]] = {}
    for pid in by_id:
        groups.setdefault(uf.find(pid), []).append(pid)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])


# --- differences between versions ------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffItem:
    key: int
    title: str
    rank: int | None
    tier: int | None
    institution: str


@dataclass(frozen=True)
class Change:
    key: int
    title: str
    field: str  # "rank", "tier" or "institution"
    before: Any
    after: Any


@dataclass
class Diff:
    added: list[DiffItem]
    removed: list[DiffItem]
    changed: list[Change]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff(previous: Sequence[DiffItem], current: Sequence[DiffItem]) -> Diff:
    """What changed from `previous` to `current`, matching items by key.

    Added and removed items are listed in the rank order of the version they belong to; changes in
    the current rank order, field by field (rank, tier, institution).
    """
    def by_rank(x: DiffItem) -> tuple:
        return (x.rank is None, x.rank or 0, x.key)

    before = {x.key: x for x in previous}
    after = {x.key: x for x in current}
    added = sorted((x for k, x in after.items() if k not in before), key=by_rank)
    removed = sorted((x for k, x in before.items() if k not in after), key=by_rank)
    changed: list[Change] = []
    for x in sorted((x for k, x in after.items() if k in before), key=by_rank):
        old = before[x.key]
        for name in ("rank", "tier", "institution"):
            if getattr(old, name) != getattr(x, name):
                changed.append(Change(x.key, x.title, name, getattr(old, name), getattr(x, name)))
    return Diff(added, removed, changed)

"""Pure ranking statistics: respondent weights, proposal scores with intervals, and ranks.

Everything here is a pure function over pandas/numpy data (no I/O, no ORM, no HTTP) and is
vectorised: cost grows with proposals x weighting cells (or with distinct ordered pairs for
pairwise votes), never with a Python loop over votes. Bad input raises :class:`RankingError`.

Conventions (DESIGN.md section 3)
---------------------------------
* **Weights** are sampling weights scaled to sum to the number of respondents ``n`` (mean 1).
  A missing or blank category is its own category, ``"not_stated"``.
* **Sufficient statistics.** Scores take per (proposal, cell) aggregates plus one weight per cell.
  Under post-stratification or raking over the variables that define the cells, every respondent of
  a cell has the same weight, so with ``w_c`` the cell weight

  - total weight of the exposed            ``W = sum_c w_c * exposures_c``
  - squared weights                        ``Q = sum_c w_c**2 * exposures_c``
  - Kish effective n                       ``n_eff = W**2 / Q``

  The offline path (``*_stats_from_votes``) makes every respondent its own cell, so arbitrary
  respondent weights work and both paths give the same numbers.
* **Approval**: ``p = sum w*supporters / W``, Wilson score interval with ``n = n_eff``.
* **Rating**: weighted mean ``m = sum w*sum / W``. Variance estimator: the unbiased
  "reliability weights" variance ``s2 = sum_i w_i (x_i - m)**2 / (W - Q/W)``, computed from cell
  sums and sums of squares as ``SS/W * n_eff / (n_eff - 1)``, ``SS`` the weighted sum of squared
  deviations split into within-cell (``sumsq - sum**2/n``) and between-cell parts; it reduces
  to the ordinary sample variance when all weights are equal. The interval is
  ``m +- t_{n_eff-1} * sqrt(s2 / n_eff)``, i.e. the classical one-sample t interval for unit
  weights, clipped to the rating scale. (This is Kish's approximation; it ignores any correlation
  between weights and ratings.)
* **Pairwise** (Bradley-Terry): ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))`` with a proper
  prior ``theta_i ~ N(0, 1/ridge)``; theta has mean zero. The weights are rescaled to Kish's
  effective number of comparisons, the posterior mode is found by Newton's method on the aggregated
  weighted wins, and by default the prior precision is estimated from the data (empirical Bayes,
  Laplace marginal likelihood, a weak hyperprior). Intervals: delta method from the Laplace
  posterior covariance, and with respondent clusters, per proposal, the larger of it and the
  cluster-robust sandwich. See :func:`bradley_terry`.

  Why: a proposal whose few comparisons are all wins has a likelihood that keeps rising with its
  strength. A tiny fixed ridge (0.1 comparisons) let such a strength run far out, and the
  cluster-robust variance, built from its near-zero score contributions, collapsed: 11 wins from
  15 fresh sessions gave 98.1 % [97.0, 99.2], ranked first by the lower bound. A prior whose spread
  is that of the field's strengths holds the strength where the field makes it plausible, and
  its posterior variance, at least ``1 / (information + prior precision)``, cannot collapse, so
  ranking by the lower bound needs many comparisons before it trusts a high score. The sandwich
  can only widen an interval: respondents whose answers are correlated still do, but its noise
  (or its collapse) cannot narrow one below the posterior's. The alternatives cost too much or
  fail exactly there: a respondent bootstrap needs hundreds of refits of a fit that takes seconds
  at national scale (2,000 proposals), and resamples of an all-wins proposal are all-wins again;
  a profile likelihood has no upper end for it and needs a refit per proposal and bound. Checked by
  simulation (``tests/ranking/test_pairwise_calibration.py``): nominal 95 % intervals cover 95 %
  of true scores overall, and about 92-94 % of proposals with 5-20 comparisons and 96-99 % of
  all-wins ones; the shortfall is proposals far stronger than the field (more than 2.5 prior
  standard deviations) seen a dozen times, which the prior pulls in: the price of the protection.
* **Rank** by the lower interval end (default) or the point score, ties by ``n_eff`` descending,
  then ``proposal_id`` ascending.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import linalg, sparse, special
from scipy.sparse import csgraph
from scipy.sparse import linalg as _sparse_linalg  # noqa: F401  (makes sparse.linalg available)

__all__ = [
    "NOT_STATED",
    "RakeResult",
    "RankingError",
    "approval_scores",
    "approval_scores_from_votes",
    "approval_stats_from_votes",
    "bradley_terry",
    "design_effect",
    "kish_neff",
    "per_segment",
    "poststratify",
    "rake",
    "rank",
    "rating_scores",
    "rating_scores_from_votes",
    "rating_stats_from_votes",
    "wilson_interval",
]

NOT_STATED = "not_stated"
"""Category of respondents who skipped a weighting question (missing or blank answer)."""

RATING_SCALE = (1.0, 5.0)

# Sort keys are rounded to this many decimals before ranking, so that values that are equal in
# exact arithmetic but differ in the last bits (different summation order) tie deterministically.
_RANK_DECIMALS = 12


class RankingError(ValueError):
    """Invalid input to a ranking computation, or a computation that cannot succeed."""


class NothingToRank(RankingError):
    """No votes on published proposals (yet): nothing to rank, and nothing about respondents to publish."""


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------


def _require_frame(df: object, name: str, columns: list[str]) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise RankingError(f"{name} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise RankingError(f"{name} is missing column(s) {missing}; it has {list(df.columns)}")
    return df


def _numeric(values: object, name: str, *, allow_negative: bool = False) -> np.ndarray:
    """Finite float array (non-negative unless ``allow_negative``)."""
    try:
        series = pd.Series(values) if not isinstance(values, pd.Series) else values
        if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
            series = pd.to_numeric(series, errors="raise")
        arr = series.to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise RankingError(f"{name} must be numeric: {exc}") from exc
    if not np.all(np.isfinite(arr)):
        raise RankingError(f"{name} contains missing or infinite values")
    if not allow_negative and arr.size and arr.min() < 0:
        raise RankingError(f"{name} must not be negative (minimum {arr.min():g})")
    return arr


def _z(confidence: float) -> float:
    if not (isinstance(confidence, (int, float)) and 0 < confidence < 1):
        raise RankingError(f"confidence must be strictly between 0 and 1, got {confidence!r}")
    return float(special.ndtri(0.5 + confidence / 2))  # norm.ppf, bit for bit, without scipy.stats' 40 MB


def _clean_category(values: pd.Series) -> pd.Series:
    """Categories as strings; missing or blank answers become ``NOT_STATED``."""
    # Clean each distinct label once: respondents share a handful of categories.
    codes, uniques = pd.factorize(pd.Series(values).reset_index(drop=True))
    u = pd.Series(np.asarray(uniques, dtype=object)).astype("string").str.strip()
    u = u.fillna(NOT_STATED).mask(u == "", NOT_STATED).astype(object).to_numpy()
    return pd.Series(np.append(u, NOT_STATED)[codes], dtype=object)  # code -1 (missing) takes the last


def _factorize(values: pd.Series | pd.Index | np.ndarray, what: str) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and sorted unique labels (insertion order if labels are not orderable)."""
    array = np.asarray(values)
    if array.dtype.kind in "iu" and len(array):
        # Integer ids (the usual case) without hashing: sorted input in one pass, a compact range
        # through a lookup table.
        if bool(np.all(array[1:] >= array[:-1])):
            new = np.empty(len(array), dtype=bool)
            new[0] = True
            np.not_equal(array[1:], array[:-1], out=new[1:])
            return np.cumsum(new, dtype=np.int64) - 1, pd.Index(array[new])
        lo, hi = int(array.min()), int(array.max())
        if hi - lo <= 4 * len(array):
            offset = array - lo
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[offset] = True
            uniques = np.flatnonzero(present)
            lut = np.empty(hi - lo + 1, dtype=np.int64)  # only the present slots are ever read
            lut[uniques] = np.arange(len(uniques))
            return lut[offset], pd.Index(uniques + lo)
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:
        codes, uniques = pd.factorize(values, sort=False)
    if (codes < 0).any():
        raise RankingError(f"{what} contains missing values")
    return codes.astype(np.int64), pd.Index(uniques)


def _describe(labels: object, limit: int = 5) -> str:
    items = list(pd.unique(pd.Series(list(labels), dtype=object)))
    shown = ", ".join(repr(x) for x in items[:limit])
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return shown + more


def _respondent_ids(respondents: pd.DataFrame) -> pd.Index:
    _require_frame(respondents, "respondents", ["respondent_id"])
    if len(respondents) == 0:
        raise RankingError("respondents is empty")
    ids = pd.Index(respondents["respondent_id"], name="respondent_id")
    if ids.hasnans:
        raise RankingError("respondents.respondent_id contains missing values")
    if not ids.is_unique:
        raise RankingError(
            f"respondents.respondent_id must be unique; duplicated: {_describe(ids[ids.duplicated()])}"
        )
    return ids


def _target_shares(targets: pd.DataFrame, variable: str) -> pd.Series:
    """Normalised target shares of one variable, indexed by category."""
    _require_frame(targets, "targets", ["variable", "category", "target"])
    sub = targets[targets["variable"].astype(str) == variable]
    if sub.empty:
        raise RankingError(f"targets has no rows for variable {variable!r}")
    cats = _clean_category(sub["category"])
    if cats.duplicated().any():
        raise RankingError(
            f"targets list category {_describe(cats[cats.duplicated()])} of variable {variable!r} more than once"
        )
    vals = _numeric(sub["target"], f"targets.target for variable {variable!r}")
    total = vals.sum()
    if total <= 0:
        raise RankingError(f"targets for variable {variable!r} sum to {total:g}; they must be positive")
    # Shares (summing to 1) or population totals: either way, normalise.
    return pd.Series(vals / total, index=pd.Index(cats, name="category"), name=variable)


def _codes_against_targets(
    categories: pd.Series, shares: pd.Series, variable: str, rows_count: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Respondent codes into ``shares.index`` and respondent counts per target category (each row
    counting ``rows_count`` respondents, or one)."""
    codes = shares.index.get_indexer(categories)
    if (codes < 0).any():
        absent = categories[codes < 0]
        raise RankingError(
            f"respondents have {variable!r} categor(ies) {_describe(absent)} that are absent from "
            f"the targets; add them to the targets (categories: {_describe(shares.index, 50)})"
        )
    counts = np.bincount(codes, weights=rows_count, minlength=len(shares))
    empty = (counts == 0) & (shares.to_numpy() > 0)
    if empty.any():
        raise RankingError(
            f"target categor(ies) {_describe(shares.index[empty])} of variable {variable!r} have "
            "no respondents, so their target share cannot be reached; merge them with another "
            "category or set their target to 0"
        )
    return codes.astype(np.int64), counts


def kish_neff(w: object) -> float:
    """Kish's effective sample size ``(sum w)**2 / sum w**2``."""
    arr = _numeric(np.asarray(w, dtype=float).ravel(), "weights")
    if arr.size == 0 or arr.sum() <= 0:
        raise RankingError("weights must contain at least one positive value")
    return float(arr.sum() ** 2 / np.square(arr).sum())


def design_effect(w: object) -> float:
    """Kish's design effect due to weighting, ``n / n_eff`` (1 for equal weights)."""
    arr = np.asarray(w, dtype=float).ravel()
    return float(arr.size / kish_neff(arr))


# --------------------------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------------------------


def poststratify(
    respondents: pd.DataFrame, targets: pd.DataFrame | None = None, variable: str = "segment"
) -> pd.Series:
    """Post-stratification weights over one variable.

    ``weight = target_share[c] / sample_share[c]`` for a respondent in category ``c``; the weights
    sum to the number of respondents. ``targets`` has columns ``variable, category, target``
    (shares or population totals; rows of other variables are ignored). Without targets every
    category that has respondents gets an equal share. Missing/blank answers form the category
    ``"not_stated"``, which must then appear in the targets. A target category with a positive
    target but no respondents, or a respondent category absent from the targets, is an error.
    """
    ids = _respondent_ids(respondents)
    _require_frame(respondents, "respondents", [variable])
    cats = _clean_category(respondents[variable])
    if targets is None:
        present = pd.unique(cats)
        shares = pd.Series(1.0 / len(present), index=pd.Index(sorted(present), name="category"))
    else:
        shares = _target_shares(targets, variable)
    codes, counts = _codes_against_targets(cats, shares, variable)
    n = len(codes)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_category = np.where(counts > 0, shares.to_numpy() / (counts / n), 0.0)
    w = per_category[codes]
    total = w.sum()
    if total <= 0:
        raise RankingError(f"every respondent's {variable!r} category has a target of 0")
    w *= n / total
    return pd.Series(w, index=ids, name="weight")


@dataclass(frozen=True)
class RakeResult:
    """Outcome of :func:`rake`.

    ``margins`` has one row per (variable, category): target share, achieved share and their
    difference. ``unmet`` describes margins missed by more than ``tol`` (only possible with a
    ``cap``). ``cells`` lists each weighting cell (combination of the raking variables) with its
    respondent count and weight: the per-cell weights the sufficient-statistics path needs.
    """

    weights: pd.Series
    iterations: int
    converged: bool
    margins: pd.DataFrame
    unmet: list[str]
    n_eff: float
    deff: float
    cells: pd.DataFrame = field(repr=False)


def _trim(cell_w: np.ndarray, cnt: np.ndarray, cap: float) -> np.ndarray:
    """Trim so that every weight is at most ``cap`` times the mean of the *trimmed* weights.

    The trimming level L solves ``L = cap * (sum_{w<=L} c*w + L * N_{w>L}) / n`` exactly: with the
    cells sorted by weight, descending, try trimming the top k cells for k = 0, 1, ... and take the
    first k whose level is at least the largest untrimmed weight.
    """
    n = cnt.sum()
    order = np.argsort(-cell_w, kind="stable")
    ws, cs = cell_w[order], cnt[order]
    n_top = np.concatenate([[0.0], np.cumsum(cs)])[:-1]  # respondents in the k trimmed cells
    s_rest = np.cumsum((cs * ws)[::-1])[::-1]  # weight of cells k.. (untrimmed)
    denom = n - cap * n_top
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where(denom > 0, cap * s_rest / denom, np.inf)
    ok = (denom > 0) & (ws <= level * (1 + 1e-12))
    k = int(np.argmax(ok)) if ok.any() else len(ws) - 1
    if k == 0:
        return cell_w
    return np.minimum(cell_w, level[k])


def rake(
    respondents: pd.DataFrame,
    targets: pd.DataFrame | None,
    tol: float = 1e-6,
    max_iter: int = 100,
    cap: float | None = None,
    counts: np.ndarray | None = None,
) -> RakeResult:
    """Raking (iterative proportional fitting) over every variable in ``targets``.

    Respondents are grouped into cells (combinations of the raking variables, e.g. segment x state);
    IPF runs on the cells, so the cost is independent of the number of respondents beyond one
    grouping pass. One iteration adjusts each variable in turn (in order of first appearance in
    ``targets``). Convergence: the largest ``|margin - target_share * W| / W`` over all margins
    (``W`` the total weight) is below ``tol``. Without a cap, not converging within ``max_iter``
    raises. With ``cap``, after each iteration weights are trimmed to at most ``cap`` times the mean
    weight and raking resumes; if the margins cannot be met within ``tol`` under the cap, the
    trimmed weights are returned and the missed margins listed in ``unmet`` (no error).
    Weights sum to the number of respondents. ``targets=None`` rakes every column except
    ``respondent_id`` to equal shares of its categories present in the sample.

    ``counts``: each row stands for that many respondents with its categories (e.g. one row per
    weighting cell); the result is the one for the rows repeated, weights given per row.
    """
    ids = _respondent_ids(respondents)
    if counts is not None:
        counts = np.asarray(counts)
        if counts.shape != (len(ids),) or counts.dtype.kind not in "iu" or (counts < 1).any():
            raise RankingError("counts must give a positive whole number of respondents for every row")
    if not (isinstance(tol, (int, float)) and tol > 0):
        raise RankingError(f"tol must be positive, got {tol!r}")
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise RankingError(f"max_iter must be a positive integer, got {max_iter!r}")
    if cap is not None and not (isinstance(cap, (int, float)) and np.isfinite(cap) and cap >= 1):
        raise RankingError(f"cap must be a number >= 1 (a multiple of the mean weight), got {cap!r}")
    if targets is None:
        variables = [c for c in respondents.columns if c != "respondent_id"]
        if not variables:
            raise RankingError("respondents has no weighting variables to rake on")
        cleaned = {v: _clean_category(respondents[v]) for v in variables}
        shares = {}
        for v in variables:
            present = sorted(pd.unique(cleaned[v]))
            shares[v] = pd.Series(1.0 / len(present), index=pd.Index(present, name="category"))
    else:
        _require_frame(targets, "targets", ["variable", "category", "target"])
        variables = list(pd.unique(targets["variable"].astype(str)))
        if not variables:
            raise RankingError("targets is empty")
        _require_frame(respondents, "respondents", variables)
        cleaned = {v: _clean_category(respondents[v]) for v in variables}
        shares = {v: _target_shares(targets, v) for v in variables}

    n = len(ids) if counts is None else int(counts.sum())
    resp_codes = []
    for v in variables:
        codes, _ = _codes_against_targets(cleaned[v], shares[v], v, counts)
        resp_codes.append(codes)
    # Group respondents into cells (unique combinations of the variables' codes).
    dims = [len(shares[v]) for v in variables]
    if float(np.prod([float(d) for d in dims])) < 2.0**62:
        key = np.ravel_multi_index(resp_codes, dims)
        uniq, cell_of = np.unique(key, return_inverse=True)
        cell_codes = list(np.unravel_index(uniq, dims))
    else:  # pragma: no cover - astronomically many category combinations
        uniq, cell_of = np.unique(np.column_stack(resp_codes), axis=0, return_inverse=True)
        cell_codes = [uniq[:, j] for j in range(len(variables))]
    cell_of = cell_of.ravel()
    cnt = np.bincount(cell_of, weights=counts).astype(float)
    target_share = [shares[v].to_numpy() for v in variables]

    def discrepancies(cw: np.ndarray) -> list[np.ndarray]:
        mass = cnt * cw
        total = mass.sum()
        if total <= 0:
            raise RankingError("raking drove every weight to zero; check for zero targets")
        return [
            np.bincount(cc, weights=mass, minlength=len(ts)) / total - ts
            for cc, ts in zip(cell_codes, target_share)
        ]

    cell_w = np.ones(len(cnt))
    converged = False
    residual = np.inf
    iterations = 0
    for iterations in range(1, max_iter + 1):
        for cc, ts in zip(cell_codes, target_share):
            margin = np.bincount(cc, weights=cnt * cell_w, minlength=len(ts))
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = np.where(margin > 0, ts * n / margin, 1.0)
            cell_w = cell_w * factor[cc]
        if cap is not None:
            cell_w = _trim(cell_w, cnt, cap)
        residual = max(float(np.abs(d).max()) for d in discrepancies(cell_w))
        if residual < tol:
            converged = True
            break
    if not converged and cap is None:
        raise RankingError(
            f"raking did not converge within max_iter={max_iter} iterations: the largest margin "
            f"discrepancy is {residual:.3g} of the total weight (tol={tol:g}); the targets may be "
            "inconsistent with the sample (e.g. empty combinations of categories), or raise max_iter"
        )

    cell_w = cell_w * (n / float((cnt * cell_w).sum()))
    weights = pd.Series(cell_w[cell_of], index=ids, name="weight")
    rows, unmet = [], []
    for v, ts, d in zip(variables, target_share, discrepancies(cell_w)):
        for cat, t, dd in zip(shares[v].index, ts, d):
            rows.append((v, cat, float(t), float(t + dd), float(dd)))
            if abs(dd) >= tol:
                unmet.append(
                    f"{v}={cat}: target share {t:.6f}, achieved {t + dd:.6f} (cap={cap:g})"
                )
    margins = pd.DataFrame(rows, columns=["variable", "category", "target", "achieved", "discrepancy"])
    cells = pd.DataFrame(
        {v: shares[v].index.to_numpy()[cc] for v, cc in zip(variables, cell_codes)}
    )
    cells["respondents"] = cnt.astype(np.int64)
    cells["weight"] = cell_w
    row_w = weights.to_numpy()
    neff = kish_neff(row_w) if counts is None else float((counts * row_w).sum() ** 2 / (counts * row_w * row_w).sum())
    return RakeResult(
        weights=weights,
        iterations=iterations,
        converged=converged,
        margins=margins,
        unmet=unmet,
        n_eff=neff,
        deff=n / neff,
        cells=cells,
    )


# --------------------------------------------------------------------------------------------
# approval and rating scores from sufficient statistics
# --------------------------------------------------------------------------------------------


def wilson_interval(p: object, n: object, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for proportion(s) ``p`` with (effective) sample size(s) ``n``.

    ``(p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)``; ``n = 0`` gives ``[0, 1]``.
    """
    z = _z(confidence)
    p = np.asarray(p, dtype=float)
    n = np.asarray(n, dtype=float)
    p, n = np.broadcast_arrays(p, n)
    low = np.zeros(p.shape)
    high = np.ones(p.shape)
    ok = n > 0
    pp, nn = p[ok], n[ok]
    denom = 1 + z * z / nn
    centre = (pp + z * z / (2 * nn)) / denom
    half = z * np.sqrt(np.maximum(pp * (1 - pp), 0) / nn + z * z / (4 * nn * nn)) / denom
    low[ok] = np.clip(centre - half, 0, 1)
    high[ok] = np.clip(centre + half, 0, 1)
    return low, high


def _cell_weight_lookup(cells: pd.Series, cell_weights: pd.Series) -> np.ndarray:
    if not isinstance(cell_weights, pd.Series):
        raise RankingError(f"cell_weights must be a pandas Series indexed by cell, got {type(cell_weights).__name__}")
    if not cell_weights.index.is_unique:
        dup = cell_weights.index[cell_weights.index.duplicated()]
        raise RankingError(f"cell_weights has duplicated cells: {_describe(dup)}")
    values = _numeric(cell_weights, "cell_weights")
    index, codes = cell_weights.index, np.asarray(cells)
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1 and codes.dtype.kind in "iu":
        # Cell codes 0..n-1 (both ranking paths): the code is the position.
        if len(codes) and (codes.min() < 0 or codes.max() >= len(index)):
            raise RankingError("stats refer to cell(s) without a weight")
        return values[codes]
    pos = index.get_indexer(pd.Index(cells))
    if (pos < 0).any():
        absent = pd.Series(np.asarray(cells, dtype=object))[pos < 0]
        raise RankingError(f"stats refer to cell(s) without a weight: {_describe(absent)}")
    return values[pos]


def _proposal_codes(stats_df: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    return _factorize(stats_df["proposal_id"], "stats.proposal_id")


def _int_if_integral(x: np.ndarray) -> np.ndarray:
    r = np.rint(x)
    return r.astype(np.int64) if np.allclose(x, r, rtol=0, atol=1e-9) else x


def approval_scores(stats_df: pd.DataFrame, cell_weights: pd.Series, confidence: float = 0.95) -> pd.DataFrame:
    """Weighted approval share per proposal with a Wilson interval on Kish's effective n.

    ``stats_df`` columns: ``proposal_id, cell, exposures, supporters`` (rows for the same proposal
    and cell are summed). ``cell_weights``: weight of a respondent in each cell, indexed by cell.
    Returns ``proposal_id, score, ci_low, ci_high, n_eff, n_votes`` (one row per proposal, sorted by
    id). A proposal whose exposed respondents all have weight 0 (or that nobody saw) has ``score``
    NaN, interval ``[0, 1]`` and ``n_eff`` 0.
    """
    _require_frame(stats_df, "stats", ["proposal_id", "cell", "exposures", "supporters"])
    _z(confidence)  # validate early
    exposures = _numeric(stats_df["exposures"], "stats.exposures")
    supporters = _numeric(stats_df["supporters"], "stats.supporters")
    if (supporters > exposures + 1e-9).any():
        raise RankingError("stats.supporters exceeds stats.exposures in some rows")
    w = _cell_weight_lookup(stats_df["cell"], cell_weights)
    codes, ids = _proposal_codes(stats_df)
    k = len(ids)
    W = np.bincount(codes, weights=w * exposures, minlength=k)
    S = np.bincount(codes, weights=w * supporters, minlength=k)
    Q = np.bincount(codes, weights=w * w * exposures, minlength=k)
    votes = np.bincount(codes, weights=exposures, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(W > 0, np.clip(S / W, 0, 1), np.nan)
        neff = np.where(Q > 0, W * W / Q, 0.0)
    low, high = wilson_interval(np.nan_to_num(p), neff, confidence)
    return pd.DataFrame(
        {
            "proposal_id": ids.to_numpy(),
            "score": p,
            "ci_low": low,
            "ci_high": high,
            "n_eff": neff,
            "n_votes": _int_if_integral(votes),
        }
    )


def _check_scale(scale: tuple[float, float]) -> tuple[float, float]:
    try:
        lo, hi = (float(scale[0]), float(scale[1]))
    except (TypeError, ValueError, IndexError) as exc:
        raise RankingError(f"scale must be a (low, high) pair, got {scale!r}") from exc
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise RankingError(f"scale must satisfy low < high, got {scale!r}")
    return lo, hi


def rating_scores(
    stats_df: pd.DataFrame,
    cell_weights: pd.Series,
    confidence: float = 0.95,
    scale: tuple[float, float] = RATING_SCALE,
) -> pd.DataFrame:
    """Weighted mean rating per proposal with a t interval on Kish's effective n.

    ``stats_df`` columns: ``proposal_id, cell, n, sum, sumsq`` (raters in the cell, sum and sum of
    squares of their ratings). Variance estimator: the unbiased reliability-weights variance (see
    the module docstring), equal to the sample variance for equal weights; interval
    ``mean ± t_{n_eff-1} · sqrt(s² / n_eff)`` clipped to ``scale``. With ``n_eff <= 1`` the
    interval is the whole scale. Note that a proposal whose few raters all gave the same rating
    gets a zero-width interval (the t interval's known weakness at tiny n).
    """
    _require_frame(stats_df, "stats", ["proposal_id", "cell", "n", "sum", "sumsq"])
    lo, hi = _check_scale(scale)
    _z(confidence)
    n = _numeric(stats_df["n"], "stats.n")
    s1 = _numeric(stats_df["sum"], "stats.sum", allow_negative=True)
    s2 = _numeric(stats_df["sumsq"], "stats.sumsq")
    slack = 1e-9 * np.maximum(1.0, np.abs(s1))
    if ((s1 < lo * n - slack) | (s1 > hi * n + slack)).any():
        raise RankingError(f"stats.sum is outside the rating scale {lo:g}..{hi:g} times n in some rows")
    with np.errstate(divide="ignore", invalid="ignore"):
        min_sq = np.where(n > 0, s1 * s1 / n, 0.0)
    if (s2 < min_sq - 1e-9 * np.maximum(1.0, s2)).any():
        raise RankingError("stats.sumsq is smaller than sum**2 / n in some rows (inconsistent sums)")
    w = _cell_weight_lookup(stats_df["cell"], cell_weights)
    codes, ids = _proposal_codes(stats_df)
    k = len(ids)
    W = np.bincount(codes, weights=w * n, minlength=k)
    S1 = np.bincount(codes, weights=w * s1, minlength=k)
    Q = np.bincount(codes, weights=w * w * n, minlength=k)
    votes = np.bincount(codes, weights=n, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(W > 0, S1 / W, np.nan)
        neff = np.where(Q > 0, W * W / Q, 0.0)
        # Weighted sum of squared deviations = within-cell + between-cell parts (numerically
        # stable, unlike S2/W - mean**2): sum_c w_c (sumsq_c - sum_c**2/n_c) + w_c n_c (m_c - mean)**2
        cell_mean = np.where(n > 0, s1 / n, 0.0)
        within = np.maximum(s2 - s1 * cell_mean, 0.0)
        dev = np.where(n > 0, cell_mean - np.nan_to_num(mean)[codes], 0.0)
        ss = np.bincount(codes, weights=w * within + w * n * dev * dev, minlength=k)
        var_pop = np.where(W > 0, ss / W, 0.0)
        has_ci = neff > 1 + 1e-12
        var = np.where(has_ci, var_pop * neff / (neff - 1), np.nan)
        se = np.sqrt(var / neff)
    t = np.full(k, np.nan)
    t[has_ci] = special.stdtrit(neff[has_ci] - 1, 0.5 + confidence / 2)  # t.ppf, bit for bit
    low = np.where(has_ci, np.clip(mean - t * se, lo, hi), lo)
    high = np.where(has_ci, np.clip(mean + t * se, lo, hi), hi)
    return pd.DataFrame(
        {
            "proposal_id": ids.to_numpy(),
            "score": mean,
            "ci_low": low,
            "ci_high": high,
            "n_eff": neff,
            "n_votes": _int_if_integral(votes),
        }
    )


# --------------------------------------------------------------------------------------------
# raw votes -> sufficient statistics (offline CLI path; each respondent is its own cell)
# --------------------------------------------------------------------------------------------


def _votes_frame(votes: pd.DataFrame, weights: pd.Series) -> pd.DataFrame:
    _require_frame(votes, "votes", ["respondent_id", "proposal_id", "value"])
    if not isinstance(weights, pd.Series):
        raise RankingError(f"weights must be a pandas Series indexed by respondent_id, got {type(weights).__name__}")
    for col in ("respondent_id", "proposal_id"):
        if votes[col].isna().any():
            raise RankingError(f"votes.{col} contains missing values")
    unknown = ~pd.Index(votes["respondent_id"]).isin(weights.index)
    if unknown.any():
        raise RankingError(
            f"votes come from respondent(s) without a weight: {_describe(votes['respondent_id'][unknown])}"
        )
    return votes


def approval_stats_from_votes(votes: pd.DataFrame, weights: pd.Series) -> pd.DataFrame:
    """Reduce raw approval votes to the sufficient statistics of :func:`approval_scores`.

    ``votes`` columns ``respondent_id, proposal_id, value`` with value 1/True (supported) or
    0/False (shown, not supported). Each respondent is its own cell (``cell = respondent_id``), so
    ``weights`` (indexed by respondent_id) is directly the ``cell_weights``. Duplicate votes of one
    respondent on one proposal count once (supported if any of them is a support).
    """
    _votes_frame(votes, weights)
    value = _numeric(votes["value"], "votes.value")
    if not np.isin(value, (0.0, 1.0)).all():
        raise RankingError("approval votes.value must be 0/1 (or False/True)")
    frame = pd.DataFrame(
        {"proposal_id": votes["proposal_id"].to_numpy(), "cell": votes["respondent_id"].to_numpy(), "supporters": value}
    )
    out = frame.groupby(["proposal_id", "cell"], sort=True, as_index=False)["supporters"].max()
    out.insert(2, "exposures", np.ones(len(out), dtype=np.int64))
    out["supporters"] = out["supporters"].astype(np.int64)
    return out


def rating_stats_from_votes(
    votes: pd.DataFrame, weights: pd.Series, scale: tuple[float, float] = RATING_SCALE
) -> pd.DataFrame:
    """Reduce raw ratings to the sufficient statistics of :func:`rating_scores` (cell = respondent).

    Duplicate ratings of one respondent on one proposal count once, as their mean.
    """
    _votes_frame(votes, weights)
    lo, hi = _check_scale(scale)
    value = _numeric(votes["value"], "votes.value", allow_negative=True)
    if ((value < lo) | (value > hi)).any():
        raise RankingError(f"rating votes.value must lie in {lo:g}..{hi:g}")
    frame = pd.DataFrame(
        {"proposal_id": votes["proposal_id"].to_numpy(), "cell": votes["respondent_id"].to_numpy(), "sum": value}
    )
    out = frame.groupby(["proposal_id", "cell"], sort=True, as_index=False)["sum"].mean()
    out.insert(2, "n", np.ones(len(out), dtype=np.int64))
    out["sumsq"] = out["sum"] ** 2
    return out


def approval_scores_from_votes(votes: pd.DataFrame, weights: pd.Series, confidence: float = 0.95) -> pd.DataFrame:
    """:func:`approval_scores` on raw votes (see :func:`approval_stats_from_votes`)."""
    return approval_scores(approval_stats_from_votes(votes, weights), weights, confidence)


def rating_scores_from_votes(
    votes: pd.DataFrame,
    weights: pd.Series,
    confidence: float = 0.95,
    scale: tuple[float, float] = RATING_SCALE,
) -> pd.DataFrame:
    """:func:`rating_scores` on raw ratings (see :func:`rating_stats_from_votes`)."""
    return rating_scores(rating_stats_from_votes(votes, weights, scale), weights, confidence, scale)


# --------------------------------------------------------------------------------------------
# Bradley-Terry
# --------------------------------------------------------------------------------------------


class _BTProblem:
    """Aggregated ordered pairs ``a`` beat ``b`` with weight ``w`` among ``m`` proposals; ``ridge``
    is the prior precision (it changes between Newton steps while it is being estimated)."""

    # Below this many proposals each Newton step uses a dense Cholesky solve; above, conjugate
    # gradients on the sparse Hessian (its cost grows with the number of distinct pairs).
    DENSE_MAX = 300

    def __init__(self, a: np.ndarray, b: np.ndarray, w: np.ndarray, m: int, ridge: float) -> None:
        self.a, self.b, self.w, self.m, self.ridge = a, b, w, m, ridge
        # The Hessian's sparsity pattern never changes between Newton steps: build the CSR structure
        # once (row-major keys are CSR order) and only refill its values, instead of letting scipy
        # sort and merge the coordinates again on every step.
        inverse, keys = _factorize(np.concatenate([a * m + b, b * m + a]), "pairs")  # np.unique, without sorting
        keys = keys.to_numpy()
        self._slot = inverse
        self._indices = (keys % m).astype(np.int32)
        self._indptr = np.searchsorted(keys // m, np.arange(m + 1)).astype(np.int32)

    def loglik(self, theta: np.ndarray) -> float:
        # sum w log sigma(theta_a - theta_b) - ridge/2 |theta|^2, with log sigma(d) = -log(1 + e^-d)
        t = self.w * np.logaddexp(0.0, theta[self.b] - theta[self.a])
        return float(-t.sum() - 0.5 * self.ridge * theta @ theta)

    def gradient_information(self, theta: np.ndarray) -> tuple[np.ndarray, sparse.csr_matrix, np.ndarray]:
        """Gradient, and the information (minus Hessian) as ``diag(deg + ridge) - adj``."""
        a, b, m = self.a, self.b, self.m
        p = special.expit(theta[a] - theta[b])  # P(winner beats loser)
        r = self.w * (1 - p)
        grad = np.bincount(a, weights=r, minlength=m) - np.bincount(b, weights=r, minlength=m)
        grad -= self.ridge * theta
        h = self.w * p * (1 - p)
        values = np.bincount(self._slot, weights=np.concatenate([h, h]), minlength=len(self._indices))
        adj = sparse.csr_matrix((values, self._indices, self._indptr), shape=(m, m))
        deg = np.bincount(a, weights=h, minlength=m) + np.bincount(b, weights=h, minlength=m)
        return grad, adj, deg + self.ridge

    def dense_information(self, adj: sparse.csr_matrix, diag: np.ndarray) -> np.ndarray:
        """Information matrix + J/m (J = all ones): positive definite on the whole space."""
        info = -adj.toarray()
        info[np.diag_indices(self.m)] += diag
        info += 1.0 / self.m
        return info

    def newton_step(self, grad: np.ndarray, adj: sparse.csr_matrix, diag: np.ndarray) -> np.ndarray:
        m = self.m
        if m > self.DENSE_MAX:
            op = sparse.linalg.LinearOperator(
                (m, m), matvec=lambda x: diag * x - adj @ x + x.sum() / m, dtype=float
            )
            precond = sparse.linalg.LinearOperator((m, m), matvec=lambda x: x / (diag + 1.0 / m), dtype=float)
            step, info = sparse.linalg.cg(op, grad, rtol=1e-12, atol=0.0, maxiter=10 * m, M=precond)
            if info == 0:
                return step
        factor = linalg.cho_factor(self.dense_information(adj, diag), overwrite_a=True, check_finite=False)
        return linalg.cho_solve(factor, grad, check_finite=False)


# Hyperprior of the estimated prior precision lambda = 1/sigma^2: Gamma(shape 1 + a/2, rate
# a s0^2 / 2), i.e. as if a extra proposals of squared strength s0^2 had been seen. s0 = 1 on the
# logit scale (a proposal one sd above another wins 73 % of their duels), a = 2: its mode is
# sigma = s0 and the data outweigh it from a dozen proposals on. It keeps lambda finite when the
# fitted strengths are all ~0 (few or tied comparisons: no collapse to sigma = 0 and zero-width
# intervals) and positive when some proposal has only wins.
_HYPER_A = 2.0
_HYPER_S0 = 1.0
# `_bt_fit` starts updating the prior once the Newton step is below _START_PRIOR, and takes
# secant steps for it once the Newton step is below _SECANT.
_START_PRIOR = 1e-2
_SECANT = 1e-3


def _prior_precision(theta: np.ndarray, deg: np.ndarray, ridge: float) -> float:
    """One fixed-point update of the prior precision (MacKay 1992, with the hyperprior above).

    The Laplace marginal likelihood of lambda is stationary where ``lambda = gamma / |theta|²``, with
    ``gamma = (m - 1) - lambda tr(H⁻¹)`` the number of strengths the data determine (m - 1: theta has
    mean zero) and H the penalised information. ``tr(H⁻¹)`` is approximated from the diagonal,
    ``(m - 1)/m · Σ 1/(deg_i + lambda)``: exact to O(1/m) on a complete comparison graph, low on
    sparse ones (it counts each proposal's own information, not its opponents' uncertainty), which
    raised lambda by 0-16 % in simulations with 2-30 comparisons per proposal; the exact trace
    would cost a dense factorisation per step. With only a few comparisons per proposal the Laplace
    approximation itself overstates lambda (up to about 2x in those simulations: too much
    shrinkage), yet the intervals still covered 95-98 % there, the posterior variance growing as
    the information shrinks.
    """
    m = len(theta)
    t = theta - theta.mean()
    gamma = (m - 1) * float(np.mean(deg / (deg + ridge)))
    return (gamma + _HYPER_A) / (float(t @ t) + _HYPER_A * _HYPER_S0**2)


def _bt_fit(problem: _BTProblem, max_iter: int, tol: float, estimate: bool = False) -> np.ndarray:
    """Newton's method with step halving; theta starts at 0 and keeps mean zero.

    ``estimate``: ``problem.ridge`` (lambda, starting at the hyperprior's mode) is updated too,
    before each Newton step once the strengths are near their mode for the current lambda (the
    update needs them there: from strengths still shrunk towards 0 it would overshoot, and the
    strengths would then have further to go); the fit stops when both the step and the change of
    the strengths due to the last change of lambda are below ``tol``. The update is
    `_prior_precision`'s fixed point, x <- x + g(x) with x = log lambda; it contracts at the rate
    lambda / (information + lambda), slow when proposals have few comparisons, so once the
    strengths follow lambda closely it takes the secant step on g instead.
    """
    theta = np.zeros(problem.m)
    obj = problem.loglik(theta)
    settled = not estimate
    last: tuple[float, float] | None = None  # (log lambda, g) of the previous update
    size = np.inf
    for _ in range(max_iter):
        grad, adj, diag = problem.gradient_information(theta)
        if estimate and size < _START_PRIOR:
            old = problem.ridge
            x = np.log(old)
            g = float(np.log(_prior_precision(theta, diag - old, old)) - x)
            move = g
            if size < _SECANT and last is not None and x != last[0]:
                slope = (g - last[1]) / (x - last[0])  # g' = F'(lambda) lambda / F - 1, in (-1, 0) for a contraction
                if np.isfinite(slope):
                    move = float(np.clip(-g / min(slope, -0.02), -2.0, 2.0))
            last = (x, g)
            new = float(np.exp(x + move))
            grad -= (new - old) * theta
            diag += new - old
            obj -= 0.5 * (new - old) * float(theta @ theta)
            problem.ridge = new
            # Settled when this change of lambda moves no strength by more than tol (to first
            # order, d theta_i = -theta_i d lambda / (deg_i + lambda)).
            settled = abs(new - old) * float(np.max(np.abs(theta) / diag)) <= tol
        step = problem.newton_step(grad, adj, diag)
        t = 1.0
        while True:
            cand = theta + t * step
            cand_obj = problem.loglik(cand)
            if cand_obj >= obj - 1e-12 * (1 + abs(obj)) or t < 1e-10:
                break
            t /= 2
        theta, obj = cand, cand_obj
        size = np.abs(t * step).max()
        if size < tol and settled:
            return theta - theta.mean()
    raise RankingError(f"Bradley-Terry Newton iterations did not converge within max_iter={max_iter}")


def bradley_terry(
    wins: pd.DataFrame,
    ridge: float | None = None,
    confidence: float = 0.95,
    clusters: pd.DataFrame | None = None,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> pd.DataFrame:
    """Bradley-Terry strengths and win-probability scores from weighted pairwise wins.

    ``wins`` columns: ``winner_id, loser_id, weight`` (summed weighted wins of the ordered pair;
    repeated pairs are summed), optional ``counts`` (unweighted number of comparisons; default
    ``weight``, i.e. frequency weights) and optional ``weight_sq`` (sum of squared comparison
    weights; default ``weight**2 / counts``, exact when weights are constant within a row, as for
    rows per pair and weighting cell).

    Model: ``P(i beats j) = 1 / (1 + exp(theta_j - theta_i))`` with the prior
    ``theta_i ~ N(0, 1/ridge)`` (theta has mean zero). The weights are first rescaled to sum to
    Kish's effective number of comparisons ``(Σw)² / Σw²`` (the count itself for equal weights;
    fewer when weighting is uneven, which widens the intervals; scaling all weights changes
    nothing), so ``ridge`` is measured in comparisons. ``theta`` is the posterior mode, maximising
    ``sum w_ij log P(i beats j) - ridge/2 |theta|²`` by Newton's method with step halving.

    ``ridge=None`` (default) estimates the prior precision from the data (empirical Bayes: the
    Laplace marginal likelihood under a weak Gamma hyperprior, updated with the strengths until both
    settle; see `_prior_precision`). A number fixes it; ``ridge=0`` gives the plain MLE, which exists
    only if the directed graph "i beat j" is strongly connected (Zermelo 1929, Ford 1957); otherwise
    a :class:`RankingError` asks for ``ridge > 0``. The precision used is ``result.attrs["ridge"]``;
    passing it back as ``ridge`` reproduces the fit.

    ``score_i`` = mean over ``j != i`` of ``P(i beats j)``. Covariance of ``theta`` (projected onto
    the mean-zero constraint): the Laplace posterior covariance ``H⁻¹`` (H the penalised
    information). With ``clusters`` (columns ``respondent_id, winner_id, loser_id, weight``:
    per-respondent aggregated wins, which must add up to ``wins``) also the cluster-robust version
    ``H⁻¹ (Σ_r g_r g_rᵀ + ridge·I) H⁻¹`` (respondents' score vectors g_r, CR0), which is ``H⁻¹`` in
    expectation when respondents behave as the model says; each proposal takes the larger of the two
    variances, so correlated respondents widen an interval but a proposal whose few comparisons
    are all wins (near-zero score vectors) cannot shrink it below the posterior's. Score standard
    errors by the delta method (each variance again the larger of the two); interval
    ``score ± z·se`` clipped to [0, 1].

    Returns ``proposal_id, theta, theta_se, score, ci_low, ci_high, n_eff, n_votes`` sorted by id;
    ``n_eff`` is Kish's effective number of comparisons involving the proposal, ``n_votes`` the
    unweighted count. Dense linear algebra: memory and time grow as proposals² and proposals³
    (2,000 proposals take a few seconds).
    """
    _require_frame(wins, "wins", ["winner_id", "loser_id", "weight"])
    estimate = ridge is None
    if not estimate and not (isinstance(ridge, (int, float)) and np.isfinite(ridge) and ridge >= 0):
        raise RankingError(f"ridge must be None (estimate it) or a finite number >= 0, got {ridge!r}")
    z = _z(confidence)
    if len(wins) == 0:
        raise RankingError("wins is empty")
    weight = _numeric(wins["weight"], "wins.weight")
    counts = _numeric(wins["counts"], "wins.counts") if "counts" in wins.columns else weight.copy()
    if ((weight > 0) & (counts <= 0)).any():
        raise RankingError("wins rows with positive weight must have positive counts")
    if "weight_sq" in wins.columns:
        wsq = _numeric(wins["weight_sq"], "wins.weight_sq")
        if ((weight > 0) & (wsq <= 0)).any():
            raise RankingError("wins rows with positive weight must have positive weight_sq")
    else:
        wsq = np.divide(weight * weight, counts, out=np.zeros_like(weight), where=counts > 0)

    both = pd.concat([wins["winner_id"], wins["loser_id"]], ignore_index=True)
    codes, ids = _factorize(both, "wins winner_id/loser_id")
    m = len(ids)
    a_raw, b_raw = codes[: len(wins)], codes[len(wins) :]
    if (a_raw == b_raw).any():
        raise RankingError(f"a proposal cannot beat itself: {_describe(ids[a_raw[a_raw == b_raw]])}")
    if m < 2:
        raise RankingError("Bradley-Terry needs at least two proposals")

    del both  # memory: the cluster-robust part below peaks with millions of rows
    inv, flat = _factorize(a_raw * m + b_raw, "pairs")  # np.unique with inverse; a lookup table, not a sort, for m² pairs
    flat = flat.to_numpy()
    a, b = flat // m, flat % m
    w_raw = np.bincount(inv, weights=weight, minlength=len(flat))
    c = np.bincount(inv, weights=counts, minlength=len(flat))
    q = np.bincount(inv, weights=wsq, minlength=len(flat))
    total_w = w_raw.sum()
    if total_w <= 0:
        raise RankingError("wins has no positive weight")
    scale = total_w / q.sum()  # w * scale sums to (Σw)² / Σw²
    w = w_raw * scale

    if ridge == 0:
        pos = w > 0
        graph = sparse.csr_matrix((np.ones(int(pos.sum())), (a[pos], b[pos])), shape=(m, m))
        ncomp, _ = csgraph.connected_components(graph, directed=True, connection="strong")
        if ncomp > 1:
            won = np.bincount(a[pos], minlength=m) > 0
            lost = np.bincount(b[pos], minlength=m) > 0
            detail = []
            if (~won).any():
                detail.append(f"never won: {_describe(ids[~won])}")
            if (~lost).any():
                detail.append(f"never lost: {_describe(ids[~lost])}")
            raise RankingError(
                "ridge=0 needs a strongly connected comparison graph (every proposal must be able to "
                "reach every other through a chain of wins), otherwise the maximum-likelihood "
                f"strengths are infinite; here the graph has {ncomp} strongly connected components"
                + (f" ({'; '.join(detail)})" if detail else "")
                + ". Use ridge > 0."
            )

    # Estimation starts from the hyperprior's mode.
    problem = _BTProblem(a, b, w, m, 1.0 / _HYPER_S0**2 if estimate else float(ridge))
    theta = _bt_fit(problem, max_iter, tol, estimate)
    lam = problem.ridge

    # Covariance on the mean-zero subspace. With F the information matrix and J = all ones,
    # A = (F + J/m)^-1 is invertible even when ridge = 0, and C = P A P (P = I - J/m) is the
    # pseudo-inverse of F (ridge = 0) or F^-1 projected onto mean-zero theta (ridge > 0).
    # A = V V' with V = U^-1 from the Cholesky factor F + J/m = U'U; diag(C) needs only V.
    _, adj, diag = problem.gradient_information(theta)
    try:
        U = linalg.cholesky(problem.dense_information(adj, diag), lower=False, overwrite_a=True, check_finite=False)
    except linalg.LinAlgError as exc:  # pragma: no cover - guarded by the connectivity check
        raise RankingError(f"Bradley-Terry information matrix is singular: {exc}") from exc
    V, info = linalg.lapack.dtrtri(U, lower=0)
    if info != 0:  # pragma: no cover
        raise RankingError("could not invert the Bradley-Terry information matrix")
    del U
    r = V @ V.sum(axis=0) / m  # A 1 / m
    cov_diag = np.einsum("ij,ij->i", V, V) - 2 * r + r.mean()

    # score_i = mean_{j != i} P(i beats j); its gradient row i is (d_i e_i - S_i) / (m - 1) with
    # S_ij = P_ij (1 - P_ij) (zero diagonal) and d = row sums of S. Since G 1 = 0, G C G' = G A G'.
    P = special.expit(theta[:, None] - theta[None, :])
    score = (P.sum(axis=1) - 0.5) / (m - 1)
    S = P
    S *= 1 - P
    np.fill_diagonal(S, 0.0)
    d = S.sum(axis=1)
    GV = linalg.blas.dtrmm(-1.0 / (m - 1), V, S, side=1, lower=0)  # -S V / (m - 1)
    del S
    GV += (d / (m - 1))[:, None] * V
    var_score = np.einsum("ij,ij->i", GV, GV)
    if clusters is not None:
        # Sandwich C (M + ridge I) C with M = sum_r g_r g_r': the prior's information is known
        # exactly, only the likelihood's is estimated from the respondents, so with M = F it gives
        # back C. (M + ridge I) 1 = ridge 1, A 1 = 1 / (1 + ridge), so C (M + ridge I) C =
        # P A (M + ridge I) A P, and G A (M + ridge I) A G' since G 1 = 0.
        # T = V' (M + ridge I) V, so A (M + ridge I) A = V T V' and G A (..) A G' = (G V) T (G V)'.
        # The usual call passes the wins rows themselves as the clusters (one row per respondent and
        # pair): their proposal codes and pairs are known already, and they add up to the wins.
        known = (a_raw, b_raw) if clusters is wins else None
        meat = _cluster_meat(clusters, ids, flat, w_raw, theta, scale, m, known)
        meat[np.diag_indices(m)] += lam
        T = linalg.blas.dtrmm(1.0, V, linalg.blas.dtrmm(1.0, V, meat, side=1, lower=0), side=0, lower=0, trans_a=1)
        del meat
        ama1 = V @ (T @ V.sum(axis=0))  # A (M + ridge I) A 1
        robust = np.einsum("ij,ij->i", linalg.blas.dtrmm(1.0, V, T, side=0, lower=0), V)
        robust += -2 * ama1 / m + ama1.sum() / (m * m)
        # Per proposal the larger: the robust estimate can only add the respondents' correlation;
        # where it is smaller (few comparisons, all won, score vectors ~ 0) it is noise.
        np.maximum(cov_diag, robust, out=cov_diag)
        np.maximum(var_score, np.einsum("ij,ij->i", GV @ T, GV), out=var_score)

    theta_se = np.sqrt(np.maximum(cov_diag, 0))
    se = np.sqrt(np.maximum(var_score, 0))
    wp = np.bincount(a, weights=w_raw, minlength=m) + np.bincount(b, weights=w_raw, minlength=m)
    qp = np.bincount(a, weights=q, minlength=m) + np.bincount(b, weights=q, minlength=m)
    with np.errstate(divide="ignore", invalid="ignore"):
        neff = np.where(qp > 0, wp * wp / qp, 0.0)
    votes = np.bincount(a, weights=c, minlength=m) + np.bincount(b, weights=c, minlength=m)
    out = pd.DataFrame(
        {
            "proposal_id": ids.to_numpy(),
            "theta": theta,
            "theta_se": theta_se,
            "score": score,
            "ci_low": np.clip(score - z * se, 0, 1),
            "ci_high": np.clip(score + z * se, 0, 1),
            "n_eff": neff,
            "n_votes": _int_if_integral(votes),
        }
    )
    out.attrs["ridge"] = float(lam)
    out.attrs["ridge_estimated"] = estimate
    return out


def _cluster_meat(
    clusters: pd.DataFrame,
    ids: pd.Index,
    flat: np.ndarray,
    w_raw: np.ndarray,
    theta: np.ndarray,
    scale: float,
    m: int,
    known: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """``sum_r g_r g_rᵀ`` with ``g_r`` respondent r's score vector, via one sparse product.

    ``known``: the clusters' winner and loser codes, when the clusters are the wins rows themselves
    (nothing to look up, and they add up to the wins by construction).
    """
    _require_frame(clusters, "clusters", ["respondent_id", "winner_id", "loser_id", "weight"])
    if clusters["respondent_id"].isna().any():
        raise RankingError("clusters.respondent_id contains missing values")
    cw = _numeric(clusters["weight"], "clusters.weight")
    if known is not None:
        ca, cb = known
    else:
        ca = ids.get_indexer(pd.Index(clusters["winner_id"]))
        cb = ids.get_indexer(pd.Index(clusters["loser_id"]))
        if (ca < 0).any() or (cb < 0).any():
            bad = pd.concat([clusters["winner_id"][ca < 0], clusters["loser_id"][cb < 0]])
            raise RankingError(f"clusters mention proposal(s) absent from wins: {_describe(bad)}")
        key = ca.astype(np.int64) * m + cb
        pos = np.searchsorted(flat, key)
        pos = np.minimum(pos, len(flat) - 1)
        if (flat[pos] != key).any():
            raise RankingError("clusters contain ordered pairs that are absent from wins")
        agg = np.bincount(pos, weights=cw, minlength=len(flat))
        if np.abs(agg - w_raw).max() > 1e-6 * max(1.0, float(np.abs(w_raw).max())):
            raise RankingError("clusters do not add up to wins: per-pair sums of clusters.weight differ from wins.weight")
    respondents = clusters["respondent_id"].to_numpy()
    if respondents.dtype.kind in "iu" and bool(np.all(respondents[1:] >= respondents[:-1])):
        rcodes, rids = _factorize(respondents, "clusters.respondent_id")  # sorted (the usual): no hashing
    else:
        rcodes, rids = pd.factorize(clusters["respondent_id"])
    u = scale * cw * special.expit(theta[cb] - theta[ca])  # w * (1 - P(winner beats loser))
    n = len(u)
    if n == 0 or bool(np.all(rcodes[1:] >= rcodes[:-1])):
        # Rows grouped by respondent (the usual): the CSR arrays directly, +u at the winner and -u
        # at the loser of each row, without the coordinate format's copies and sort. Repeated
        # proposals within a respondent's row stay separate entries; the product sums them.
        index = np.int32 if 2 * n < 2**31 and m < 2**31 else np.int64
        data = np.empty(2 * n)
        data[0::2], data[1::2] = u, -u
        indices = np.empty(2 * n, dtype=index)
        indices[0::2], indices[1::2] = ca, cb
        indptr = np.zeros(len(rids) + 1, dtype=index)
        np.cumsum(2 * np.bincount(rcodes, minlength=len(rids)), out=indptr[1:])
        g = sparse.csr_matrix((data, indices, indptr), shape=(len(rids), m))
    else:
        g = sparse.csr_matrix(
            (np.concatenate([u, -u]), (np.concatenate([rcodes, rcodes]), np.concatenate([ca, cb]))),
            shape=(len(rids), m),
        )
    return (g.T @ g).toarray()


# --------------------------------------------------------------------------------------------
# ranking
# --------------------------------------------------------------------------------------------


def rank(scores: pd.DataFrame, by: Literal["lower", "point"] = "lower") -> pd.DataFrame:
    """Sort proposals and number them 1..n.

    ``by="lower"`` sorts by ``ci_low`` descending (default), ``by="point"`` by ``score``
    descending; ties (after rounding the key to 12 decimals) go to the larger ``n_eff``, then to
    the smaller ``proposal_id``. Missing keys sort last. Returns a copy with a ``rank`` column.
    """
    key = {"lower": "ci_low", "point": "score"}.get(by)
    if key is None:
        raise RankingError(f"by must be 'lower' or 'point', got {by!r}")
    _require_frame(scores, "scores", ["proposal_id", key, "n_eff"])
    if not pd.Index(scores["proposal_id"]).is_unique:
        raise RankingError("scores.proposal_id must be unique")
    out = scores.reset_index(drop=True).copy()
    id_order, _ = _factorize(out["proposal_id"], "scores.proposal_id")  # codes follow sorted ids
    order = np.lexsort((id_order, *_rank_keys(out, key)))
    out = out.iloc[order].reset_index(drop=True)
    out["rank"] = np.arange(1, len(out) + 1, dtype=np.int64)
    return out


def _rank_keys(scores: pd.DataFrame, key: str) -> tuple[np.ndarray, np.ndarray]:
    """Sort keys of `rank` after the proposal id, least significant first: larger ``n_eff``, then
    larger ``key`` rounded to 12 decimals (missing last)."""
    k = pd.to_numeric(scores[key], errors="coerce").astype(float).round(_RANK_DECIMALS)
    neff = pd.to_numeric(scores["n_eff"], errors="coerce").astype(float).fillna(0.0)
    return -neff.to_numpy(), np.where(k.isna().to_numpy(), np.inf, -k.to_numpy())


def per_segment(
    stats_df: pd.DataFrame,
    cell_weights: pd.Series,
    segment: str = "segment",
    by: Literal["lower", "point"] = "lower",
    confidence: float = 0.95,
    scorer: Callable[..., pd.DataFrame] = approval_scores,
    overall: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Overall and within-segment ranks side by side, with each segment's own figures.

    ``stats_df`` is the input of ``scorer`` (default :func:`approval_scores`) plus a ``segment``
    column giving each cell's segment. Returns ``proposal_id, rank_overall`` and, per segment (sorted),
    ``rank_<s>`` (nullable integer) and ``score_<s>, ci_low_<s>, ci_high_<s>, n_eff_<s>, n_votes_<s>``:
    the segment's own weighted score, interval and Kish effective n, from its respondents alone (the
    weights within a segment keep their ratios, which is all a weighted mean and its n_eff depend on).
    A proposal nobody in a segment voted on has no rank there (<NA>) and NaN figures.
    ``overall``: the overall ranking (:func:`rank` of the scores), if the caller has it.
    """
    _require_frame(stats_df, "stats", ["proposal_id", segment])
    values = stats_df.drop(columns=[segment])
    if overall is None:  # callers that ranked the whole already pass it (``proposal_id, rank``)
        overall = rank(scorer(values, cell_weights, confidence), by)
    out = overall[["proposal_id", "rank"]].rename(columns={"rank": "rank_overall"})
    out["rank_overall"] = out["rank_overall"].astype("Int64")
    # Clean the few distinct labels, not every row's (most rows share a handful of segments).
    codes, labels = pd.factorize(stats_df[segment], use_na_sentinel=False)
    cleaned = _clean_category(pd.Series(labels, dtype=object)).to_numpy()
    names = sorted(set(cleaned))
    seg = np.searchsorted(np.asarray(names, dtype=object), cleaned)[codes]
    # One scorer call over (proposal, segment) keys: each key sums the same rows in the same order
    # as scoring that segment's rows alone would, so the figures are identical, without a pass per segment.
    pcodes, pids = _proposal_codes(values)
    k = len(names)
    scored = scorer(values.assign(proposal_id=pcodes * k + seg), cell_weights, confidence)
    scored = scored[scored["n_votes"] > 0]
    if by not in ("lower", "point"):
        raise RankingError(f"by must be 'lower' or 'point', got {by!r}")
    # Every segment's `rank` in one sort: by segment, then as `rank` orders (proposal codes follow
    # sorted ids); a proposal's rank is its place within its segment's run.
    key = scored["proposal_id"].to_numpy()
    seg_of, code_of = key % k, key // k
    order = np.lexsort((code_of, *_rank_keys(scored, "ci_low" if by == "lower" else "score"), seg_of))
    seg_sorted = seg_of[order]
    first = np.searchsorted(seg_sorted, np.arange(k))
    ranks = np.arange(len(order)) - first[seg_sorted] + 1
    ids = out["proposal_id"].to_numpy()
    row_of_code = np.minimum(np.searchsorted(pids.to_numpy(), ids), max(len(pids) - 1, 0))
    if len(ids) and not np.array_equal(pids.to_numpy()[row_of_code], ids):
        raise RankingError("overall ranks proposals that are not in stats")
    figures = {c: scored[c].to_numpy(dtype=float) for c in ("score", "ci_low", "ci_high", "n_eff", "n_votes")}
    for j, name in enumerate(names):
        table = np.zeros(len(pids), dtype=np.int64)  # 0: nobody in the segment voted on it
        mine = seg_sorted == j
        rows = order[mine]
        table[code_of[rows]] = ranks[mine]
        column = table[row_of_code]
        out[f"rank_{name}"] = pd.arrays.IntegerArray(column, column == 0)
        for c, values in figures.items():
            values_of_code = np.full(len(pids), np.nan)
            values_of_code[code_of[rows]] = values[rows]
            out[f"{c}_{name}"] = values_of_code[row_of_code]
    return out

"""Ranking inputs from the database: sufficient statistics per proposal and weighting cell, the
respondents per cell, and the canonical input rows that exports and pairwise fingerprints use.

A *weighting cell* is a combination of the respondent's segment and state (the weighting variables;
a skipped question is the category ``"not_stated"``). What reaches Python grows with proposals x
cells, not with votes:

* approval and rating: the tallies the database's triggers keep per (proposal, cell)
  (`tally_rows`, `idmx.ranking.tallies`): exposures and supporters; ratings, their sum and sum of
  squares. A run reads them, never the votes;
* pairwise: wins per (winner, loser, cell), and wins per (respondent, winner, loser) for the
  cluster-robust intervals. Both are about as many rows as there are comparisons (ordered pairs x
  cells far exceeds the votes), so a ranking run counts the clusters from the fingerprint's stream
  instead of a second pass here (`idmx.ranking.services._read_db_inputs`; tested against these queries).

What counts (the same rows the exported files hold, see `idmx.ranking.files`):

* only proposals with status ``published`` (pending, hidden and merged ones are left out);
* approval: a *vote row* is an exposure of a respondent to a proposal, supported when the respondent
  has an approval vote (value 1) on it. The app writes an exposure with every approval vote; a vote
  without an exposure row is not counted;
* rating: every vote (1-5);
* pairwise: every comparison with a winner, as (winner, loser); "can't decide" is left out;
* the respondents of a ranking: approval, those shown at least one proposal; rating, those who
  rated at least one; pairwise, those with a counted comparison. Approval and rating count rows on
  proposals later hidden too (the triggers keep those counts per respondent), so hiding spam does
  not change who is weighted, only what is ranked.

Every function takes a Session, so a run reads all of them inside one transaction: on PostgreSQL call
`consistent_snapshot` first (REPEATABLE READ: one snapshot for every statement); SQLite's read
transaction in WAL mode is a snapshot already.

The SQL is written per database where the planners need it: SQLite is told to walk respondents, then
their rows through the (respondent_id, proposal_id) indexes (``CROSS JOIN`` fixes the join order; the
default plan looks rows up through a non-covering index in random order and is ten times slower);
unpublished proposals are excluded with ``NOT IN`` (see `_UNPUBLISHED`). PostgreSQL gets enough
``work_mem`` to aggregate in memory (see `consistent_snapshot`).
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from idmx.db import models as m
from idmx.statistics import NOT_STATED

__all__ = [
    "VARIABLES",
    "category_labels",
    "consistent_snapshot",
    "flagged_cells",
    "flagged_ids",
    "flagged_tallies",
    "iter_respondent_rows",
    "iter_vote_rows",
    "pairwise_clusters",
    "pairwise_wins",
    "respondent_cells",
    "respondent_keys",
    "stored_targets",
    "tally_rows",
    "vote_arrays",
    "vote_header",
]

VARIABLES = ("segment", "state")
"""The weighting variables of a database run, in canonical (sorted) order."""

# --- the rows of each method ---------------------------------------------------------------------
# Each method's vote rows as (respondent_id, a, b, value) over respondents r of the consultation:
# approval (respondent, proposal, -, supported), rating (respondent, proposal, -, value), pairwise
# (respondent, winner, loser, -). `{join}` is "CROSS JOIN" on SQLite (fixes the join order) and
# "JOIN" on PostgreSQL.

_ROWS = {
    "approval": (
        (
            "FROM respondents r {join} exposures e ON e.respondent_id = r.id"
            " LEFT JOIN votes v ON v.respondent_id = e.respondent_id AND v.proposal_id = e.proposal_id AND v.value = 1"
            " WHERE r.consultation_id = :c"
        ),
        "e.proposal_id",
    ),
    "rating": (
        "FROM respondents r {join} votes v ON v.respondent_id = r.id WHERE r.consultation_id = :c",
        "v.proposal_id",
    ),
}

_PAIRWISE_ROWS = (
    "FROM respondents r {join} pairwise_votes pv ON pv.respondent_id = r.id"
    " WHERE r.consultation_id = :c AND pv.winner_id IS NOT NULL"
)
_LOSER = "CASE WHEN pv.winner_id = pv.left_id THEN pv.right_id ELSE pv.left_id END"
# Proposals not to count. NOT IN over this (usually tiny) list is a hashed lookup per row on both
# databases; "IN (published)" lets planners turn it into a join that multiplies rows when statistics
# are stale (PostgreSQL right after a bulk load) or probe an index once per proposal (SQLite).
_UNPUBLISHED = "(SELECT id FROM proposals WHERE consultation_id = :c AND status <> 'published')"


def _join(session: Session) -> str:
    return "CROSS JOIN" if _is_sqlite(session) else "JOIN"


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _method(method: str) -> str:
    """The statistics these queries read, by the name `idmx.votemodes` gives them (a mode's `statistics`)."""
    value = str(getattr(method, "value", method))
    if value not in ("approval", "rating", "pairwise"):
        raise ValueError(f"unknown statistics {method!r} (approval, rating or pairwise)")
    return value


def _counted_rows(session: Session, method: str) -> str:
    """FROM/WHERE of the counted vote rows (published proposals only), aliases r and e/v/pv."""
    join = _join(session)
    if method == "pairwise":
        return (
            _PAIRWISE_ROWS.format(join=join)
            + f" AND pv.left_id NOT IN {_UNPUBLISHED} AND pv.right_id NOT IN {_UNPUBLISHED}"
        )
    rows, proposal = _ROWS[method]
    return rows.format(join=join) + f" AND {proposal} NOT IN {_UNPUBLISHED}"


def consistent_snapshot(session: Session) -> None:
    """Make every later statement of this session's transaction read the same snapshot.

    PostgreSQL: REPEATABLE READ (call before the first statement), enough ``work_mem`` for the
    aggregations to hash in memory instead of spilling to disk, and no JIT: compiling these
    one-off queries over millions of rows cost up to a second each and saved less. SQLite:
    nothing to do (a read transaction in WAL mode already sees one snapshot).
    """
    if _is_sqlite(session):
        return
    conn = session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    conn.exec_driver_sql("SET LOCAL jit = off")


# --- labels --------------------------------------------------------------------------------------


def category_labels(session: Session) -> dict[str, dict[int | None, str]]:
    """Category label of every segment id (its code) and state id (its INEGI code); None -> not_stated."""
    segments = dict(session.execute(select(m.Segment.id, m.Segment.code)).all())
    states = dict(session.execute(select(m.State.id, m.State.inegi_code)).all())
    return {"segment": {None: NOT_STATED, **segments}, "state": {None: NOT_STATED, **states}}


def _label(frame: pd.DataFrame, labels: dict[str, dict[int | None, str]]) -> pd.DataFrame:
    """Replace segment_id/state_id columns by segment/state category labels."""
    for var in VARIABLES:
        ids = frame.pop(f"{var}_id")
        mapping = labels[var]
        frame[var] = [mapping[None if pd.isna(i) else int(i)] for i in ids] if len(ids) else pd.Series([], dtype=object)
    return frame


# --- aggregated statistics -----------------------------------------------------------------------


def _copy_params(sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
    """``:name`` placeholders to psycopg's ``%s`` (COPY binds parameters on the client side)."""
    pattern = re.compile(r"(?<![:\w]):(" + "|".join(map(re.escape, params)) + r")\b")
    values = [params[match.group(1)] for match in pattern.finditer(sql)]
    return pattern.sub("%s", sql), values


def _fetch_all(session: Session, sql: str, params: dict[str, Any], *, binary: bool = False) -> list[tuple]:
    """Every row through the driver's own cursor, inside the session's transaction: no ORM row
    objects, and on PostgreSQL a client-side cursor (a named one would forbid parallel plans);
    ``binary`` returns bytea as its bytes rather than as hex text."""
    raw = session.connection().connection.driver_connection
    if _is_sqlite(session):
        return raw.execute(sql, params).fetchall()
    psql, values = _copy_params(sql, params)
    with raw.cursor(binary=binary) as cur:
        return cur.execute(psql, values).fetchall()


def _frame(session: Session, sql: str, params: dict[str, Any], columns: list[str]) -> pd.DataFrame:
    """Run a query and return its rows as a frame.

    PostgreSQL streams the result through ``COPY ... TO STDOUT`` into pandas' CSV parser, which is
    several times faster than building Python tuples for a million rows; SQLite fetches plain tuples.
    Integer columns come back as int64 (nullable Int64 where NULLs occur).
    """
    if _is_sqlite(session):
        rows = [row for part in _stream(session, sql, params, 200_000) for row in part]
        frame = pd.DataFrame.from_records(rows, columns=columns)
    else:
        raw = session.connection().connection.driver_connection
        psql, values = _copy_params(sql, params)
        buf = io.BytesIO()
        with raw.cursor() as cur, cur.copy(f"COPY ({psql}) TO STDOUT WITH (FORMAT csv)", values) as copy:
            for chunk in copy:
                buf.write(chunk)
        buf.seek(0)
        if buf.getbuffer().nbytes == 0:
            frame = pd.DataFrame({c: pd.Series([], dtype=np.int64) for c in columns})
        else:
            frame = pd.read_csv(buf, header=None, names=columns, dtype="Int64", keep_default_na=False, na_values=[""])
    for col in frame.columns:
        series = frame[col]
        if series.isna().any():
            frame[col] = series.astype("Int64")
        else:
            frame[col] = series.astype(np.int64)
    return frame


def _has_rows(method: str) -> str:
    """Condition on respondent r: it is one of the ranking's respondents (see the module docstring)."""
    if method == "pairwise":
        return (
            "EXISTS (SELECT 1 FROM pairwise_votes pv WHERE pv.respondent_id = r.id AND pv.winner_id IS NOT NULL"
            f" AND pv.left_id NOT IN {_UNPUBLISHED} AND pv.right_id NOT IN {_UNPUBLISHED})"
        )
    # Row counts kept by the database's triggers (`idmx.ranking.tallies`).
    return "r.n_exposures > 0" if method == "approval" else "r.n_votes > 0"


def respondent_cells(session: Session, consultation_id: int, method: str) -> pd.DataFrame:
    """Respondents of the ranking per cell: columns ``segment, state, respondents, segment_key,
    state_key`` (the ids, 0 for not stated, as in `tally_rows`), sorted by the category labels."""
    method = _method(method)
    if method == "pairwise":
        sql = (
            "SELECT coalesce(r.segment_id, 0), coalesce(r.state_id, 0), count(*) FROM respondents r"
            f" WHERE r.consultation_id = :c AND {_has_rows(method)} GROUP BY r.segment_id, r.state_id"
        )
    else:  # kept per cell by the triggers (`idmx.ranking.tallies`)
        count = "exposed" if method == "approval" else "voted"
        sql = (f"SELECT segment_key, state_key, {count} FROM cell_respondents"
               f" WHERE consultation_id = :c AND {count} > 0")
    frame = _frame(session, sql, {"c": consultation_id}, ["segment_key", "state_key", "respondents"])
    for var in VARIABLES:
        frame[f"{var}_id"] = frame[f"{var}_key"].where(frame[f"{var}_key"] != 0)
    frame = _label(frame, category_labels(session))
    columns = ["segment", "state", "respondents", "segment_key", "state_key"]
    return frame[columns].sort_values(list(VARIABLES), ignore_index=True)


TALLY_VALUES = {"approval": ("exposures", "supporters"), "rating": ("n", "total", "total_sq")}

# The packed columns each method reads (`m.TALLY_WORDS`). They hold a value (not NULL) when segment
# and state ids are below 1024 and every cell has fewer than 2**21 respondents: a cell's exposures,
# supporters and ratings never exceed its respondents, a rating sum 5 times and a sum of squares 25 times them.
_WORDS = {"approval": ("packed_approval",), "rating": ("packed_rating", "packed_rating_sums")}
_FITS = {"ids": 1 << 10, "cell": 1 << 21}


def _unpack(values: np.ndarray, word: tuple[tuple[str, int], ...]) -> list[np.ndarray]:
    out = []
    for _, bits in reversed(word):
        out.append(values & ((1 << bits) - 1))
        values = values >> bits
    return out[::-1]


def tally_rows(session: Session, consultation_id: int, method: str, max_cell_respondents: int | None = None) -> np.ndarray:
    """The kept tallies of the published proposals as an int64 array, one row per proposal and cell
    with rows: ``proposal_id, segment_key, state_key`` and the method's `TALLY_VALUES`, in no
    particular order.

    The rows a ranking reads grow with proposals x cells, never with votes: the database's triggers
    keep them (`idmx.ranking.tallies`). Approval keeps cells with exposures, rating cells with
    votes. A Python tuple per row would cost more than the database's whole scan, so the rows come
    as the packed integers the database stores with them (`m.TALLY_WORDS`; ``max_cell_respondents``,
    the largest cell of `respondent_cells`, says whether they fit, and without it every field is read
    on its own), which numpy unpacks. SQLite returns them as text, one list per proposal (its
    group-by follows the primary key, so grouping is free); PostgreSQL as one binary string of
    (proposal, words...) records for the whole consultation, which numpy reads as it is (grouping
    there costs a hash of every row; formatting numbers as text costs more than the scan).
    Unpublished proposals and empty cells are dropped here rather than in SQL (a filter per row
    costs more than the rows it saves).
    """
    method = _method(method)
    if method == "pairwise":
        raise ValueError("pairwise comparisons have no tallies")
    top = max(session.scalar(text("SELECT max(id) FROM segments")) or 0, session.scalar(text("SELECT max(id) FROM states")) or 0)
    packed = max_cell_respondents is not None and max_cell_respondents < _FITS["cell"] and top < _FITS["ids"]
    columns = _WORDS[method] if packed else ("segment_key", "state_key", *TALLY_VALUES[method])
    params = {"c": consultation_id}
    if _is_sqlite(session):
        lists = ", ".join(f"group_concat(t.{c})" for c in columns)
        sql = (f"SELECT t.proposal_id, count(*), {lists} FROM vote_tallies t WHERE t.consultation_id = :c"
               " GROUP BY t.proposal_id")
        part = session.execute(text(sql), params).all()
        heads = np.array([row[:2] for row in part], dtype=np.int64).reshape(-1, 2)
        got = [np.repeat(heads[:, 0], heads[:, 1])]
        for k in range(len(columns)):
            got.append(np.fromstring(",".join([row[2 + k] for row in part]), dtype=np.int64, sep=","))
            if len(got[-1]) != len(got[0]):  # every list steps over the same rows (a NULL would be skipped)
                raise RuntimeError("misaligned tally lists from the database")
    else:
        record = " || ".join(["int4send(t.proposal_id)", *(f"int8send(CAST(t.{c} AS BIGINT))" for c in columns)])
        sql = f"SELECT count(*), string_agg({record}, ''::bytea) FROM vote_tallies t WHERE t.consultation_id = :c"
        ((count, blob),) = _fetch_all(session, sql, params, binary=True)
        dtype = np.dtype([("p", ">i4"), *((f"w{k}", ">i8") for k in range(len(columns)))])
        records = np.frombuffer(blob or b"", dtype=dtype)
        if len(records) != count:  # a NULL word would make its record NULL, and string_agg skip it
            raise RuntimeError("malformed tally records from the database")
        got = [records[name].astype(np.int64) for name in dtype.names]
    # Column by column (contiguous), into a column-major array: callers read it by column.
    fields = [got[0]]
    for values, column in zip(got[1:], columns):
        fields.extend(_unpack(values, m.TALLY_WORDS[column]) if packed else [values])
    unpublished = list(session.scalars(
        text("SELECT id FROM proposals WHERE consultation_id = :c AND status <> 'published'"), params
    ))
    keep = fields[3] > 0
    if unpublished:
        keep &= ~np.isin(fields[0], np.asarray(unpublished, dtype=np.int64))
    rows = np.empty((len(fields), int(keep.sum())), dtype=np.int64)
    for k, values in enumerate(fields):
        np.compress(keep, values, out=rows[k])
    return rows.T


# --- flagged respondents (`m.RespondentFlag`) ---------------------------------------------------------

# The flagged respondents drive these queries (they are few): walking all of a consultation's
# respondents to test each against the list costs a national run tens of milliseconds.
_FLAGGED = "(SELECT DISTINCT respondent_id AS id FROM respondent_flags WHERE consultation_id = :c) fl"


def flagged_ids(session: Session, consultation_id: int) -> np.ndarray:
    """The consultation's flagged respondents (ids, sorted): a run without them leaves them out."""
    sql = "SELECT DISTINCT respondent_id FROM respondent_flags WHERE consultation_id = :c ORDER BY 1"
    return np.array(_fetch_all(session, sql, {"c": consultation_id}), dtype=np.int64).reshape(-1)


def flagged_cells(session: Session, consultation_id: int, method: str) -> pd.DataFrame:
    """The flagged respondents among the ranking's, per cell: ``segment_key, state_key, respondents``."""
    method = _method(method)
    sql = (
        f"SELECT coalesce(r.segment_id, 0), coalesce(r.state_id, 0), count(*) FROM {_FLAGGED}"
        f" {_join(session)} respondents r ON r.id = fl.id"
        f" WHERE r.consultation_id = :c AND {_has_rows(method)}"
        " GROUP BY coalesce(r.segment_id, 0), coalesce(r.state_id, 0)"
    )
    return _frame(session, sql, {"c": consultation_id}, ["segment_key", "state_key", "respondents"])


def flagged_tallies(session: Session, consultation_id: int, method: str) -> np.ndarray:
    """What the flagged respondents add to `tally_rows` (same columns, published proposals only):
    a run without them subtracts it (`pipeline.without_tallies`) instead of reading every vote."""
    method = _method(method)
    if method == "pairwise":
        raise ValueError("pairwise comparisons have no tallies")
    if method == "approval":
        proposal, values = "e.proposal_id", "count(*), sum(CASE WHEN v.id IS NULL THEN 0 ELSE 1 END)"
    else:
        proposal, values = "v.proposal_id", "count(*), sum(v.value), sum(v.value * v.value)"
    rows = _counted_rows(session, method).replace("FROM respondents r", f"FROM {_FLAGGED} {_join(session)} respondents r"
                                                  " ON r.id = fl.id", 1)
    sql = (
        f"SELECT {proposal}, coalesce(r.segment_id, 0), coalesce(r.state_id, 0), {values} {rows}"
        f" GROUP BY {proposal}, coalesce(r.segment_id, 0), coalesce(r.state_id, 0)"
    )
    width = 3 + len(TALLY_VALUES[method])
    return np.array(_fetch_all(session, sql, {"c": consultation_id}), dtype=np.int64).reshape(-1, width)


def pairwise_wins(session: Session, consultation_id: int) -> pd.DataFrame:
    """``winner_id, loser_id, segment, state, wins``: decisive comparisons per ordered pair and cell."""
    sql = (
        f"SELECT pv.winner_id, {_LOSER}, r.segment_id, r.state_id, count(*) "
        + _counted_rows(session, "pairwise")
        + f" GROUP BY pv.winner_id, {_LOSER}, r.segment_id, r.state_id"
    )
    frame = _frame(session, sql, {"c": consultation_id}, ["winner_id", "loser_id", "segment_id", "state_id", "wins"])
    return _finish(session, frame, ["winner_id", "loser_id"], ["wins"])


def pairwise_clusters(session: Session, consultation_id: int) -> pd.DataFrame:
    """``respondent_id, winner_id, loser_id, wins`` per respondent and ordered pair, sorted.

    The clusters of the cluster-robust Bradley-Terry intervals; a respondent's cell (and so weight)
    comes from `iter_respondent_rows` / the respondents file.
    """
    sql = (
        f"SELECT pv.respondent_id, pv.winner_id, {_LOSER}, count(*) "
        + _counted_rows(session, "pairwise")
        + f" GROUP BY pv.respondent_id, pv.winner_id, {_LOSER}"
    )
    frame = _frame(session, sql, {"c": consultation_id}, ["respondent_id", "winner_id", "loser_id", "wins"])
    return frame.sort_values(["respondent_id", "winner_id", "loser_id"], ignore_index=True)


def _finish(session: Session, frame: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    frame = _label(frame, category_labels(session))
    return frame[keys + list(VARIABLES) + values].sort_values(keys + list(VARIABLES), ignore_index=True)


# --- targets ---------------------------------------------------------------------------------------


def stored_targets(session: Session, consultation_id: int) -> pd.DataFrame:
    """The consultation's weighting targets: ``variable, category, target`` (possibly empty)."""
    rows = session.execute(
        select(m.WeightingTarget.variable, m.WeightingTarget.category, m.WeightingTarget.target)
        .where(m.WeightingTarget.consultation_id == consultation_id)
        .order_by(m.WeightingTarget.variable, m.WeightingTarget.category)
    ).all()
    return pd.DataFrame(
        {
            "variable": [r[0] for r in rows],
            "category": [r[1] for r in rows],
            "target": np.array([float(r[2]) for r in rows], dtype=float),
        }
    )


# --- canonical rows (fingerprint and export) -------------------------------------------------------


def vote_header(method: str) -> tuple[str, str, str]:
    return ("respondent_id", "winner_id", "loser_id") if _method(method) == "pairwise" else (
        "respondent_id", "proposal_id", "value")


def respondent_keys(session: Session, consultation_id: int, method: str) -> np.ndarray:
    """The ranking's respondents as an int64 array of rows ``id, segment_key, state_key`` (ids,
    0 for not stated, as in `tally_rows`), sorted by id. Read whole (a few numbers per respondent):
    a cursor would forbid PostgreSQL's parallel plan for the pairwise EXISTS."""
    method = _method(method)
    sql = (
        "SELECT r.id, coalesce(r.segment_id, 0), coalesce(r.state_id, 0) FROM respondents r"
        f" WHERE r.consultation_id = :c AND {_has_rows(method)} ORDER BY r.id"
    )
    return np.array(_fetch_all(session, sql, {"c": consultation_id}), dtype=np.int64).reshape(-1, 3)


def iter_respondent_rows(
    session: Session, consultation_id: int, method: str, batch: int = 50_000
) -> Iterator[list[tuple[int, str, str]]]:
    """Batches of ``(respondent_id, segment, state)`` of the ranking's respondents, sorted by id."""
    method = _method(method)
    labels = category_labels(session)
    seg, st = labels["segment"], labels["state"]
    sql = (
        "SELECT r.id, r.segment_id, r.state_id FROM respondents r"
        f" WHERE r.consultation_id = :c AND {_has_rows(method)} ORDER BY r.id"
    )
    for part in _stream(session, sql, {"c": consultation_id}, batch):
        yield [(rid, seg[s], st[t]) for rid, s, t in part]


def _stream(session: Session, sql: str, params: dict[str, Any], batch: int) -> Iterator[list[tuple]]:
    """Rows in batches through the driver's own cursor, inside the session's transaction.

    SQLite: sqlite3 ``fetchmany`` (no ORM row objects: a third of the time per row). PostgreSQL: a
    named (server-side) cursor, so the result is never held whole in memory.
    """
    raw = session.connection().connection.driver_connection
    if _is_sqlite(session):
        cur = raw.cursor()
        try:
            cur.execute(sql, params)
            while part := cur.fetchmany(batch):
                yield part
        finally:
            cur.close()
        return
    psql, values = _copy_params(sql, params)
    with raw.cursor(name="idmx_ranking_stream") as cur:
        cur.itersize = batch
        cur.execute(psql, values)
        while part := cur.fetchmany(batch):
            yield part


# The columns of `queries.iter_vote_rows`, for reading them as integers on SQLite.
_VOTE_COLUMNS = {
    "approval": ("e.respondent_id", "e.proposal_id", "CASE WHEN v.id IS NULL THEN 0 ELSE 1 END"),
    "rating": ("v.respondent_id", "v.proposal_id", "v.value"),
    "pairwise": ("pv.respondent_id", "pv.winner_id", _LOSER),
}


def vote_arrays(s, consultation_id: int, method: str) -> Iterator[np.ndarray]:
    """The rows of `queries.iter_vote_rows` (same order) as (n, 3) int64 arrays.

    One row per respondent with its other two columns as lists, read by numpy: comma-separated text
    on SQLite (``group_concat``), binary int64 pairs on PostgreSQL (``string_agg`` of ``int8send``).
    Returning every vote as its own row costs a Python tuple and three integers per row on SQLite,
    and a COPY message per row on PostgreSQL, each more than the database's whole walk.
    """
    second, third = _VOTE_COLUMNS[method][1:]
    rows = _counted_rows(s, method)
    # Unordered lists: on SQLite approval and rating rows come in proposal order from the
    # (respondent, proposal) indexes, others in the order they were cast; an ORDER BY inside
    # PostgreSQL's aggregates sorts every group once per list (1 s more at 2,000,000 rows). Numpy
    # sorts the batches that need it, below.
    sqlite = _is_sqlite(s)
    if sqlite:
        sql = f"SELECT r.id, group_concat({second}), group_concat({third}) {rows} GROUP BY r.id ORDER BY r.id"
        batches = _stream(s, sql, {"c": consultation_id}, 5_000)
    else:
        # PostgreSQL: one binary string of (second, third) int64 pairs per respondent (no numbers
        # formatted as text), read whole: a cursor would forbid the parallel plan.
        pair = f"int8send(CAST({second} AS BIGINT)) || int8send(CAST({third} AS BIGINT))"
        sql = f"SELECT r.id, string_agg({pair}, ''::bytea) {rows} GROUP BY r.id ORDER BY r.id"
        result = _fetch_all(s, sql, {"c": consultation_id}, binary=True)
        batches = (result[i:i + 5_000] for i in range(0, len(result), 5_000))
    for part in batches:
        ids = np.fromiter((row[0] for row in part), dtype=np.int64, count=len(part))
        if sqlite:
            counts = np.fromiter((row[1].count(",") + 1 for row in part), dtype=np.int64, count=len(part))
            columns = [np.fromstring(",".join([row[k] for row in part]), dtype=np.int64, sep=",") for k in (1, 2)]
        else:
            counts = np.fromiter((len(row[1]) // 16 for row in part), dtype=np.int64, count=len(part))
            pairs = np.frombuffer(b"".join([row[1] for row in part]), dtype=">i8").reshape(-1, 2)
            columns = [pairs[:, 0], pairs[:, 1]]
        out = np.empty((int(counts.sum()), 3), dtype=np.int64)
        out[:, 0] = np.repeat(ids, counts)
        for col, values in enumerate(columns, start=1):
            if len(values) != len(out):  # both lists step over the same rows
                raise RuntimeError("misaligned vote lists from the database")
            out[:, col] = values
        # A batch holds whole respondents, so sorting it sorts their rows.
        same = out[1:, 0] == out[:-1, 0]
        step = np.diff(out[:, 1])
        if np.any(same & ((step < 0) | ((step == 0) & (np.diff(out[:, 2]) < 0)))):
            out = out[np.lexsort((out[:, 2], out[:, 1], out[:, 0]))]
        yield out


def iter_vote_rows(
    session: Session, consultation_id: int, method: str, batch: int = 100_000
) -> Iterator[bytes]:
    """The canonical vote lines (``a,b,c\\n``, sorted) in chunks of bytes, memory bounded.

    Approval ``respondent_id,proposal_id,supported(0/1)``, rating ``respondent_id,proposal_id,value``,
    pairwise ``respondent_id,winner_id,loser_id``, sorted by all three columns (numerically).
    PostgreSQL streams them with ``COPY ... TO STDOUT`` (the server writes the lines); SQLite's
    rows are formatted here, a batch at a time.
    """
    method = _method(method)
    rows = _counted_rows(session, method)
    if method == "approval":
        cols = ("e.respondent_id", "e.proposal_id", "CASE WHEN v.id IS NULL THEN 0 ELSE 1 END")
    elif method == "rating":
        cols = ("v.respondent_id", "v.proposal_id", "v.value")
    else:
        cols = ("pv.respondent_id", "pv.winner_id", _LOSER)
    if _is_sqlite(session):
        # Ordering by r.id lets SQLite walk respondents in rowid order and each one's rows through the
        # (respondent_id, proposal_id) index: no sort of the whole result.
        sql = f"SELECT {', '.join(cols)} {rows} ORDER BY r.id, {cols[1]}, {cols[2]}"
        for part in _stream(session, sql, {"c": consultation_id}, batch):
            yield "".join([f"{a},{b},{c}\n" for a, b, c in part]).encode()
        return
    raw = session.connection().connection.driver_connection
    sql, values = _copy_params(f"SELECT {', '.join(cols)} {rows} ORDER BY 1, 2, 3", {"c": consultation_id})
    out = bytearray()
    with raw.cursor() as cur, cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)", values) as copy:
        for chunk in copy:
            out += chunk
            if len(out) >= 1 << 20:
                yield bytes(out)
                out.clear()
    if out:
        yield bytes(out)


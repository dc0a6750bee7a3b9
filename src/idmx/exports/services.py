"""Open data of a closed consultation: anonymised, in the file formats `idmx rank` reads.

The package (one zip, or the same files in a directory with `idmx export consultation`):

============================  ===========================================================================
file                          content
============================  ===========================================================================
``proposals.csv``             published proposals, and merged ones with the proposal they were merged into
``respondents.csv``           R.csv: a fresh pseudonym per respondent and export, segment and state
``votes.csv``                 V.csv: approval ``respondent_id,proposal_id,value`` (1 supported, 0 shown
                              and not supported: every exposure is a row), rating the same with 1-5,
                              pairwise ``respondent_id,winner_id,loser_id``; no timestamps
``targets.csv``               T.csv: the weighting targets of the published ranking
``ranking.csv``               the published ranking, byte for byte what ``idmx rank --out`` writes
``runs.csv``                  every final ranking run (computed after closing) with its parameters
``run_targets.csv``           the targets of each run
``run_results.csv``           the results of each run
``datapackage.json``          what each file holds, and the command that reproduces the ranking
============================  ===========================================================================

The files without pseudonyms can also be downloaded one by one, and the proposals as
``proposals.xlsx`` (`idmx.exports.xlsx`).

Privacy by construction: every file is written from an explicit allow-list of columns
(`COLUMNS`), read by queries that select only those columns. Respondents appear only as pseudonyms
numbered 1..N in a random order drawn from `secrets` for each export (never the database id, never
the token hash), with their segment and state; their organisation and intended-use answers,
cookie-token hashes, the time of every vote, hidden and pending proposals, moderation notes,
reports and staff accounts are never read. Only closed consultations are exported; the counted rows
are exactly those a ranking counts (`idmx.ranking.queries`: published proposals; votes on merged
proposals were moved to the survivor when they were merged), so ``idmx rank`` on the files gives
the stored run's results and fingerprint (the fingerprint does not depend on respondent labels, see
`idmx.ranking.files`).

Streaming: every file is a generator of text chunks produced from database cursors in batches,
inside one read transaction (REPEATABLE READ on PostgreSQL), so all files come from one snapshot.
Memory grows with the respondents (their pseudonyms), never with the votes. votes.csv: the
pseudonyms go into a temporary table that the query walks in pseudonym order; on SQLite each
respondent's rows come as one row of ``group_concat`` lists through the covering (respondent,
proposal, value) index and are formatted here; on PostgreSQL the server writes the lines with
``COPY ... TO STDOUT``. `zip_chunks` writes the files into a zip through a non-seekable sink
(``zipfile`` then uses data descriptors) and yields the compressed bytes as they are produced;
the web download streams them as they come (`idmx.exports.controllers`).

Row order: ``respondents.csv`` and ``votes.csv`` are sorted by pseudonym, so neither shows the
order in which respondents arrived or votes were cast.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idmx import clock, i18n, votemodes
from idmx.consultations import rules
from idmx.db import Database
from idmx.db import models as m
from idmx.errors import Conflict, NotFound
from idmx.formats.safety import csv_lines
from idmx.formats.xlsx import Sheet, xlsx_chunks
from idmx.i18n import gettext as _
from idmx.institutions import services as institutions
from idmx.ranking import files, queries

__all__ = [
    "COLUMNS",
    "DOWNLOADABLE",
    "PACKAGE_FILES",
    "ExportInfo",
    "file_chunks",
    "package_info",
    "proposals_xlsx_chunks",
    "vote_chunks",
    "votes_file_chunks",
    "write_directory",
    "zip_chunks",
]

PROPOSAL_COLUMNS = ("proposal_id", "title", "description", "intended_use", "institution", "topic", "status",
                    "merged_into_id", "from_fixed_list")
RESPONDENT_COLUMNS = ("respondent_id", "segment", "state")
# votes.csv of each built-in mode (a mode's own columns are its `file_columns`).
VOTE_COLUMNS = {mode.code: mode.file_columns for mode in votemodes.all_modes()}
TARGET_COLUMNS = ("variable", "category", "target")
RUN_COLUMNS = ("run_id", "method", "computed_on", "fingerprint", "code_version", "targets_source", "cap", "ridge",
               "confidence", "rank_by", "respondents", "vote_rows", "proposals", "n_eff")
RUN_TARGET_COLUMNS = ("run_id", "variable", "category", "target")
RUN_RESULT_COLUMNS = ("run_id", "rank", "proposal_id", "score", "ci_low", "ci_high", "n_eff", "n_votes", "theta")
RANKING_COLUMNS = files.RESULT_COLUMNS  # + ("theta",) for pairwise, as `idmx rank` writes

COLUMNS: dict[str, tuple[str, ...]] = {
    "proposals.csv": PROPOSAL_COLUMNS,
    "respondents.csv": RESPONDENT_COLUMNS,
    "targets.csv": TARGET_COLUMNS,
    "ranking.csv": RANKING_COLUMNS,
    "runs.csv": RUN_COLUMNS,
    "run_targets.csv": RUN_TARGET_COLUMNS,
    "run_results.csv": RUN_RESULT_COLUMNS,
}
"""The allow-list: the only columns each file may have (votes.csv: its vote mode's `file_columns`)."""

PACKAGE_FILES = ("proposals.csv", "respondents.csv", "votes.csv", "targets.csv", "ranking.csv", "runs.csv",
                 "run_targets.csv", "run_results.csv", "datapackage.json")
# Files that make sense on their own (no pseudonyms: those only match within one package).
DOWNLOADABLE = ("proposals.csv", "proposals.xlsx", "targets.csv", "ranking.csv", "runs.csv", "run_targets.csv", "run_results.csv")
BATCH = 50_000
LICENSE = {"name": "CC-BY-4.0", "path": "https://creativecommons.org/licenses/by/4.0/"}


@dataclass
class ExportInfo:
    """What one export covers, read before streaming (cheap: no votes)."""

    consultation_id: int
    slug: str
    title_es: str
    title_en: str
    method: str
    closes_on: str
    run_ids: list[int] = field(default_factory=list)
    published_run_id: int | None = None

    @property
    def kind(self) -> str:
        """The sufficient statistics of the consultation's vote mode (what its vote rows look like)."""
        return votemodes.get(self.method).statistics

    @property
    def vote_columns(self) -> tuple[str, str, str]:
        return votemodes.get(self.method).file_columns

    @property
    def zip_name(self) -> str:
        return f"idmx-{self.slug}-datos.zip"


# --- which consultation ------------------------------------------------------------------------------


def package_info(db: Database, slug: str, now: datetime | None = None, *, include_drafts: bool = False) -> ExportInfo:
    """The export of consultation ``slug``; NotFound, or Conflict unless it is closed.

    Drafts are not public: they are "not found" unless ``include_drafts`` (the command line) asks to
    name them in the error.
    """
    now = now or clock.now()
    with db.read() as s:
        c = s.scalar(select(m.Consultation).where(m.Consultation.slug == slug))
        if c is None or (c.status != m.ConsultationStatus.published and not include_drafts):
            raise NotFound(_("There is no consultation at this address."))
        phase = rules.phase(c, now)
        if phase != "closed":
            messages = {
                "draft": _("This consultation is a draft: only closed consultations publish their data."),
                "upcoming": _("This consultation has not opened yet: its data is published when it closes."),
                "open": _("This consultation is still open: its data is published when it closes."),
            }
            raise Conflict(messages[phase])
        method = str(c.voting_method)
        run_rows = s.execute(
            select(m.RankingRun.id).where(
                m.RankingRun.consultation_id == c.id, m.RankingRun.method == c.voting_method,
                m.RankingRun.created_at >= c.closes_at, m.RankingRun.excludes_flagged.is_(False),
            ).order_by(m.RankingRun.created_at, m.RankingRun.id)
        ).all()
        run_ids = [r[0] for r in run_rows]
        return ExportInfo(c.id, c.slug, c.title_es, c.title_en, method, c.closes_at.date().isoformat(),
                          run_ids, run_ids[-1] if run_ids else None)


# --- the files ---------------------------------------------------------------------------------------------


def _proposal_rows(s: Session, info: ExportInfo) -> Iterator[tuple]:
    P = m.Proposal
    stmt = (
        select(P.id, P.title, P.description, P.intended_use, m.Institution.acronym, m.Topic.code, P.status,
               P.merged_into_id, P.from_fixed_list)
        .outerjoin(m.Institution, m.Institution.id == P.institution_id)
        .outerjoin(m.Topic, m.Topic.id == P.topic_id)
        .where(P.consultation_id == info.consultation_id,
               P.status.in_([m.ProposalStatus.published, m.ProposalStatus.merged]))
        .order_by(P.id)
        .execution_options(yield_per=1000)
    )
    for pid, title, description, use, acronym, topic, status, merged, fixed in s.execute(stmt):
        yield (pid, title, description, use, acronym or "", topic or "", status.value, merged, int(bool(fixed)))


def _proposals(s: Session, info: ExportInfo) -> Iterator[str]:
    yield from csv_lines(PROPOSAL_COLUMNS, ((*r[:7], "" if r[7] is None else r[7], r[8]) for r in _proposal_rows(s, info)))


def proposals_xlsx_chunks(db: Database, info: ExportInfo) -> Iterator[bytes]:
    """proposals.xlsx: the proposals of proposals.csv as a spreadsheet (typed, frozen header, safe text)."""
    with db.read() as s:
        sheet = Sheet(_("Proposals")[:31], PROPOSAL_COLUMNS, _proposal_rows(s, info), widths=(12, 60, 80, 60, 14, 24, 12, 14, 14))
        yield from xlsx_chunks([sheet])


_PSEUDONYM_TABLE = "idmx_export_pseudonyms"
"""Temporary table of one export: pseudonym ``p`` (primary key) -> respondent ``id``, with the
respondent's ``consultation_id``, ``segment_id`` and ``state_id``, so the ranking's row queries run
over it unchanged (`_pseudonymised_rows`). Lives for one read transaction on one connection."""


@contextmanager
def _pseudonyms(s: Session, info: ExportInfo) -> Iterator[None]:
    """Draw fresh pseudonyms 1..N for the ranking's respondents into `_PSEUDONYM_TABLE`.

    PostgreSQL draws the permutation itself: the order of ``gen_random_uuid()``, which reads the
    operating system's cryptographic generator. SQLite has no such generator in SQL, so Python's
    `secrets` seeds the permutation. Either way the table never leaves the database connection.
    """
    raw = s.connection().connection.driver_connection
    chosen = f"FROM respondents r WHERE r.consultation_id = :c AND {queries._has_rows(info.kind)}"
    if queries._is_sqlite(s):
        people = raw.execute(f"SELECT r.id, r.segment_id, r.state_id {chosen} ORDER BY r.id",
                             {"c": info.consultation_id}).fetchall()
        # Pseudonym i + 1 goes to respondent order[i]: a uniformly random assignment.
        order = np.random.default_rng(secrets.randbits(128)).permutation(len(people))
        # Temporary tables outlive transactions on SQLite: never reuse one an abandoned export left.
        raw.execute(f"DROP TABLE IF EXISTS temp.{_PSEUDONYM_TABLE}")
        raw.execute(f"CREATE TEMP TABLE {_PSEUDONYM_TABLE} (p INTEGER PRIMARY KEY, id INTEGER NOT NULL,"
                    " consultation_id INTEGER NOT NULL, segment_id INTEGER, state_id INTEGER)")
        try:
            # In pseudonym order, so every insert appends to the table's b-tree.
            raw.executemany(f"INSERT INTO {_PSEUDONYM_TABLE} VALUES (?, ?, ?, ?, ?)",
                            ((i + 1, people[k][0], info.consultation_id, people[k][1], people[k][2])
                             for i, k in enumerate(order.tolist())))
            yield
        finally:
            raw.execute(f"DROP TABLE IF EXISTS temp.{_PSEUDONYM_TABLE}")
        return
    sql, values = queries._copy_params(
        f"CREATE TEMP TABLE {_PSEUDONYM_TABLE} ON COMMIT DROP AS SELECT"
        " row_number() OVER (ORDER BY gen_random_uuid()) AS p, r.id, r.consultation_id, r.segment_id, r.state_id"
        f" {chosen}", {"c": info.consultation_id})
    with raw.cursor() as cur:
        cur.execute(sql, values)
        cur.execute(f"ALTER TABLE {_PSEUDONYM_TABLE} ADD PRIMARY KEY (p)")
        cur.execute(f"ANALYZE {_PSEUDONYM_TABLE}")
    try:
        yield
    finally:
        with raw.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {_PSEUDONYM_TABLE}")


def _respondents(s: Session) -> Iterator[str]:
    labels = queries.category_labels(s)
    seg, st = labels["segment"], labels["state"]
    sql = f"SELECT p, segment_id, state_id FROM {_PSEUDONYM_TABLE} ORDER BY p"
    rows = ((p, seg[a], st[b]) for part in queries._stream(s, sql, {}, BATCH) for p, a, b in part)
    yield from csv_lines(RESPONDENT_COLUMNS, rows)


_VOTE_FIELDS = {  # (respondent, second, third) columns of each method's counted rows
    "approval": ("e.respondent_id", "e.proposal_id", "CASE WHEN v.id IS NULL THEN 0 ELSE 1 END"),
    "rating": ("v.respondent_id", "v.proposal_id", "v.value"),
    "pairwise": ("pv.respondent_id", "pv.winner_id", queries._LOSER),
}


def _vote_sql(s: Session, method: str) -> str:
    """The counted vote rows of a ranking (`idmx.ranking.queries`), with the database respondent id
    (for measuring the bare read in `benchmarks/export_scale.py`; exports go through the pseudonyms)."""
    _resp, second, third = _VOTE_FIELDS[method]
    return f"SELECT r.id, {second}, {third} {queries._counted_rows(s, method)}"


def _pseudonymised_rows(s: Session, method: str) -> str:
    """FROM/WHERE of the counted rows over `_PSEUDONYM_TABLE` as ``r`` instead of the respondents."""
    rows = queries._counted_rows(s, method)
    assert rows.startswith("FROM respondents r ")
    return f"FROM {_PSEUDONYM_TABLE} r " + rows[len("FROM respondents r "):]


def vote_chunks(s: Session, info: ExportInfo) -> Iterator[str]:
    """votes.csv (UTF-8 with BOM, CRLF), each respondent's rows together in pseudonym order and
    in proposal order within: the file never shows when respondents arrived or voted.

    Every field is a number (ids, 0/1, 1-5), so no cell needs neutralising. Needs `_pseudonyms`.
    """
    header = info.vote_columns
    yield "\ufeff" + ",".join(header) + "\r\n"
    _resp, second, third = _VOTE_FIELDS[info.kind]
    rows = _pseudonymised_rows(s, info.kind)
    params = {"c": info.consultation_id}
    if queries._is_sqlite(s):
        # One row per respondent with its columns as two lists, read through the covering (respondent,
        # proposal, value) index: fetching 2,000,000 small rows into Python costs more than the
        # database's whole walk, 100,000 rows of text a fraction. Both aggregates step over the same
        # rows in the same order, so their lists line up.
        # Approval and rating rows come in proposal order from the (respondent, proposal) indexes;
        # pairwise rows would come in the order they were cast, so they are sorted first (SQLite
        # 3.40 has no ORDER BY inside aggregates; they keep the inner query's order).
        source = (f"(SELECT r.p AS p, {second} AS a, {third} AS b {rows} ORDER BY 1, 2, 3)" if info.kind == "pairwise"
                  else f"(SELECT r.p AS p, {second} AS a, {third} AS b {rows})")
        sql = f"SELECT p, group_concat(a), group_concat(b) FROM {source} GROUP BY p ORDER BY p"
        for part in queries._stream(s, sql, params, _RESPONDENTS_PER_CHUNK):
            yield _lines(part)
        return
    raw = s.connection().connection.driver_connection
    # As on SQLite, approval and rating rows come in proposal order from the (respondent, proposal)
    # index scans of the plan below; an ORDER BY inside the aggregate would sort every respondent's
    # rows again (a third of the query's time). Pairwise rows have no such index: sorted here.
    order = f" ORDER BY {second}, {third}" if info.kind == "pairwise" else ""
    sql, values = queries._copy_params(
        f"SELECT r.p, string_agg({second} || ',' || {third}, ';'{order}) {rows} GROUP BY r.p ORDER BY r.p", params)
    with raw.cursor() as cur:
        # Walk the pseudonyms in order and each respondent's votes through an index scan (no bitmap
        # or sequential scan: those return rows in table order), so rows stream from the first
        # respondent on (hash plans aggregate everything before the first row and sort 2,000,000
        # rows); JIT compiling this one-off query costs ~1 s.
        cur.execute(_PLAN_SETTINGS.format(on="off"))
        try:
            # COPY, unlike a cursor's FETCH, lets the server run ahead while these lines are made.
            # Text format: "p<TAB>a,b;a,b;...<LF>", numbers only, so nothing is escaped.
            buffer = bytearray()
            with cur.copy(f"COPY ({sql}) TO STDOUT", values) as copy:
                for chunk in copy:
                    buffer += chunk
                    if len(buffer) >= 1 << 20:
                        cut = buffer.rindex(b"\n") + 1
                        yield _copied_lines(buffer[:cut])
                        del buffer[:cut]
            if buffer:
                yield _copied_lines(buffer)
        finally:
            cur.execute(_PLAN_SETTINGS.format(on="DEFAULT"))  # back to the session's settings


def _copied_lines(data: bytes | bytearray) -> str:
    out = []
    for line in data.decode().splitlines():
        p, _tab, pairs = line.partition("\t")
        prefix = p + ","
        out.append(prefix + pairs.replace(";", "\r\n" + prefix) + "\r\n")
    return "".join(out)


_PLAN_SETTINGS = ("SET LOCAL jit = {on}; SET LOCAL enable_hashjoin = {on}; SET LOCAL enable_mergejoin = {on};"
                  " SET LOCAL enable_hashagg = {on}; SET LOCAL enable_bitmapscan = {on}; SET LOCAL enable_seqscan = {on}")
_RESPONDENTS_PER_CHUNK = 2_000


def _lines(part: list[tuple]) -> str:
    """CSV lines of respondents given as (pseudonym, first list, second list) of comma-separated
    numbers (the lists of SQLite's two ``group_concat``)."""
    out = []
    for p, firsts, lasts in part:
        prefix = f"{p},"
        a_list, b_list = firsts.split(","), lasts.split(",")
        if len(a_list) != len(b_list):  # never: a NULL would drop out of one list only
            raise RuntimeError("misaligned vote lists in the export")
        out.append("".join([f"{prefix}{a},{b}\r\n" for a, b in zip(a_list, b_list)]))
    return "".join(out)


def published_run(db: Database, info: ExportInfo) -> m.RankingRun | None:
    """The run whose ranking the package publishes: the first computed after closing."""
    if info.published_run_id is None:
        return None
    with db.read() as s:
        return s.get(m.RankingRun, info.published_run_id)


def _runs(s: Session, info: ExportInfo) -> list[m.RankingRun]:
    if not info.run_ids:
        return []
    return list(s.scalars(select(m.RankingRun).where(m.RankingRun.id.in_(info.run_ids)).order_by(m.RankingRun.id)))


def _published(runs: list[m.RankingRun], info: ExportInfo) -> m.RankingRun | None:
    return next((r for r in runs if r.id == info.published_run_id), None)


def _targets(run: m.RankingRun | None) -> Iterator[str]:
    rows = [(v, c, repr(float(t))) for v, c, t in (run.params.get("targets", []) if run else [])]
    yield from csv_lines(TARGET_COLUMNS, sorted(rows))


def _ranking(run: m.RankingRun | None, method: str) -> Iterator[str]:
    if run is None:
        columns = list(RANKING_COLUMNS) + (["theta"] if votemodes.get(method).statistics == "pairwise" else [])
        yield files.csv_line(columns)
        return
    yield files.render_ranking(run.results)


def _run_rows(runs: list[m.RankingRun]) -> Iterator[tuple]:
    for r in runs:
        p, sm = r.params, r.summary
        yield (r.id, str(r.method), r.created_at.date().isoformat(), r.fingerprint, r.code_version,
               p.get("targets_source", ""), _blank(p.get("cap")), p.get("ridge"), p.get("confidence"),
               p.get("rank_by"), sm.get("respondents"), sm.get("vote_rows"), sm.get("proposals"), sm.get("n_eff"))


def _blank(x: Any) -> Any:
    return "" if x is None else x


def _run_targets(runs: list[m.RankingRun]) -> Iterator[tuple]:
    for r in runs:
        for v, c, t in r.params.get("targets", []):
            yield (r.id, v, c, repr(float(t)))


def _run_results(runs: list[m.RankingRun]) -> Iterator[tuple]:
    for r in runs:
        for row in r.results:
            yield (r.id, row["rank"], row["proposal_id"], *(_blank(row.get(k)) for k in RUN_RESULT_COLUMNS[3:]))


def reproduce_command(info: ExportInfo, run: m.RankingRun | None) -> str:
    """The `idmx rank` command that reproduces ``run`` from the package's files."""
    args = ["idmx rank --respondents respondents.csv --votes votes.csv", f"--mode {info.method}",
            "--targets targets.csv"]
    if run is not None:
        p = run.params
        if p.get("cap") is not None:
            args.append(f"--cap {p['cap']!r}")
        # Runs before the estimated prior stored their fixed ridge (0.1 unless said); newer ones store None.
        ridge = p.get("ridge", 0.1)
        if ridge is not None:
            args.append(f"--ridge {ridge!r}")
        args += [f"--confidence {p.get('confidence', 0.95)!r}", f"--rank-by {p.get('rank_by', 'lower')}"]
    args.append("--out my-ranking.csv")
    return " ".join(args)


def _datapackage(info: ExportInfo, run: m.RankingRun | None) -> str:
    """A Frictionless-style descriptor: the files, their columns, and how to reproduce the ranking."""
    votes = info.vote_columns
    ranking = list(RANKING_COLUMNS) + (["theta"] if info.kind == "pairwise" else [])
    token = i18n.activate("en")  # the descriptor is written in English, whoever asks for it
    try:
        votes_description = votemodes.get(info.method).votes_description()
    finally:
        i18n.deactivate(token)
    resources = [
        ("proposals.csv", PROPOSAL_COLUMNS, "Published proposals, and merged ones with the proposal they were merged into."),
        ("respondents.csv", RESPONDENT_COLUMNS, "Respondents of the ranking: a pseudonym drawn at random for this export, segment and state."),
        ("votes.csv", votes, votes_description),
        ("targets.csv", TARGET_COLUMNS, "Weighting targets of the published ranking."),
        ("ranking.csv", tuple(ranking), "The published ranking, as idmx rank writes it."),
        ("runs.csv", RUN_COLUMNS, "Ranking runs computed after closing, with their parameters."),
        ("run_targets.csv", RUN_TARGET_COLUMNS, "Weighting targets of each run."),
        ("run_results.csv", RUN_RESULT_COLUMNS, "Results of each run."),
    ]
    descriptor = {
        "profile": "tabular-data-package",
        "name": f"idmx-{info.slug}",
        "title": info.title_es,
        "title_en": info.title_en,
        "licenses": [LICENSE],
        "closed_on": info.closes_on,
        "voting_method": info.method,
        "published_run": None if run is None else {"run_id": run.id, "fingerprint": run.fingerprint},
        "reproduce": reproduce_command(info, run),
        "resources": [
            {"name": name.removesuffix(".csv"), "path": name, "format": "csv", "encoding": "utf-8",
             "description": description, "schema": {"fields": [{"name": c} for c in columns]}}
            for name, columns, description in resources
        ],
    }
    return json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n"


def _file(s: Session, info: ExportInfo, name: str, runs: list[m.RankingRun]) -> Iterator[str]:
    run = _published(runs, info)
    if name == "proposals.csv":
        return _proposals(s, info)
    if name == "respondents.csv":
        return _respondents(s)
    if name == "votes.csv":
        return vote_chunks(s, info)
    if name == "targets.csv":
        return _targets(run)
    if name == "ranking.csv":
        return _ranking(run, info.method)
    if name == "runs.csv":
        return csv_lines(RUN_COLUMNS, _run_rows(runs))
    if name == "run_targets.csv":
        return csv_lines(RUN_TARGET_COLUMNS, _run_targets(runs))
    if name == "run_results.csv":
        return csv_lines(RUN_RESULT_COLUMNS, _run_results(runs))
    if name == "datapackage.json":
        return iter([_datapackage(info, run)])
    raise NotFound(_("There is no such file in this consultation's data."))


def _package(db: Database, info: ExportInfo, names: tuple[str, ...]) -> Iterator[tuple[str, Iterator[str]]]:
    """(file name, its chunks) for each of ``names``, all read in one snapshot."""
    with db.read() as s:
        queries.consistent_snapshot(s)
        runs = _runs(s, info)
        with ExitStack() as stack:
            if {"respondents.csv", "votes.csv"} & set(names):
                stack.enter_context(_pseudonyms(s, info))
            for name in names:
                yield name, _file(s, info, name, runs)


def file_chunks(db: Database, info: ExportInfo, name: str) -> Iterator[bytes]:
    """One of the `DOWNLOADABLE` files on its own, as UTF-8 chunks."""
    if name not in DOWNLOADABLE:
        raise NotFound(_("There is no such file in this consultation's data."))
    if name == "proposals.xlsx":
        yield from proposals_xlsx_chunks(db, info)
        return
    for _name, chunks in _package(db, info, (name,)):
        for chunk in chunks:
            yield chunk.encode("utf-8")


def votes_file_chunks(db: Database, info: ExportInfo) -> Iterator[str]:
    """votes.csv on its own, with fresh pseudonyms (for measuring the export; the public gets it
    inside the package, where respondents.csv carries the same pseudonyms)."""
    for _name, chunks in _package(db, info, ("votes.csv",)):
        yield from chunks


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file that hands its bytes over as they come (see `zip_chunks`)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:  # type: ignore[override]
        data = bytes(b)
        self._parts.append(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def zip_chunks(db: Database, info: ExportInfo, *, flush_bytes: int = 1 << 20) -> Iterator[bytes]:
    """The whole package as a zip, yielded in pieces of about ``flush_bytes`` while it is written."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, chunks in _package(db, info, PACKAGE_FILES):
            entry = zipfile.ZipInfo(name, date_time=_zip_date(info))
            entry.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(entry, mode="w", force_zip64=True) as fh:
                pending = 0
                for chunk in chunks:
                    data = chunk.encode("utf-8")
                    fh.write(data)
                    pending += len(data)
                    if pending >= flush_bytes:
                        pending = 0
                        out = sink.take()
                        if out:
                            yield out
            out = sink.take()
            if out:
                yield out
    out = sink.take()
    if out:
        yield out


def _zip_date(info: ExportInfo) -> tuple[int, int, int, int, int, int]:
    """Entries are dated with the closing day (midnight): no time of the export leaks."""
    y, mo, d = (int(x) for x in info.closes_on.split("-"))
    return (max(y, 1980), mo, d, 0, 0, 0)


def write_directory(db: Database, info: ExportInfo, directory: str | Path) -> list[Path]:
    """Write the package's files into ``directory`` (the command line's export)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, chunks in _package(db, info, PACKAGE_FILES):
        path = directory / name
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(chunks)
        written.append(path)
    return written


# --- the central team's export page -------------------------------------------------------------------------


@dataclass(frozen=True)
class EditionEntry:
    series: str
    version: int
    title: str
    published_at: datetime
    items: int


@dataclass(frozen=True)
class PlanEntry:
    acronym: str
    name_es: str
    name_en: str
    items: int


@dataclass(frozen=True)
class ConsultationEntry:
    slug: str
    title_es: str
    title_en: str
    closes_at: datetime

    @property
    def kind(self) -> str:
        """The sufficient statistics of the consultation's vote mode (what its vote rows look like)."""
        return votemodes.get(self.method).statistics

    @property
    def vote_columns(self) -> tuple[str, str, str]:
        return votemodes.get(self.method).file_columns

    @property
    def zip_name(self) -> str:
        return f"idmx-{self.slug}-datos.zip"  # the name `consultation_data.ExportInfo.zip_name` serves


@dataclass(frozen=True)
class Catalogue:
    editions: list[EditionEntry]
    plans: list[PlanEntry]
    consultations: list[ConsultationEntry]


def catalogue(db: Database, now: datetime | None = None) -> Catalogue:
    """What there is to download: published editions (newest first), institutions with plan items (by
    acronym), and closed published consultations (most recently closed first)."""
    now = now or clock.now()
    with db.read() as s:
        counts = dict(s.execute(select(m.InfrastructureItem.edition_id, func.count())
                                .group_by(m.InfrastructureItem.edition_id)).all())
        editions = [
            EditionEntry(e.series, e.version, e.title_es, e.published_at, counts.get(e.id, 0))
            for e in s.scalars(select(m.Edition).where(m.Edition.status == m.EditionStatus.published)
                               .order_by(m.Edition.published_at.desc(), m.Edition.series, m.Edition.version.desc()))
        ]
        consultations = [
            ConsultationEntry(c.slug, c.title_es, c.title_en, c.closes_at)
            for c in s.scalars(select(m.Consultation).where(m.Consultation.status == m.ConsultationStatus.published,
                                                            m.Consultation.closes_at <= now)
                               .order_by(m.Consultation.closes_at.desc(), m.Consultation.slug))
        ]
    plans = [PlanEntry(r.institution.acronym, r.institution.name_es, r.institution.name_en, r.total)
             for r in institutions.institutions_overview(db)]
    return Catalogue(editions, plans, consultations)

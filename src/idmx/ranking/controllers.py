"""Public results pages: the ranked table, the interval chart, sector views, CSV download.

Results are shown once the consultation's visibility allows it (live, or after closing). A page only
reads the latest stored run: runs are computed outside requests (the worker's `ranking.services.refresh_due`,
and `idmx rank`), so a page never waits for a computation and many readers never start one.

When some respondents are flagged as suspicious, the page says how many and offers the run without
them (``?votes=unflagged``); the run of every vote stays the default: flagged votes are kept and counted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream, Template

from idmx import clock, votemodes
from idmx.consultations import services as participation
from idmx.db import Database
from idmx.errors import NotFound
from idmx.formats.safety import csv_lines
from idmx.i18n import format_number
from idmx.i18n import gettext as _
from idmx.ranking import services as runs
from idmx.ranking import views
from idmx.web import page

if TYPE_CHECKING:
    from idmx.db.models import RankingRun


class ResultsController(Controller):
    path = "/c/{slug:str}/results"

    def _load(self, db: Database, slug: str, votes: str) -> tuple[participation.ConsultationView, RankingRun | None, int]:
        """The consultation, the latest run of the votes asked for (every vote, or ``unflagged``), and how
        many respondents of the latest run of every vote are flagged."""
        view = participation.get_consultation(db, slug)
        now = clock.now()
        if not view.results_visible(now):
            raise NotFound(_("The results of this consultation are published when it closes."))
        method = view.consultation.voting_method
        run = runs.latest_run(db, view.id, method)
        flagged = int(run.summary.get("flagged_respondents", 0)) if run is not None else 0
        if votes == "unflagged" and flagged:
            run = runs.latest_run(db, view.id, method, excludes_flagged=True)
        return view, run, flagged

    @get("/", name="ranking:results", sync_to_thread=True)
    def results(self, request: Request, slug: FromPath[str], db: NamedDependency[Database]) -> Template:
        votes = "unflagged" if request.query_params.get("votes") == "unflagged" else "all"
        view, run, flagged = self._load(db, slug, votes)
        c = view.consultation
        criterion = request.query_params.get("criterion", "lower")
        criterion = criterion if criterion in views.CRITERIA else "lower"
        names = runs.segment_names(db)
        rows, comparison, mix, chart = [], {"codes": [], "rows": []}, [], None
        segment = request.query_params.get("segment", "")
        if run is not None:
            rows = views.ranked_rows(run.results, runs.titles(db, c.id), criterion, runs.run_rank_intervals(db, run))
            comparison = views.comparison(rows, run.segment_ranks)
            if segment not in comparison["codes"]:
                segment = ""
            if segment:
                rows = views.by_segment(rows, run.segment_ranks, segment, run.segment_figures)
            mix = views.segment_mix(run.summary, run.params, names)
        mode = votemodes.get(c.voting_method)
        chart = views.interval_chart(rows, mode.scale)
        context = {
            "view": view, "c": c, "phase": view.phase(clock.now()), "run": run, "flagged": flagged,
            "votes": votes if flagged else "all",
            "pending": run is None and runs.has_votes(db, c.id), "summary": run.summary if run else {},
            "unmet": runs.unmet_targets(db, c.id) if run is None else [],
            "rows": rows, "chart": chart, "criterion": criterion, "segment": segment, "comparison": comparison,
            "mix": mix, "segment_names": {k: names.get(k, k) for k in comparison["codes"]} or {},
            "fmt": (lambda v: format_number(v * 100, 1) + "\u00a0%") if mode.scale == (0.0, 1.0)
            else (lambda v: format_number(v, 2)),
        }
        return page(request, "ranking/results.html", context, fragment="ranking/_results.html")

    @get("/ranking.csv", name="ranking:results_csv", sync_to_thread=True)
    def results_csv(self, request: Request, slug: FromPath[str], db: NamedDependency[Database]) -> Response:
        view, run, _flagged = self._load(db, slug, request.query_params.get("votes", "all"))
        titles = runs.titles(db, view.id)
        pairwise = votemodes.get(view.consultation.voting_method).statistics == "pairwise"
        header = (["rank", "proposal_id", "title", "score", "ci_low", "ci_high", "n_eff", "n_votes"]
                  + (["theta"] if pairwise else []) + ["rank_low", "rank_high"])
        results = run.results if run else []
        intervals = runs.run_rank_intervals(db, run) if run else {}
        body = csv_lines(header, (
            [r["rank"], r["proposal_id"], titles.get(int(r["proposal_id"]), ""), r["score"], r["ci_low"], r["ci_high"],
             r["n_eff"], r["n_votes"]] + ([r.get("theta")] if pairwise else []) + list(intervals[r["proposal_id"]])
            for r in results
        ))
        filename = f"idmx-{view.consultation.slug}-ranking.csv"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if run is not None:
            headers["X-IDMX-Fingerprint"] = run.fingerprint
        return Stream(body, media_type="text/csv; charset=utf-8", headers=headers)

"""The open-data package of a national pairwise consultation: time and peak memory of building it,
against the consultation's own ranking run measured in the same process.

Needs the database that `ranking_scale.py --keep` leaves (100,000 respondents, 2,000 proposals,
2,000,000 pairwise votes in consultation ``pares-2027``). The consultation's dates are moved so that it
closed yesterday, and a run is stored after that (the package's published run), then, in a fresh child
process (its peak resident memory, VmHWM, is its own):

* baseline: `ranking.services.run_for_consultation` (read, fingerprint, fit, store);
* the package (`exports.services.write_directory`) twice: the first builds everything (every vote row
  read, respondents protected and pooled into pseudo-clusters, the ranking fitted again on the
  published clusters); the second finds that ranking kept by its fingerprint.

It prints both times, the ratio of the first to the baseline, the peak, and the disclosure figures.
No target is set for it in an issue; the downloads are bounded instead (one build per process at a
time, `exports.services.prepare`). This script says what one build costs.

    python benchmarks/ranking_scale.py --backend sqlite --keep     # prints the kept URL
    python benchmarks/pairwise_package.py sqlite:////tmp/idmx_bench_XXXX/bench.sqlite3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta

SLUG = "pares-2027"


def peak_mib() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return 0


def child(url: str) -> dict:
    from idmx.db import Database
    from idmx.exports import services as data
    from idmx.ranking import services as runs

    db = Database(url, pool_size=1, max_overflow=1)
    try:
        imports = peak_mib()
        cid = runs.consultation_id(db, SLUG)
        t = time.perf_counter()
        runs.run_for_consultation(db, cid)
        run_s = time.perf_counter() - t
        info = data.package_info(db, SLUG)
        with tempfile.TemporaryDirectory() as out:
            t = time.perf_counter()
            data.write_directory(db, info, out)
            first = time.perf_counter() - t
            t = time.perf_counter()
            data.write_directory(db, info, out)
            second = time.perf_counter() - t
            with open(f"{out}/datapackage.json", encoding="utf-8") as fh:
                control = json.load(fh)["disclosure_control"]
        return {"imports_mib": imports, "run_s": run_s, "first_s": first, "second_s": second,
                "peak_mib": peak_mib(), "control": control}
    finally:
        db.dispose()


def close_yesterday(url: str) -> None:
    from sqlalchemy import update

    from idmx import clock
    from idmx.db import Database
    from idmx.db import models as m

    db = Database(url, pool_size=1, max_overflow=1)
    try:
        now = clock.now()
        with db.write() as s:
            s.execute(update(m.Consultation).where(m.Consultation.slug == SLUG)
                      .values(opens_at=now - timedelta(days=60), closes_at=now - timedelta(days=1)))
    finally:
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the database ranking_scale.py --keep left")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.url)))
        return 0
    close_yesterday(args.url)
    done = subprocess.run([sys.executable, __file__, args.url, "--child"], capture_output=True, text=True, check=True)
    r = json.loads(done.stdout.strip().splitlines()[-1])
    clusters = r["control"].get("pairwise_clusters", {})
    print(f"pairwise_package: {SLUG}")
    print(f"baseline ranking run          {r['run_s']:6.2f} s")
    print(f"package, first build          {r['first_s']:6.2f} s  ratio to the run {r['first_s'] / r['run_s']:.2f}")
    print(f"package, ranking kept         {r['second_s']:6.2f} s")
    print(f"peak memory {r['peak_mib']} MiB (imports {r['imports_mib']} MiB)")
    print(f"residual risk {r['control']['residual_risk']} (before: "
          f"{r['control']['files']['cells.csv and statistics.csv']['risk_before']}); clusters {clusters}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

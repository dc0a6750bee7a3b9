"""Bradley-Terry fit at national scale: the committed implementation against the working tree's.

Builds the pairwise input of a national consultation (2,000 proposals, 100,000 respondents,
2,000,000 comparisons, ~5 % "can't decide" dropped) in the shape `runs.compute_ranking` passes it to
`compute.bradley_terry`: one row per respondent and ordered pair (``respondent_id, winner_id,
loser_id, weight, counts, weight_sq``), grouped by respondent, with one weight per respondent's
weighting cell; the same frame serves as the wins and the clusters. Each implementation then runs in
a fresh child process with BLAS pinned to one thread (as `compute_ranking` does), ``--rounds``
processes per implementation in alternating order, each timing ``--fits`` fits after an untimed
first one (the median of all is reported); the first process of each also runs one fit under
tracemalloc for the peak memory the fit allocates on top of its input (numpy's buffers included).

The old implementation is ``git show <rev>:src/idmx/ranking/compute.py`` (default HEAD), imported
from a temporary file by path. Targets: new / old time <= 1.25, new peak <= old peak + 5 %.

    python benchmarks/pairwise_fit.py
    python benchmarks/pairwise_fit.py --rounds 5 --rev HEAD~3
    python benchmarks/pairwise_fit.py --scale 0.1        # quick
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
NEW = ROOT / "src" / "idmx" / "ranking" / "compute.py"
TIME_RATIO = 1.25
MEMORY_RATIO = 1.05
MIB = 1024**2


def synthesize(scale: float = 1.0, seed: int = 2027) -> pd.DataFrame:
    """The rows frame of `runs.compute_ranking` for a synthetic national pairwise consultation."""
    rng = np.random.default_rng(seed)
    n_resp = max(200, int(100_000 * scale))
    m = max(30, int(2_000 * scale))
    n = max(2_000, int(2_000_000 * scale))
    who = np.sort(rng.integers(0, n_resp, n))
    left = rng.integers(0, m, n)
    right = (left + rng.integers(1, m, n)) % m
    strength = rng.normal(0, 1, m)
    winner = np.where(rng.random(n) < 1 / (1 + np.exp(strength[right] - strength[left])), left, right)
    keep = rng.random(n) >= 0.05  # "can't decide" has no winner and is not a comparison
    who, left, right, winner = who[keep], left[keep], right[keep], winner[keep]
    loser = np.where(winner == left, right, left)
    # `runs.pair_counts`: sorted by (respondent, winner, loser), repeats counted
    order = np.lexsort((loser, winner, who))
    who, winner, loser = who[order], winner[order], loser[order]
    new = np.ones(len(who), dtype=bool)
    new[1:] = (who[1:] != who[:-1]) | (winner[1:] != winner[:-1]) | (loser[1:] != loser[:-1])
    starts = np.flatnonzero(new)
    wins = np.diff(np.append(starts, len(who))).astype(float)
    # 6 segments x 32 states, raked weights: one weight per cell, mean about 1
    cell_w = rng.gamma(4.0, 0.25, 6 * 32)
    cell = rng.integers(0, len(cell_w), n_resp)
    cw = cell_w[cell[who[starts]]]
    ids = 5_001 + np.arange(m)  # proposal ids as the database numbers them
    return pd.DataFrame({
        "respondent_id": who[starts], "winner_id": ids[winner[starts]], "loser_id": ids[loser[starts]],
        "weight": cw * wins, "counts": wins, "weight_sq": cw * cw * wins,
    })


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"_bt_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def child(path: Path, scale: float, fits: int, memory: bool) -> dict:
    from threadpoolctl import threadpool_limits

    module = _load(path)
    rows = synthesize(scale)
    result = {"rows": len(rows), "input_bytes": int(rows.memory_usage(deep=True).sum())}
    with threadpool_limits(limits=1):
        out = module.bradley_terry(rows, confidence=0.95, clusters=rows)  # the first fit of a process is not timed
        times = []
        for _ in range(fits):
            t = time.perf_counter()
            module.bradley_terry(rows, confidence=0.95, clusters=rows)
            times.append(time.perf_counter() - t)
        if memory:
            tracemalloc.start()
            module.bradley_terry(rows, confidence=0.95, clusters=rows)
            result["peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    width = out["ci_high"] - out["ci_low"]
    result.update({
        "proposals": len(out), "seconds": times, "ridge": out.attrs.get("ridge", 0.1),
        "median_width": float(width.median()), "max_width": float(width.max()),
    })
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3, help="child processes per implementation, alternating")
    parser.add_argument("--fits", type=int, default=2, help="timed fits per child")
    parser.add_argument("--rev", default="HEAD", help="git revision of the old implementation")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child), args.scale, args.fits, args.memory)))
        return 0

    old_source = subprocess.run(
        ["git", "show", f"{args.rev}:src/idmx/ranking/compute.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    results: dict[str, list[dict]] = {"old": [], "new": []}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old_compute.py"
        old.write_text(old_source)
        paths = {"old": old, "new": NEW}
        for k in range(args.rounds):
            # Alternate the order: the machine's speed drifts (other work, thermal), and a drift
            # should not land on one implementation only.
            for name in ("old", "new") if k % 2 == 0 else ("new", "old"):
                cmd = [sys.executable, __file__, "--child", str(paths[name]), "--scale", str(args.scale),
                       "--fits", str(args.fits)] + (["--memory"] if k == 0 else [])
                done = subprocess.run(cmd, check=True, capture_output=True, text=True)
                results[name].append(json.loads(done.stdout.strip().splitlines()[-1]))

    first = results["old"][0]
    print(f"{first['rows']:,} rows (respondent x ordered pair), {first['proposals']:,} proposals, "
          f"input frame {first['input_bytes'] / MIB:.0f} MiB; BLAS 1 thread; "
          f"{args.rounds} processes x {args.fits} fits each, alternating")
    print(f"{'':4} {'median s':>9} {'all fits (s)':>40} {'peak MiB':>9} {'ridge':>7} {'CI width med/max':>17}")
    med = {}
    for name in ("old", "new"):
        runs = [s for r in results[name] for s in r["seconds"]]
        med[name] = statistics.median(runs)
        r0 = results[name][0]
        shown = ", ".join(f"{s:.2f}" for s in runs)
        print(f"{name:4} {med[name]:9.2f} {shown:>40} {r0['peak'] / MIB:9.0f} {r0['ridge']:7.3f} "
              f"{r0['median_width']:8.4f}/{r0['max_width']:.4f}")
    ratio = med["new"] / med["old"]
    mem = results["new"][0]["peak"] / results["old"][0]["peak"]
    print(f"time new/old {ratio:.3f} (target <= {TIME_RATIO}): {'PASS' if ratio <= TIME_RATIO else 'FAIL'}")
    print(f"peak new/old {mem:.3f} (target <= {MEMORY_RATIO}): {'PASS' if mem <= MEMORY_RATIO else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

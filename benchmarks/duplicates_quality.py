"""Duplicate matcher: precision and recall on the labelled set, and speed.

    python benchmarks/duplicates_quality.py            # figures
    python benchmarks/duplicates_quality.py --errors   # also list the tuned part's mistakes
    python benchmarks/duplicates_quality.py --n 20000  # another corpus size

Quality: ``find_pairs`` over all requests of each part of
tests/matching/eval_set.json (the tuned part, which the thesaurus and the
threshold were chosen on, and the held-out part, which they were not),
scored pairwise against the moderator's clusters. Errors are only listed
for the tuned part: looking at held-out mistakes would start tuning on them.

Speed: ``find_pairs`` over N synthetic proposals made by recombining the
labelled requests (prefixes, qualifiers, lost accents, typos, swapped word
order), on one core: the matcher is single-threaded Python, and the script
pins itself to one CPU where the OS allows it. Also hint latency.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from idmx.matching import THRESHOLD, ProposalIndex, find_pairs

EVAL_SET = ROOT / "tests" / "matching" / "eval_set.json"


def load_part(part: str) -> tuple[list[tuple[str, str, str]], dict[str, tuple[str, str]]]:
    """Rows (id, title, description) and id -> (group, cluster) of one part."""
    data = json.loads(EVAL_SET.read_text(encoding="utf-8"))
    rows, label = [], {}
    for group in data[part]:
        for cluster, requests in group["clusters"].items():
            for i, req in enumerate(requests):
                title, desc = (req, "") if isinstance(req, str) else req
                ident = f"{cluster}/{i}"
                rows.append((ident, title, desc))
                label[ident] = (group["group"], cluster)
    return rows, label


def evaluate(part: str, threshold: float = THRESHOLD) -> dict:
    rows, label = load_part(part)
    found = {frozenset((a, b)): s for a, b, s in find_pairs(rows, threshold)}
    gold = {
        frozenset((a[0], b[0]))
        for a, b in itertools.combinations(rows, 2)
        if label[a[0]][1] == label[b[0]][1]
    }
    tp = len(found.keys() & gold)
    sizes: dict[str, int] = {}
    groups: dict[str, set[str]] = {}
    for g, c in label.values():
        sizes[c] = sizes.get(c, 0) + 1
        groups.setdefault(g, set()).add(c)
    return {
        "part": part,
        "requests": len(rows),
        "clusters": len(sizes),
        # Topics with two or more datasets asked for more than once; the
        # groups of unrelated single requests do not count.
        "hard_negative_groups": sum(1 for cs in groups.values() if sum(sizes[c] > 1 for c in cs) > 1),
        "gold_pairs": len(gold),
        "precision": tp / len(found) if found else 1.0,
        "recall": tp / len(gold) if gold else 1.0,
        "fp": sorted(((s, *sorted(k)) for k, s in found.items() if k not in gold), reverse=True),
        "fn": sorted(gold - found.keys(), key=sorted),
        "text": {r[0]: r[1] for r in rows},
        "label": label,
    }


# ---------------------------------------------------------------------------
# Synthetic corpus
# ---------------------------------------------------------------------------

_PREFIXES = ["", "", "", "Datos de ", "Base de datos de ", "Registro de ", "Información sobre ",
             "Quiero saber ", "Publicar ", "Listado de "]
_QUALIFIERS = ["por municipio", "por estado", "en la CDMX", "mensual", "2023", "2024", "por colonia",
               "por sexo y edad", "por tipo", "en Jalisco", "por año", "histórico", "en Monterrey",
               "por localidad", "en formato abierto", "actualizado", "de los últimos 10 años"]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def synthetic_titles(n: int, seed: int = 2027) -> list[str]:
    """Plausible proposal titles recombined from the labelled requests."""
    rng = random.Random(seed)
    base = [t for part in ("tuned", "heldout") for _, t, _ in load_part(part)[0]]
    out = []
    for _ in range(n):
        words = rng.choice(base).rstrip("?").lstrip("¿").split()
        if rng.random() < 0.3 and len(words) > 3:  # "X por Y" -> "Y: X"
            cut = rng.randrange(1, len(words) - 1)
            words = words[cut:] + words[:cut]
        text = rng.choice(_PREFIXES) + " ".join(words)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            text += " " + rng.choice(_QUALIFIERS)
        if rng.random() < 0.3:
            text = _strip_accents(text).lower()
        chars = list(text)
        for _ in range(rng.choice([0, 0, 0, 1, 2])):  # typos: a dropped or doubled letter
            i = rng.randrange(len(chars))
            if chars[i].isalpha():
                chars[i] = "" if rng.random() < 0.5 else chars[i] * 2
        out.append("".join(chars))
    return out


def time_pairs(n: int) -> tuple[float, int, int]:
    titles = synthetic_titles(n)
    rows = [(str(i), t, "") for i, t in enumerate(titles)]
    start = time.perf_counter()
    pairs = find_pairs(rows)
    return time.perf_counter() - start, len(pairs), len(titles)


def time_hints(n: int) -> tuple[float, float]:
    index = ProposalIndex(enumerate(synthetic_titles(n)))
    queries = [t[: max(3, len(t) // 3)] for t in synthetic_titles(200, seed=7)]
    index.search(queries[0], partial=True)  # warm the IDF cache, as a live index would be
    times = []
    for q in queries:
        start = time.perf_counter()
        index.search(q, partial=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="synthetic proposals to pair (default 5000)")
    parser.add_argument("--errors", action="store_true", help="list the tuned part's mistakes")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    print(f"threshold {THRESHOLD}")
    for part in ("tuned", "heldout"):
        r = evaluate(part)
        print(
            f"{part:8} precision {r['precision']:.3f}  recall {r['recall']:.3f}  "
            f"({r['requests']} requests, {r['clusters']} clusters, {r['hard_negative_groups']} "
            f"hard-negative groups, {r['gold_pairs']} duplicate pairs; fp {len(r['fp'])}, fn {len(r['fn'])})"
        )
        if args.errors and part == "tuned":
            text = r["text"]
            for s, a, b in r["fp"]:
                print(f"    FP {s:.3f} {text[a]!r} ~ {text[b]!r}")
            for a, b in r["fn"]:
                print(f"    FN       {text[a]!r} ~ {text[b]!r}")

    seconds, npairs, n = time_pairs(args.n)
    print(f"find_pairs over {n} proposals: {seconds:.2f} s on one core ({npairs} pairs)")
    median, worst = time_hints(args.n)
    print(f"hints among {args.n} proposals: median {median * 1000:.1f} ms, max {worst * 1000:.1f} ms")


if __name__ == "__main__":
    main()

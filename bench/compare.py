"""The performance goals as one table: each ratio taken within a pass (the systems measured
back to back), then its median and spread over the passes. Reads bench/compare.sh's output:
<dir>/pass<i>/{anchors,lawvriksh}/results.jsonl.

    python bench/compare.py bench/results/compare-<stamp>
"""

import statistics
import sys
from pathlib import Path

from report import load, table, with_other

N = 1000
BIG_N = 100_000


def pick(rows, system, endpoint, n=N):
    found = [
        r for r in rows if r["system"] == system and r["endpoint"] == endpoint and r["n"] == n
    ]
    return found[0] if found else None


def spread(values, fmt) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "not measured"
    text = fmt(statistics.median(values))
    return text if len(values) == 1 else f"{text} ({fmt(min(values))} – {fmt(max(values))})"


def ratio(a, b, field="rps"):
    return a[field] / b[field] if a and b and a.get(field) and b.get(field) else None


def main(root: Path) -> None:
    passes = []
    folders = [p for p in root.glob("pass*") if p.is_dir() and p.name[4:].isdigit()]
    for folder in sorted(folders, key=lambda p: int(p.name[4:])):
        files = [f for f in folder.glob("*/results.jsonl")]
        passes.append(with_other(load(files)))
    every = [row for rows in passes for row in rows]

    def per_pass(function):
        return [function(rows) for rows in passes]

    def times(x):
        return f"{x:.1f}×"

    def percent(x):
        return f"{x * 100:.0f} %"

    def millis(x):
        return f"{x:.0f} ms"

    goals = [
        (
            "cold list vs Wagtail's list, N=1,000",
            spread(
                per_pass(
                    lambda r: ratio(pick(r, "lawvriksh-cold", "list"), pick(r, "wagtail", "list"))
                ),
                times,
            ),
            "≥ 5×",
        ),
        (
            "warm list vs raw list",
            spread(
                per_pass(
                    lambda r: ratio(pick(r, "lawvriksh-warm", "list"), pick(r, "raw", "list"))
                ),
                percent,
            ),
            "≥ 75 %",
        ),
        (
            "warm detail vs raw detail",
            spread(
                per_pass(
                    lambda r: ratio(pick(r, "lawvriksh-warm", "detail"), pick(r, "raw", "detail"))
                ),
                percent,
            ),
            "≥ 75 %",
        ),
        (
            "list 304 vs raw list",
            spread(
                per_pass(
                    lambda r: ratio(pick(r, "lawvriksh-warm", "list-304"), pick(r, "raw", "list"))
                ),
                percent,
            ),
            "≥ 85 %",
        ),
        (
            "detail 304 vs raw detail",
            spread(
                per_pass(
                    lambda r: ratio(
                        pick(r, "lawvriksh-warm", "detail-304"), pick(r, "raw", "detail")
                    )
                ),
                percent,
            ),
            "≥ 85 %",
        ),
    ]
    for endpoint in ("list", "list-tag", "detail", "search"):
        goals.append(
            (
                f"p99 at c=16, cold, {endpoint}, N=1,000",
                spread(
                    per_pass(lambda r: (pick(r, "lawvriksh-cold", endpoint) or {}).get("p99_ms")),
                    millis,
                ),
                "< 150 ms" if endpoint == "search" else "< 100 ms",
            )
        )
    goals += [
        (
            "search p50 at N=100,000, cold, c=16",
            spread(
                per_pass(
                    lambda r: (pick(r, "lawvriksh-cold", "search", BIG_N) or {}).get("p50_ms")
                ),
                millis,
            ),
            "< 100 ms",
        ),
        (
            "Django's own floor (/healthz) vs raw list",
            spread(
                per_pass(
                    lambda r: ratio(
                        pick(r, "lawvriksh-warm", "floor-healthz"), pick(r, "raw", "list")
                    )
                ),
                percent,
            ),
            "—",
        ),
    ]
    print(f"Passes: {len(passes)} (each ratio within one pass; median, then min – max)\n")
    print("| target | measured | goal |\n|---|---|---|")
    for name, measured, goal in goals:
        print(f"| {name} | {measured} | {goal} |")
    print("\nEvery run (median over the passes, req/s range, CPU in cores):\n")
    print(table(every))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))

"""Summarise results.jsonl files (bench/measure.py's, or the anchors' harness's) as a Markdown
table: per system, size and endpoint, the median req/s with its range over the runs, the
median p50/p99, and where the CPU went (app / PostgreSQL / wrk / anything else)."""

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def load(paths) -> list[dict]:
    rows = []
    for path in paths:
        for line in Path(path).read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return [row for row in rows if row.get("rps")]


def grouped(rows) -> dict:
    groups = defaultdict(list)
    for row in rows:
        groups[(row["system"], int(row["n"]), row["endpoint"])].append(row)
    return groups


def median(rows, field):
    values = [row[field] for row in rows if row.get(field) is not None]
    return round(statistics.median(values), 2) if values else None


def table(rows) -> str:
    lines = [
        "| system | N | endpoint | runs | req/s (median) | range | p50 ms | p99 ms "
        "| CPU app / pg / wrk / other |",
        "|---|---:|---|---:|---:|---|---:|---:|---|",
    ]
    for (system, n, endpoint), group in sorted(grouped(rows).items()):
        rps = [row["rps"] for row in group]
        cpu = " / ".join(
            f"{median(group, field):.2f}" if median(group, field) is not None else "–"
            for field in ("cpu_app", "cpu_pg", "cpu_client", "cpu_other")
        )
        lines.append(
            f"| {system} | {n:,} | {endpoint} | {len(group)} | {statistics.median(rps):,.0f} "
            f"| {min(rps):,.0f}–{max(rps):,.0f} | {median(group, 'p50_ms')} "
            f"| {median(group, 'p99_ms')} | {cpu} |"
        )
    return "\n".join(lines)


def with_other(rows) -> list[dict]:
    """The anchors' rows lack cpu_other: the machine's CPU minus the three known trees."""
    for row in rows:
        if row.get("cpu_other") is None and row.get("cpu_machine") is not None:
            known = sum(row.get(f) or 0 for f in ("cpu_app", "cpu_pg", "cpu_client"))
            row["cpu_other"] = round(row["cpu_machine"] - known, 2)
    return rows


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: report.py results.jsonl [more.jsonl ...]")
    print(table(with_other(load(sys.argv[1:]))))

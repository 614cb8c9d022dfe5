"""Summarise bench/run.sh's wrk outputs as a Markdown table (stdlib only)."""

import re
import sys
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ms(text: str | None) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text or "")
    return float(match.group(1)) * UNITS[match.group(2)] if match else None


def parse(path: Path) -> dict:
    text = path.read_text()
    header = dict(re.findall(r"(\w+)=(\S+)", text.splitlines()[0]))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return {
        **header,
        "rps": float(rps.group(1)) if rps else None,
        "p50": ms(p50.group(1)) if p50 else None,
        "p99": ms(p99.group(1)) if p99 else None,
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def main(results_dir: str) -> None:
    rows = sorted(
        (parse(path) for path in Path(results_dir).glob("wrk-*.txt")),
        key=lambda r: (int(r["N"]), r["mode"], r["endpoint"]),
    )
    print("| N | cache | endpoint | status | req/s | p50 ms | p99 ms | non-2xx/3xx |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['N']} | {r['mode']} | {r['endpoint']} | {r['status']} | "
            f"{r['rps'] or 0:,.0f} | {r['p50'] or 0:.2f} | {r['p99'] or 0:.2f} | {r['non2xx']} |"
        )


if __name__ == "__main__":
    main(sys.argv[1])

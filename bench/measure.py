"""One wrk run, measured honestly: wait for an idle machine, then account the CPU used by the
server's process tree, PostgreSQL's, the load generator and everything else ("other", which
shows outside load), and append one JSON line (same fields as the anchors' harness).

    python bench/measure.py --url URL --system S --n N --endpoint E --run R \
        --server-pid PID [--pg-pid PID] --out results.jsonl --wrk-log file.txt [-H 'Header: v']
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def machine_ticks() -> tuple[int, int]:
    """(busy + idle, idle) jiffies of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values), values[3] + values[4]


def processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, user + system jiffies) of every process now."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


def tree_ticks(table, root: int | None) -> int:
    if not root:
        return 0
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in table.items() if ppid == parent]
        members.update(children)
        frontier.extend(children)
    return sum(table[pid][1] for pid in members if pid in table)


def wait_until_idle(limit_seconds: float, threshold_cores: float = 0.15) -> tuple[float, float]:
    """Wait (bounded) until the machine uses less than `threshold_cores`; (cores seen, waited)."""
    waited = 0.0
    while True:
        before = machine_ticks()
        time.sleep(1.0)
        after = machine_ticks()
        total = after[0] - before[0]
        busy = (total - (after[1] - before[1])) / total * os.cpu_count() if total else 0.0
        waited += 1.0
        if busy < threshold_cores or waited >= limit_seconds:
            return round(busy, 2), waited


def wrk_figures(output: str) -> dict:
    def ms(pattern):
        match = re.search(pattern, output, re.M)
        if not match:
            return None
        value = re.fullmatch(r"([\d.]+)(us|ms|s)", match.group(1))
        return round(float(value.group(1)) * UNITS_MS[value.group(2)], 2) if value else None

    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return {
        "rps": float(rps.group(1)) if rps else None,
        "p50_ms": ms(r"^\s+50%\s+(\S+)"),
        "p99_ms": ms(r"^\s+99%\s+(\S+)"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(v) for v in errors.groups()) if errors else 0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--system", required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--run", type=int, default=1)
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--pg-pid", type=int)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("-H", "--header", default="")
    parser.add_argument("--idle-wait", type=float, default=60)
    parser.add_argument("--out", required=True)
    parser.add_argument("--wrk-log", required=True)
    args = parser.parse_args()

    pre_busy, waited = wait_until_idle(args.idle_wait)
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s"]
    command += ["--timeout", "5s", "--latency"]
    if args.header:
        command += ["-H", args.header]
    command.append(args.url)
    table_before, machine_before, started = processes(), machine_ticks(), time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = process.communicate(timeout=args.duration + 30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    wall = time.monotonic() - started
    table_after, machine_after = processes(), machine_ticks()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    Path(args.wrk_log).write_text(" ".join(command) + "\n" + output)

    def cores(root):
        return round(
            (tree_ticks(table_after, root) - tree_ticks(table_before, root)) / TICKS / wall, 2
        )

    total = machine_after[0] - machine_before[0]
    busy = total - (machine_after[1] - machine_before[1])
    result = {
        "system": args.system,
        "n": args.n,
        "endpoint": args.endpoint,
        "run": args.run,
        "url": args.url,
        "cmd": " ".join(command),
        "wall_s": round(wall, 2),
        **wrk_figures(output),
        "cpu_client": round((usage.ru_utime + usage.ru_stime) / wall, 2),
        "cpu_app": cores(args.server_pid),
        "cpu_pg": cores(args.pg_pid),
        "cpu_machine": round(busy / total * os.cpu_count(), 2) if total else None,
        "ncpu": os.cpu_count(),
        "pre_busy": pre_busy,
        "idle_wait_s": waited,
    }
    result["cpu_other"] = round(
        (result["cpu_machine"] or 0) - result["cpu_client"] - result["cpu_app"] - result["cpu_pg"],
        2,
    )
    with open(args.out, "a") as handle:
        handle.write(json.dumps(result) + "\n")
    print(
        f"  {args.system:15} N={args.n:<7} {args.endpoint:14} {result['rps'] or 0:8.1f} req/s"
        f"  p50 {result['p50_ms']} ms  p99 {result['p99_ms']} ms  non2xx {result['non2xx']}"
        f"  cpu client/app/pg/other {result['cpu_client']}/{result['cpu_app']}/"
        f"{result['cpu_pg']}/{result['cpu_other']}  (idle before: {pre_busy} cores)",
        file=sys.stderr,
    )
    return 0 if result["rps"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())

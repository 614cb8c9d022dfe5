"""What the Python benchmarks share: a scratch database, a free port, CPU use, percentiles."""

import os
import socket

import psycopg

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def ensure_database(name: str) -> str:
    """Create the database `name` on BENCH_PG when missing; its URL."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if not exists.fetchone():
            admin.execute(f"CREATE DATABASE {name}")
    return f"{PG}/{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine_busy_seconds() -> float:
    """CPU-seconds the whole machine has spent busy (from /proc/stat), for before/after."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def percentile(values, share: float):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

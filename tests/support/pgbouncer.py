"""A real PgBouncer in transaction mode (what NeonDB's pooled endpoint gives), as a fixture."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.support.processes import free_port, stop


def _unavailable(reason: str):
    # CI (.ci/run) installs every real part a test needs: a missing one is a failure there.
    if os.environ.get("CONTAINER_TESTS") == "required":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def pgbouncer():
    """PgBouncer in transaction mode in front of the local PostgreSQL; its port."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        _unavailable("pgbouncer is not installed (apt-get install pgbouncer; .ci/run does)")
    port = free_port()
    # Not under pytest's tmp_path: its parents are closed to the postgres user.
    tmp_path = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    (tmp_path / "users.txt").write_text('"postgres" ""\n')
    (tmp_path / "pgbouncer.ini").write_text(
        "[databases]\n* = host=127.0.0.1 port=5432\n[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {tmp_path / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 4\nmax_client_conn = 100\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    command = [binary, str(tmp_path / "pgbouncer.ini")]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        shutil.chown(tmp_path, "postgres")
        for name in ("users.txt", "pgbouncer.ini"):
            shutil.chown(tmp_path / name, "postgres")
        command = ["runuser", "-u", "postgres", "--", *command]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"pgbouncer exited: {process.stdout.read()}")
            assert time.monotonic() < deadline, "pgbouncer did not listen"
            time.sleep(0.1)
    yield port
    stop(process)
    shutil.rmtree(tmp_path, ignore_errors=True)

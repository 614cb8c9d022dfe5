"""Database backups: PostgreSQL custom-format dumps with a checksum manifest, kept in the
`backups` storage (a local directory, or S3-compatible object storage), verified before
any restore, restored into a new database unless told otherwise."""

import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess  # nosec B404: pg_dump/pg_restore with argument lists, never a shell
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils import timezone
from psycopg import sql

from config.settings.database import is_postgres

DUMP_SUFFIX = ".dump"
MANIFEST_SUFFIX = ".json"
CHUNK = 1024 * 1024
# 20261130T101500Z_production_1.4.2.dump: sortable by time, then who and what.
NAME_PATTERN = re.compile(
    r"^(?P<stamp>\d{8}T\d{6}Z)_(?P<environment>[\w.-]+?)_(?P<version>[\w.-]+)$"
)


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what was kept."""


@dataclass
class Manifest:
    """What a backup holds, stored beside the dump as JSON."""

    name: str
    environment: str
    app_version: str
    created_at: str
    database: str
    size: int
    sha256: str
    pg_dump_version: str
    tables: dict[str, dict] = field(default_factory=dict)

    @property
    def dump_file(self) -> str:
        return self.name + DUMP_SUFFIX

    @property
    def manifest_file(self) -> str:
        return self.name + MANIFEST_SUFFIX

    @property
    def created(self) -> datetime.datetime:
        return datetime.datetime.fromisoformat(self.created_at)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode()


def backup_storage():
    return storages["backups"]


def require_postgres(config: dict) -> None:
    if not is_postgres(config):
        raise BackupError(
            "Backups need PostgreSQL; SQLite is not supported (copy the database file while "
            "the app is stopped instead)."
        )


def libpq_environment(config: dict, database: str | None = None) -> dict[str, str]:
    """PG* variables for pg_dump/pg_restore: the password never appears on a command line."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    options = config.get("OPTIONS") or {}
    values = {
        "PGHOST": config.get("HOST") or "",
        "PGPORT": str(config.get("PORT") or ""),
        "PGUSER": config.get("USER") or "",
        "PGPASSWORD": config.get("PASSWORD") or "",
        "PGDATABASE": database or config["NAME"],
        "PGSSLMODE": options.get("sslmode", ""),
        "PGCONNECT_TIMEOUT": str(options.get("connect_timeout", "")),
    }
    env.update({key: value for key, value in values.items() if value})
    return env


def connect(config: dict, database: str | None = None, **kwargs) -> psycopg.Connection:
    options = config.get("OPTIONS") or {}
    return psycopg.connect(
        host=config.get("HOST") or None,
        port=config.get("PORT") or None,
        user=config.get("USER") or None,
        password=config.get("PASSWORD") or None,
        dbname=database or config["NAME"],
        sslmode=options.get("sslmode"),
        connect_timeout=options.get("connect_timeout", 10),
        **kwargs,
    )


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    tool = shutil.which(command[0])
    if tool is None:
        raise BackupError(
            f"{command[0]} is not installed (Debian: apt-get install postgresql-client)"
        )
    result = subprocess.run(  # nosec B603: fixed tool, arguments as a list
        [tool, *command[1:]], env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise BackupError(
            f"{what} failed: {' '.join(detail[-3:]) or 'exit ' + str(result.returncode)}"
        )
    return result.stdout


def table_fingerprints(connection: psycopg.Connection) -> dict[str, dict]:
    """Every table of the public schema: its row count and an md5 of its sorted rows."""
    tables = connection.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    ).fetchall()
    fingerprints = {}
    for (table,) in tables:
        query = sql.SQL(
            # Row hashes, not rows, are aggregated: bounded memory on large tables.
            "SELECT count(*),"
            " coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '')"
            " FROM {} AS t"
        ).format(sql.Identifier(table))
        rows, digest = connection.execute(query).fetchone()
        fingerprints[table] = {"rows": rows, "md5": digest}
    return fingerprints


def _slug(text: str) -> str:
    return re.sub(r"[^\w.-]+", "-", text).strip("-") or "unknown"


def backup_name(environment: str, version: str, when: datetime.datetime) -> str:
    stamp = when.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}_{_slug(environment)}_{_slug(version)}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def create_backup(config: dict, *, environment: str, version: str, say=print) -> Manifest:
    """Dump the database of `config` (a DATABASES entry) into the backups storage.

    The dump and the row counts come from one exported snapshot, so the manifest describes
    exactly what the dump holds even while the site keeps writing."""
    require_postgres(config)
    store = backup_storage()
    now = timezone.now()
    name = backup_name(environment, version, now)
    if store.exists(name + DUMP_SUFFIX):
        raise BackupError(f"A backup named {name} already exists; try again in a second.")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="backup-") as scratch:
        path = Path(scratch) / (name + DUMP_SUFFIX)
        try:
            snapshot_holder = connect(config, autocommit=False)
        except psycopg.Error as error:
            first_line = (str(error).strip().splitlines() or ["?"])[0]
            raise BackupError(f"cannot connect to {config['NAME']}: {first_line}")
        with snapshot_holder:
            snapshot_holder.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            (snapshot,) = snapshot_holder.execute("SELECT pg_export_snapshot()").fetchone()
            say(f"backup: dumping {config['NAME']} ({environment}, {version})")
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    f"--snapshot={snapshot}",
                    "-f",
                    str(path),
                ],
                libpq_environment(config),
                "pg_dump",
            )
            tables = table_fingerprints(snapshot_holder)
            snapshot_holder.rollback()
        size = path.stat().st_size
        say(
            f"backup: dumped {_megabytes(size)} in {time.monotonic() - started:.1f} s; checking it"
        )
        # A dump pg_restore cannot read is not a backup: check it before it is kept.
        _run(["pg_restore", "--list", str(path)], libpq_environment(config), "pg_restore --list")
        manifest = Manifest(
            name=name,
            environment=environment,
            app_version=version,
            created_at=now.isoformat(),
            database=config["NAME"],
            size=size,
            sha256=_sha256(path),
            pg_dump_version=_run(["pg_dump", "--version"], os.environ.copy(), "pg_dump").strip(),
            tables=tables,
        )
        with open(path, "rb") as handle:
            stored = store.save(manifest.dump_file, File(handle, name=manifest.dump_file))
        if stored != manifest.dump_file:
            store.delete(stored)
            raise BackupError(
                f"The storage renamed {manifest.dump_file} to {stored}; nothing kept."
            )
        # The manifest is written last: a dump without one is an unfinished upload.
        store.save(manifest.manifest_file, ContentFile(manifest.to_json(), manifest.manifest_file))
    say(
        f"backup: stored {manifest.dump_file} ({_megabytes(size)}, "
        f"sha256 {manifest.sha256[:12]}…, "
        f"{sum(t['rows'] for t in tables.values())} rows in {len(tables)} tables) "
        f"in {time.monotonic() - started:.1f} s"
    )
    return manifest


def list_backups(environment: str | None = None) -> list[Manifest]:
    """Complete backups (dump and manifest), newest first."""
    store = backup_storage()
    try:
        _, files = store.listdir("")
    except FileNotFoundError:
        return []
    names = set(files)
    found = []
    for file_name in files:
        if not file_name.endswith(MANIFEST_SUFFIX):
            continue
        base = file_name[: -len(MANIFEST_SUFFIX)]
        if base + DUMP_SUFFIX not in names or not NAME_PATTERN.match(base):
            continue
        manifest = read_manifest(base)
        if environment is None or manifest.environment == environment:
            found.append(manifest)
    return sorted(found, key=lambda m: m.created_at, reverse=True)


def read_manifest(name: str) -> Manifest:
    name = name.removesuffix(DUMP_SUFFIX).removesuffix(MANIFEST_SUFFIX)
    store = backup_storage()
    if not NAME_PATTERN.match(name) or not store.exists(name + MANIFEST_SUFFIX):
        raise BackupError(f"No backup named {name!r} (manage.py backup --list shows them).")
    with store.open(name + MANIFEST_SUFFIX, "rb") as handle:
        try:
            data = json.loads(handle.read())
            return Manifest(**data)
        except (ValueError, TypeError) as error:
            raise BackupError(f"The manifest of {name} is unreadable ({error}); nothing changed.")


def apply_retention(environment: str, *, keep: int, max_age_days: float, say=print) -> list[str]:
    """Delete this environment's backups beyond the newest `keep`, and those older than
    `max_age_days`; the newest backup is always kept. Returns the names deleted."""
    backups = list_backups(environment)
    cutoff = timezone.now() - datetime.timedelta(days=max_age_days)
    store = backup_storage()
    deleted = []
    for position, manifest in enumerate(backups):
        if position == 0:
            continue
        if position >= keep or manifest.created < cutoff:
            # The manifest goes first: a dump without one is never listed or restored.
            store.delete(manifest.manifest_file)
            store.delete(manifest.dump_file)
            deleted.append(manifest.name)
    if deleted:
        say(
            f"backup: retention (keep {keep}, at most {max_age_days:g} days) "
            f"removed {len(deleted)}"
        )
    return deleted


@dataclass
class RestoreResult:
    manifest: Manifest
    database: str
    tables: dict[str, dict]
    seconds: float

    @property
    def matches(self) -> bool:
        return self.tables == self.manifest.tables


def fetch_verified(manifest: Manifest, directory: Path, say=print) -> Path:
    """Copy the dump out of the storage and check its size and sha256 against the manifest."""
    path = directory / manifest.dump_file
    digest, size = hashlib.sha256(), 0
    with backup_storage().open(manifest.dump_file, "rb") as source, open(path, "wb") as target:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
    if size != manifest.size or digest.hexdigest() != manifest.sha256:
        raise BackupError(
            f"{manifest.dump_file} is corrupt or truncated ({size} bytes, sha256 "
            f"{digest.hexdigest()[:12]}…; the manifest says {manifest.size} bytes, "
            f"{manifest.sha256[:12]}…). Nothing was changed."
        )
    say(f"restore: {manifest.dump_file} verified ({_megabytes(size)}, sha256 matches)")
    return path


def restore_backup(
    name: str, config: dict, *, into: str | None = None, over_live: bool = False, say=print
) -> RestoreResult:
    """Restore a backup into a new database (`into`, or <name>_restored_<UTC time>), or over
    the live database of `config` when `over_live`. Verified first; all or nothing."""
    require_postgres(config)
    manifest = read_manifest(name)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="restore-") as scratch:
        path = fetch_verified(manifest, Path(scratch), say=say)
        _run(["pg_restore", "--list", str(path)], libpq_environment(config), "pg_restore --list")
        if over_live:
            target = config["NAME"]
            options = ["--clean", "--if-exists"]
        else:
            target = into or f"{config['NAME']}_restored_{timezone.now():%Y%m%d%H%M%S}"
            _create_database(config, target)
            options = []
        say(f"restore: restoring {manifest.name} into {target}")
        try:
            _pg_restore(path, config, target, options)
        except BackupError:
            if not over_live:
                _drop_database(config, target)
            raise
    with connect(config, target) as restored:
        tables = table_fingerprints(restored)
    result = RestoreResult(manifest, target, tables, time.monotonic() - started)
    rows = sum(t["rows"] for t in tables.values())
    verdict = "identical to the backup" if result.matches else "DIFFERENT from the manifest"
    say(
        f"restore: {target} holds {rows} rows in {len(tables)} tables, {verdict}, "
        f"in {result.seconds:.1f} s"
    )
    return result


def _pg_restore(path: Path, config: dict, target: str, options: list[str]) -> None:
    """pg_restore into `target` in one transaction, stopping at the first error. pg_restore
    17 and later start with `SET transaction_timeout`, which an older server rejects (the
    image's client restoring into a PostgreSQL 15 or 16): then its SQL goes through psql,
    without that line, still one transaction, still stopping at the first error."""
    env = libpq_environment(config, target)
    common = ["--no-owner", "--no-privileges", *options]
    with connect(config, target) as connection:
        server = connection.info.server_version
    if _client_major("pg_restore") < 17 or server >= 170000:
        _run(
            ["pg_restore", "--exit-on-error", "--single-transaction", *common, "-d", target]
            + [str(path)],
            env,
            "pg_restore",
        )
        return
    _pipe_through_psql(["pg_restore", *common, "-f", "-", str(path)], env)


def _client_major(tool: str) -> int:
    found = re.search(r"(\d+)(?:\.\d+)?", _run([tool, "--version"], os.environ.copy(), tool))
    return int(found.group(1)) if found else 0


def _pipe_through_psql(restore_command: list[str], env: dict[str, str]) -> None:
    tools = [shutil.which(name) for name in ("pg_restore", "psql")]
    if None in tools:
        raise BackupError("pg_restore and psql are needed (apt-get install postgresql-client)")
    psql = [tools[1], "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
    # Their messages go to files, not pipes: a restore's many NOTICEs must never fill a pipe
    # nobody reads while this process writes the SQL.
    with tempfile.TemporaryFile() as dump_log, tempfile.TemporaryFile() as load_log:
        with (
            subprocess.Popen(  # nosec B603: fixed tools, arguments as lists
                [tools[0], *restore_command[1:]], env=env, stdout=subprocess.PIPE, stderr=dump_log
            ) as dump,
            subprocess.Popen(  # nosec B603
                psql,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=load_log,
                bufsize=0,  # unbuffered: closing it after psql quit raises nothing more
            ) as load,
        ):
            try:
                batch: list[bytes] = []
                for line in dump.stdout:
                    if not line.startswith(b"SET transaction_timeout"):
                        batch.append(line)
                    if len(batch) >= 4096:
                        _write_all(load.stdin, b"".join(batch))
                        batch = []
                _write_all(load.stdin, b"".join(batch))
            except BrokenPipeError:
                pass  # psql stopped at an error: its messages say which
        for process, log, what in ((load, load_log, "psql"), (dump, dump_log, "pg_restore")):
            if process.returncode != 0:
                log.seek(0)
                detail = log.read().decode(errors="replace").strip().splitlines()
                code = process.returncode
                raise BackupError(f"{what} failed: {' '.join(detail[-3:]) or f'exit {code}'}")


def _write_all(stream, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[stream.write(view) :]


def _create_database(config: dict, name: str) -> None:
    with connect(config, autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            raise BackupError(f"Database {name} already exists; choose another with --into.")
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _drop_database(config: dict, name: str) -> None:
    with connect(config, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def default_environment() -> str:
    return getattr(settings, "ENVIRONMENT_NAME", "") or "local"

"""Compiled statements run as PostgreSQL prepared statements with a generic plan.

PostgreSQL plans an unprepared statement on every call: for the public list page that is
~0.5 ms of its ~0.8 ms. A statement prepared once per server connection and run with
`plan_cache_mode = force_generic_plan` is planned once (left to `auto`, PostgreSQL keeps
choosing custom plans for these statements and planning every call). A generic plan cannot
know how selective a value is, so only statements whose values do not change the best plan
use it (the time bound of the visibility rule, a unique key): `core.compiled` decides which.

Safe behind a transaction-mode pooler of any version (PgBouncer before 1.21 cannot carry
protocol-level prepared statements): the statement is prepared with SQL's `PREPARE` under a
name made from its text, so whichever server connection holds a statement of that name holds
this very statement. The first call on a connection sends the `SET`, the `PREPARE` and the
`EXECUTE` as one query (one round trip, one server connection); later calls only `EXECUTE`.
When the pooler hands over a server connection without it ("does not exist"), or with it
already ("already exists"), or a migration changed a table under it, the call prepares again;
in a transaction, where a failed statement would abort the caller's work, no statement is
prepared (the plain statement runs).

A prepared statement holds its plan in the server process's memory (~170 KB for the list
page, measured with `pg_backend_memory_contexts`), for as long as the session lives. So the
callers prepare only a bounded set of statements (the first page of a list, a post), and a
process prepares at most MAX_STATEMENTS different ones: ~5 MB per server connection.
"""

import hashlib
import re
from typing import NamedTuple

from django.conf import settings
from django.db import DatabaseError

MISSING, ALREADY_THERE, STALE_PLAN = "26000", "42P05", "0A000"
ATTEMPTS = 3
MAX_STATEMENTS = 32
_chosen: set[str] = set()  # the statements this process prepares; any other runs plain
_PLACEHOLDER = re.compile(r"%[s%]")


def statement_name(sql: str) -> str:
    """A name only this SQL text can have (every process and version agrees on it)."""
    return "lawvriksh_" + hashlib.sha256(sql.encode()).hexdigest()[:32]


def enabled(connection) -> bool:
    """Whether this connection's compiled statements may be prepared now."""
    return (
        connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and settings.DATABASE_GENERIC_PLANS
    )


class Prepared(NamedTuple):
    """A compiled statement's prepared form, worked out once when it is compiled."""

    name: str
    body: str  # the PREPARE body: `$n` for values, `%s` for the ORM's constants
    execute_sql: str
    used: tuple[int, ...]  # which of the call's values the EXECUTE passes, in order
    constants: tuple  # the ORM's constants, filled into the body as literals


def prepare_sql(sql: str, slots) -> Prepared:
    """The prepared form of a compiled statement.

    A value's slot becomes `$n`; a constant of the ORM's stays a `%s` the batch fills in as
    a literal, so the planner sees it (`status IN ('published', 'scheduled')`) as it does
    in the plain statement.
    """
    used = tuple(sorted({index for index, _ in slots if index is not None}))
    number = {index: position for position, index in enumerate(used, start=1)}
    slot_iter = iter(slots)

    def replace(match) -> str:
        if match.group() == "%%":
            return "%%"
        index, _ = next(slot_iter)
        return "%s" if index is None else f"${number[index]}"

    body = _PLACEHOLDER.sub(replace, sql)
    name = statement_name(sql)
    arguments = ", ".join("%s" for _ in used)
    execute_sql = f"EXECUTE {name}({arguments})" if used else f"EXECUTE {name}"
    constants = tuple(constant for index, constant in slots if index is None)
    return Prepared(name, body, execute_sql, used, constants)


def execute(connection, cursor, compiled, values) -> None:
    """Run `compiled` (a `core.compiled.Compiled`) with `values` on `cursor` as a prepared
    statement; the cursor is left on its rows."""
    name, body, execute_sql, used, constants = compiled.prepared
    if name not in _chosen:
        if len(_chosen) >= MAX_STATEMENTS:
            cursor.execute(compiled.sql, compiled.params(values))
            return
        _chosen.add(name)
    arguments = [values[index] for index in used]
    prepared = _prepared_names(connection)
    for _ in range(ATTEMPTS):
        try:
            if name in prepared:
                cursor.execute(execute_sql, arguments)
                return
            cursor.execute(
                f"SET plan_cache_mode = force_generic_plan; PREPARE {name} AS {body};"
                f" {execute_sql}",
                [*constants, *arguments],
            )
            while cursor.cursor.nextset():  # to the EXECUTE's rows
                pass
            prepared.add(name)
            return
        except DatabaseError as error:
            state = getattr(error.__cause__, "sqlstate", None)
            if state == MISSING:
                prepared.discard(name)
            elif state == ALREADY_THERE:
                prepared.add(name)
            elif state == STALE_PLAN:
                prepared.discard(name)
                try:
                    cursor.execute(f"DEALLOCATE {name}")
                except DatabaseError:
                    pass  # behind a pooler, another server connection: it may not hold it
            else:
                raise
    cursor.execute(compiled.sql, compiled.params(values))


def _prepared_names(connection) -> set[str]:
    """The statements this process prepared on the connection's current session (a new
    session, after a reconnection, starts with none)."""
    session = connection.connection
    if getattr(connection, "_prepared_session", None) is not session:
        connection._prepared_session = session
        connection._prepared_names = set()
    return connection._prepared_names

"""A write and its audit row in one statement: PostgreSQL's data-modifying `WITH`.

CI's stage and build reports are most of the release side's writes. `BEGIN`, the write, the
audit insert and `COMMIT` are four round trips (~0.3 ms each on this machine) and four
statements for the ORM to compile, where one statement does the same atomically: the audit
row is inserted from the written row, so it exists exactly when the write happened. On other
databases (SQLite, the embedded default) the same write and its audit row run in one
transaction instead. Tables and columns come from the models; only the shape is written here.

The SQL is assembled from text (bandit's B608, marked `nosec` below): only table and column
names from the models' metadata, quoted by the database backend, and fixed keywords go into
it; every value is a query parameter.
"""

import functools
from contextlib import nullcontext

from django.db import connections, router, transaction

from core.compiled import column_names, instances
from releases.models import AuditEvent


def insert_or_get(obj, event: AuditEvent, *, conflict: tuple[str, ...]) -> tuple[object, bool]:
    """Insert `obj` with `event` about it, unless a row with the same `conflict` fields is
    there: (the new row, True), or (the row there, False, nothing written) — one statement
    on PostgreSQL. (None, False) when a row was there but is gone, or not yet visible to
    this statement (a concurrent insert that committed meanwhile): ask again."""
    model = type(obj)
    using = router.db_for_write(model)
    connection = connections[using]
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    params = [
        field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields
    ]
    keys = [model._meta.get_field(name) for name in conflict]
    if connection.vendor != "postgresql":
        inserted = _write(model, _insert_sql(model, using, conflict), params, event, using)
        if inserted is not None:
            return inserted, True
        lookup = {field.attname: getattr(obj, field.attname) for field in keys}
        return model._default_manager.using(using).filter(**lookup).first(), False
    key_params = [
        field.get_db_prep_value(getattr(obj, field.attname), connection) for field in keys
    ]
    audit_sql, audit_params = _audit_from_written(event, model, connection)
    with _guard(connection), connection.cursor() as cursor:
        cursor.execute(
            _insert_or_get_sql(model, using, conflict, audit_sql),
            [*params, *audit_params, *key_params],
        )
        rows = cursor.fetchall()
        names = column_names(cursor)
        found = instances(model, cursor, using, rows=rows)
    if not found:
        return None, False
    return found[0], rows[0][names.index(CREATED)]


CREATED = "lawvriksh_created"  # the column saying which of the two the row is


@functools.cache
def _insert_or_get_sql(model, using: str, conflict: tuple[str, ...], audit_sql: str) -> str:
    quote = connections[using].ops.quote_name
    table = quote(model._meta.db_table)
    matches = " AND ".join(f"{column} = %s" for column in _columns(model, conflict, quote))
    # The second SELECT runs only when nothing was written (NOT EXISTS): the row in the way.
    return (
        f"WITH written AS ({_insert_sql(model, using, conflict)}), "  # nosec B608
        f"audited AS ({audit_sql}) "
        f"SELECT *, true AS {CREATED} FROM written UNION ALL "
        f"SELECT *, false FROM {table} WHERE {matches} AND NOT EXISTS (SELECT FROM written)"
    )


@functools.cache
def _insert_sql(model, using: str, conflict: tuple[str, ...]) -> str:
    quote = connections[using].ops.quote_name
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    return (
        f"INSERT INTO {quote(model._meta.db_table)} "  # nosec B608
        f"({', '.join(quote(field.column) for field in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({', '.join(_columns(model, conflict, quote))}) DO NOTHING RETURNING *"
    )


def update_if(obj, changes: dict, event: AuditEvent, *, unchanged: tuple[str, ...]):
    """Set `changes` on `obj`'s row if its `unchanged` fields still hold the values `obj`
    was read with, with `event` about it: the updated row, or None (changed meanwhile)."""
    model = type(obj)
    using = router.db_for_write(model)
    connection = connections[using]
    quote = connection.ops.quote_name
    assignments, params = [], []
    for name, value in changes.items():
        field = model._meta.get_field(name)
        assignments.append(f"{quote(field.column)} = %s")
        params.append(field.get_db_prep_save(value, connection))
    conditions = [f"{quote(model._meta.pk.column)} = %s"]
    params.append(model._meta.pk.get_db_prep_value(obj.pk, connection))
    for name in unchanged:
        field = model._meta.get_field(name)
        value = getattr(obj, field.attname)
        if value is None:
            conditions.append(f"{quote(field.column)} IS NULL")
        else:
            conditions.append(f"{quote(field.column)} = %s")
            params.append(field.get_db_prep_value(value, connection))
    sql = (
        f"UPDATE {quote(model._meta.db_table)} SET {', '.join(assignments)} "  # nosec B608
        f"WHERE {' AND '.join(conditions)} RETURNING *"
    )
    return _write(model, sql, params, event, using)


def _columns(model, names, quote) -> list[str]:
    return [quote(model._meta.get_field(name).column) for name in names]


def _write(model, sql: str, params: list, event: AuditEvent, using: str):
    """Run the write; the event names the written row and is stored with it, or not at all."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        event.object_type = model._meta.model_name
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = instances(model, cursor, using)
            if rows:
                event.object_id = str(rows[0].pk)
                event.save(force_insert=True, using=using)
        return rows[0] if rows else None
    audit_sql, audit_params = _audit_from_written(event, model, connection)
    with _guard(connection), connection.cursor() as cursor:
        # A statement is atomic on its own: both rows are written, or neither.
        statement = (
            f"WITH written AS ({sql}), audited AS ({audit_sql}) "  # nosec B608
            "SELECT * FROM written"
        )
        cursor.execute(statement, [*params, *audit_params])
        rows = instances(model, cursor, using)
    return rows[0] if rows else None


def _guard(connection):
    """Outside a transaction the statement stands alone; inside one, a savepoint keeps the
    caller's transaction usable when it fails (a unique constraint the caller handles)."""
    if connection.in_atomic_block:
        return transaction.atomic(using=connection.alias)
    return nullcontext()


def _audit_from_written(event: AuditEvent, model, connection) -> tuple[str, list]:
    """`INSERT INTO` the audit table `SELECT` the event's values, its object id taken from
    the written row (no row written: no event)."""
    event.object_type = model._meta.model_name
    fields = _audit_fields()
    params = [
        field.get_db_prep_save(field.pre_save(event, add=True), connection)
        for field in fields
        if field.attname != "object_id"
    ]
    return _audit_sql(model, connection.alias), params


def _audit_fields() -> list:
    return [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]


@functools.cache
def _audit_sql(model, using: str) -> str:
    connection = connections[using]
    quote = connection.ops.quote_name
    values = []
    for field in _audit_fields():
        if field.attname == "object_id":
            values.append(f"CAST(written.{quote(model._meta.pk.column)} AS text)")
        else:
            # Typed: a parameter in a SELECT list has no column to take its type from.
            values.append(f"CAST(%s AS {field.db_type(connection)})")
    return (
        f"INSERT INTO {quote(AuditEvent._meta.db_table)} "  # nosec B608
        f"({', '.join(quote(field.column) for field in _audit_fields())}) "
        f"SELECT {', '.join(values)} FROM written"
    )

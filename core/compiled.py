"""ORM queries compiled to SQL once per process and run again with new values (hot paths).

Building and compiling a queryset costs ~0.5-1 ms of Python on this machine each, more than
the database's own work for a lookup by a unique key or a page of twenty rows. A
`CompiledQuery` keeps the ORM as the one place that knows the tables, columns and rules: it
builds the queryset with placeholder values, keeps the SQL, and afterwards only substitutes
the values and maps the rows to model instances (`instances`; `CompiledQuery.objects` with
`select_related()` objects and annotations, as the ORM's own iterable builds them) or to
`.values()` dicts (`CompiledQuery.values`), the fields' converters still applied.

Only values the ORM passes to the database unchanged may vary (exact and range lookups on
text, integer and date-time fields). The queryset is built twice, with two different sets of
placeholders: a parameter equal to the placeholder in both is substituted, one equal in both
builds is a constant of the query (`status IN ('published', …)`), and anything else — a value
the ORM transformed, such as `icontains`'s `%…%` — makes the query refused when compiled, so
a value can never be substituted wrongly.
"""

import datetime
import functools
from typing import NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models.query import get_related_populators

from core.postgresql import prepared


def column_names(cursor) -> tuple[str, ...]:
    """The names of an executed statement's columns. psycopg's `description` builds a
    `Column` (with its type's lookups) for every column on each call, a tenth of a CI
    report's CPU here; its result already holds the names."""
    result = getattr(getattr(cursor, "cursor", None), "pgresult", None)
    if result is None:
        return tuple(column[0] for column in cursor.description)
    return tuple(_name(result.fname(index)) for index in range(result.nfields))


@functools.cache
def _name(raw: bytes) -> str:
    return raw.decode()


def set_prefetched(obj, name: str, rows) -> None:
    """Give `obj` the rows of its reverse foreign key `name` as `prefetch_related` would:
    `obj.<name>.all()` then answers from them without a query (rows a compiled query read,
    or none for a row just inserted)."""
    manager = getattr(obj, name)
    rows = list(rows)
    for row in rows:
        manager.field.set_cached_value(row, obj)
    queryset = manager.get_queryset()
    queryset._result_cache = rows
    queryset._prefetch_done = True
    if not hasattr(obj, "_prefetched_objects_cache"):
        obj._prefetched_objects_cache = {}
    obj._prefetched_objects_cache[manager.field.remote_field.cache_name] = queryset


class NotCompilable(ValueError):
    """The queryset's parameters do not follow from the placeholders it was given."""


def _placeholder(kind: type, index: int, variant: int):
    if kind is str:
        return f"compiled placeholder {variant}.{index}"
    if kind is int:
        return -(2**62) + 2 * index + variant  # no real id, job id or count is negative
    if kind is datetime.datetime:
        return datetime.datetime(1, 1, 1 + variant, tzinfo=datetime.UTC) + datetime.timedelta(
            microseconds=index + 1
        )
    raise NotCompilable(f"Only str, int and datetime values can vary, not {kind.__name__}.")


def instances(model, cursor, using: str = DEFAULT_DB_ALIAS, rows=None) -> list:
    """The rows of an executed statement (or `rows`, already fetched from it) as `model`
    instances; its columns must include the model's concrete columns, in any order (a
    `SELECT` of the model, `RETURNING *`); others are left out."""
    columns = column_names(cursor)
    key = (model, columns, using)
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = _plan(model, columns, using)
    order, converters, names = plan
    connection = connections[using]
    result = []
    for row in cursor.fetchall() if rows is None else rows:
        values = [row[position] for position in order]
        for index, converter, col in converters:
            values[index] = converter(values[index], col, connection)
        result.append(model.from_db(using, names, values))
    return result


_plans: dict[tuple, tuple] = {}


def _plan(model, columns: tuple[str, ...], using: str) -> tuple:
    """Where each field's value is in a row, and the converters it needs (the same for
    every row of the same statement: worked out once)."""
    connection = connections[using]
    concrete = model._meta.concrete_fields
    position_of = {column: index for index, column in enumerate(columns)}
    # Model.from_db() takes the values in the model's field order, which a table altered
    # by later migrations need not have.
    order = [position_of[field.column] for field in concrete]
    converters = []
    for index, field in enumerate(concrete):
        col = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        converters.extend((index, converter, col) for converter in found)
    return order, converters, [field.attname for field in concrete]


class Compiled(NamedTuple):
    """One compiled statement: `slots` says, per SQL parameter, which value goes there
    (an index into the call's values) or the constant the ORM put there (index None)."""

    model: type
    sql: str
    slots: tuple[tuple[int | None, object], ...]
    names: tuple[str, ...]  # the keys of a `.values()` row
    converters: tuple  # (position, converters, expression) of a row
    objects_plan: tuple | None  # how a row becomes instances (`objects`): None for `.values()`
    prepared: prepared.Prepared | None  # its prepared form (generic_plan=True), else None

    def params(self, values) -> list:
        return [constant if index is None else values[index] for index, constant in self.slots]


def _execute(connection, cursor, compiled: Compiled, values) -> None:
    if compiled.prepared is not None and prepared.enabled(connection):
        prepared.execute(connection, cursor, compiled, values)
    else:
        cursor.execute(compiled.sql, compiled.params(values))


class CompiledQuery:
    """`CompiledQuery(make, str, int)`: `make(a, b)` returns a queryset; calling the
    compiled query with real values returns the list of model instances it would give,
    `.values(a, b)` the list of dicts when `make` returns a `.values()` queryset.

    `generic_plan=True`: on PostgreSQL the statement is prepared and planned once per
    connection (`core.postgresql.prepared`); only for statements whose best plan does not
    depend on the values (a unique key, the visibility rule's time bound)."""

    def __init__(self, make, *kinds: type, generic_plan: bool = False):
        self.make = make
        self.kinds = kinds
        self.generic_plan = generic_plan
        self._compiled: dict[str, Compiled] = {}
        self._populators: dict[str, list] = {}  # select_related()'s, per database alias

    def _build(self, variant: int, using: str):
        placeholders = [_placeholder(kind, i, variant) for i, kind in enumerate(self.kinds)]
        queryset = self.make(*placeholders).using(using)
        compiler = queryset.query.get_compiler(using)
        sql, params = compiler.as_sql()
        return placeholders, queryset, compiler, sql, params

    def compile(self, using: str = DEFAULT_DB_ALIAS) -> Compiled:
        first, queryset, compiler, sql, params = self._build(0, using)
        second, _, _, other_sql, other_params = self._build(1, using)
        if other_sql != sql or len(other_params) != len(params):
            raise NotCompilable("The SQL depends on the values, not only its parameters.")
        slots = []
        for param, other in zip(params, other_params):
            if param in first and other in second and first.index(param) == second.index(other):
                slots.append((first.index(param), None))
            elif param == other and type(param) is type(other):
                slots.append((None, param))  # the ORM's own constant
            else:
                raise NotCompilable(f"A parameter the ORM derived from a value: {param!r}.")
        query = queryset.query
        if query.selected:
            names = tuple(query.selected)
        else:
            names = (*query.extra_select, *query.values_select, *query.annotation_select)
        fields = [column[0] for column in compiler.select[0 : compiler.col_count]]
        converters = tuple(
            (position, tuple(found), expression)
            for position, (found, expression) in compiler.get_converters(fields).items()
        )
        objects_plan = None
        if compiler.klass_info is not None:
            if queryset._known_related_objects or queryset._fetch_mode.track_peers:
                raise NotCompilable("A related manager's or peer-tracking queryset.")
            objects_plan = (
                compiler.select,
                compiler.klass_info,
                compiler.annotation_col_map or {},
                queryset._fetch_mode,
            )
        slots = tuple(slots)
        plan = prepared.prepare_sql(sql, slots) if self.generic_plan else None
        return Compiled(queryset.model, sql, slots, names, converters, objects_plan, plan)

    def _compiled_for(self, values, using: str) -> Compiled:
        if len(values) != len(self.kinds):
            raise TypeError(f"{len(self.kinds)} values expected, {len(values)} given.")
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self.compile(using)
        return compiled

    def __call__(self, *values, using: str = DEFAULT_DB_ALIAS) -> list:
        compiled = self._compiled_for(values, using)
        connection = connections[using]
        with connection.cursor() as cursor:
            _execute(connection, cursor, compiled, values)
            return instances(compiled.model, cursor, using)

    def _rows(self, compiled: Compiled, values, using: str) -> list:
        """The statement's rows with the fields' converters applied (as the ORM's)."""
        connection = connections[using]
        with connection.cursor() as cursor:
            _execute(connection, cursor, compiled, values)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for position, found, expression in compiled.converters:
                value = row[position]
                for converter in found:
                    value = converter(value, expression, connection)
                row[position] = value
            converted.append(row)
        return converted

    def sql_with_params(self, *values, using: str = DEFAULT_DB_ALIAS) -> tuple[str, list]:
        """The statement and its parameters for these values, to run inside other SQL (as
        the ORM's `query.sql_with_params()`, without building the queryset again)."""
        compiled = self._compiled_for(values, using)
        return compiled.sql, compiled.params(values)

    def values(self, *values, using: str = DEFAULT_DB_ALIAS) -> list[dict]:
        compiled = self._compiled_for(values, using)
        names = compiled.names
        return [dict(zip(names, row)) for row in self._rows(compiled, values, using)]

    def objects(self, *values, using: str = DEFAULT_DB_ALIAS) -> list:
        """Model instances as the ORM's own iterable makes them: `select_related()` objects
        and annotations included (the queryset's `make` may use both)."""
        compiled = self._compiled_for(values, using)
        if compiled.objects_plan is None:
            raise TypeError("A .values() queryset: call .values().")
        select, klass_info, annotation_columns, fetch_mode = compiled.objects_plan
        populators = self._populators.get(using)
        if populators is None:
            populators = self._populators[using] = get_related_populators(
                klass_info, select, using, fetch_mode
            )
        fields = klass_info["select_fields"]
        start, stop = fields[0], fields[-1] + 1
        init_list = [column[0].target.attname for column in select[start:stop]]
        model = klass_info["model"]
        result = []
        for row in self._rows(compiled, values, using):
            instance = model.from_db(using, init_list, row[start:stop], fetch_mode=fetch_mode)
            for populator in populators:
                populator.populate(row, instance)
            for name, position in annotation_columns.items():
                setattr(instance, name, row[position])
            result.append(instance)
        return result

"""ORM queries compiled to SQL once per process and run again with new values (hot paths).

Building and compiling a queryset costs ~0.5 ms of Python on this machine, more than the
database's own work for a lookup by a unique key. A `CompiledQuery` keeps the ORM as the
one place that knows the tables and columns: it builds the queryset once with placeholder
values, keeps the SQL, and afterwards only substitutes the values and maps the rows to model
instances (`instances`: the fields' converters, such as JSON's, still apply).

Only values the ORM passes to the database unchanged may vary (exact lookups on text and
integer fields); a queryset whose parameters are not exactly the placeholders is refused
when compiled, so a transformed value (`icontains`'s `%…%`) can never be substituted wrongly.
"""

from django.db import DEFAULT_DB_ALIAS, connections


class NotCompilable(ValueError):
    """The queryset's parameters are not exactly the placeholders it was given."""


def _placeholder(kind: type, index: int):
    if kind is str:
        return f"\x1f compiled placeholder {index} \x1f"
    if kind is int:
        return -(2**62) + index  # no real id, job id or count is negative
    raise NotCompilable(f"Only str and int values can vary, not {kind.__name__}.")


def instances(model, cursor, using: str = DEFAULT_DB_ALIAS) -> list:
    """The rows of an executed statement as `model` instances; its columns must be the
    model's concrete columns, in any order (a `SELECT` of the model, `RETURNING *`)."""
    columns = tuple(column[0] for column in cursor.description)
    key = (model, columns, using)
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = _plan(model, columns, using)
    order, converters, names = plan
    connection = connections[using]
    result = []
    for row in cursor.fetchall():
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


class CompiledQuery:
    """`CompiledQuery(make, str, int)`: `make(a, b)` returns a queryset; calling the
    compiled query with real values returns the list of model instances it would give."""

    def __init__(self, make, *kinds: type):
        self.make = make
        self.kinds = kinds
        self._compiled: dict[str, tuple] = {}

    def compile(self, using: str = DEFAULT_DB_ALIAS) -> tuple:
        placeholders = [_placeholder(kind, index) for index, kind in enumerate(self.kinds)]
        queryset = self.make(*placeholders).using(using)
        sql, params = queryset.query.sql_with_params()
        positions = []
        for param in params:
            if param not in placeholders:
                raise NotCompilable(f"A parameter the ORM made itself: {param!r}.")
            positions.append(placeholders.index(param))
        return queryset.model, sql, tuple(positions)

    def __call__(self, *values, using: str = DEFAULT_DB_ALIAS) -> list:
        if len(values) != len(self.kinds):
            raise TypeError(f"{len(self.kinds)} values expected, {len(values)} given.")
        compiled = self._compiled.get(using)
        if compiled is None:
            compiled = self._compiled[using] = self.compile(using)
        model, sql, positions = compiled
        with connections[using].cursor() as cursor:
            cursor.execute(sql, [values[position] for position in positions])
            return instances(model, cursor, using)

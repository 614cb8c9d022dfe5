"""The API's JSON parser: a body must be one JSON object PostgreSQL can store.

Every endpoint of the API takes an object, so an array, a string, a number or null is a 400
here, before any view code reads it; so are NUL characters and lone surrogates anywhere in
it (PostgreSQL's text and jsonb refuse them) and nesting deeper than any request needs.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.middleware import UNSTORABLE

MAX_DEPTH = 32


def problem_in(value, depth: int = 0) -> str | None:
    """What makes a parsed JSON value unstorable, or None."""
    if depth > MAX_DEPTH:
        return f"The JSON body is nested deeper than {MAX_DEPTH} levels."
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            return "The JSON body contains a NUL character or a lone surrogate."
        return None
    if isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    for item in items:
        found = problem_in(item, depth + 1)
        if found:
            return found
    return None


def json_kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "an array" if isinstance(value, list) else "a string"


class ObjectJSONParser(JSONParser):
    """JSONParser that accepts one storable JSON object and nothing else."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"The JSON body is nested deeper than {MAX_DEPTH} levels.")
        if not isinstance(data, dict):
            raise ParseError(f"The JSON body must be an object, not {json_kind(data)}.")
        problem = problem_in(data)
        if problem:
            raise ParseError(problem)
        return data

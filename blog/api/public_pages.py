"""The posts list (and, in blog.api.views, a post) for anonymous readers through statements
compiled once.

Building a list page's queryset and compiling its SQL cost more Python than the rest of a
cold request together. For the common public request — no credentials, at most the `tag`,
`category` and `author` filters and an ordering — the statement is compiled once per shape
(which filters, which ordering, which page window) by `core.compiled` from the very
queryset the ORM path builds (the same visibility rule, FilterSet and ordering filter,
run on placeholders); a request then only fills in the time and the filter values. Any
other request (dates, status, `featured`, a signed-in caller, a value a filter would clean
or refuse) takes the ORM path, which stays the reference. A search's page of hits (rows
and snippets of ids already ranked) is compiled per page length (`search_page_rows`).
"""

import datetime
import functools

from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict
from django.utils import timezone

from blog.api.filters import PostFilter, PostOrderingFilter
from blog.api.serializers import LIST_COLUMNS, tag_columns
from blog.models import Post
from blog.search import headline, uses_postgres
from core.compiled import CompiledQuery

COMPILED_FILTERS = ("author", "category", "tag")  # exact matches on a text column
# Every query parameter that changes which posts a list holds, or their order.
QUERYSET_PARAMS = frozenset(PostFilter.base_filters) | {"search", "ordering"}


class _ShapeRequest:
    """The parts of a request the filter backends read, for building on placeholders."""

    user = AnonymousUser()

    def __init__(self, query_params: QueryDict):
        self.query_params = query_params


class CompiledRows:
    """What Django's Paginator needs of a queryset: a count (from the ORM: the count cache
    usually answers first) and slices, read through the compiled statement."""

    ordered = True

    def __init__(self, shape: tuple, values: tuple, count):
        self.shape, self.values, self._count = shape, values, count

    def count(self) -> int:
        return self._count()

    def __getitem__(self, window: slice) -> list[dict]:
        start = window.start or 0
        if window.stop is not None and window.stop <= start:
            return []  # the Paginator's page of an empty list; the ORM compiles no SQL for it
        statement = _statement(*self.shape, start, window.stop)
        return statement.values(timezone.now(), *self.values)


def reads_compiled(request) -> bool:
    """Whether this caller's reads may go through compiled statements: anonymous readers on
    PostgreSQL (a signed-in caller's visibility depends on who they are)."""
    return not request.user.is_authenticated and uses_postgres()


def public_list_rows(request, view) -> CompiledRows | None:
    """The list's rows through a compiled statement, or None when the request is not of a
    compiled shape (the caller then builds the queryset with the ORM)."""
    if not reads_compiled(request):
        return None
    params = request.query_params
    if not QUERYSET_PARAMS.isdisjoint(set(params) - {"ordering", *COMPILED_FILTERS}):
        return None
    names, values = [], []
    for name in COMPILED_FILTERS:
        found = params.getlist(name)
        if not found:
            continue
        value = found[0]
        # Only values the FilterSet passes on unchanged: it strips blanks, reads "" as no
        # filter, refuses NUL characters and takes the last of repeated values.
        if len(found) > 1 or not value or value != value.strip() or "\x00" in value:
            return None
        names.append(name)
        values.append(value)
    ordering = tuple(PostOrderingFilter().get_ordering(request, Post.objects.none(), view))

    def count() -> int:
        return view.filter_queryset(Post.objects.readable_by(request.user)).count()

    return CompiledRows((type(view), tuple(names), ordering), tuple(values), count)


@functools.lru_cache(maxsize=512)  # shapes x page windows; a crawler's deep pages evict
def _statement(view_class, names: tuple, ordering: tuple, start: int, stop: int):
    def make(now, *values):
        query_params = QueryDict(mutable=True)
        query_params.update(dict(zip(names, values)))
        query_params["ordering"] = ",".join(ordering)
        shape_request = _ShapeRequest(query_params)
        view = view_class(request=shape_request, action="list", format_kwarg=None)
        queryset = view.filter_queryset(Post.objects.readable_by(shape_request.user, now=now))
        return queryset.values(*LIST_COLUMNS, **tag_columns())[start:stop]

    # A filter value decides the best plan (a rare tag is found through its index, a common
    # one by walking the newest posts): only the unfiltered page is planned once for all,
    # and only its first page (any size), so a crawler's deep pages cannot fill each server
    # connection's memory with plans (core/postgresql/prepared.py).
    kinds = (datetime.datetime, *(str for _ in names))
    return CompiledQuery(make, *kinds, generic_plan=not names and start == 0)


def search_page_rows(ids, text: str) -> list[dict]:
    """The list rows of these posts (ranked search hits, at most a page) that any reader
    sees, each with its `headline` snippet of `text`: one statement compiled per page
    length, ~1.7 ms of Python less a search than building it (bench/README.md)."""
    if not ids:
        return []
    return _search_page(len(ids)).values(timezone.now(), text, *ids)


@functools.lru_cache(maxsize=128)  # page sizes 1-100, and a short last page
def _search_page(length: int) -> CompiledQuery:
    def make(now, text, *ids):
        rows = Post.objects.visible(now).filter(pk__in=ids)
        return rows.values(*LIST_COLUMNS, **tag_columns(), headline=headline(text))

    return CompiledQuery(make, datetime.datetime, str, *(int for _ in range(length)))

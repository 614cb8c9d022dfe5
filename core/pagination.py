"""Page-number pagination with a capped page_size and counts cached per content version."""

import hashlib

from django.core.cache import cache
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

COUNT_CACHE_SECONDS = 300


class CachedCountPaginator(Paginator):
    """A COUNT(*) per request is the slowest part of a list at 100,000 rows; it only
    changes when content does, so it is cached under the current content version."""

    count_key = None  # set per request by the pagination class; None: count every time

    @cached_property
    def count(self):
        if self.count_key is None:
            return super().count
        key = self.count_key
        count = cache.get(key)
        if count is None:
            count = super().count
            cache.set(key, count, COUNT_CACHE_SECONDS)
        return count


class StandardPagination(PageNumberPagination):
    """`{count, next, previous, results}`; `page_size` 20 by default, 100 at most."""

    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """The asked size (capped at 100), or 400 for one that is not a whole number from 1:
        DRF would silently fall back to the default, which the schema does not allow."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({"page_size": ["A whole number from 1 (at most 100 used)."]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
                parameter["description"] = "Results per page, 20 by default; over 100 gives 100."
            elif parameter["name"] == self.page_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        key = count_cache_key(request)

        class _Paginator(CachedCountPaginator):
            count_key = key

        self.django_paginator_class = _Paginator
        return super().paginate_queryset(queryset, request, view)


def count_cache_key(request) -> str | None:
    """Who asks (visibility differs) + what they filter, under the content version.

    The SQL itself is no key: it embeds the current time of the visibility rule. The
    content version changes whenever visibility does (a scheduled post falling due too).
    """
    version = getattr(request, "content_version", None)
    if version is None:
        return None
    user = request.user
    who = f"u{user.pk}" if user.is_authenticated else "anon"
    ignored = {"page", "page_size", "ordering"}
    filters = sorted((k, v) for k, v in request.query_params.items() if k not in ignored)
    digest = hashlib.sha1(
        f"{request.path}|{who}|{filters}".encode(), usedforsecurity=False
    ).hexdigest()
    return f"api:count:{version}:{digest}"

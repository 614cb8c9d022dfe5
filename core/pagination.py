"""Page-number pagination with a capped page_size and counts cached per content version."""

import hashlib

from django.core.cache import cache
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

COUNT_CACHE_SECONDS = 300


class CachedCountPaginator(Paginator):
    """A COUNT(*) per request is the slowest part of a list at 100,000 rows; it only
    changes when content does, so it is cached under the current content version."""

    content_version = None  # set per request by the pagination class

    @cached_property
    def count(self):
        if self.content_version is None:
            return super().count
        sql, params = self.object_list.query.sql_with_params()
        digest = hashlib.sha1(f"{sql}|{params}".encode()).hexdigest()
        key = f"api:count:{self.content_version}:{digest}"
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

    def paginate_queryset(self, queryset, request, view=None):
        version = getattr(request, "content_version", None)

        class _Paginator(CachedCountPaginator):
            content_version = version

        self.django_paginator_class = _Paginator
        return super().paginate_queryset(queryset, request, view)

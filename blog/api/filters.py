"""Filters, search and ordering of the posts list (django-filter + DRF filter backends)."""

import django_filters
from django.db.models import Exists, OuterRef
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters
from rest_framework.exceptions import PermissionDenied, ValidationError

from blog.models import Post, PostStatus
from blog.search import (
    in_ranked_order,
    ranked_matches,
    ranked_visible_matches,
    search_posts,
    uses_postgres,
)
from blog.workflow import is_editor

SEARCH_MAX_LENGTH = 200


class PostFilter(django_filters.FilterSet):
    tag = django_filters.CharFilter(method="filter_tag", help_text="Tag slug.")
    category = django_filters.CharFilter(field_name="category__slug", help_text="Category slug.")
    author = django_filters.CharFilter(field_name="author__username", help_text="Username.")
    featured = django_filters.BooleanFilter()
    published_after = django_filters.IsoDateTimeFilter(
        field_name="published_at", lookup_expr="gte"
    )
    published_before = django_filters.IsoDateTimeFilter(
        field_name="published_at", lookup_expr="lt"
    )
    updated_since = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    status = django_filters.ChoiceFilter(
        choices=PostStatus.choices, method="filter_status", help_text="Editors only."
    )

    class Meta:
        model = Post
        fields = []

    def filter_tag(self, queryset, name, value):
        # EXISTS rather than a join: the same posts (a slug names one tag), and PostgreSQL
        # plans the page's statement in about half the time (fewer join orders to weigh).
        tagged = Post.tags.through.objects.filter(post_id=OuterRef("pk"), tag__slug=value)
        return queryset.filter(Exists(tagged))

    def filter_status(self, queryset, name, value):
        if not is_editor(getattr(self.request, "user", None)):
            # A permission, not bad input: 403, as the schema documents it.
            raise PermissionDenied("Filtering by status is for editors.")
        return queryset.filter(status=value)


DATE_FILTERS = ("published_after", "published_before", "updated_since")


class PostFilterBackend(DjangoFilterBackend):
    """django-filter, skipped when the request names no filter: building the FilterSet
    (it deep-copies its form fields) cost more than the rest of an unfiltered list."""

    def filter_queryset(self, request, queryset, view):
        names = PostFilter.base_filters.keys()
        if not any(name in request.query_params for name in names):
            return queryset
        # django-filter takes an empty value for "no filter"; the schema says a date-time.
        empty = [name for name in DATE_FILTERS if request.query_params.get(name, None) == ""]
        if empty:
            raise ValidationError({name: ["An ISO 8601 date-time."] for name in empty})
        # django-filter reads anything but true/false as "no filter"; the schema says boolean.
        featured = request.query_params.getlist("featured")
        if any(value not in ("true", "false") for value in featured):
            raise ValidationError({"featured": ["true or false."]})
        return super().filter_queryset(request, queryset, view)


class PostSearchFilter(filters.BaseFilterBackend):
    """`?search=`: PostgreSQL full text, ranked, with highlighted snippets."""

    param = "search"

    def filter_queryset(self, request, queryset, view):
        text = request.query_params.get(self.param, "")
        if not text.strip():
            return queryset
        if len(text) > SEARCH_MAX_LENGTH:
            raise ValidationError({"search": [f"At most {SEARCH_MAX_LENGTH} characters."]})
        view.search_active = text.strip()
        if not uses_postgres():
            return search_posts(queryset, text)
        if request.user.is_authenticated or not PostFilter.base_filters.keys().isdisjoint(
            request.query_params
        ):
            ranked = ranked_matches(queryset, text)  # who asks, or which filters, decide
        else:
            ranked = ranked_visible_matches(text)  # what every reader sees: compiled once
        if request.query_params.get("ordering"):
            return in_ranked_order(queryset, ranked)  # the hits, in the order asked for
        # Best first: the list pages these ids itself and reads only the page's rows (also
        # limiting the queryset to up to 1,000 ids cost ~10 % of a search's Python).
        view.search_ranked = ranked
        return queryset

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.param,
                "required": False,
                "in": "query",
                "description": (
                    "Full-text search: results ranked (among the 1,000 newest matches), "
                    "each with a `highlight` snippet."
                ),
                "schema": {"type": "string", "maxLength": SEARCH_MAX_LENGTH},
            }
        ]


class PostOrderingFilter(filters.OrderingFilter):
    """`?ordering=`: publish time (default, newest first), updated, title; search ranks."""

    ordering_fields = ["published_at", "updated_at", "title"]

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if not request.query_params.get(self.ordering_param) and getattr(
            view, "search_active", False
        ):
            return queryset  # keep the search rank order
        return queryset.order_by(*ordering, "-id")

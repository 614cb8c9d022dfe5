"""Queries compiled once (core/compiled.py) give what the ORM gives, and refuse shapes
whose values the ORM would transform."""

import datetime

import pytest
from django.db import connection

from core.compiled import CompiledQuery, NotCompilable, instances
from releases import services
from releases.models import Build, CIToken


@pytest.fixture
def three_builds(db):
    """Builds tagged one, two and three in repository r.example/b."""
    actor = services.Actor()
    for tag in ("one", "two", "three"):
        services.build_report(actor=actor, repository="r.example/b", tag=tag, commit_sha="f" * 40)


def test_a_compiled_query_gives_what_the_orm_gives_for_any_values(three_builds):
    by_tag = CompiledQuery(
        lambda tag, repository: Build.objects.filter(tag=tag, repository=repository), str, str
    )
    for tag in ("one", "three", "missing"):
        assert by_tag(tag, "r.example/b") == list(
            Build.objects.filter(tag=tag, repository="r.example/b")
        )
    assert by_tag("one", "elsewhere") == []
    by_id = CompiledQuery(lambda pk: Build.objects.filter(pk=pk), int)
    build = Build.objects.get(tag="two")
    [found] = by_id(build.pk)
    assert (found.pk, found.tag, found.commit_sha) == (build.pk, "two", "f" * 40)


@pytest.mark.django_db
def test_converted_fields_come_back_as_python_values():
    token, _ = services.ci_token_create(name="ci", scopes=["builds:write", "builds:read"])
    by_hash = CompiledQuery(lambda digest: CIToken.objects.filter(token_hash=digest), str)
    [found] = by_hash(token.token_hash)
    assert found.scopes == ["builds:read", "builds:write"]  # JSON decoded, not text


@pytest.mark.django_db
def test_columns_in_another_order_still_fill_the_right_fields():
    services.build_report(
        actor=services.Actor(), repository="r.example/b", tag="t", commit_sha="a" * 40
    )
    columns = [field.column for field in Build._meta.concrete_fields][::-1]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM releases_build")
        [build] = instances(Build, cursor)
    assert (build.tag, build.repository, build.commit_sha) == ("t", "r.example/b", "a" * 40)


def test_a_value_the_orm_transforms_is_refused():
    contains = CompiledQuery(lambda text: Build.objects.filter(tag__icontains=text), str)
    with pytest.raises(NotCompilable):
        contains.compile()
    with pytest.raises(TypeError):
        CompiledQuery(lambda pk: Build.objects.filter(pk=pk), int)(1, 2)


@pytest.mark.django_db
def test_values_rows_match_the_orm_with_constants_and_times():
    token, _ = services.ci_token_create(name="ci", scopes=["builds:write", "builds:read"])
    since = CompiledQuery(
        lambda after, name: CIToken.objects.filter(
            created_at__gte=after, name=name, revoked_at__isnull=True, name__in=["ci", "other"]
        ).values("name", "scopes", "created_at"),
        datetime.datetime,
        str,
    )
    before = token.created_at - datetime.timedelta(seconds=1)
    assert since.values(before, "ci") == list(
        CIToken.objects.filter(created_at__gte=before, name="ci").values(
            "name", "scopes", "created_at"
        )
    )
    assert since.values(before, "ci")[0]["scopes"] == ["builds:read", "builds:write"]
    assert since.values(token.created_at + datetime.timedelta(seconds=1), "ci") == []
    constants = {value for index, value in since.compile().slots if index is None}
    assert constants == {"ci", "other"}  # the ORM's own IN list: kept as it is


def test_an_int_the_orm_derives_from_a_value_is_refused():
    doubled = CompiledQuery(lambda pk: Build.objects.filter(pk=pk * 2), int)
    with pytest.raises(NotCompilable):
        doubled.compile()


def test_a_compiled_statement_runs_inside_other_sql_with_its_values(three_builds):
    def tags_in(repository):
        return Build.objects.filter(repository=repository).values_list("tag")

    by_repository = CompiledQuery(tags_in, str)
    counted = {}
    for repository in ("r.example/b", "elsewhere"):
        sql, params = by_repository.sql_with_params(repository)
        orm_sql, orm_params = tags_in(repository).query.sql_with_params()
        assert (sql, list(params)) == (orm_sql, list(orm_params))
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT string_agg(t.tag, ',' ORDER BY t.tag) FROM ({sql}) AS t (tag)", params
            )
            counted[repository] = cursor.fetchone()[0]
    assert counted == {"r.example/b": "one,three,two", "elsewhere": None}

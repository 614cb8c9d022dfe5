"""The connection health check: skipped on a just-used connection, run on an idle one."""

import pytest
from django.db import connections

from core.postgresql import base as backend

pytestmark = pytest.mark.django_db


@pytest.fixture
def wrapper():
    """A connection of its own (not the test's), persistent and health-checked as in
    production, closed afterwards."""
    own = connections.create_connection("default")
    own.settings_dict = {**own.settings_dict, "CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}
    checks = []
    real_is_usable = own.is_usable

    def counted_is_usable():
        checks.append(1)
        return real_is_usable()

    own.is_usable = counted_is_usable
    own.checks = checks
    yield own
    own.close()


def backend_pid(wrapper) -> int:
    """One request's query: what Django runs between request_started and request_finished."""
    wrapper.close_if_unusable_or_obsolete()  # request_started
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    wrapper.close_if_unusable_or_obsolete()  # request_finished
    return pid


def terminate(pid: int) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        assert cursor.fetchone()[0] is True


def test_the_engine_is_this_backend(settings):
    assert settings.DATABASES["default"]["ENGINE"] == "core.postgresql"
    assert isinstance(connections["default"], backend.DatabaseWrapper)


def test_a_just_used_connection_is_not_checked_again(wrapper):
    first = backend_pid(wrapper)
    assert backend_pid(wrapper) == backend_pid(wrapper) == first
    assert wrapper.checks == []  # three requests, no SELECT 1


def test_an_idle_connection_is_checked_and_a_dead_one_replaced(wrapper):
    first = backend_pid(wrapper)
    terminate(first)  # what a server that drops idle clients does
    wrapper.last_used_at -= backend.HEALTH_CHECK_DELAY + 1  # idle for longer than the delay

    second = backend_pid(wrapper)  # no error: the check found it dead and reconnected

    assert wrapper.checks == [1]
    assert second != first


def test_an_idle_live_connection_is_kept_after_its_check(wrapper):
    first = backend_pid(wrapper)
    wrapper.last_used_at -= backend.HEALTH_CHECK_DELAY + 1

    assert backend_pid(wrapper) == first
    assert wrapper.checks == [1]
    assert backend_pid(wrapper) == first  # used just now: no second check
    assert wrapper.checks == [1]

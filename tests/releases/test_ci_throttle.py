"""CI identities have their own rate limit, per identity and not per address: runners behind
one NAT neither use up the readers' anonymous budget nor share one bucket."""

from http import HTTPStatus

import pytest
from rest_framework.throttling import SimpleRateThrottle

from releases import services

pytestmark = pytest.mark.django_db
BUILDS = "/api/v1/releases/builds/"


@pytest.fixture
def tight_limits(monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "anon": "2/minute", "ci": "4/minute"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def token(name: str) -> str:
    return services.ci_token_create(name=name, scopes=["builds:read", "builds:write"])[1]


def test_ci_tokens_are_limited_per_token_not_with_anonymous_readers(api_client, tight_limits):
    first, second = token("runner-a"), token("runner-b")
    # Anonymous readers from this address use up their own budget...
    assert api_client.get("/api/v1/posts/").status_code == HTTPStatus.OK
    assert api_client.get("/api/v1/posts/").status_code == HTTPStatus.OK
    assert api_client.get("/api/v1/posts/").status_code == HTTPStatus.TOO_MANY_REQUESTS
    # ...and the CI token from the same address still works, with its own limit.
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {first}")
    answers = [api_client.get(BUILDS) for _ in range(5)]
    assert [a.status_code for a in answers[:4]] == [HTTPStatus.OK] * 4
    assert answers[0]["RateLimit-Limit"] == "4"
    assert answers[4].status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert int(answers[4]["Retry-After"]) > 0
    # Another token (another pipeline) has a bucket of its own.
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {second}")
    assert api_client.get(BUILDS).status_code == HTTPStatus.OK


def test_id_tokens_of_one_project_share_one_limit():
    from releases.api.auth import OIDCPrincipal

    job_1 = OIDCPrincipal({"project_id": 7, "project_path": "g/p", "job_id": 1})
    job_2 = OIDCPrincipal({"project_id": 7, "project_path": "g/p", "job_id": 2})
    other = OIDCPrincipal({"project_id": 8, "project_path": "g/q", "job_id": 3})
    assert job_1.throttle_key == job_2.throttle_key != other.throttle_key
